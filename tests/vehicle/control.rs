//! The control endpoints end to end (4001-4005, 4020 over the link, answered with the vehicle's RespCode) and
//! who may use them: owner, family with their share flags, strangers.

use kingxun_proto::http::{
    ClientType, DevFileDeliverRequest, DevGuardRequest, DevLightCtrlRequest,
    DevOpenElecLockRequest, DevSharedStatusRequest, ShareDevWithFamilyRequest,
    UnshareDevWithFamilyRequest,
};
use kingxun_proto::{ElecLockFlags, FileType, LightFlags, MotorPowerFlag};

use super::client::{now_ms, AppClient};
use super::{code, Harness};

fn guard(app: &AppClient, dev_id: u32) -> DevGuardRequest {
    DevGuardRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        timestamp: app.stamp(),
        motor_power: MotorPowerFlag::Off,
        max_speed: 0,
        warning_voice: 1,
        hash: String::new(),
    }
}

fn elock(app: &AppClient, dev_id: u32, flag: u8) -> DevOpenElecLockRequest {
    DevOpenElecLockRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        timestamp: app.stamp(),
        lock_flag: ElecLockFlags::from_bits_retain(flag),
        voice: 0,
        hash: String::new(),
    }
}

fn light(app: &AppClient, dev_id: u32, flag: u16) -> DevLightCtrlRequest {
    DevLightCtrlRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        timestamp: app.stamp(),
        light_flag: LightFlags::from_bits_retain(flag),
        hash: String::new(),
    }
}

fn file(
    app: &AppClient,
    dev_id: u32,
    file_type: FileType,
    name: &str,
    url: &str,
) -> DevFileDeliverRequest {
    DevFileDeliverRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        timestamp: app.stamp(),
        file_type,
        file_name: name.into(),
        file_url: url.into(),
        hash: String::new(),
    }
}

fn share(
    app: &AppClient,
    dev_id: u32,
    phone: &str,
    tracks: bool,
    trips: bool,
) -> ShareDevWithFamilyRequest {
    ShareDevWithFamilyRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        fm_phone: phone.into(),
        share_tracks: tracks,
        share_ltinerary: trips,
        timestamp: app.stamp(),
        hash: String::new(),
    }
}

fn unshare(app: &AppClient, dev_id: u32, phone: &str) -> UnshareDevWithFamilyRequest {
    UnshareDevWithFamilyRequest {
        client_type: ClientType::App,
        usr_id: app.usr_id(),
        dev_id,
        dev_type: 1,
        fm_phone: phone.into(),
        timestamp: app.stamp(),
        hash: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_answer_the_vehicles_respcode() {
    let h = Harness::start(2).await;
    let a = h.user("13900000001").await;
    a.bind(1001, 1).await.unwrap();
    // Locked: lights refused (the bike is off), a seat lock opens, unknown lock bits are an error.
    assert_eq!(code(a.call(light(&a, 1001, 0x01)).await), 1);
    assert_eq!(code(a.call(elock(&a, 1001, 0x02)).await), 0);
    assert_eq!(code(a.call(elock(&a, 1001, 0x01)).await), 255);
    // Guarded: electric locks refused; an unlock lifts the guard.
    assert_eq!(code(a.call(guard(&a, 1001)).await), 0);
    assert_eq!(code(a.call(elock(&a, 1001, 0x08)).await), 1);
    a.unlock(1001, 1, (0, 5, 0)).await.unwrap();
    assert_eq!(
        code(a.call(guard(&a, 1001)).await),
        1,
        "no guard while riding"
    );
    assert_eq!(
        code(a.call(elock(&a, 1001, 0x04)).await),
        1,
        "no seat lock while riding"
    );
    assert_eq!(code(a.call(light(&a, 1001, 0x0101)).await), 0);
    let lights = h
        .until("lights in the status", || async {
            let s = a.status(1001, 1).await.unwrap();
            (s["devStatus"]["status"].as_i64().unwrap() & 4 == 4).then_some(s)
        })
        .await;
    assert_eq!(lights["devStatus"]["bdriving"], 1);
    a.lock(1001, 1).await.unwrap();

    // 4020: a file from the files directory, with its MD5; a firmware file needs a firmware name.
    let files = h.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("weather.mp3"), b"ID3 fake sound").unwrap();
    std::fs::write(files.join("bms.bin"), vec![7u8; 4096]).unwrap();
    let r = a
        .call(file(
            &a,
            1001,
            FileType::Media,
            "weather.mp3",
            "https://files.example/weather.mp3",
        ))
        .await;
    assert_eq!(code(r), 0);
    assert_eq!(
        code(
            a.call(file(&a, 1001, FileType::System, "bms", "bms.bin"))
                .await
        ),
        0
    );
    assert_eq!(
        code(
            a.call(file(&a, 1001, FileType::System, "toaster", "bms.bin"))
                .await
        ),
        1
    );
    assert_eq!(
        code(
            a.call(file(&a, 1001, FileType::Media, "x", "missing.mp3"))
                .await
        ),
        255
    );
    assert_eq!(
        code(
            a.call(file(&a, 1001, FileType::Media, "x", "../secret"))
                .await
        ),
        255
    );
    let long = "n".repeat(40);
    assert_eq!(
        code(
            a.call(file(&a, 1001, FileType::Media, &long, "bms.bin"))
                .await
        ),
        255
    );
    let delivered = h
        .instance
        .as_ref()
        .unwrap()
        .bikes
        .lock()
        .unwrap()
        .files(1001);
    let names: Vec<&str> = delivered.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["weather.mp3", "bms"]);
    let events = h
        .until("file and e-lock events", || async {
            let v = a.events(1001, 1, 0, now_ms() + 1000).await.unwrap();
            (v["devEventArray"].as_array().unwrap().len() >= 3).then_some(v)
        })
        .await;
    let types: Vec<i64> = events["devEventArray"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_i64().unwrap())
        .collect();
    assert_eq!(types, [5, 4, 4], "e-lock opened, then two files");

    // 4040 / 4041 from the admin console.
    let r = h
        .admin
        .post(
            "/api/vehicles/1001/log",
            &serde_json::json!({ "log_send": true, "log_recv": false }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({ "msg_id": 4040, "resp_code": 0 })
    );
    let settings = || {
        h.instance
            .as_ref()
            .unwrap()
            .bikes
            .lock()
            .unwrap()
            .log_settings(1001)
            .unwrap()
    };
    assert_eq!(
        settings(),
        ((true, false), kingxun_proto::LogLevel::empty())
    );
    let body = serde_json::json!({ "log_send": false, "log_recv": true, "log_level": 5 });
    let r = h.admin.post("/api/vehicles/1001/log", &body).await.unwrap();
    assert_eq!(r.json()["msg_id"], 4041);
    assert_eq!(
        settings(),
        ((false, true), kingxun_proto::LogLevel::from_bits_retain(5))
    );
    let anonymous = fleet::client::AdminClient::new(h.server().admin_addr, None);
    assert_eq!(
        anonymous
            .post("/api/vehicles/1001/log", &body)
            .await
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        h.admin
            .post("/api/vehicles/4242/log", &body)
            .await
            .unwrap()
            .status,
        404
    );
    let bad = serde_json::json!({ "log_send": "yes", "log_recv": true });
    assert_eq!(
        h.admin
            .post("/api/vehicles/1001/log", &bad)
            .await
            .unwrap()
            .status,
        400
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_and_family_may_see_or_control() {
    let h = Harness::start_with(3, |c| c.http.max_family = 1).await;
    let owner = h.user("13700000001").await;
    let fam = h.user("13700000002").await;
    let other = h.user("13700000003").await;
    owner.bind(1001, 1).await.unwrap();

    // Unknown vehicle, unbound vehicle, wrong devType, another owner's vehicle.
    assert_eq!(code(owner.bind(4242, 1).await), 404);
    assert_eq!(code(owner.status(1002, 1).await), 404, "bound to nobody");
    assert_eq!(code(owner.status(1001, 2).await), 255, "devType");
    assert_eq!(code(other.bind(1001, 1).await), 403);
    assert_eq!(code(other.status(1001, 1).await), 403);
    assert_eq!(code(other.unlock(1001, 1, (0, 5, 0)).await), 403);
    assert_eq!(code(other.position(1001, 1).await), 403);

    // Sharing: unregistered phone 200, family limit 300, family-only-tracks rules.
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "19999999999", true, true))
                .await
        ),
        200
    );
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "13700000002", false, true))
                .await
        ),
        0
    );
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "13700000003", true, true))
                .await
        ),
        300
    );
    assert_eq!(
        code(fam.call(share(&fam, 1001, "13700000003", true, true)).await),
        403,
        "owner only"
    );
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "13700000001", true, true))
                .await
        ),
        255,
        "self"
    );
    assert_eq!(code(fam.status(1001, 1).await), 0);
    assert_eq!(
        code(fam.position(1001, 1).await),
        403,
        "positions not shared"
    );
    assert_eq!(code(fam.last_trip(1001, 1).await), 0, "trips shared");
    let devs = fam.devs().await.unwrap();
    assert_eq!(devs["devList"][0]["ownerFlag"], 2);
    fam.unlock(1001, 1, (0, 5, 0)).await.unwrap();
    fam.lock(1001, 1).await.unwrap();
    // Sharing again changes the flags.
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "13700000002", true, false))
                .await
        ),
        0
    );
    assert_eq!(code(fam.position(1001, 1).await), 0);
    assert_eq!(
        code(fam.last_trip(1001, 1).await),
        403,
        "trips no longer shared"
    );
    let shared = owner
        .call(DevSharedStatusRequest {
            client_type: ClientType::App,
            usr_id: owner.usr_id(),
            dev_id: 1001,
            dev_type: 1,
            timestamp: owner.stamp(),
            hash: String::new(),
        })
        .await
        .unwrap();
    let list = shared["devOwnerStatus"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["usrId"].as_u64(), Some(u64::from(owner.usr_id())));
    assert_eq!(list[0]["ownerFlag"], 1);
    assert_eq!(list[1]["ownerFlag"], 2);

    // Unshare: unregistered phone 200; the member loses access.
    assert_eq!(
        code(owner.call(unshare(&owner, 1001, "19999999999")).await),
        200
    );
    assert_eq!(
        code(fam.call(unshare(&fam, 1001, "13700000002")).await),
        403
    );
    assert_eq!(
        code(owner.call(unshare(&owner, 1001, "13700000002")).await),
        0
    );
    assert_eq!(code(fam.status(1001, 1).await), 403);

    // A family member leaving removes only their own binding; the owner unbinding frees the vehicle.
    assert_eq!(
        code(
            owner
                .call(share(&owner, 1001, "13700000002", true, true))
                .await
        ),
        0
    );
    fam.unbind(1001, 1).await.unwrap();
    assert_eq!(code(owner.status(1001, 1).await), 0);
    assert_eq!(code(fam.status(1001, 1).await), 403);
    owner.unbind(1001, 1).await.unwrap();
    assert_eq!(code(owner.status(1001, 1).await), 404);
    other.bind(1001, 1).await.unwrap();
    assert_eq!(code(other.status(1001, 1).await), 0);
    h.stop().await;
}
