//! best: any bytes through the envelope + payload decoder. Invariants: no panic; a message that decodes
//! re-encodes, decodes to the same value, and re-encodes to the same bytes.

#![no_main]

use best_proto::{decode, encode, CodecConfig, Envelope, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = CodecConfig::default();
    let Ok(envelope) = decode::<Message>(data, &config) else {
        return;
    };
    let wire = encode(&envelope, &config).expect("a decoded message encodes");
    let again: Envelope = decode(&wire, &config).expect("an encoded message decodes");
    assert_eq!(again, envelope);
    assert_eq!(encode(&again, &config).expect("encodes again"), wire);
});
