//! `inspect` for jetinno: a TCP byte stream of length-headed JSON packets, either direction.

use bytes::BytesMut;
use jetinno_proto::{decode_frame, encode_frame, CodecConfig, DecodeError, Message, WireMessage};
use serde_json::Value;

use crate::{Decoded, Keys, StreamOutcome};

fn decoded(message: &Message) -> Result<Decoded, String> {
    let json = message.to_json().map_err(|e| e.to_string())?;
    let message_json = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    Ok(Decoded {
        name: message.name().to_owned(),
        known: message.is_known(),
        message: message_json,
    })
}

/// Splits the stream into packets and decodes each body as a message of either direction.
pub(crate) fn decode_stream(input: &[u8], _keys: &Keys) -> StreamOutcome {
    let config = CodecConfig::default();
    let mut buf = BytesMut::from(input);
    let mut outcome = StreamOutcome::default();
    loop {
        match decode_frame(&config, &mut buf) {
            Ok(Some(body)) => outcome.frames.push(
                Message::from_json(&body)
                    .map_err(|e: DecodeError| e.to_string())
                    .and_then(|m| decoded(&m)),
            ),
            Ok(None) => {
                if !buf.is_empty() {
                    outcome.fatal = Some(format!(
                        "stream ends inside a packet: {} byte(s) left over",
                        buf.len()
                    ));
                }
                return outcome;
            }
            Err(e) => {
                outcome.fatal = Some(e.to_string());
                return outcome;
            }
        }
    }
}

/// Encodes one message of either direction as a packet.
pub(crate) fn encode(message: &Value, _keys: &Keys) -> Result<Vec<u8>, String> {
    let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    // Parse through the typed messages so an invalid message is refused, not forwarded.
    let typed = Message::from_json(&body).map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    let json = typed.to_json().map_err(|e| e.to_string())?;
    encode_frame(&CodecConfig::default(), &json, &mut out).map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HB: &[u8] = b"003900000000{\"cmd\":\"hb\",\"vmc_no\":33232}";

    #[test]
    fn decodes_both_directions_and_reports_bad_bodies_without_stopping() {
        let mut input = HB.to_vec();
        input.extend_from_slice(b"002100000000{\"cmd\":1}");
        input.extend_from_slice(b"002400000000{\"cmd\":\"hb\"}");
        let out = decode_stream(&input, &Keys::default());
        assert_eq!(out.frames.len(), 3);
        let first = out.frames[0].as_ref().unwrap();
        assert_eq!((first.name.as_str(), first.known), ("hb", true));
        assert_eq!(
            first.message,
            serde_json::json!({"cmd":"hb","vmc_no":33232})
        );
        assert!(out.frames[1]
            .as_ref()
            .unwrap_err()
            .contains("invalid type: integer `1`"));
        assert_eq!(
            out.frames[2].as_ref().unwrap().message,
            serde_json::json!({"cmd":"hb"})
        );
        assert!(out.fatal.is_none());
    }

    #[test]
    fn framing_errors_and_leftovers_end_the_stream() {
        let mut input = HB.to_vec();
        input.extend_from_slice(b"abcd");
        let out = decode_stream(&input, &Keys::default());
        assert_eq!(out.frames.len(), 1);
        assert!(out.fatal.unwrap().starts_with("bad length head \"abcd\""));
        let out = decode_stream(&HB[..20], &Keys::default());
        assert!(out.frames.is_empty());
        assert_eq!(
            out.fatal.unwrap(),
            "stream ends inside a packet: 20 byte(s) left over"
        );
    }

    #[test]
    fn encode_is_the_inverse_of_decode_and_refuses_invalid_messages() {
        let bytes = encode(
            &serde_json::json!({"vmc_no":33232,"cmd":"hb"}),
            &Keys::default(),
        )
        .unwrap();
        assert_eq!(bytes, HB);
        let unknown = serde_json::json!({"cmd":"brew","x":1});
        let bytes = encode(&unknown, &Keys::default()).unwrap();
        let out = decode_stream(&bytes, &Keys::default());
        let d = out.frames[0].as_ref().unwrap();
        assert_eq!(
            (d.name.as_str(), d.known, &d.message),
            ("brew", false, &unknown)
        );
        let err = encode(
            &serde_json::json!({"cmd":"products","vmc_no":1}),
            &Keys::default(),
        )
        .unwrap_err();
        assert!(err.contains("invalid `products` message"), "{err}");
    }
}
