//! A rider's whole day over the real link and store: register, bind, unlock, ride, lock, read back.

use std::time::Duration;

use serde_json::Value;

use super::{client, code, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_bind_ride_lock_and_read_the_history_back() {
    let h = Harness::start(3).await;
    let mut alice = h.user("13800000001").await;
    let usr = alice.usr_id();
    // Login again with the secret: a new session, the old one stops signing.
    let old = alice.session.clone().unwrap();
    let login = alice.login("13800000001", "secret-123").await.unwrap();
    assert_eq!(login["usrId"].as_u64(), Some(u64::from(usr)));
    assert_eq!(login["nickname"], "rider");
    assert_ne!(alice.session.as_ref().unwrap().1, old.1);
    let mut stale = h.app();
    stale.session = Some(old);
    assert_eq!(code(stale.devs().await), 401, "the previous session ended");

    assert_eq!(
        alice.devs().await.unwrap()["devList"],
        serde_json::json!([])
    );
    alice.bind(1001, 1).await.unwrap();
    alice.bind(1001, 1).await.unwrap(); // binding again is a no-op
    let devs = alice.devs().await.unwrap();
    assert_eq!(devs["devList"][0]["devId"], 1001);
    assert_eq!(devs["devList"][0]["ownerFlag"], 1);
    assert!(
        devs["devStatus"]["batteryStatus"]["socpercent"]
            .as_f64()
            .unwrap()
            >= 60.0
    );
    let login = alice.login("13800000001", "secret-123").await.unwrap();
    assert_eq!(login["devList"][0]["devId"], 1001);

    let before = alice.status(1001, 1).await.unwrap()["devStatus"].clone();
    assert_eq!(before["bdriving"], 0);
    assert_eq!(before["status"].as_i64().unwrap() & 1, 1, "locked");
    let t0 = client::now_ms();
    alice.unlock(1001, 1, (30, 5, 0)).await.unwrap();
    assert_eq!(
        code(alice.unlock(1001, 1, (30, 5, 0)).await),
        1,
        "already unlocked: RespCode 1"
    );

    // While riding: position moves, points accumulate.
    let pos = h
        .until("a track with points", || async {
            let v = alice.position(1001, 1).await.unwrap();
            let info = v["devPosInfo"].clone();
            (info["bdriving"] == 1 && info["Points"].as_array().is_some_and(|p| p.len() >= 3))
                .then_some(info)
        })
        .await;
    assert!(pos["st_lngPos"].as_f64().is_some());
    assert_ne!(pos["cur_lngPos"], before["position"]["lngPos"], "moved");
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.lock(1001, 1).await.unwrap();
    assert_eq!(code(alice.lock(1001, 1).await), 1, "already locked");

    let trip = h
        .until("the trip is written", || async {
            let v = alice.last_trip(1001, 1).await.unwrap();
            v.get("TimeStart").is_some().then_some(v)
        })
        .await;
    let start = trip["TimeStart"].as_u64().unwrap();
    assert!(start >= t0 && trip["TimeEnd"].as_u64().unwrap() > start);
    assert!(trip["ltinerary"].as_u64().unwrap() >= 1, "{trip}");
    assert!(trip["maxSpeed"].as_f64().unwrap() > 0.0);
    assert_eq!(trip["batteryId"], "BAT00001001");
    let now = client::now_ms();
    let trips = alice.trips(1001, 1, t0, now + 1000).await.unwrap();
    assert_eq!(trips["LtineraryArray"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(alice.trips(1001, 1, now, t0).await),
        255,
        "timeStart after timeEnd"
    );

    let after = h
        .until("the lock is in the status", || async {
            let v = alice.status(1001, 1).await.unwrap()["devStatus"].clone();
            (v["bdriving"] == 0).then_some(v)
        })
        .await;
    assert!(after["mileage"].as_f64().unwrap() > 0.0);
    let soc_before = before["batteryStatus"]["socpercent"].as_f64().unwrap();
    assert!(
        after["batteryStatus"]["socpercent"].as_f64().unwrap() < soc_before,
        "battery fell"
    );

    let history = alice
        .call(kingxun_proto::http::DevStatusHistoryRequest {
            client_type: alice.client_type,
            usr_id: usr,
            dev_id: 1001,
            dev_type: 1,
            time_start: t0,
            time_end: client::now_ms() + 1000,
            timestamp: alice.stamp(),
            hash: String::new(),
        })
        .await
        .unwrap();
    let snaps = history["devStatusArray"].as_array().unwrap();
    assert!(snaps.len() >= 2, "unlock and lock snapshots: {history}");
    assert_eq!(snaps[0]["devStatus"]["bdriving"], 1);
    assert_eq!(snaps.last().unwrap()["devStatus"]["bdriving"], 0);

    // The admin API shows the owner, online state, battery and position.
    let v = h.admin.get("/api/vehicles").await.unwrap().json();
    let bike = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["dev_id"] == 1001)
        .unwrap()
        .clone();
    assert_eq!(bike["owner"].as_u64(), Some(u64::from(usr)));
    assert_eq!(bike["online"], true);
    assert!(bike["soc"].as_f64().unwrap() > 0.0 && bike["lng"].as_f64().unwrap() > 100.0);
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    // The link, and the live vehicle count of the instance's 9002 replies.
    let links = h
        .until("the 9002 vehicle count", || async {
            let v = h.admin.get("/api/instances").await.unwrap().json();
            (v[0]["vehicles"] == 3).then_some(v)
        })
        .await;
    assert_eq!(links.as_array().unwrap().len(), 1);
    assert_eq!(links[0]["name"], "instance-1");
    assert_eq!(links[0]["up"], true);
    assert_eq!(links[0]["addr"], h.instance_addr.to_string());
    let doc = h.admin.get("/api/openapi.json").await.unwrap().json();
    assert!(doc["paths"].get("/api/vehicles").is_some());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_free_vehicles_nearest_first() {
    let h = Harness::start(6).await;
    let alice = h.user("13800000002").await;
    alice.bind(1003, 1).await.unwrap();
    let search = |distance: f64| kingxun_proto::http::SearchUseableVechiclesRequest {
        client_type: alice.client_type,
        usr_id: alice.usr_id(),
        dev_type: 1,
        postion: kingxun_proto::http::Position {
            lng_pos: 113.93,
            lat_pos: 22.53,
        },
        time: client::now_ms(),
        timestamp: alice.stamp(),
        hours_to_use: 2.0,
        distance,
        position_scope: kingxun_proto::http::PositionScope {
            top_left: zero(),
            top_right: zero(),
            bottom_left: zero(),
            bottom_right: zero(),
        },
        hash: String::new(),
    };
    let v = alice.call(search(0.0)).await.unwrap();
    let list = v["vehicles"].as_array().unwrap();
    assert_eq!(list.len(), 5, "1003 is owned, so not for borrowing");
    assert!(list.iter().all(|x| x["devId"] != 1003));
    let d = |x: &Value| {
        let p = &x["devPostion"];
        let (lng, lat) = (p["lngPos"].as_f64().unwrap(), p["latPos"].as_f64().unwrap());
        ((lng - 113.93) * 102_000.0).hypot((lat - 22.53) * 111_000.0)
    };
    assert!(
        list.windows(2).all(|w| d(&w[0]) <= d(&w[1]) + 1.0),
        "nearest first"
    );
    assert_eq!(list[0]["price"], 4.0);
    let nearest = d(&list[0]);
    let limit = nearest * 1.05 + 5.0;
    let v = alice.call(search(limit)).await.unwrap();
    let near = v["vehicles"].as_array().unwrap();
    assert_eq!(near[0]["devId"], list[0]["devId"]);
    assert!(
        near.iter().all(|x| d(x) <= limit * 1.01),
        "within the distance only"
    );
    let v = alice.call(search(1.0)).await.unwrap();
    assert_eq!(v["vehicles"], serde_json::json!([]));
    h.stop().await;
}

fn zero() -> kingxun_proto::http::Position {
    kingxun_proto::http::Position {
        lng_pos: 0.0,
        lat_pos: 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ride_round_trip_on_postgres() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: the vehicle flows run on SQLite only");
        return;
    };
    let schema = format!("vehicle_test_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let inst = super::start_instance(dir.path(), Some((&url, &schema)), None, 2).await;
    let config = super::server_config(dir.path(), &[("instance-1", inst.addr)]);
    let store = fleet::store::Store::connect(&url, Some(&schema))
        .await
        .unwrap();
    let fleet = fleet::Fleet::with_store(store, config.fleet.clone())
        .await
        .unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = super::server::start_with(fleet, config, http, admin)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + super::WAIT;
    while !srv.links.is_up("instance-1") {
        assert!(tokio::time::Instant::now() < deadline, "link never up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut a = client::AppClient::new(srv.http_addr);
    a.register("13100000001", "secret-123", "pg").await.unwrap();
    a.bind(1002, 1).await.unwrap();
    let t0 = client::now_ms();
    a.unlock(1002, 1, (0, 5, 0)).await.unwrap();
    let deadline = tokio::time::Instant::now() + super::WAIT;
    loop {
        let v = a.position(1002, 1).await.unwrap();
        if v["devPosInfo"]["Points"]
            .as_array()
            .is_some_and(|p| p.len() >= 15)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no track: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    a.lock(1002, 1).await.unwrap();
    let deadline = tokio::time::Instant::now() + super::WAIT;
    loop {
        let v = a.trips(1002, 1, t0, client::now_ms() + 1000).await.unwrap();
        if v["LtineraryArray"].as_array().is_some_and(|t| t.len() == 1) {
            assert!(v["LtineraryArray"][0]["ltinerary"].as_u64().unwrap() >= 1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no trip: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        code(a.unlock(1001, 1, (0, 5, 0)).await),
        404,
        "bound to nobody"
    );
    srv.shutdown().await;
    inst.shutdown().await;
    let admin = fleet::store::Store::connect(&url, None).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
}
