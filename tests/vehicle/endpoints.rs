//! Every hashed endpoint, table-driven over the real link and store: a stranger gets 403 on a vehicle bound to
//! someone else, an unknown or unbound vehicle 404, a wrong hash 401, a wrong devType and each parameter refusal
//! the server implements 0xFF naming the field; the owner's success on each endpoint; the endpoints the spec
//! leaves without fields answer 404; and the vehicle's events (low battery, guard alarm) read back through
//! `getDevEvent`.

use kingxun_proto::http::{
    BindDevWithUsrRequest, ClientType, DevFileDeliverRequest, DevGuardRequest, DevLightCtrlRequest,
    DevLtineraryHistoryRequest, DevLtineraryRequest, DevOpenElecLockRequest, DevOpenLockRequest,
    DevPosInfoRequest, DevSharedStatusRequest, DevStatusHistoryRequest, DevStatusRequest,
    GetDevEventRequest, GetUsrDevsRequest, HttpRequest, LockDevRequest, Position, PositionScope,
    SearchUseableVechiclesRequest, ShareDevWithFamilyRequest, UnbindDevRequest,
    UnshareDevWithFamilyRequest, UsrLoginRequest, UsrRegisterRequest,
};
use kingxun_proto::{CodecConfig, ElecLockFlags, FileType, LightFlags, MotorPowerFlag};
use serde_json::Value;

use super::client::{now_ms, AppClient};
use super::{code, Harness};

/// The hashed endpoints that name a vehicle (`devId`, `devType`).
const DEV_ENDPOINTS: [&str; 17] = [
    "/bindDevWithUsr",
    "/unbindDev",
    "/shareDevWithFamily",
    "/unshareDevWithFamily",
    "/devSharedStatus",
    "/devStatus",
    "/devStatusHistory",
    "/devPosInfo",
    "/getDevEvent",
    "/devLtinerary",
    "/devLtineraryHistory",
    "/devOpenLock",
    "/lockDev",
    "/devGuard",
    "/devOpenElecLock",
    "/devLightCtrl",
    "/devFileDeliver",
];

/// The family member's phone the sharing endpoints name.
const FAMILY: &str = "13300000002";

/// The file `devFileDeliver` asks for (in the server's files directory once a test writes it).
const FILE: &str = "weather.mp3";

fn json<T: serde::Serialize>(request: &T) -> Value {
    serde_json::to_value(request).unwrap()
}

/// A valid request to `path` for vehicle `dev_id` (devType 1), unsigned; [`send`] fills in `usrId`,
/// `timestamp` and `hash`.
fn body(path: &str, dev_id: u32) -> Value {
    let (client_type, usr_id, dev_type, timestamp, hash) =
        (ClientType::App, 0, 1, 0, String::new());
    let (time_start, time_end) = (0, now_ms() + 3_600_000);
    match path {
        "/bindDevWithUsr" => json(&BindDevWithUsrRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/unbindDev" => json(&UnbindDevRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/shareDevWithFamily" => json(&ShareDevWithFamilyRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            fm_phone: FAMILY.into(),
            share_tracks: true,
            share_ltinerary: true,
            timestamp,
            hash,
        }),
        "/unshareDevWithFamily" => json(&UnshareDevWithFamilyRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            fm_phone: FAMILY.into(),
            timestamp,
            hash,
        }),
        "/devSharedStatus" => json(&DevSharedStatusRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/devStatus" => json(&DevStatusRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/devStatusHistory" => json(&DevStatusHistoryRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            time_start,
            time_end,
            timestamp,
            hash,
        }),
        "/devPosInfo" => json(&DevPosInfoRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/getDevEvent" => json(&GetDevEventRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            time_start,
            time_end,
            timestamp,
            hash,
        }),
        "/devLtinerary" => json(&DevLtineraryRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            hash,
        }),
        "/devLtineraryHistory" => json(&DevLtineraryHistoryRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            time_start,
            time_end,
            timestamp,
            hash,
        }),
        "/devOpenLock" => json(&DevOpenLockRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            allow_time: 0,
            lowest_soc_p: 5,
            farthest_dist: 0,
            hash,
        }),
        "/lockDev" => json(&LockDevRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            voice: 1,
            hash,
        }),
        "/devGuard" => json(&DevGuardRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            motor_power: MotorPowerFlag::Off,
            max_speed: 0,
            warning_voice: 1,
            hash,
        }),
        "/devOpenElecLock" => json(&DevOpenElecLockRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            lock_flag: ElecLockFlags::SEAT,
            voice: 0,
            hash,
        }),
        "/devLightCtrl" => json(&DevLightCtrlRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            light_flag: LightFlags::from_bits_retain(0x01),
            hash,
        }),
        "/devFileDeliver" => json(&DevFileDeliverRequest {
            client_type,
            usr_id,
            dev_id,
            dev_type,
            timestamp,
            file_type: FileType::Media,
            file_name: FILE.into(),
            file_url: format!("https://files.example/{FILE}"),
            hash,
        }),
        "/getUsrDevs" => json(&GetUsrDevsRequest {
            client_type,
            usr_id,
            timestamp,
            hash,
        }),
        "/searchUseableVechicles" => {
            let zero = Position {
                lng_pos: 0.0,
                lat_pos: 0.0,
            };
            json(&SearchUseableVechiclesRequest {
                client_type,
                usr_id,
                dev_type,
                postion: Position {
                    lng_pos: 113.93,
                    lat_pos: 22.53,
                },
                time: now_ms(),
                timestamp,
                hours_to_use: 1.0,
                distance: 0.0,
                position_scope: PositionScope {
                    top_left: zero,
                    top_right: zero,
                    bottom_left: zero,
                    bottom_right: zero,
                },
                hash,
            })
        }
        other => panic!("no request body for `{other}`"),
    }
}

/// `body(path, dev_id)` with `field` set to `value` (a `/` in `field` goes one object down).
fn with(path: &str, dev_id: u32, field: &str, value: Value) -> Value {
    let mut v = body(path, dev_id);
    let slot = field.split('/').fold(&mut v, |v, k| &mut v[k]);
    *slot = value;
    v
}

/// Posts `body` to `path` as `app` (its usrId, a fresh timestamp), hashed with `secret` (the app's session
/// when `None`); the answer.
async fn send_json(app: &AppClient, path: &str, mut body: Value, secret: Option<&str>) -> Value {
    body["usrId"] = app.usr_id().into();
    body["timestamp"] = app.stamp().into();
    let bytes = serde_json::to_vec(&body).unwrap();
    let request = HttpRequest::decode(path, &bytes, &CodecConfig::default())
        .unwrap_or_else(|e| panic!("{path}: the test's body does not decode: {e}"));
    let session = match secret {
        Some(s) => s.to_owned(),
        None => app.session.clone().expect("logged in").1,
    };
    let hash = request
        .hashed()
        .unwrap_or_else(|| panic!("{path} is not hashed"))
        .compute_hash(&session);
    body["hash"] = hash.into();
    let reply = app
        .post_raw(path, &serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    let v = reply.json();
    assert!(
        v["errCode"].is_i64(),
        "{path}: HTTP {} without errCode: {v}",
        reply.status
    );
    v
}

/// As [`send_json`]: the answer's errCode and errMsg.
async fn send(app: &AppClient, path: &str, body: Value, secret: Option<&str>) -> (i64, String) {
    let v = send_json(app, path, body, secret).await;
    (
        v["errCode"].as_i64().unwrap_or_default(),
        v["errMsg"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `send` signed with the app's session, asserting the errCode (and that errMsg names `names` when given).
async fn expect(app: &AppClient, path: &str, body: Value, want: i64, names: &str) -> String {
    let (got, message) = send(app, path, body, None).await;
    assert_eq!(got, want, "{path}: {message}");
    assert!(
        message.contains(names),
        "{path}: errMsg does not name `{names}`: {message}"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_strangers_unknown_vehicles_wrong_hashes_and_wrong_devtypes() {
    let h = Harness::start(2).await;
    let owner = h.user("13300000001").await;
    let stranger = h.user("13300000009").await;
    owner.bind(1001, 1).await.unwrap();
    let wrong = "0123456789abcdef0123456789abcdef";
    for path in DEV_ENDPOINTS {
        // Someone else's vehicle: 403, whatever the request (the file of devFileDeliver does not exist yet).
        expect(&stranger, path, body(path, 1001), 403, "1001").await;
        // No such vehicle: 404.
        expect(&owner, path, body(path, 4242), 404, "4242").await;
        // A vehicle bound to nobody (binding it is the one thing that works).
        if path != "/bindDevWithUsr" {
            expect(&owner, path, body(path, 1002), 404, "bound to no user").await;
        }
        // The owner with another devType: 0xFF naming it.
        expect(
            &owner,
            path,
            with(path, 1001, "devType", 2u8.into()),
            255,
            "devType",
        )
        .await;
        // A wrong hash: 401, before anything else is looked at.
        assert_eq!(
            send(&owner, path, body(path, 1001), Some(wrong)).await.0,
            401,
            "{path}"
        );
        assert_eq!(
            send(&stranger, path, body(path, 4242), Some(wrong)).await.0,
            401,
            "{path}"
        );
    }
    for path in ["/getUsrDevs", "/searchUseableVechicles"] {
        assert_eq!(
            send(&owner, path, body(path, 0), Some(wrong)).await.0,
            401,
            "{path}"
        );
        assert_eq!(send(&owner, path, body(path, 0), None).await.0, 0, "{path}");
    }
    // devFileDeliver checks access before the file: a stranger gets 403 for an existing file too, the owner
    // of an unbound vehicle 404.
    let files = h.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(FILE), b"ID3 fake sound").unwrap();
    expect(
        &stranger,
        "/devFileDeliver",
        body("/devFileDeliver", 1001),
        403,
        "1001",
    )
    .await;
    expect(
        &owner,
        "/devFileDeliver",
        body("/devFileDeliver", 1002),
        404,
        "1002",
    )
    .await;
    // Nothing above reached the vehicle or changed a binding.
    {
        let bikes = h.instance.as_ref().unwrap().bikes.lock().unwrap();
        assert!(bikes.files(1001).is_empty());
        assert_eq!(bikes.riding(), 0);
    }
    assert_eq!(
        owner.devs().await.unwrap()["devList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        stranger.devs().await.unwrap()["devList"],
        serde_json::json!([])
    );
    assert_eq!(code(owner.status(1001, 1).await), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_refusals_are_0xff_naming_the_field() {
    let h = Harness::start(1).await;
    let owner = h.user("13300000001").await;
    owner.bind(1001, 1).await.unwrap();
    let now = now_ms();

    // A time range backwards.
    for path in ["/devStatusHistory", "/getDevEvent", "/devLtineraryHistory"] {
        let mut b = with(path, 1001, "timeStart", (now + 1000).into());
        b["timeEnd"] = now.into();
        expect(&owner, path, b, 255, "timeStart").await;
        let mut b = with(path, 1001, "timeStart", now.into());
        b["timeEnd"] = now.into();
        expect(&owner, path, b, 0, "").await;
    }

    // searchUseableVechicles: where the user is, how far and how long.
    let search = "/searchUseableVechicles";
    for (field, value) in [
        ("postion/lngPos", 180.5),
        ("postion/lngPos", -181.0),
        ("postion/latPos", 90.5),
        ("postion/latPos", -91.0),
    ] {
        expect(
            &owner,
            search,
            with(search, 0, field, value.into()),
            255,
            "postion",
        )
        .await;
    }
    expect(
        &owner,
        search,
        with(search, 0, "distance", (-1.0f64).into()),
        255,
        "distance",
    )
    .await;
    expect(
        &owner,
        search,
        with(search, 0, "hoursToUse", (-0.5f64).into()),
        255,
        "hoursToUse",
    )
    .await;
    expect(
        &owner,
        search,
        with(search, 0, "postion/lngPos", 180.0f64.into()),
        0,
        "",
    )
    .await;

    // devOpenLock: lowestSocP is a percentage; at 100 the vehicle itself refuses (RespCode 1).
    let unlock = "/devOpenLock";
    expect(
        &owner,
        unlock,
        with(unlock, 1001, "lowestSocP", 101u8.into()),
        255,
        "lowestSocP",
    )
    .await;
    expect(
        &owner,
        unlock,
        with(unlock, 1001, "lowestSocP", 100u8.into()),
        1,
        "refused",
    )
    .await;

    // Unknown light or lock bits, and no lock at all: the vehicle answers 0xFF, passed on as errCode 255.
    owner.unlock(1001, 1, (0, 5, 0)).await.unwrap();
    let light = "/devLightCtrl";
    expect(
        &owner,
        light,
        with(light, 1001, "lightFlag", 0x0002u16.into()),
        255,
        "RespCode 255",
    )
    .await;
    expect(
        &owner,
        light,
        with(light, 1001, "lightFlag", 0x0101u16.into()),
        0,
        "",
    )
    .await;
    owner.lock(1001, 1).await.unwrap();
    let elock = "/devOpenElecLock";
    for bits in [0x00u8, 0x01, 0x10] {
        expect(
            &owner,
            elock,
            with(elock, 1001, "lockFlag", bits.into()),
            255,
            "RespCode 255",
        )
        .await;
    }

    // devFileDeliver: FileUrl must name a file of the files directory, not too big; FileName fits 32 bytes.
    let files = h.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(FILE), b"ID3 fake sound").unwrap();
    std::fs::write(files.join(".hidden"), b"x").unwrap();
    let big = std::fs::File::create(files.join("big.bin")).unwrap();
    big.set_len(16 * 1024 * 1024 + 1).unwrap();
    drop(big);
    let file = "/devFileDeliver";
    for url in [
        "",
        "https://files.example/",
        ".hidden",
        "https://files.example/.hidden",
        "dir\\weather.mp3",
        "missing.mp3",
        "big.bin",
    ] {
        expect(
            &owner,
            file,
            with(file, 1001, "FileUrl", url.into()),
            255,
            "FileUrl",
        )
        .await;
    }
    let long = "n".repeat(33);
    expect(
        &owner,
        file,
        with(file, 1001, "FileName", long.into()),
        255,
        "FileName",
    )
    .await;
    expect(
        &owner,
        file,
        with(file, 1001, "FileUrl", FILE.into()),
        0,
        "",
    )
    .await;

    // Sharing with one's own phone.
    let share = "/shareDevWithFamily";
    expect(
        &owner,
        share,
        with(share, 1001, "fmPhone", "13300000001".into()),
        255,
        "fmPhone",
    )
    .await;

    // usrLogin: both fields required; inside the window only.
    let mut app = h.app();
    let login = |openid: Option<&str>, secret: Option<&str>, timestamp: u64| UsrLoginRequest {
        client_type: ClientType::App,
        usr_openid: openid.map(str::to_owned),
        usr_code: secret.map(str::to_owned),
        timestamp,
    };
    let refused = |r: Result<Value, super::CallError>| match r {
        Err(super::CallError::Refused { code, message }) => (code, message),
        other => panic!("not refused: {other:?}"),
    };
    for (openid, secret, want, names) in [
        (Some("13300000001"), None, 255, "usrCode"),
        (Some("13300000001"), Some(""), 255, "usrCode"),
        (Some(""), Some("secret-123"), 255, "usrOpenid"),
        (Some("13300000001"), Some("wrong-secret"), 401, "usrCode"),
    ] {
        let (got, message) = refused(app.post(&login(openid, secret, app.stamp())).await);
        assert_eq!(got, want, "{names}: {message}");
        assert!(message.contains(names), "{message}");
    }
    let (got, message) = refused(
        app.post(&login(
            Some("13300000001"),
            Some("secret-123"),
            now_ms() - 301_000,
        ))
        .await,
    );
    assert_eq!(got, 401, "{message}");
    assert!(message.contains("timestamp"), "{message}");
    app.login("13300000001", "secret-123").await.unwrap();

    // usrRegister: phone, nickname, secret and openid sizes; inside the window only.
    let register =
        |phone: &str, secret: &str, nickname: &str, openid: Option<String>| UsrRegisterRequest {
            client_type: if openid.is_some() {
                ClientType::WxMiniProgram
            } else {
                ClientType::App
            },
            usr_openid: openid,
            usr_uuid: None,
            mobile_phone: phone.into(),
            auth_code: secret.into(),
            nickname: nickname.into(),
            timestamp: app.stamp(),
        };
    let long_nick = "n".repeat(65);
    let long_secret = "s".repeat(129);
    for (request, names) in [
        (register("+", "secret-123", "x", None), "mobilePhone"),
        (
            register("123456789012345678901", "secret-123", "x", None),
            "mobilePhone",
        ),
        (
            register("13300000001", "secret-123", "x", None),
            "mobilePhone",
        ),
        (
            register("13300000003", "secret-123", &long_nick, None),
            "nickname",
        ),
        (
            register("13300000003", "secret-123", "  ", None),
            "nickname",
        ),
        (register("13300000003", "short", "x", None), "authCode"),
        (register("13300000003", &long_secret, "x", None), "authCode"),
        (
            register("13300000003", "secret-123", "x", Some("o".repeat(129))),
            "usrOpenid",
        ),
    ] {
        let (got, message) = refused(app.post(&request).await);
        assert_eq!(got, 255, "{names}: {message}");
        assert!(message.contains(names), "{message}");
    }
    let mut stale = register("13300000003", "secret-123", "x", None);
    stale.timestamp = now_ms() - 301_000;
    let (got, message) = refused(app.post(&stale).await);
    assert_eq!(got, 401, "{message}");
    assert!(message.contains("timestamp"), "{message}");
    // None of the refused registrations made a user.
    assert_eq!(code(app.login("13300000003", "secret-123").await), 10000);

    // The endpoints the spec leaves without fields are unknown.
    for path in ["/cancelTmpShare", "/devVoiceCtrl", "/tmpShareDevTo"] {
        let r = owner.post_raw(path, b"{}").await.unwrap();
        assert_eq!(
            (r.status, r.json()["errCode"].as_i64()),
            (404, Some(404)),
            "{path}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_succeeds_for_the_owner() {
    let h = Harness::start(2).await;
    let owner = h.user("13300000001").await;
    let family = h.user(FAMILY).await;
    let files = h.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(FILE), b"ID3 fake sound").unwrap();
    let t0 = now_ms();
    let ok = |path: &'static str| {
        let owner = &owner;
        async move {
            let (got, message) = send(owner, path, body(path, 1001), None).await;
            assert_eq!(got, 0, "{path}: {message}");
        }
    };
    let call = |path: &'static str| {
        let owner = &owner;
        async move {
            let v = send_json(owner, path, body(path, 1001), None).await;
            assert_eq!(v["errCode"], 0, "{path}: {v}");
            v
        }
    };
    ok("/bindDevWithUsr").await;
    let devs = call("/getUsrDevs").await;
    assert_eq!(devs["devList"][0]["devId"], 1001);
    ok("/shareDevWithFamily").await;
    let shared = call("/devSharedStatus").await;
    let flags: Vec<(u64, i64)> = shared["devOwnerStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["usrId"].as_u64().unwrap(),
                o["ownerFlag"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            (u64::from(owner.usr_id()), 1),
            (u64::from(family.usr_id()), 2)
        ]
    );
    assert_eq!(code(family.status(1001, 1).await), 0, "shared");
    ok("/unshareDevWithFamily").await;
    assert_eq!(code(family.status(1001, 1).await), 403, "unshared");
    let status = call("/devStatus").await;
    assert_eq!(
        status["devStatus"]["status"].as_i64().unwrap() & 1,
        1,
        "locked"
    );
    let pos = call("/devPosInfo").await;
    assert_eq!(pos["devPosInfo"]["bdriving"], 0);
    ok("/devOpenElecLock").await;
    ok("/devFileDeliver").await;
    ok("/devOpenLock").await;
    ok("/devLightCtrl").await;
    ok("/lockDev").await;
    ok("/devGuard").await;
    h.until("locked and guarded in the status", || async {
        let v = call("/devStatus").await;
        (v["devStatus"]["status"].as_i64().unwrap() & 3 == 3).then_some(v)
    })
    .await;

    let events = h
        .until("the e-lock and file events", || async {
            let v = call("/getDevEvent").await;
            (v["devEventArray"].as_array().unwrap().len() >= 2).then_some(v)
        })
        .await;
    let events = events["devEventArray"].as_array().unwrap();
    let types: Vec<i64> = events
        .iter()
        .map(|e| e["eventType"].as_i64().unwrap())
        .collect();
    assert_eq!(types, [5, 4], "e-lock opened, then the file: {events:?}");
    assert!(events
        .iter()
        .all(|e| e["eventTime"].as_u64().unwrap() >= t0));
    assert!(events[1]["eventDesc"].as_str().unwrap().contains(FILE));
    let history = call("/devStatusHistory").await;
    let snaps = history["devStatusArray"].as_array().unwrap();
    assert_eq!(snaps.len(), 4, "unlock, lights, lock, guard: {history}");
    let trip = h
        .until("the trip", || async {
            let v = call("/devLtinerary").await;
            v.get("TimeStart").is_some().then_some(v)
        })
        .await;
    assert!(trip["TimeStart"].as_u64().unwrap() >= t0);
    let trips = call("/devLtineraryHistory").await;
    assert_eq!(trips["LtineraryArray"].as_array().unwrap().len(), 1);
    let search = call("/searchUseableVechicles").await;
    let free: Vec<&Value> = search["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["devId"])
        .collect();
    assert_eq!(free, [&Value::from(1002)], "1001 is bound");
    ok("/unbindDev").await;
    assert_eq!(
        code(owner.status(1001, 1).await),
        404,
        "bound to nobody now"
    );
    assert_eq!(
        h.instance
            .as_ref()
            .unwrap()
            .bikes
            .lock()
            .unwrap()
            .files(1001)
            .len(),
        1
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_battery_and_guard_alarm_events_reach_get_dev_event() {
    // 40 m of range at 1 m a tick: a ride falls below 20 % within a second; every guarded tick is a jolt.
    let h = Harness::start_full(
        2,
        |s| {
            s.bikes.range_m = 40.0;
            s.bikes.alarm_chance = 1.0;
        },
        |_| {},
    )
    .await;
    let owner = h.user("13300000001").await;
    owner.bind(1001, 1).await.unwrap();
    owner.bind(1002, 1).await.unwrap();
    expect(&owner, "/devGuard", body("/devGuard", 1001), 0, "").await;
    owner.unlock(1002, 1, (0, 5, 0)).await.unwrap();
    let types = |v: &Value| -> Vec<i64> {
        v["devEventArray"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventType"].as_i64().unwrap())
            .collect()
    };
    let alarms = h
        .until("guard alarms of 1001", || async {
            let v = owner.events(1001, 1, 0, now_ms() + 1000).await.unwrap();
            (types(&v).len() >= 2).then_some(v)
        })
        .await;
    assert!(types(&alarms).iter().all(|t| *t == 2), "{alarms}");
    let drained = h
        .until("low battery, then the ride ended at lowestSocP", || async {
            let v = owner.events(1002, 1, 0, now_ms() + 1000).await.unwrap();
            types(&v).contains(&3).then_some(v)
        })
        .await;
    assert_eq!(
        types(&drained),
        [1, 3],
        "low battery once, then the limit: {drained}"
    );
    assert!(drained["devEventArray"][1]["eventDesc"]
        .as_str()
        .unwrap()
        .contains("lowestSocP"));
    let s = h
        .until("the ride's end in the status", || async {
            let v = owner.status(1002, 1).await.unwrap()["devStatus"].clone();
            (v["bdriving"] == 0).then_some(v)
        })
        .await;
    assert_eq!(
        s["status"].as_i64().unwrap() & 9,
        9,
        "locked, limit reached: {s}"
    );
    assert!(
        s["batteryStatus"]["socpercent"].as_f64().unwrap() <= 5.0,
        "{s}"
    );
    h.stop().await;
}
