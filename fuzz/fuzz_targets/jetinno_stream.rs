//! The jetinno stream decoder on arbitrary bytes.
//!
//! Invariants: no panic; a decode never consumes more than the buffer holds, consumes nothing when it needs
//! more bytes or hits a framing error, and consumes a whole packet otherwise; every decoded message re-encodes
//! and decodes to the same value, and re-framing it yields a packet the decoder reads back whole. The typed
//! codecs of both directions, run over the same bytes, consume the same packets and decode each body exactly as
//! `from_json` does, errors included.
#![no_main]

use bytes::BytesMut;
use jetinno_proto::{
    decode_frame, encode_frame, CodecConfig, DecodeError, Decoder, MachineCodec, MachineMessage,
    Message, ServerCodec, ServerMessage, WireMessage,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = CodecConfig::default();
    let mut buf = BytesMut::from(data);
    let (mut server, mut server_buf) = (ServerCodec::new(config), BytesMut::from(data));
    let (mut machine, mut machine_buf) = (MachineCodec::new(config), BytesMut::from(data));
    loop {
        let before = buf.len();
        let by_server = server.decode(&mut server_buf);
        let by_machine = machine.decode(&mut machine_buf);
        match decode_frame(&config, &mut buf) {
            Ok(Some(body)) => {
                assert!(
                    buf.len() + body.len() + 12 == before,
                    "a packet is head + body"
                );
                assert_eq!(server_buf.len(), buf.len());
                assert_eq!(machine_buf.len(), buf.len());
                same(by_server, MachineMessage::from_json(&body));
                same(by_machine, ServerMessage::from_json(&body));
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
                assert!(matches!(by_server, Ok(None)) && matches!(by_machine, Ok(None)));
                break;
            }
            Err(e) => {
                assert!(e.is_fatal());
                assert_eq!(buf.len(), before);
                assert_eq!(server_buf.len(), before);
                assert_eq!(machine_buf.len(), before);
                for typed in [by_server.map(|_| ()), by_machine.map(|_| ())] {
                    assert_eq!(typed.unwrap_err().to_string(), e.to_string());
                }
                break;
            }
        }
    }
});

/// A typed codec's outcome for one packet matches `from_json` of its body.
fn same<T: PartialEq + std::fmt::Debug>(
    typed: Result<Option<T>, DecodeError>,
    from_json: Result<T, DecodeError>,
) {
    match (typed, from_json) {
        (Ok(Some(a)), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert!(!a.is_fatal());
            assert_eq!(a.to_string(), b.to_string());
        }
        (typed, from_json) => panic!("typed codec {typed:?}, from_json {from_json:?}"),
    }
}
