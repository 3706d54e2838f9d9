//! People's photos and biometric photos pushed to the rooms of their meetings (the terminal fetches exactly the
//! bytes set), the optional key exchange on and off, and issued credentials that survive a lost store write
//! through the credential journal.

use std::time::Duration;

use base64::Engine as _;
use md5::Digest as _;

use crate::{config, meeting, sim, Harness, SEED, WAIT};

/// A small JPEG-shaped blob (start of image, some bytes, end of image) of `len` bytes seeded by `seed`.
fn jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0];
    b.extend((0..len.saturating_sub(6)).map(|i| {
        u8::try_from(i % 256)
            .unwrap_or(0)
            .wrapping_mul(31)
            .wrapping_add(seed)
    }));
    b.extend([0xff, 0xd9]);
    b
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn photo(bytes: &[u8]) -> sim::Photo {
    sim::Photo {
        len: bytes.len(),
        md5: hex::encode(md5::Md5::digest(bytes)),
    }
}

fn key(pin: &str, t: u32, no: u32, index: u32) -> (String, u32, u32, u32) {
    (pin.to_owned(), t, no, index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_reach_the_rooms_of_the_persons_meetings_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("PW", 1, 1).await;
    h.provision("PM", 1, 1).await;
    h.people(&["1001", "1002", "1003"]).await;
    let ws = h.terminals("PW", 1, 1, sim::Transport::Ws).await;
    let mqtt = h.terminals("PM", 1, 1, sim::Transport::Mqtt).await;
    for c in crate::flows::meeting(&h, "ph-1", "PW000001", &["1001", "1002"]).await {
        h.command_state(c, "acked").await;
    }
    for c in crate::flows::meeting(&h, "ph-2", "PM000001", &["1001"]).await {
        h.command_state(c, "acked").await;
    }

    // 1001 attends meetings in both rooms: the photo goes to both terminals.
    let face = jpeg(20_000, 1);
    let r = h
        .put(
            "/api/people/1001/photo",
            &serde_json::json!({ "jpeg": b64(&face) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.json();
    assert_eq!(set["person"]["photo"]["md5"], photo(&face).md5);
    assert_eq!(set["person"]["photo"]["len"], face.len());
    assert_eq!(set["person"]["photo"]["type"], 9);
    let commands = crate::flows::command_ids(&set);
    assert_eq!(commands.len(), 2, "one push per room: {set}");
    for c in &commands {
        h.command_state(*c, "acked").await;
        let r = h
            .api
            .get(&format!("/api/commands/{c}/result"))
            .await
            .unwrap();
        assert_eq!(r.json()["code"], "00000000", "{}", r.text());
    }
    for t in [
        ws.terminal("PW000001").unwrap(),
        mqtt.terminal("PM000001").unwrap(),
    ] {
        assert_eq!(
            t.local().photos.get(&key("1001", 9, 0, 0)),
            Some(&photo(&face)),
            "{}",
            t.sn
        );
    }
    // The served photo is the stored one; a stale checksum is not served.
    let path = set["person"]["photo"]["path"].as_str().unwrap().to_owned();
    let r = h.api.get(&path).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, face);
    let stale = format!("{}0", &path[..path.len() - 1]);
    let stale = if stale == path {
        format!("{}1", &path[..path.len() - 1])
    } else {
        stale
    };
    assert_eq!(h.api.get(&stale).await.unwrap().status, 404);

    // Biometric photos of 1002 (only in the WebSocket room): a fingerprint and a near-infrared face.
    let finger = jpeg(3_000, 2);
    let nir = jpeg(5_000, 3);
    let r = h
        .put(
            "/api/people/1002/bio-photos",
            &serde_json::json!({ "bio_photos": [
                { "type": 1, "no": 3, "jpeg": b64(&finger) },
                { "type": 2, "index": 1, "jpeg": b64(&nir) },
            ] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let commands = crate::flows::command_ids(&r.json());
    assert_eq!(commands.len(), 1, "{}", r.text());
    h.command_state(commands[0], "acked").await;
    let local = ws.terminal("PW000001").unwrap().local();
    assert_eq!(
        local.photos.get(&key("1002", 1, 3, 0)),
        Some(&photo(&finger))
    );
    assert_eq!(local.photos.get(&key("1002", 2, 0, 1)), Some(&photo(&nir)));
    assert!(
        !mqtt
            .terminal("PM000001")
            .unwrap()
            .local()
            .photos
            .contains_key(&key("1002", 1, 3, 0)),
        "1002 attends nothing in the MQTT room"
    );

    // The people list carries the photos.
    let people = h.api.get("/api/people").await.unwrap().json();
    let by_pin = |pin: &str| {
        people
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pin"] == pin)
            .unwrap()
            .clone()
    };
    assert_eq!(by_pin("1001")["photo"]["md5"], photo(&face).md5);
    let bio = by_pin("1002")["bio_photos"].as_array().unwrap().clone();
    assert_eq!(bio.len(), 2);
    assert_eq!(
        (bio[0]["type"].clone(), bio[0]["no"].clone()),
        (1.into(), 3.into())
    );
    assert_eq!(bio[1]["md5"], photo(&nir).md5);
    assert!(by_pin("1003")["photo"].is_null());

    // A new meeting in the MQTT room with 1002 brings 1002's photos along.
    let commands = crate::flows::meeting(&h, "ph-3", "PM000001", &["1002"]).await;
    assert_eq!(commands.len(), 4, "user, meeting, members, photos");
    for c in commands {
        h.command_state(c, "acked").await;
    }
    let local = mqtt.terminal("PM000001").unwrap().local();
    assert_eq!(
        local.photos.get(&key("1002", 1, 3, 0)),
        Some(&photo(&finger))
    );
    assert_eq!(local.photos.get(&key("1002", 2, 0, 1)), Some(&photo(&nir)));
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_photos_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.people(&["2001"]).await;
    let ok = b64(&jpeg(100, 0));
    let big = b64(&jpeg(meeting::meetings::MAX_PHOTO_BYTES + 1, 0));
    for (path, body, field, says) in [
        (
            "/api/people/2001/photo",
            serde_json::json!({ "jpeg": "not base64!" }),
            "jpeg",
            "base64",
        ),
        (
            "/api/people/2001/photo",
            serde_json::json!({ "jpeg": b64(b"GIF89a....") }),
            "jpeg",
            "not a JPEG",
        ),
        (
            "/api/people/2001/photo",
            serde_json::json!({ "jpeg": big }),
            "jpeg",
            "bytes of JPEG",
        ),
        (
            "/api/people/2001/bio-photos",
            serde_json::json!({ "bio_photos": [{ "type": 12, "jpeg": ok }] }),
            "bio_photos[0].type",
            "0 to 9",
        ),
        (
            "/api/people/2001/bio-photos",
            serde_json::json!({ "bio_photos": [{ "type": 9, "jpeg": ok }] }),
            "bio_photos[0].type",
            "person's photo",
        ),
        (
            "/api/people/2001/bio-photos",
            serde_json::json!({ "bio_photos": [{ "type": 1, "jpeg": ok }, { "type": 1, "no": 0, "jpeg": ok }] }),
            "bio_photos[1]",
            "twice",
        ),
        (
            "/api/people/2001/bio-photos",
            serde_json::json!({ "bio_photos": [{ "type": 1, "jpeg": "%%%" }] }),
            "bio_photos[0].jpeg",
            "base64",
        ),
        (
            "/api/people/2001/bio-photos",
            serde_json::json!({ "bio_photos": [] }),
            "bio_photos",
            "1 to 20",
        ),
    ] {
        let r = h.put(path, &body).await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text());
        assert_eq!(r.json()["field"], field, "{}", r.text());
        assert!(r.text().contains(says), "{says}: {}", r.text());
    }
    let r = h
        .put("/api/people/9999/photo", &serde_json::json!({ "jpeg": ok }))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    // Nothing was stored.
    let people = h.api.get("/api/people").await.unwrap().json();
    assert!(people[0]["photo"].is_null(), "{people}");
    assert_eq!(people[0]["bio_photos"], serde_json::json!([]));
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_with_the_key_exchange_onboards_and_answers_commands() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("KX", 1, 1).await;
    let mut config = sim::SimConfig::new(h.lookup(), 1, sim::Transport::Ws, SEED);
    config.prefix = "KX".into();
    config.key_exchange = true;
    let s = sim::Sim::start(config);
    assert!(s.wait_online(1, WAIT).await, "never online");
    let t = s.terminal("KX000001").unwrap();
    assert_eq!(t.local().key_exchanges, 1);
    let r = h
        .api
        .post(
            "/api/devices/KX000001/commands",
            &serde_json::json!({ "cmd": "cmd.control.reboot", "params": { "operator": "ops" } }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    h.command_state(r.json()["id"].as_i64().unwrap(), "acked")
        .await;
    assert_eq!(t.local().reboots, 1);
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_key_exchange_off_a_terminal_that_asks_for_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir.path(), None, |c| c.terminals.key_exchange = false).await;
    h.provision("KO", 1, 2).await;
    // Terminal 1 insists on the exchange: device-core closes on the refused step (`20000002`) and never
    // onboards; terminal 2 does not ask and onboards.
    let mut config = sim::SimConfig::new(h.lookup(), 1, sim::Transport::Ws, SEED);
    config.prefix = "KO".into();
    config.key_exchange = true;
    let asking = sim::Sim::start(config);
    let plain = h.terminals("KO", 2, 1, sim::Transport::Ws).await;
    assert_eq!(plain.terminal("KO000002").unwrap().local().logins, 1);
    let deadline = tokio::time::Instant::now() + WAIT;
    while asking
        .stats
        .refused
        .load(std::sync::atomic::Ordering::Relaxed)
        < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never refused twice"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let local = asking.terminal("KO000001").unwrap().local();
    assert_eq!(
        (local.logins, local.key_exchanges, local.online),
        (0, 0, false)
    );
    let terminals = h.api.get("/api/terminals").await.unwrap().json();
    let first = &terminals["items"][0];
    assert_eq!(first["sn"], "KO000001");
    assert_eq!(first["registered"], false, "{terminals}");
    h.platform.shutdown().await;
}

async fn credentials(h: &Harness, sn: &str) -> (Option<String>, Option<String>) {
    use sqlx::Row as _;
    let row = sqlx::query("SELECT auth_code, secret FROM meeting_terminals WHERE sn = $1")
        .bind(sn)
        .fetch_one(h.platform.fleet.store().pool())
        .await
        .unwrap();
    (row.get("auth_code"), row.get("secret"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journaled_credentials_survive_a_lost_store_write() {
    let dir = tempfile::tempdir().unwrap();
    let bind = |addr: &str| {
        let addr = addr.to_owned();
        async move { tokio::net::TcpListener::bind(addr).await.unwrap() }
    };
    let (ws, lookup, admin) = (
        bind("127.0.0.1:0").await,
        bind("127.0.0.1:0").await,
        bind("127.0.0.1:0").await,
    );
    let addrs = [
        ws.local_addr().unwrap(),
        lookup.local_addr().unwrap(),
        admin.local_addr().unwrap(),
    ];
    let h = Harness::launch_on(config(dir.path()), ws, lookup, admin).await;
    h.provision("JN", 1, 1).await;
    let s = h.terminals("JN", 1, 1, sim::Transport::Ws).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let issued = loop {
        let c = credentials(&h, "JN000001").await;
        if c.1.is_some() {
            break c;
        }
        assert!(tokio::time::Instant::now() < deadline, "never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let journal = dir.path().join(meeting::meetings::CREDENTIAL_JOURNAL);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["kind"], "auth_code");
    assert_eq!(lines[0]["value"].as_str(), issued.0.as_deref());
    assert_eq!(lines[1]["kind"], "secret");
    assert_eq!(lines[1]["value"].as_str(), issued.1.as_deref());
    // The crash: the store never got the credentials the terminal was given.
    sqlx::query(
        "UPDATE meeting_terminals SET auth_code = NULL, secret = NULL WHERE sn = 'JN000001'",
    )
    .execute(h.platform.fleet.store().writer())
    .await
    .unwrap();
    h.platform.shutdown().await;
    assert!(!s.wait_online(1, Duration::from_millis(1)).await || s.online() == 0);

    let restarted = fleet::store::now_ms();
    let h = Harness::launch_on(
        config(dir.path()),
        bind(&addrs[0].to_string()).await,
        bind(&addrs[1].to_string()).await,
        bind(&addrs[2].to_string()).await,
    )
    .await;
    // Replayed before serving, then emptied.
    assert_eq!(credentials(&h, "JN000001").await, issued);
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "");
    // The same terminal logs in again with what it was given: no second registration.
    let t = s.terminal("JN000001").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while t.local().logins < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never logged in again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let store = h.platform.fleet.store().clone();
    let since = |kind: &str| fleet::store::EventFilter {
        device_id: Some("JN000001".into()),
        kind: Some(kind.into()),
        since: Some(restarted),
        before: None,
        limit: 100,
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while store.events(&since("online")).await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no online event after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store
        .events(&since("registered_terminal"))
        .await
        .unwrap()
        .is_empty());
    assert!(store.events(&since("accredited")).await.unwrap().is_empty());
    assert_eq!(credentials(&h, "JN000001").await, issued);
    h.platform.shutdown().await;
}
