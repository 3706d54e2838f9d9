//! Every fixture decodes to the right typed message, and re-encodes byte for byte (binary) or to the same
//! JSON value (HTTP).

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use kingxun_proto::http::{
    self, AckResponse, ClientType, ControlEndpoint, Endpoint, ErrCode, HttpRequest, OwnerFlag,
    Position,
};
use kingxun_proto::*;

const SESSION: &str = "0123456789abcdef0123456789abcdef";
const TS: u64 = 1_700_000_000_000;

fn fixture(path: &str) -> Vec<u8> {
    let full: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", path]
        .iter()
        .collect();
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn cipher() -> LinkCipher {
    LinkCipher::new(
        std::array::from_fn(|i| u8::try_from(i).unwrap()),
        std::array::from_fn(|i| u8::try_from(16 + i).unwrap()),
    )
}

/// Decodes a binary fixture, checks it re-encodes to the same bytes, and returns the packet.
fn binary(name: &str) -> Packet {
    let text = String::from_utf8(fixture(&format!("binary/{name}.hex"))).unwrap();
    let wire = hex::decode(text.trim()).unwrap();
    let mut src = BytesMut::from(&wire[..]);
    let frame = decode_frame(&CodecConfig::default(), &mut src)
        .unwrap()
        .unwrap();
    assert!(src.is_empty(), "{name}: one frame per file");
    let packet = Packet::decode(&frame, Some(&cipher())).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut again = BytesMut::new();
    packet
        .encode(Some(&cipher()), &CodecConfig::default(), &mut again)
        .unwrap();
    assert_eq!(
        hex::encode(&again),
        hex::encode(&wire),
        "{name} re-encodes byte for byte"
    );
    packet
}

fn prefix_ok(dev_id: u32, timestamp: u64) {
    assert_eq!((dev_id, timestamp), (1001, TS));
}

#[test]
fn decisions_vectors_decode_to_their_fields() {
    let p = binary("4001_unlock.request");
    assert_eq!((p.dev_id, p.seq), (1001, 7));
    let Message::Request(Request::Unlock(m)) = p.message else {
        panic!("{p:?}")
    };
    assert_eq!(
        m,
        Unlock {
            dev_id: 1001,
            dev_type: 1,
            timestamp: TS,
            usr_id: 42,
            allow_time: 30,
            lowest_soc_p: 20,
            farthest_dist: 5000
        }
    );

    let p = binary("9002_heartbeat.request");
    assert_eq!((p.dev_id, p.seq), (0, 1));
    assert_eq!(
        p.message,
        Message::Request(Request::Heartbeat(Heartbeat::new(TS)))
    );
    assert_eq!(HEARTBEAT_SVR_HOST, "kingxun.site");

    let p = binary("9002_heartbeat.reply");
    assert_eq!((p.dev_id, p.seq), (0, 1));
    assert_eq!(
        p.message,
        Message::Reply(Reply::Heartbeat(HeartbeatReply {
            code: RespCode::Ok,
            status: Some(HeartbeatStatus {
                total_dev_count: 3,
                svr_start_time: 1_699_999_000_000
            })
        }))
    );
}

#[test]
fn link_fixtures_decode_to_their_fields() {
    let p = binary("9001_connect.request");
    assert_eq!(
        p.message,
        Message::Request(Request::Connect(Connect {
            timestamp: TS,
            svr_host: "websvr-01.kingxun.site".into()
        }))
    );
    let p = binary("9001_connect.reply");
    let Message::Reply(Reply::Connect(reply)) = &p.message else {
        panic!("{p:?}")
    };
    assert_eq!(reply.code, RespCode::Ok);
    let session = reply.session.as_ref().unwrap();
    assert_eq!(session.session_id, 0x1234_5678);
    assert_eq!(session.timestamp, TS + 5);
    assert_eq!(
        reply.new_iv(),
        Some(std::array::from_fn(|i| 0xa0 + u8::try_from(i).unwrap()))
    );
    let p = binary("9001_connect.refused.reply");
    assert_eq!(
        p.message,
        Message::Reply(Reply::Connect(ConnectReply::refused()))
    );
}

#[test]
fn control_fixtures_decode_to_their_fields() {
    let p = binary("4001_unlock.reply");
    assert_eq!(
        (p.dev_id, p.seq, p.message),
        (1001, 7, Message::Reply(Reply::Unlock(RespCode::Ok)))
    );

    let Message::Request(Request::Lock(m)) = binary("4002_lock.request").message else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!((m.dev_type, m.usr_id, m.voice), (1, 42, 2));

    let Message::Request(Request::Guard(m)) = binary("4003_guard.request").message else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!(
        (m.motor_power, m.max_speed, m.warning_voice),
        (MotorPowerFlag::Unlimited, 555, 3)
    );

    let Message::Request(Request::OpenElecLock(m)) = binary("4004_elec_lock.request").message
    else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!(m.lock_flag, ElecLockFlags::SEAT | ElecLockFlags::HELMET);
    assert_eq!(m.warning_voice, 1);

    let Message::Request(Request::LightCtrl(m)) = binary("4005_lights.request").message else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!(m.light_flag, LightFlags::HEADLIGHT | LightFlags::HAZARD);

    let p = binary("4005_lights.reply");
    assert_eq!(
        p.message,
        Message::Reply(Reply::LightCtrl(RespCode::Refused))
    );
}

#[test]
fn admin_fixtures_decode_to_their_fields() {
    let Message::Request(Request::FileDeliver(m)) = binary("4020_file.request").message else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!((m.sys_usr_id, m.file_type), (7, FileType::Media));
    assert_eq!(m.file_name, file_names::WEATHER_MP3);
    assert_eq!(m.file_data, Bytes::from("weather: sunny, 22C\n".repeat(3)));
    assert!(m.md5_matches());
    assert!(format!("{m:?}").contains("<60 bytes>"), "{m:?}");
    assert!(
        !format!("{m:?}").contains("sunny"),
        "Debug prints no file bytes"
    );

    let p = binary("4020_file.reply");
    assert_eq!(
        p.message,
        Message::Reply(Reply::FileDeliver(RespCode::Error))
    );

    let Message::Request(Request::SetPacketLog(m)) = binary("4040_packet_log.request").message
    else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!(
        (m.sys_usr_id, m.log_send, m.log_recv),
        (7, LogSwitch::On, LogSwitch::Off)
    );

    let Message::Request(Request::SetLogLevel(m)) = binary("4041_log_level.request").message else {
        panic!()
    };
    prefix_ok(m.dev_id, m.timestamp);
    assert_eq!((m.log_send, m.log_recv), (LogSwitch::On, LogSwitch::On));
    assert_eq!(
        m.log_level,
        LogLevel::ERROR | LogLevel::WARNING | LogLevel::DEBUG
    );

    let p = binary("4041_log_level.reply");
    assert_eq!(p.message, Message::Reply(Reply::SetLogLevel(RespCode::Ok)));
}

#[test]
fn unknown_fixtures_stay_raw() {
    let p = binary("5000_unknown.request");
    let Message::Request(Request::Unknown(raw)) = &p.message else {
        panic!("{p:?}")
    };
    assert_eq!(
        (raw.msg_id, raw.crypt, &raw.body[..]),
        (5000, CryptFlag::Plain, &[1, 2, 3, 4, 5][..])
    );
    let p = binary("5000_unknown.reply");
    let Message::Reply(Reply::Unknown(raw)) = &p.message else {
        panic!("{p:?}")
    };
    assert_eq!(
        (raw.code, raw.crypt, &raw.rest[..]),
        (RespCode::Ok, CryptFlag::Aes, &[0xaa, 0xbb][..])
    );
}

// ---- HTTP ----

/// JSON equality where `2` and `2.0` are the same number (an `f64` field writes `2.0`).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::{Array, Number, Object};
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn request(name: &str) -> HttpRequest {
    let body = fixture(&format!("http/{name}.request.json"));
    let decoded = HttpRequest::decode(&format!("/{name}"), &body, &CodecConfig::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded.path(), format!("/{name}"));
    // Re-encoding gives the same JSON value.
    let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let again = serde_json::to_value(&decoded).unwrap();
    assert!(
        same_json(&again, &original),
        "{name} round trip:\n{again}\n{original}"
    );
    if let Some(hashed) = decoded.hashed() {
        assert!(hashed.verify_hash(SESSION), "{name}: hash verifies");
        assert!(
            !hashed.verify_hash("0123456789abcdef0123456789abcdeF0"),
            "{name}: wrong session"
        );
        assert_eq!(hashed.hashed_fields().last(), Some(&"timestamp"));
    }
    assert_eq!(decoded.timestamp(), Some(TS));
    decoded
}

fn response<E: Endpoint>(name: &str) -> E::Response {
    let body = fixture(&format!("http/{name}.response.json"));
    let decoded = http::decode_response::<E>(&body, &CodecConfig::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let again = serde_json::to_value(&decoded).unwrap();
    assert!(
        same_json(&again, &original),
        "{name} round trip:\n{again}\n{original}"
    );
    decoded
}

#[test]
fn the_decisions_hash_vector_holds() {
    let HttpRequest::DevOpenLock(r) = request("devOpenLock") else {
        panic!()
    };
    assert_eq!(r.hash, "0385d1d61197831ea8dc89262d474bb3");
    assert_eq!(
        (r.usr_id, r.dev_id, r.dev_type, r.timestamp),
        (42, 1001, 1, TS)
    );
    assert_eq!(
        (r.allow_time, r.lowest_soc_p, r.farthest_dist),
        (30, 20, 5000)
    );
    assert_eq!(
        r.hashed_fields(),
        ["usrId", "devId", "devType", "timestamp"]
    );
    // The not-hashed fields do not change the hash; each hashed field does.
    let mut changed = r.clone();
    changed.allow_time = 1;
    changed.client_type = ClientType::App;
    assert!(changed.verify_hash(SESSION));
    let tweaks: [fn(&mut http::DevOpenLockRequest); 4] = [
        |r| r.usr_id += 1,
        |r| r.dev_id += 1,
        |r| r.dev_type += 1,
        |r| r.timestamp += 1,
    ];
    for tweak in tweaks {
        let mut t = r.clone();
        tweak(&mut t);
        assert!(!t.verify_hash(SESSION));
    }
}

#[test]
fn user_requests_decode_to_their_fields() {
    let HttpRequest::UsrLogin(r) = request("usrLogin") else {
        panic!()
    };
    assert_eq!(r.client_type, ClientType::WxMiniProgram);
    assert_eq!(
        r.usr_openid.as_deref(),
        Some("oAbCdEfGhIjKlMnOpQrStUvWxYz0")
    );
    assert!(r.usr_code.is_some());
    let HttpRequest::UsrRegister(r) = request("usrRegister") else {
        panic!()
    };
    assert_eq!(
        (r.mobile_phone.as_str(), r.nickname.as_str()),
        ("13800138000", "小明")
    );
    assert_eq!(r.usr_uuid.as_deref(), Some("oUnIoNiD0123456789"));
    assert_eq!(r.auth_code.len(), 64);
}

#[test]
fn device_requests_decode_to_their_fields() {
    let HttpRequest::GetUsrDevs(r) = request("getUsrDevs") else {
        panic!()
    };
    assert_eq!(r.usr_id, 42);
    assert_eq!(r.hashed_fields(), ["usrId", "timestamp"]);
    let HttpRequest::BindDevWithUsr(r) = request("bindDevWithUsr") else {
        panic!()
    };
    assert_eq!((r.usr_id, r.dev_id, r.dev_type), (42, 1001, 1));
    let HttpRequest::UnbindDev(r) = request("unbindDev") else {
        panic!()
    };
    assert_eq!(r.dev_id, 1001);
    let HttpRequest::ShareDevWithFamily(r) = request("shareDevWithFamily") else {
        panic!()
    };
    assert_eq!(
        (r.fm_phone.as_str(), r.share_tracks, r.share_ltinerary),
        ("13800138000", true, false)
    );
    assert_eq!(
        r.hashed_fields(),
        [
            "usrId",
            "devId",
            "devType",
            "fmPhone",
            "shareTracks",
            "shareLtinerary",
            "timestamp"
        ]
    );
    let HttpRequest::UnshareDevWithFamily(r) = request("unshareDevWithFamily") else {
        panic!()
    };
    assert_eq!(r.fm_phone, "13800138000");
    let HttpRequest::DevSharedStatus(r) = request("devSharedStatus") else {
        panic!()
    };
    assert_eq!(r.dev_type, 1);
    let HttpRequest::DevStatus(r) = request("devStatus") else {
        panic!()
    };
    assert_eq!(r.usr_id, 42);
    let HttpRequest::DevStatusHistory(r) = request("devStatusHistory") else {
        panic!()
    };
    assert_eq!((r.time_start, r.time_end), (1_699_990_000_000, TS));
    assert_eq!(
        r.hashed_fields(),
        [
            "usrId",
            "devId",
            "devType",
            "timeStart",
            "timeEnd",
            "timestamp"
        ]
    );
    let HttpRequest::DevPosInfo(r) = request("devPosInfo") else {
        panic!()
    };
    assert_eq!(r.dev_id, 1001);
    let HttpRequest::GetDevEvent(r) = request("getDevEvent") else {
        panic!()
    };
    assert_eq!(r.time_start, 1_699_990_000_000);
    let HttpRequest::DevLtinerary(r) = request("devLtinerary") else {
        panic!()
    };
    assert_eq!(r.dev_id, 1001);
    let HttpRequest::DevLtineraryHistory(r) = request("devLtineraryHistory") else {
        panic!()
    };
    assert_eq!(r.time_end, TS);
    let HttpRequest::SearchUseableVechicles(r) = request("searchUseableVechicles") else {
        panic!()
    };
    assert_eq!(
        r.postion,
        Position {
            lng_pos: 113.93,
            lat_pos: 22.53
        }
    );
    assert_eq!(
        (r.time, r.hours_to_use, r.distance),
        (1_700_003_600_000, 2.0, 3000.0)
    );
    assert_eq!(
        r.position_scope.bottom_right,
        Position {
            lng_pos: 113.96,
            lat_pos: 22.5
        }
    );
    assert_eq!(
        r.hashed_fields(),
        ["usrId", "devType", "postion", "time", "timestamp"]
    );
}

#[test]
fn control_requests_decode_and_map_to_their_commands() {
    let HttpRequest::DevOpenLock(r) = request("devOpenLock") else {
        panic!()
    };
    let command = Unlock::from(&r);
    assert_eq!(
        Request::from(command.clone()).msg_id(),
        http::DevOpenLockRequest::MSG_ID
    );
    assert_eq!(
        (
            command.dev_id,
            command.usr_id,
            command.timestamp,
            command.farthest_dist
        ),
        (1001, 42, TS, 5000)
    );

    let HttpRequest::LockDev(r) = request("lockDev") else {
        panic!()
    };
    let command = Lock::from(&r);
    assert_eq!(
        (http::LockDevRequest::MSG_ID, command.voice),
        (MsgId::Lock, 2)
    );

    let HttpRequest::DevGuard(r) = request("devGuard") else {
        panic!()
    };
    let command = Guard::from(&r);
    assert_eq!(http::DevGuardRequest::MSG_ID, MsgId::Guard);
    assert_eq!(
        (
            command.motor_power,
            command.max_speed,
            command.warning_voice
        ),
        (MotorPowerFlag::Limit100W, 555, 3)
    );

    let HttpRequest::DevOpenElecLock(r) = request("devOpenElecLock") else {
        panic!()
    };
    let command = OpenElecLock::from(&r);
    assert_eq!(http::DevOpenElecLockRequest::MSG_ID, MsgId::OpenElecLock);
    assert_eq!(
        (command.lock_flag, command.warning_voice),
        (ElecLockFlags::SEAT | ElecLockFlags::HELMET, 1)
    );

    let HttpRequest::DevLightCtrl(r) = request("devLightCtrl") else {
        panic!()
    };
    let command = LightCtrl::from(&r);
    assert_eq!(http::DevLightCtrlRequest::MSG_ID, MsgId::LightCtrl);
    assert_eq!(
        command.light_flag,
        LightFlags::HEADLIGHT | LightFlags::HAZARD
    );

    let HttpRequest::DevFileDeliver(r) = request("devFileDeliver") else {
        panic!()
    };
    assert_eq!(
        (r.file_type, r.file_name.as_str()),
        (FileType::System, "bms")
    );
    assert_eq!(r.file_url, "https://kingxun.site/files/bms-1.2.bin");
    let command = r.to_file_deliver(Bytes::from_static(b"\x7fELF")).unwrap();
    assert_eq!(http::DevFileDeliverRequest::MSG_ID, MsgId::FileDeliver);
    assert_eq!(
        (command.sys_usr_id, command.file_name.as_str()),
        (42, "bms")
    );
    assert!(command.md5_matches());
    let mut long = r;
    long.file_name = "n".repeat(33);
    assert!(matches!(
        long.to_file_deliver(Bytes::new()),
        Err(EncodeError::FieldTooLong { .. })
    ));
}

#[test]
fn responses_decode_to_their_fields() {
    let r = response::<http::UsrLoginRequest>("usrLogin");
    assert_eq!(r.err_code, ErrCode::Ok);
    assert_eq!(r.usr_session_id.as_ref().map(|s| s.as_str()), Some(SESSION));
    assert_eq!(
        format!("{:?}", r.usr_session_id),
        "Some(SessionId(<32 chars>))"
    );
    let devs = r.dev_list.unwrap();
    assert_eq!(
        (devs[1].dev_id, devs[1].owner_flag),
        (1002, OwnerFlag::Family)
    );
    let r = response::<http::UsrLoginRequest>("usrLogin.failure");
    assert_eq!((r.err_code, r.usr_id), (ErrCode::PhoneNotLinked, None));
    assert_eq!(r.unionid.as_deref(), Some("oUnIoNiD0123456789"));
    let r = response::<http::UsrRegisterRequest>("usrRegister");
    assert_eq!(r.usr_id, Some(42));

    let r = response::<http::GetUsrDevsRequest>("getUsrDevs");
    assert_eq!(
        r.dev_list.unwrap()[0].dev_photo_url,
        "https://kingxun.site/photos/1001.jpg"
    );
    let status = r.dev_status.unwrap();
    assert_eq!(
        (status.mileage, status.battery_id.as_deref()),
        (1234.5, Some("B2023001"))
    );
    let battery = status.battery_status.unwrap();
    assert_eq!((battery.seriescount, battery.seriesdata.len()), (13, 13));
    assert_eq!(
        status.mini_battery_status,
        Some(serde_json::json!({"socpercent": 88}))
    );

    let r = response::<http::DevSharedStatusRequest>("devSharedStatus");
    assert_eq!(r.dev_owner_status.unwrap()[1].usr_id, 43);
    let r = response::<http::DevStatusRequest>("devStatus");
    assert_eq!(r.dev_status.unwrap().sttime, "2023-11-14 22:13:20");
    let r = response::<http::DevStatusHistoryRequest>("devStatusHistory");
    assert_eq!(r.dev_status_array.unwrap()[0].time_end, 1_699_993_600_000);
    let r = response::<http::DevPosInfoRequest>("devPosInfo");
    let pos = r.dev_pos_info.unwrap();
    assert_eq!(
        (pos.bdriving, pos.points.unwrap().len(), pos.speed),
        (1, 2, Some(18.5))
    );
    let r = response::<http::GetDevEventRequest>("getDevEvent");
    assert_eq!(r.dev_event_array.unwrap()[0].event_desc, "vibration alarm");
    let r = response::<http::DevLtineraryRequest>("devLtinerary");
    let itinerary = r.itinerary().unwrap();
    assert_eq!((itinerary.ltinerary, itinerary.ave_speed), (820, 16.4));
    let r = response::<http::DevLtineraryHistoryRequest>("devLtineraryHistory");
    assert_eq!(r.ltinerary_array.unwrap()[0], itinerary);
    let r = response::<http::SearchUseableVechiclesRequest>("searchUseableVechicles");
    assert_eq!(r.vehicles.unwrap()[0].price, 3.5);
    let r: AckResponse = response::<http::ShareDevWithFamilyRequest>("shareDevWithFamily");
    assert_eq!(
        r,
        AckResponse::error(ErrCode::ShareLimitExceeded, "too many family members")
    );
    let r: AckResponse = response::<http::DevOpenLockRequest>("devOpenLock");
    assert_eq!(r.err_code, ErrCode::Ok);
}

#[test]
fn every_known_path_has_a_request_fixture() {
    for path in HttpRequest::PATHS {
        let name = path.trim_start_matches('/');
        assert!(
            !matches!(request(name), HttpRequest::Unknown { .. }),
            "{path}"
        );
    }
    assert_eq!(HttpRequest::PATHS.len(), 21);
}
