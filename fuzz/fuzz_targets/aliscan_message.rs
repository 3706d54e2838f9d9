//! The aliscan envelope + payload decoder on arbitrary bytes (one WebSocket text frame).
//!
//! Invariants: no panic; a message that decodes re-encodes, and the encoding decodes to the same value with the
//! same topic, both as a message of either direction and with the direction-specific codec; the encoding is
//! strict JSON (no lenient retry needed); an error names the message's topic; the codec's size limit is
//! honoured.
#![no_main]

use aliscan_proto::{CodecConfig, DecodeError, Message, PadCodec, StationCodec, WireMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Message::from_json(data) {
        Ok(msg) => {
            let text = msg.to_json().expect("a decoded message encodes");
            let again = Message::from_json(text.as_bytes()).expect("an encoded message decodes");
            assert_eq!(again, msg);
            assert_eq!(again.topic(), msg.topic());
            assert_eq!(again.is_known(), msg.is_known());
            serde_json::from_str::<serde_json::Value>(&text).expect("encoders write strict JSON");
            match &msg {
                Message::Pad(m) => {
                    assert_eq!(
                        &StationCodec::default()
                            .decode_text(text.as_bytes())
                            .unwrap(),
                        m
                    )
                }
                Message::Station(m) => {
                    assert_eq!(
                        &PadCodec::default().decode_text(text.as_bytes()).unwrap(),
                        m
                    )
                }
                _ => {}
            }
            // A limit one byte short refuses the same message, on both sides.
            if let Some(max) = text.len().checked_sub(1) {
                let tight = StationCodec::new(CodecConfig::default().max_message_len(max));
                assert!(matches!(
                    tight.decode_text(text.as_bytes()),
                    Err(DecodeError::MessageTooLarge { .. })
                ));
            }
        }
        Err(DecodeError::Json { topic, .. }) => {
            // When the input is a JSON object with a string topic, the error names that topic (the first one,
            // when a malformed message repeats it).
            if let Some(first) = first_topic(data) {
                assert_eq!(topic, first);
            }
        }
        Err(DecodeError::NotUtf8 { offset }) => {
            assert!(offset <= data.len());
            assert!(std::str::from_utf8(data).is_err());
        }
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
});

/// The first `topic` of a syntactically valid JSON object, if it is a string.
fn first_topic(data: &[u8]) -> Option<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Option<String>, A::Error> {
            let mut first = None;
            while let Some(key) = map.next_key::<String>()? {
                let value: serde_json::Value = map.next_value()?;
                if key == "topic" && first.is_none() {
                    first = Some(value.as_str().map(str::to_owned));
                }
            }
            Ok(first.flatten())
        }
    }
    use serde::Deserializer as _;
    let mut de = serde_json::Deserializer::from_slice(data);
    let topic = de.deserialize_map(Keys).ok()?;
    de.end().ok()?;
    topic
}
