//! The kingxun frame decoder on arbitrary bytes.
//!
//! Invariants: no panic; a decode never consumes more than the buffer holds, consumes nothing when it needs
//! more bytes or hits a (fatal) framing error, and consumes exactly header + body otherwise; every decoded
//! frame re-encodes to exactly the bytes it was decoded from.
#![no_main]

use bytes::BytesMut;
use kingxun_proto::{decode_frame, encode_frame, CodecConfig, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A small limit so that over-limit headers are reached too.
    let config = CodecConfig::default().max_body_len(4096);
    let mut buf = BytesMut::from(data);
    let mut consumed = 0usize;
    loop {
        let before = buf.len();
        match decode_frame(&config, &mut buf) {
            Ok(Some(frame)) => {
                let used = before - buf.len();
                assert_eq!(
                    used,
                    HEADER_LEN + frame.body.len(),
                    "a frame is header + body"
                );
                consumed += used;
                assert!(consumed <= data.len());
                let mut again = BytesMut::new();
                encode_frame(&config, &frame, &mut again).expect("a decoded frame re-encodes");
                assert_eq!(&again[..], &data[consumed - used..consumed]);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "an incomplete frame consumes nothing");
                break;
            }
            Err(e) => {
                assert!(e.is_fatal(), "framing errors are fatal: {e}");
                assert_eq!(buf.len(), before, "a framing error consumes nothing");
                break;
            }
        }
    }
});
