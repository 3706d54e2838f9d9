//! The codecs as tokio-util `Decoder`/`Encoder`s, through proto-common's adapter.
#![cfg(feature = "tokio-util")]

use bytes::BytesMut;
use jetinno_proto::{
    DecodeError, EncodeError, MachineCodec, MachineHeartbeat, MachineMessage, PriceEntry, PriceSet,
    ServerCodec, ServerMessage,
};
use proto_common::tokio_codec::{FramedError, TokioCodec};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn decoder_and_encoder_traits_frame_messages() {
    let mut machine = TokioCodec::new(MachineCodec::default());
    let mut buf = BytesMut::new();
    Encoder::encode(
        &mut machine,
        MachineMessage::from(MachineHeartbeat { vmc_no: 9 }),
        &mut buf,
    )
    .unwrap();
    Encoder::encode(
        &mut machine,
        &MachineMessage::from(MachineHeartbeat { vmc_no: 10 }),
        &mut buf,
    )
    .unwrap();
    let mut server = TokioCodec::new(ServerCodec::default());
    let first = Decoder::decode(&mut server, &mut buf).unwrap();
    assert_eq!(first, Some(MachineHeartbeat { vmc_no: 9 }.into()));
    let second = Decoder::decode_eof(&mut server, &mut buf).unwrap();
    assert_eq!(second, Some(MachineHeartbeat { vmc_no: 10 }.into()));
    buf.extend_from_slice(b"00x9");
    let err = Decoder::decode(&mut server, &mut buf).unwrap_err();
    assert!(
        matches!(err, FramedError::Codec(DecodeError::BadLengthHead { .. })),
        "{err}"
    );
    let big = PriceSet {
        vmc_no: 1,
        price: (0..2000).map(|i| PriceEntry::from((i, i, i))).collect(),
    };
    let err =
        Encoder::encode(&mut server, ServerMessage::from(big), &mut BytesMut::new()).unwrap_err();
    assert!(
        matches!(err, FramedError::Codec(EncodeError::BodyTooLarge { .. })),
        "{err}"
    );
}

#[test]
fn a_stream_cut_inside_a_packet_is_reported_at_its_end() {
    let mut server = TokioCodec::new(ServerCodec::default());
    let mut buf = BytesMut::from(&b"003900000000{\"cmd\":\"hb\""[..]);
    assert_eq!(Decoder::decode(&mut server, &mut buf).unwrap(), None);
    let err = Decoder::decode_eof(&mut server, &mut buf).unwrap_err();
    assert!(matches!(err, FramedError::Truncated { len: 23 }), "{err}");
}
