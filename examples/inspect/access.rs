//! `inspect` for access: a TCP byte stream of JSON objects, either direction; NAME is the `mod`.

use access_proto::{Codec, CodecConfig, Encoder, JsonSplitter, Message};
use bytes::BytesMut;
use serde_json::Value;

use crate::{Decoded, Keys, StreamOutcome};

fn decoded(message: &Message) -> Result<Decoded, String> {
    // The typed message written back as wire JSON: blobs appear as base64 `data` with their `length`.
    let json = message.to_json().map_err(|e| e.to_string())?;
    Ok(Decoded {
        name: message.name().to_owned(),
        known: message.is_known(),
        message: serde_json::from_slice(&json).map_err(|e| e.to_string())?,
    })
}

/// Splits the stream into JSON objects and decodes each as a request or response.
pub(crate) fn decode_stream(input: &[u8], _keys: &Keys) -> StreamOutcome {
    let mut outcome = StreamOutcome::default();
    for frame in JsonSplitter::split_all(input, &CodecConfig::default()) {
        match frame {
            Ok(frame) => outcome.frames.push(
                Message::from_json(frame)
                    .map_err(|e| e.to_string())
                    .and_then(|m| decoded(&m)),
            ),
            Err(e) => outcome.fatal = Some(e.to_string()),
        }
    }
    outcome
}

/// Encodes one message as a JSON object followed by `\n`.
pub(crate) fn encode(message: &Value, _keys: &Keys) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    // Parse through the typed messages so an invalid message is refused, not forwarded.
    let typed = Message::from_json(&json).map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    Codec::default()
        .encode(&typed, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GET: &[u8] =
        include_bytes!("../../access-proto/tests/fixtures/get_device_info_request.json");
    const PERSON: &[u8] =
        include_bytes!("../../access-proto/tests/fixtures/download_person_request.json");
    const RECORD: &[u8] =
        include_bytes!("../../access-proto/tests/fixtures/upload_access_info_request.json");
    const INFO: &[u8] =
        include_bytes!("../../access-proto/tests/fixtures/get_device_info_response.json");

    fn ok(outcome: &StreamOutcome, i: usize) -> &Decoded {
        outcome.frames[i].as_ref().unwrap()
    }

    #[test]
    fn decodes_spec_examples_back_to_back() {
        let input = [GET, PERSON, RECORD, INFO].concat();
        let out = decode_stream(&input, &Keys::default());
        assert!(out.fatal.is_none(), "{:?}", out.fatal);
        assert_eq!(out.frames.len(), 4);
        let get = ok(&out, 0);
        assert_eq!((get.name.as_str(), get.known), ("get_device_info", true));
        assert_eq!(
            get.message,
            json!({"mod":"get_device_info","session_id":"de6a6236-db52-11e9-aaa8-00e04c110030","type":1})
        );
        // Blobs are shown as on the wire: base64 `data` and its `length`.
        let person = ok(&out, 1);
        assert_eq!(person.name, "download_person");
        assert_eq!(
            person.message["person_info"]["face"],
            json!({"width":520,"height":690,"format":2,"length":16,"data":"QkFTRTY0IGZhY2UgZGF0YQ=="})
        );
        assert_eq!(
            person.message["person_info"]["right_code"],
            json!({"length":16,"data":"QkFTRTY0IGNvZGUgZGF0YQ=="})
        );
        assert_eq!(person.message["person_info"]["person_name"], "张飒");
        let record = ok(&out, 2);
        assert_eq!(
            record.message,
            json!({
                "mod":"upload_access_info","session_id":"de6a6236-db52-11e9-aaa8-00e04c110030","type":1,
                "access_info":{"person_id":"3413123123","time":"20190823123435","id_number":"1545123",
                    "card_number":"123123123","role":12,"open_door_type":2,"in_out_type":2,
                    "community_code":"1231321"}
            })
        );
        let info = ok(&out, 3);
        assert_eq!(info.message["code"], 0);
        assert_eq!(info.message["device_info"]["address"], "公司门口");
    }

    #[test]
    fn bad_messages_are_reported_and_decoding_goes_on() {
        let input = br#"{"mod":"upload_access_info","session_id":"s","access_info":{"time":"2019"}}
{"mod":"reboot","session_id":"s","type":1,"delay":5}"#;
        let out = decode_stream(input, &Keys::default());
        assert_eq!(out.frames.len(), 2);
        let err = out.frames[0].as_ref().unwrap_err();
        assert!(
            err.starts_with(
                "invalid `upload_access_info` message: at `access_info.time`: `2019` is not"
            ),
            "{err}"
        );
        let unknown = ok(&out, 1);
        assert_eq!((unknown.name.as_str(), unknown.known), ("reboot", false));
        assert_eq!(
            unknown.message,
            json!({"mod":"reboot","session_id":"s","type":1,"delay":5})
        );
        assert!(out.fatal.is_none());
    }

    #[test]
    fn garbage_and_leftovers_end_the_stream() {
        let out = decode_stream(
            b"{\"mod\":\"x\",\"session_id\":\"s\"}\nGET /",
            &Keys::default(),
        );
        assert_eq!(out.frames.len(), 1);
        assert_eq!(
            out.fatal.unwrap(),
            "unexpected byte 0x47 (`G`) at stream offset 29: expected whitespace or `{` between messages"
        );
        let out = decode_stream(&GET[..20], &Keys::default());
        assert!(out.frames.is_empty());
        assert_eq!(
            out.fatal.unwrap(),
            "stream ended inside a message (20 bytes of an unfinished JSON object)"
        );
    }

    #[test]
    fn encode_is_the_inverse_of_decode_and_refuses_invalid_messages() {
        let out = decode_stream(PERSON, &Keys::default());
        let message = &ok(&out, 0).message;
        let bytes = encode(message, &Keys::default()).unwrap();
        assert!(bytes.ends_with(b"}\n"));
        let again = decode_stream(&bytes, &Keys::default());
        assert_eq!(&ok(&again, 0).message, message);
        let bytes = encode(
            &json!({"session_id":"s","code":0,"mod":"send_device_command"}),
            &Keys::default(),
        )
        .unwrap();
        assert_eq!(
            bytes,
            b"{\"mod\":\"send_device_command\",\"session_id\":\"s\",\"type\":2,\"code\":0,\"message\":\"\"}\n"
        );
        let err = encode(
            &json!({"mod":"download_person","session_id":"s","type":1,"person_info":{"person_id":"p",
                "face":{"width":1,"height":1,"format":2,"length":5,"data":"YWI="}}}),
            &Keys::default(),
        )
        .unwrap_err();
        assert!(
            err.contains("at `person_info.face`: `length` is 5 but `data` decodes to 2 bytes"),
            "{err}"
        );
    }
}
