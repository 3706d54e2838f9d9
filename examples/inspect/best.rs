//! `inspect` for best: one JSON message per line (one WebSocket text frame or MQTT publish each), either
//! direction. NAME is the `funcId`; `message` is the typed value encoded back, so numbers come back as strings.

use best_proto::{Body, Codec};
use serde_json::Value;

use crate::Decoded;

/// Decodes one line as a message of either direction.
pub(crate) fn decode_line(line: &str) -> Result<Decoded, String> {
    let codec: Codec = Codec::default();
    let envelope = codec
        .decode_text(line.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(Decoded {
        name: envelope.message.name().to_owned(),
        known: envelope.message.is_known(),
        message: serde_json::to_value(&envelope).map_err(|e| e.to_string())?,
    })
}

/// Encodes one message of either direction as one line (no newline).
pub(crate) fn encode(message: &Value) -> Result<String, String> {
    let text = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    // Parse through the typed messages so an invalid message is refused, not forwarded.
    let codec: Codec = Codec::default();
    let envelope = codec.decode_text(&text).map_err(|e| e.to_string())?;
    let wire = codec.encode_text(&envelope).map_err(|e| e.to_string())?;
    String::from_utf8(wire).map_err(|e| e.to_string())
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
        let d = decode_line(&line(include_str!(
            "../../best-proto/tests/fixtures/3.6-dev.heartbeat.json"
        )))
        .unwrap();
        assert_eq!((d.name.as_str(), d.known), ("dev.heartbeat", true));
        assert_eq!(
            d.message,
            json!({"funcId":"dev.heartbeat","mid":"xxxx","imme":"xxxx","payload":{"params":{"isFree":"1"}}})
        );
        // Printed with a trailing comma in the spec.
        let d = decode_line(&line(include_str!(
            "../../best-proto/tests/fixtures/3.8-dev.data.upload.user.json"
        )))
        .unwrap();
        assert_eq!(d.name, "dev.data.upload.user");
        let user = &d.message["payload"]["params"]["users"][0];
        assert_eq!(user["startTime"], json!("2020-01-01T00:00:00+08:00"));
        assert_eq!(user["disable"], json!("0"));
        let d = decode_line(&line(include_str!(
            "../../best-proto/tests/fixtures/3.10-dev.data.upload.bioPhoto.json"
        )))
        .unwrap();
        // Read as `contentFileDialog`, written as `contentFileId`.
        assert_eq!(
            d.message["payload"]["params"]["bioPhotos"][0],
            json!({"pin":"xxxx","no":"0","index":"0","type":"9","extension":"xxxx","content":"xxxx","contentFileId":"xxxx"})
        );
        let d = decode_line(&line(include_str!(
            "../../best-proto/tests/fixtures/3.29-cmd.control.reboot.json"
        )))
        .unwrap();
        assert_eq!(
            d.message,
            json!({"funcId":"cmd.control.reboot","mid":"xxxx","imme":"1","payload":{"params":{"cmdId":"1001","operator":"luther"}}})
        );
        // A reply printed without funcId is shown as cmd.dev.response.
        let d = decode_line(&line(include_str!(
            "../../best-proto/tests/fixtures/2.2-device.exchange.factor.reply.json"
        )))
        .unwrap();
        assert_eq!(d.name, "cmd.dev.response");
        assert_eq!(
            d.message["payload"]["results"],
            json!({"factor":"服务端加密因子"})
        );
    }

    #[test]
    fn numbers_come_back_as_strings() {
        let d = decode_line(
            r#"{"funcId":"dev.file.upload.start","mid":"1","payload":{"params":{"fileId":"f1","size":1208}}}"#,
        )
        .unwrap();
        assert_eq!(d.message["payload"]["params"]["size"], json!("1208"));
    }

    #[test]
    fn unknown_func_ids_are_shown_raw_and_bad_lines_are_errors() {
        let d =
            decode_line(r#"{"funcId":"dev.option.upload","mid":"1","payload":{"params":{"a":1}}}"#)
                .unwrap();
        assert_eq!((d.name.as_str(), d.known), ("dev.option.upload", false));
        assert_eq!(
            d.message,
            json!({"funcId":"dev.option.upload","mid":"1","payload":{"params":{"a":1}}})
        );
        let e = decode_line(
            r#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"isFree":"7"}}}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("dev.heartbeat") && e.contains("payload.params.isFree"),
            "{e}"
        );
        assert!(decode_line("not json").is_err());
    }

    #[test]
    fn encode_writes_the_wire_form_of_a_decoded_message() {
        let line = encode(
            &json!({"funcId":"cmd.data.clear.all","mid":"9","payload":{"params":{"cmdId":7}}}),
        );
        let error = line.unwrap_err();
        assert!(
            error.starts_with(
                "invalid `cmd.data.clear.all` message: at `payload.params.cmdId`: invalid type: integer `7`"
            ),
            "{error}"
        );
        let line =
            encode(&json!({"funcId":"dev.heartbeat","mid":"9","payload":{"params":{"isFree":0}}}))
                .unwrap();
        assert_eq!(
            line,
            r#"{"funcId":"dev.heartbeat","mid":"9","payload":{"params":{"isFree":"0"}}}"#
        );
        // decode(encode(x)) gives x back.
        let d = decode_line(&line).unwrap();
        assert_eq!(encode(&d.message).unwrap(), line);
    }
}
