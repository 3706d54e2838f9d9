//! `inspect` for kingxun: the binary WebSvr <-> svrInstance link, a TCP byte stream of `KX` frames.
//!
//! Each frame prints as `{"msgId":4001,"reply":false,"cryptFlag":1,"devId":1001,"seq":7,"respCode":null,
//! "body":{...}}` (the crate's JSON form of a `Packet`). Sealed bodies need `--key HEX --iv HEX`; every frame is
//! opened with the IV given, even after a 9001 reply announces a `newIV`.

use bytes::BytesMut;
use kingxun_proto::{decode_frame, CodecConfig, DecodeError, LinkCipher, Packet};
use serde_json::Value;

use crate::{Decoded, Keys, StreamOutcome};

fn cipher(keys: &Keys) -> Option<LinkCipher> {
    Some(LinkCipher::new(keys.key?, keys.iv?))
}

fn decoded(packet: &Packet) -> Result<Decoded, String> {
    Ok(Decoded {
        name: packet.message.msg_id().to_string(),
        known: packet.message.is_known(),
        message: serde_json::to_value(packet).map_err(|e| e.to_string())?,
    })
}

fn describe(e: &DecodeError) -> String {
    match e {
        DecodeError::NoCipher { .. } => format!("{e} (give --key HEX --iv HEX)"),
        _ => e.to_string(),
    }
}

/// Splits the stream into frames and decodes each, opening sealed bodies with `--key`/`--iv`.
pub(crate) fn decode_stream(input: &[u8], keys: &Keys) -> StreamOutcome {
    let config = CodecConfig::default();
    let cipher = cipher(keys);
    let mut buf = BytesMut::from(input);
    let mut outcome = StreamOutcome::default();
    loop {
        match decode_frame(&config, &mut buf) {
            Ok(Some(frame)) => outcome.frames.push(
                Packet::decode(&frame, cipher.as_ref())
                    .map_err(|e| describe(&e))
                    .and_then(|p| decoded(&p)),
            ),
            Ok(None) => {
                if !buf.is_empty() {
                    outcome.fatal = Some(format!(
                        "stream ends inside a frame: {} byte(s) left over",
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

/// Encodes one packet from its JSON form, sealing with `--key`/`--iv` where the MsgId requires it.
pub(crate) fn encode(message: &Value, keys: &Keys) -> Result<Vec<u8>, String> {
    let packet: Packet = serde_json::from_value(message.clone()).map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    packet
        .encode(cipher(keys).as_ref(), &CodecConfig::default(), &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// DECISIONS.md vectors (KEY = 00..0f, IV = 10..1f).
    const UNLOCK: &str = "4b5801000fa101000003e90000000700000026182f970abaece89d1e1a13c32dcb73de2c8eedfc90a109032a03caf202f44c1900000018d665";
    const HEARTBEAT: &str = "4b580100232a000000000000000001000000280000018bcfe568006b696e6778756e2e736974650000000000000000000000000000000000000000";
    const HEARTBEAT_REPLY: &str =
        "4b580101232a0000000000000000010000000d00000000030000018bcfd625c0";

    fn keys() -> Keys {
        Keys {
            key: Some(std::array::from_fn(|i| u8::try_from(i).unwrap())),
            iv: Some(std::array::from_fn(|i| u8::try_from(16 + i).unwrap())),
        }
    }

    fn wire(parts: &[&str]) -> Vec<u8> {
        hex::decode(parts.concat()).unwrap()
    }

    fn unlock_json() -> Value {
        json!({"msgId":4001,"reply":false,"cryptFlag":1,"devId":1001,"seq":7,"respCode":null,
               "body":{"devId":1001,"devtype":1,"timestamp":1_700_000_000_000u64,"usrId":42,"allowTime":30,
                       "lowestSocP":20,"farthestDist":5000}})
    }

    #[test]
    fn decodes_the_decisions_vectors() {
        let out = decode_stream(&wire(&[UNLOCK, HEARTBEAT, HEARTBEAT_REPLY]), &keys());
        assert!(out.fatal.is_none());
        assert_eq!(out.frames.len(), 3);
        let unlock = out.frames[0].as_ref().unwrap();
        assert_eq!((unlock.name.as_str(), unlock.known), ("4001", true));
        assert_eq!(unlock.message, unlock_json());
        assert_eq!(
            out.frames[1].as_ref().unwrap().message,
            json!({"msgId":9002,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"respCode":null,
                   "body":{"timestamp":1_700_000_000_000u64,"svrHost":"kingxun.site"}})
        );
        assert_eq!(
            out.frames[2].as_ref().unwrap().message,
            json!({"msgId":9002,"reply":true,"cryptFlag":0,"devId":0,"seq":1,"respCode":0,
                   "body":{"totalDevCount":3,"svrStartTime":1_699_999_000_000u64}})
        );
    }

    #[test]
    fn sealed_frames_without_keys_fail_alone_and_decoding_goes_on() {
        let out = decode_stream(&wire(&[UNLOCK, HEARTBEAT]), &Keys::default());
        assert_eq!(
            out.frames[0].as_ref().unwrap_err(),
            "MsgId 4001 is sealed: a KEY and IV are needed to open it (give --key HEX --iv HEX)"
        );
        assert_eq!(out.frames[1].as_ref().unwrap().name, "9002");
        let mut wrong = keys();
        wrong.iv = Some([0; 16]);
        let out = decode_stream(&wire(&[UNLOCK]), &wrong);
        assert_eq!(
            out.frames[0].as_ref().unwrap_err(),
            "sealed body of MsgId 4001 failed to open (length or crc check)"
        );
    }

    #[test]
    fn framing_errors_and_leftovers_end_the_stream() {
        let mut input = wire(&[HEARTBEAT]);
        input.extend_from_slice(b"GET / HTTP/1.1");
        let out = decode_stream(&input, &keys());
        assert_eq!(out.frames.len(), 1);
        assert_eq!(
            out.fatal.unwrap(),
            "bad magic [47, 45]: expected [4b, 58] (\"KX\")"
        );
        let out = decode_stream(&wire(&[HEARTBEAT])[..30], &keys());
        assert!(out.frames.is_empty());
        assert_eq!(
            out.fatal.unwrap(),
            "stream ends inside a frame: 30 byte(s) left over"
        );
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        assert_eq!(
            hex::encode(encode(&unlock_json(), &keys()).unwrap()),
            UNLOCK
        );
        let err = encode(&unlock_json(), &Keys::default()).unwrap_err();
        assert_eq!(
            err,
            "MsgId 4001 is sealed: a KEY and IV are needed to encode it"
        );
        let unknown = json!({"msgId":4242,"reply":true,"cryptFlag":1,"devId":5,"seq":6,"respCode":255,
                             "body":{"raw":"c0ffee"}});
        let bytes = encode(&unknown, &Keys::default()).unwrap();
        let out = decode_stream(&bytes, &Keys::default());
        let d = out.frames[0].as_ref().unwrap();
        assert_eq!(
            (d.name.as_str(), d.known, &d.message),
            ("4242", false, &unknown)
        );
        let err = encode(
            &json!({"msgId":4001,"reply":false,"cryptFlag":0,"devId":1,"seq":1,"body":{}}),
            &keys(),
        )
        .unwrap_err();
        assert!(err.contains("must carry cryptFlag 1"), "{err}");
    }
}
