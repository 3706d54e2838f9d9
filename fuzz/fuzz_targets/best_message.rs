//! best: any bytes through the envelope + payload decoder. Invariants: no panic; a message that decodes
//! re-encodes, decodes to the same value, and re-encodes to the same bytes.

#![no_main]

use best_proto::{Codec, Decoder, Encoder, Envelope};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut codec = Codec::default();
    let Ok(envelope) = codec.decode_text(data) else {
        // The codec contract sees the same frame the same way.
        assert!(codec.decode(&mut BytesMut::from(data)).is_err());
        return;
    };
    let wire = codec
        .encode_text(&envelope)
        .expect("a decoded message encodes");
    let again: Envelope = codec
        .decode_text(&wire)
        .expect("an encoded message decodes");
    assert_eq!(again, envelope);
    assert_eq!(codec.encode_text(&again).expect("encodes again"), wire);
    let mut frame = BytesMut::new();
    codec
        .encode(&again, &mut frame)
        .expect("encodes through the contract");
    assert_eq!(&frame[..], &wire[..]);
    assert_eq!(
        codec
            .decode(&mut frame)
            .expect("decodes through the contract"),
        Some(again)
    );
    assert!(frame.is_empty());
});
