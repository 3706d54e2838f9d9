//! A WebSvr codec and an svrInstance codec talking: the IV switch after 9001, the JSON form, HTTP errors.

use bytes::BytesMut;
use kingxun_proto::http::{self, HttpRequest};
use kingxun_proto::*;
use serde_json::json;

const KEY: [u8; 16] = [0x11; 16];
const IV: [u8; 16] = [0x22; 16];
const NEW_IV: [u8; 16] = [0x33; 16];
const TS: u64 = 1_700_000_000_000;

fn pair() -> (Codec, Codec) {
    let make = || Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(KEY, IV));
    (make(), make())
}

fn unlock() -> Unlock {
    Unlock {
        dev_id: 1001,
        dev_type: 1,
        timestamp: TS,
        usr_id: 42,
        allow_time: 30,
        lowest_soc_p: 20,
        farthest_dist: 5000,
    }
}

/// Sends `packet` from `from` to `to` and returns what `to` decoded and the wire bytes.
fn send(from: &mut Codec, to: &mut Codec, packet: &Packet) -> (Packet, BytesMut) {
    let mut wire = BytesMut::new();
    from.encode(packet, &mut wire).unwrap();
    let sent = wire.clone();
    let got = to.decode(&mut wire).unwrap().unwrap();
    assert!(wire.is_empty());
    (got, sent)
}

#[test]
fn both_ends_switch_to_new_iv_after_an_accepting_9001_reply() {
    let (mut websvr, mut instance) = pair();
    let connect = Packet::request(
        1,
        Connect {
            timestamp: TS,
            svr_host: "kingxun.site".into(),
        },
    );
    let (got, _) = send(&mut websvr, &mut instance, &connect);
    assert_eq!(got, connect);

    let accept = connect.reply_to(Reply::Connect(ConnectReply::accepted(ConnectSession {
        session_id: 9,
        new_iv: NEW_IV,
        timestamp: TS,
    })));
    let (got, wire) = send(&mut instance, &mut websvr, &accept);
    assert_eq!(got, accept);
    // The reply itself was sealed with the initial IV.
    let frame = decode_frame(&CodecConfig::default(), &mut wire.clone())
        .unwrap()
        .unwrap();
    assert!(Packet::decode(&frame, Some(&LinkCipher::new(KEY, IV))).is_ok());

    // From now on both directions use newIV: the initial IV no longer opens anything.
    let command = Packet::request(2, unlock());
    let (got, wire) = send(&mut websvr, &mut instance, &command);
    assert_eq!(got, command);
    let frame = decode_frame(&CodecConfig::default(), &mut wire.clone())
        .unwrap()
        .unwrap();
    let e = Packet::decode(&frame, Some(&LinkCipher::new(KEY, IV))).unwrap_err();
    assert!(
        matches!(
            e,
            DecodeError::Unseal {
                msg_id: MsgId::Unlock
            }
        ),
        "{e}"
    );
    assert!(Packet::decode(&frame, Some(&LinkCipher::new(KEY, NEW_IV))).is_ok());

    let (got, _) = send(
        &mut instance,
        &mut websvr,
        &command.reply_to(Reply::Unlock(RespCode::Ok)),
    );
    assert_eq!(got.message, Message::Reply(Reply::Unlock(RespCode::Ok)));
}

#[test]
fn a_refused_9001_keeps_the_initial_iv() {
    let (mut websvr, mut instance) = pair();
    let connect = Packet::request(
        1,
        Connect {
            timestamp: 0,
            svr_host: "kingxun.site".into(),
        },
    );
    send(&mut websvr, &mut instance, &connect);
    let (got, wire) = send(
        &mut instance,
        &mut websvr,
        &connect.reply_to(Reply::Connect(ConnectReply::refused())),
    );
    assert_eq!(
        got.message,
        Message::Reply(Reply::Connect(ConnectReply::refused()))
    );
    assert_eq!(
        hex::encode(&wire[19..]),
        "01",
        "a refusal is a bare RespCode"
    );
    // Still on the initial IV on both ends.
    let command = Packet::request(2, unlock());
    let mut wire = BytesMut::new();
    websvr.encode(&command, &mut wire).unwrap();
    let frame = decode_frame(&CodecConfig::default(), &mut wire)
        .unwrap()
        .unwrap();
    assert!(Packet::decode(&frame, Some(&LinkCipher::new(KEY, IV))).is_ok());
}

#[test]
fn replay_window_applies_to_request_timestamps() {
    let window = TimestampWindow::default();
    let request = Request::from(unlock());
    let ts = request.timestamp().unwrap();
    assert!(window.check(ts, TS + 300_000).is_ok());
    let e = window.check(ts, TS + 300_001).unwrap_err();
    assert_eq!(
        (e.timestamp_ms, e.now_ms, e.window_ms),
        (TS, TS + 300_001, 300_000)
    );
}

#[test]
fn json_form_names_fields_as_the_spec_does() {
    let unlock = serde_json::to_value(Packet::request(7, unlock())).unwrap();
    assert_eq!(
        unlock,
        json!({"msgId":4001,"reply":false,"cryptFlag":1,"devId":1001,"seq":7,"respCode":null,
               "body":{"devId":1001,"devtype":1,"timestamp":TS,"usrId":42,"allowTime":30,"lowestSocP":20,
                       "farthestDist":5000}})
    );
    let guard = Guard {
        dev_id: 1,
        dev_type: 2,
        timestamp: 3,
        usr_id: 4,
        motor_power: MotorPowerFlag::Unlimited,
        max_speed: 555,
        warning_voice: 6,
    };
    let v = serde_json::to_value(Packet::request(1, guard)).unwrap();
    assert_eq!(v["body"]["MotorPowerFlag"], 255);
    assert_eq!(v["body"]["maxSpeed"], 555);
    assert_eq!(v["body"]["warningVoice"], 6);
    let light = LightCtrl {
        dev_id: 1,
        dev_type: 2,
        timestamp: 3,
        usr_id: 4,
        light_flag: LightFlags::LEFT_TURN | LightFlags::BRAKE,
    };
    assert_eq!(
        serde_json::to_value(Packet::request(1, light)).unwrap()["body"]["lightFlag"],
        0x440
    );

    let file = FileDeliver::new(
        9,
        1,
        2,
        3,
        FileType::System,
        "bms",
        bytes::Bytes::from_static(b"\x00\xff"),
    );
    let v = serde_json::to_value(Packet::request(1, file)).unwrap();
    assert_eq!(
        v["body"],
        json!({"devId":9,"devtype":1,"timestamp":2,"sysUsrId":3,"FileType":1,"FileName":"bms","FileDataLen":2,
               "FileMD5":"d07d34efac6328007ad67c7e0a985e00","FileData":"00ff"})
    );

    let accepted = Packet::new(
        0,
        1,
        Reply::Connect(ConnectReply::accepted(ConnectSession {
            session_id: 5,
            new_iv: NEW_IV,
            timestamp: 6,
        })),
    );
    assert_eq!(
        serde_json::to_value(&accepted).unwrap(),
        json!({"msgId":9001,"reply":true,"cryptFlag":1,"devId":0,"seq":1,"respCode":0,
               "body":{"sessionId":5,"newIV":"33333333333333333333333333333333","timestamp":6}})
    );
    let ack = Packet::new(1001, 7, Reply::Unlock(RespCode::Refused));
    assert_eq!(
        serde_json::to_value(&ack).unwrap(),
        json!({"msgId":4001,"reply":true,"cryptFlag":1,"devId":1001,"seq":7,"respCode":1,"body":{}})
    );
    let raw = Packet::new(
        3,
        4,
        Request::Unknown(RawRequest {
            msg_id: 4242,
            crypt: CryptFlag::Plain,
            body: bytes::Bytes::from_static(b"\xab\xcd"),
        }),
    );
    assert_eq!(
        serde_json::to_value(&raw).unwrap(),
        json!({"msgId":4242,"reply":false,"cryptFlag":0,"devId":3,"seq":4,"respCode":null,"body":{"raw":"abcd"}})
    );
}

#[test]
fn json_form_refuses_what_the_wire_would_not_carry() {
    let cases = [
        (
            json!({"msgId":4001,"reply":false,"cryptFlag":0,"devId":1,"seq":1,"body":{}}),
            "MsgId 4001 must carry cryptFlag 1 (AES-128-CBC), found 0 (plain)",
        ),
        (
            json!({"msgId":4001,"reply":true,"cryptFlag":1,"devId":1,"seq":1,"body":{}}),
            "reply to MsgId 4001 needs a respCode",
        ),
        (
            json!({"msgId":4001,"reply":true,"cryptFlag":1,"devId":1,"seq":1,"respCode":0,"body":{"x":1}}),
            "reply to MsgId 4001 has no fields after respCode",
        ),
        (
            json!({"msgId":9002,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"respCode":0,"body":{}}),
            "request MsgId 9002 cannot carry a respCode",
        ),
        (
            json!({"msgId":9002,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"body":{"timestamp":1}}),
            "body of MsgId 9002: missing field `svrHost`",
        ),
        (
            json!({"msgId":4003,"reply":false,"cryptFlag":1,"devId":0,"seq":1,"body":{"devId":1,"devtype":1,
                "timestamp":1,"usrId":1,"MotorPowerFlag":256,"maxSpeed":1,"warningVoice":1}}),
            "body of MsgId 4003: invalid value: integer `256`, expected u8",
        ),
        (
            json!({"msgId":4020,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"body":{"devId":1,"devtype":1,
                "timestamp":1,"sysUsrId":1,"FileType":1,"FileName":"a","FileDataLen":3,"FileData":"00"}}),
            "FileDataLen 3 does not match the 1 bytes of FileData",
        ),
        (
            json!({"msgId":4020,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"body":{"devId":1,"devtype":1,
                "timestamp":1,"sysUsrId":1,"FileType":1,"FileName":"a","FileMD5":"00000000000000000000000000000000",
                "FileData":"00"}}),
            "FileMD5 00000000000000000000000000000000 does not match",
        ),
        (
            json!({"msgId":4242,"reply":false,"cryptFlag":2,"devId":0,"seq":1,"body":{"raw":""}}),
            "cryptFlag 2 is neither 0 nor 1",
        ),
        (
            json!({"msgId":4242,"reply":false,"cryptFlag":0,"devId":0,"seq":1,"body":{"raw":"0g"}}),
            "expected hex digits",
        ),
    ];
    for (value, message) in cases {
        let e = serde_json::from_value::<Packet>(value.clone())
            .unwrap_err()
            .to_string();
        assert!(e.contains(message), "{value}: {e}");
    }
}

#[test]
fn http_errors_name_the_endpoint_and_field() {
    let config = CodecConfig::default();
    let e = HttpRequest::decode("/devOpenLock", br#"{"type":1,"usrId":42,"devId":1001,"devType":1,"timestamp":1,"allowTime":70000,"lowestSocP":20,"farthestDist":1,"hash":""}"#, &config).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Json { endpoint, source } if endpoint == "/devOpenLock" && source.path() == "allowTime"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(
            "invalid `/devOpenLock` body: at `allowTime`: invalid value: integer `70000`"
        ),
        "{e}"
    );

    let e = HttpRequest::decode("devGuard", br#"{"type":1,"usrId":42,"devId":1001,"timestamp":1,"MotorPowerFlag":1,"maxSpeed":1,"warningVoice":1,"hash":""}"#, &config).unwrap_err();
    assert!(e.to_string().contains("missing field `devType`"), "{e}");

    let big = vec![b' '; 70_000];
    let e = HttpRequest::decode("/devStatus", &big, &config).unwrap_err();
    assert_eq!(
        e.to_string(),
        "HTTP body of 70000 bytes exceeds the maximum of 65536 bytes"
    );

    // Trailing commas are repaired once (the shared lenient rule); unknown fields are ignored.
    let r = HttpRequest::decode(
        "/getUsrDevs",
        br#"{"type":2,"usrId":42,"timestamp":1,"hash":"x","extra":[1,],}"#,
        &config,
    )
    .unwrap();
    let HttpRequest::GetUsrDevs(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!((r.client_type, r.usr_id), (http::ClientType::App, 42));

    // Paths the spec leaves undefined stay raw.
    let r = HttpRequest::decode("/tmpShareDevTo", br#"{"usrId":1}"#, &config).unwrap();
    assert_eq!(
        r,
        HttpRequest::Unknown {
            path: "/tmpShareDevTo".into(),
            body: json!({"usrId":1})
        }
    );
    assert!(r.hashed().is_none());
    assert_eq!(r.timestamp(), None);

    // errCode is data: unknown codes are kept.
    let resp = http::decode_response::<http::LockDevRequest>(
        br#"{"errCode":401,"errMsg":"bad hash"}"#,
        &config,
    )
    .unwrap();
    assert_eq!(resp.err_code, http::ErrCode::Unauthorized);
    let resp =
        http::decode_response::<http::LockDevRequest>(br#"{"errCode":-7}"#, &config).unwrap();
    assert_eq!(resp.err_code, http::ErrCode::Other(-7));
    assert_eq!(serde_json::to_string(&resp).unwrap(), r#"{"errCode":-7}"#);
}
