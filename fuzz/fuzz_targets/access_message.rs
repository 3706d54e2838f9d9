//! The access message decoder on arbitrary bytes.
//!
//! Invariants: no panic; a message that decodes re-encodes (as stream JSON and as WebSocket text) and decodes
//! to the same value, with the same name, kind and pairing key; an error is never a framing error.
#![no_main]

use access_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Message::from_json(data) {
        Ok(msg) => {
            let json = msg.to_json().expect("a decoded message encodes");
            let again = Message::from_json(&json).expect("an encoded message decodes");
            assert_eq!(again, msg);
            assert_eq!(again.name(), msg.name());
            assert_eq!(again.kind(), msg.kind());
            assert_eq!(again.pair_key(), msg.pair_key());
            let text = msg
                .to_text()
                .expect("a decoded message fits the default limit");
            assert_eq!(text.as_bytes(), &json[..]);
            assert_eq!(Message::from_text(&text).unwrap(), msg);
        }
        Err(e) => assert!(!e.is_fatal()),
    }
});
