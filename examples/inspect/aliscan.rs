//! `inspect` for aliscan: one JSON message per line (one WebSocket text frame each), either direction.

use aliscan_proto::{Message, WireMessage};
use serde_json::Value;

use crate::Decoded;

/// Decodes one line as a message of either direction.
pub(crate) fn decode_line(line: &str) -> Result<Decoded, String> {
    let message = Message::from_json(line.as_bytes()).map_err(|e| e.to_string())?;
    let json = message.to_json().map_err(|e| e.to_string())?;
    Ok(Decoded {
        name: message.topic().to_owned(),
        known: message.is_known(),
        message: serde_json::from_str(&json).map_err(|e| e.to_string())?,
    })
}

/// Encodes one message of either direction as one line (no newline).
pub(crate) fn encode(message: &Value) -> Result<String, String> {
    let text = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    // Parse through the typed messages so an invalid message is refused, not forwarded.
    let typed = Message::from_json(&text).map_err(|e| e.to_string())?;
    typed.to_json().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A spec example as one line, as a WebSocket text frame carries it.
    fn line(fixture: &str) -> String {
        fixture.replace(['\n', '\r'], " ")
    }

    #[test]
    fn decodes_spec_examples_of_both_directions() {
        // Printed with a trailing comma in the spec.
        let d = decode_line(&line(include_str!(
            "../../aliscan-proto/tests/fixtures/inform_upgrading.json"
        )))
        .unwrap();
        assert_eq!((d.name.as_str(), d.known), ("inform/upgrading", true));
        assert_eq!(
            d.message,
            json!({"topic":"inform/upgrading","padId":"","data":{"id":"xxxx","source":"ota"}})
        );
        let d = decode_line(&line(include_str!(
            "../../aliscan-proto/tests/fixtures/equipment_scan_new.json"
        )))
        .unwrap();
        assert_eq!(
            d.message,
            json!({"topic":"equipment/scan/new","padId":"","data":{"sex":0,"requestId":""}})
        );
        let d = decode_line(&line(include_str!(
            "../../aliscan-proto/tests/fixtures/equipment_scan_result.json"
        )))
        .unwrap();
        assert_eq!(
            d.message,
            json!({"topic":"equipment/scan/result","padId":"","scanId":"xxx"})
        );
        let d = decode_line(&line(include_str!(
            "../../aliscan-proto/tests/fixtures/files_scan_status.json"
        )))
        .unwrap();
        assert_eq!(d.name, "files/scan/status");
        let record = &d.message["data"]["list"][0];
        assert_eq!(record["sex"], json!("1"));
        assert_eq!(record["upateTime"], json!("2018-10-10 22:00:01"));
        assert_eq!(record["scan__qr_tag"], json!("xxx"));
        assert_eq!(record["result"]["lft_length"], json!(1.0));
        assert_eq!(record["result"]["fit_size_CN"], json!(0.0));
    }

    #[test]
    fn unknown_topics_are_shown_raw_and_bad_lines_are_errors() {
        let d =
            decode_line(r#"{"topic":"equipment/fan/set","padId":"p","data":{"rpm":9}}"#).unwrap();
        assert_eq!((d.name.as_str(), d.known), ("equipment/fan/set", false));
        assert_eq!(
            d.message,
            json!({"topic":"equipment/fan/set","padId":"p","data":{"rpm":9}})
        );
        let err = decode_line(r#"{"topic":"equipment/scan/new","padId":"p","data":{"sex":1}}"#)
            .unwrap_err();
        assert!(
            err.contains("invalid `equipment/scan/new` message") && err.contains("requestId"),
            "{err}"
        );
        assert!(decode_line("not json").is_err());
    }

    #[test]
    fn encode_is_the_inverse_of_decode_and_refuses_invalid_messages() {
        let text = encode(
            &json!({"data":{"sex":"1","requestId":"r"},"padId":"p","topic":"equipment/scan/new"}),
        )
        .unwrap();
        assert_eq!(
            text,
            r#"{"topic":"equipment/scan/new","padId":"p","data":{"sex":1,"requestId":"r"}}"#
        );
        assert_eq!(
            decode_line(&text).unwrap().message,
            serde_json::from_str::<Value>(&text).unwrap()
        );
        let err = encode(&json!({"topic":"equipment/net/result","data":"up"})).unwrap_err();
        assert!(
            err.contains("invalid `equipment/net/result` message"),
            "{err}"
        );
    }
}
