//! The tokio-util `Decoder`/`Encoder` impls over an in-memory duplex stream.
#![cfg(feature = "tokio-util")]

use bytes::BytesMut;
use jetinno_proto::tokio_codec::FramedError;
use jetinno_proto::*;
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn decoder_and_encoder_traits_frame_messages() {
    let mut machine = MachineCodec::default();
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
    let mut server = ServerCodec::default();
    let first = Decoder::decode(&mut server, &mut buf).unwrap();
    assert_eq!(first, Some(MachineHeartbeat { vmc_no: 9 }.into()));
    let second = Decoder::decode_eof(&mut server, &mut buf).unwrap();
    assert_eq!(second, Some(MachineHeartbeat { vmc_no: 10 }.into()));
    buf.extend_from_slice(b"00x9");
    let err = Decoder::decode(&mut server, &mut buf).unwrap_err();
    assert!(
        matches!(err, FramedError::Decode(DecodeError::BadLengthHead { .. })),
        "{err}"
    );
    let big = PriceSet {
        vmc_no: 1,
        price: (0..2000).map(|i| PriceEntry::from((i, i, i))).collect(),
    };
    let err =
        Encoder::encode(&mut server, ServerMessage::from(big), &mut BytesMut::new()).unwrap_err();
    assert!(
        matches!(err, FramedError::Encode(EncodeError::BodyTooLarge { .. })),
        "{err}"
    );
}
