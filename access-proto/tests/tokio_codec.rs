//! The codecs as tokio-util `Decoder`/`Encoder`s, through proto-common's adapter.
#![cfg(feature = "tokio-util")]

use access_proto::{Code, Codec, DecodeError, JsonSplitter, Message, Request, RequestBody};
use bytes::BytesMut;
use proto_common::tokio_codec::{FramedError, TokioCodec};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn framed_traits_delegate_to_the_codec() {
    let mut codec = TokioCodec::new(Codec::default());
    let request = Request::new("s-1", RequestBody::GetDeviceInfo);
    let response: Message = request.reply(Code::Success, "").into();
    let mut wire = BytesMut::new();
    Encoder::encode(&mut codec, &Message::from(request.clone()), &mut wire).unwrap();
    Encoder::encode(&mut codec, response.clone(), &mut wire).unwrap();
    wire.extend_from_slice(b"{\"mod\"");
    assert_eq!(
        Decoder::decode(&mut codec, &mut wire).unwrap(),
        Some(request.into())
    );
    assert_eq!(
        Decoder::decode(&mut codec, &mut wire).unwrap(),
        Some(response)
    );
    assert_eq!(Decoder::decode(&mut codec, &mut wire).unwrap(), None);
    // The codec's own end-of-stream error, not the adapter's.
    let err = Decoder::decode_eof(&mut codec, &mut wire).unwrap_err();
    assert!(
        matches!(err, FramedError::Codec(DecodeError::Truncated { len: 6 })),
        "{err}"
    );

    let mut splitter = TokioCodec::new(JsonSplitter::default());
    let mut wire = BytesMut::from(&b" {}x"[..]);
    assert_eq!(
        &Decoder::decode(&mut splitter, &mut wire).unwrap().unwrap()[..],
        b"{}"
    );
    let err = Decoder::decode(&mut splitter, &mut wire).unwrap_err();
    assert!(
        matches!(
            err,
            FramedError::Codec(DecodeError::Garbage {
                byte: b'x',
                offset: 3
            })
        ),
        "{err}"
    );
}
