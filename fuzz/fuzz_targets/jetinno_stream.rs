//! The jetinno stream decoder on arbitrary bytes.
//!
//! Invariants: no panic; a decode never consumes more than the buffer holds, consumes nothing when it needs
//! more bytes or hits a framing error, and consumes a whole packet otherwise; every decoded message re-encodes
//! and decodes to the same value, and re-framing it yields a packet the decoder reads back whole.
#![no_main]

use bytes::BytesMut;
use jetinno_proto::{decode_frame, encode_frame, CodecConfig, Message, WireMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = CodecConfig::default();
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        match decode_frame(&config, &mut buf) {
            Ok(Some(body)) => {
                assert!(
                    buf.len() + body.len() + 12 == before,
                    "a packet is head + body"
                );
                let Ok(msg) = Message::from_json(&body) else {
                    continue;
                };
                let json = msg.to_json().expect("a decoded message encodes");
                let again = Message::from_json(&json).expect("an encoded message decodes");
                assert_eq!(again, msg);
                let mut framed = BytesMut::new();
                if encode_frame(&config, &json, &mut framed).is_ok() {
                    let body = decode_frame(&config, &mut framed).unwrap().unwrap();
                    assert!(framed.is_empty());
                    assert_eq!(&body[..], &json[..]);
                }
            }
            Ok(None) => {
                assert_eq!(buf.len(), before);
                break;
            }
            Err(e) => {
                assert!(e.is_fatal());
                assert_eq!(buf.len(), before);
                break;
            }
        }
    }
});
