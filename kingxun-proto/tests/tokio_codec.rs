//! The codecs as tokio-util `Decoder`/`Encoder`s, through proto-common's adapter.
#![cfg(feature = "tokio-util")]

use bytes::BytesMut;
use kingxun_proto::{Codec, CodecConfig, DecodeError, FrameCodec, Heartbeat, LinkCipher, Packet};
use proto_common::tokio_codec::{FramedError, TokioCodec};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn codecs_work_through_the_tokio_util_traits() {
    let cipher = LinkCipher::new([1; 16], [2; 16]);
    let mut codec = TokioCodec::new(Codec::new(CodecConfig::default()).with_cipher(cipher));
    let packet = Packet::request(5, Heartbeat::new(9));
    let mut wire = BytesMut::new();
    Encoder::encode(&mut codec, &packet, &mut wire).unwrap();
    Encoder::encode(&mut codec, packet.clone(), &mut wire).unwrap();
    let mut frames = TokioCodec::new(FrameCodec::default());
    let mut copy = wire.clone();
    let frame = Decoder::decode(&mut frames, &mut copy).unwrap().unwrap();
    assert_eq!(frame.header, packet.header());
    assert_eq!(
        Decoder::decode(&mut codec, &mut wire).unwrap(),
        Some(packet.clone())
    );
    assert_eq!(
        Decoder::decode(&mut codec, &mut wire).unwrap(),
        Some(packet)
    );
    assert_eq!(Decoder::decode(&mut codec, &mut wire).unwrap(), None);
    let mut garbage = BytesMut::from(&b"HTTP/1.1 200"[..]);
    let e = Decoder::decode(&mut codec, &mut garbage).unwrap_err();
    assert!(
        matches!(e, FramedError::Codec(DecodeError::BadMagic { .. })),
        "{e}"
    );
    let mut out = BytesMut::new();
    Encoder::encode(&mut frames, &frame, &mut out).unwrap();
    Encoder::encode(&mut frames, frame, &mut out).unwrap();
    assert_eq!(out.len(), 2 * 59);
    // A stream cut inside a frame: the header is in, the body is not.
    out.truncate(59 + 20);
    assert!(Decoder::decode(&mut frames, &mut out).unwrap().is_some());
    let e = Decoder::decode_eof(&mut frames, &mut out).unwrap_err();
    assert!(matches!(e, FramedError::Truncated { len: 20 }), "{e}");
}
