//! The link: an instance that is down answers control requests at once; a restart or a crash during traffic
//! leaves every request with exactly one answer; a vehicle that never answers is 504; commands reach the
//! instance holding the vehicle; a 9001 with a stale timestamp is refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use device_core::kingxun::{WebSvrConfig, WebSvrEvent, WebSvrSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::ManualClock;

use tokio::task::JoinHandle;

use super::client::AppClient;
use super::{code, server_config, start_instance, start_instance_with, CallError, Harness, WAIT};

/// Each control request's errCode and how long it took.
type Answers = Vec<(i64, Duration)>;

/// Riders 0..3 alternately unlock and lock bikes 1001..1003 until `stop`.
fn traffic(riders: &Arc<[AppClient; 3]>, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<Answers>> {
    (0..3)
        .map(|i| {
            let (riders, stop) = (riders.clone(), stop.clone());
            tokio::spawn(async move {
                let r = &riders[i];
                let dev = 1001 + u32::try_from(i).unwrap();
                let mut answers = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    // `code` panics on a transport failure: every request gets an HTTP answer with an errCode.
                    let c = if answers.len() % 2 == 0 {
                        code(r.unlock(dev, 1, (0, 5, 0)).await)
                    } else {
                        code(r.lock(dev, 1).await)
                    };
                    answers.push((c, started.elapsed()));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                answers
            })
        })
        .collect()
}

/// Three riders with bikes 1001..1003 bound.
async fn riders(h: &Harness) -> Arc<[AppClient; 3]> {
    let riders = [
        h.user("13400000001").await,
        h.user("13400000002").await,
        h.user("13400000003").await,
    ];
    for (i, r) in riders.iter().enumerate() {
        r.bind(1001 + u32::try_from(i).unwrap(), 1).await.unwrap();
    }
    Arc::new(riders)
}

/// Stops the traffic and checks that every request ended in one answer: the vehicle's RespCode, or 503 / 504
/// for the link; some succeeded and some came while the instance was down.
async fn every_request_answered(stop: &AtomicBool, tasks: Vec<JoinHandle<Answers>>) {
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    let mut down = 0;
    for t in tasks {
        let answers = t.await.unwrap();
        for (c, took) in &answers {
            assert!([0, 1, 503, 504].contains(c), "errCode {c}");
            assert!(*took < Duration::from_secs(5), "took {took:?}");
            down += usize::from(*c == 503);
        }
        assert!(answers.iter().any(|(c, _)| *c == 0), "some succeeded");
        total += answers.len();
    }
    assert!(
        total > 10 && down > 0,
        "{total} requests, {down} while down"
    );
}

/// While the instance is down: control endpoints answer 503 at once.
async fn down_answers_at_once(h: &Harness, rider: &AppClient) {
    h.wait_link(false).await;
    let t = Instant::now();
    assert_eq!(code(rider.lock(1001, 1).await), 503);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered in {:?}",
        t.elapsed()
    );
}

/// After a restart the bikes answer again: whatever the traffic left, lock then unlock works.
async fn answers_again(rider: &AppClient) {
    assert!([0, 1].contains(&code(rider.lock(1001, 1).await)));
    assert_eq!(code(rider.unlock(1001, 1, (0, 5, 0)).await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restart_during_traffic_leaves_every_request_one_answer() {
    let mut h = Harness::start(4).await;
    let riders = riders(&h).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = traffic(&riders, &stop);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The instance stops (its links close, every bike goes offline in the store).
    h.instance.take().unwrap().shutdown().await;
    down_answers_at_once(&h, &riders[0]).await;
    let v = h.admin.get("/api/vehicles").await.unwrap().json();
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["online"] == false));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The instance comes back on the same address; the server reconnects.
    let path = h.path();
    h.instance = Some(start_instance(&path, None, Some(h.instance_addr), 4).await);
    h.wait_link(true).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    every_request_answered(&stop, tasks).await;
    answers_again(&riders[0]).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_crash_during_traffic_leaves_every_request_one_answer() {
    let mut h = Harness::start(4).await;
    let riders = riders(&h).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = traffic(&riders, &stop);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Aborted, not shut down: no last writes, the link drops under the traffic.
    h.instance.take().unwrap().abort();
    down_answers_at_once(&h, &riders[0]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Restarted on the same address (once the old listener is gone); the server reconnects.
    let path = h.path();
    h.instance = Some(start_instance(&path, None, Some(h.instance_addr), 4).await);
    h.wait_link(true).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    every_request_answered(&stop, tasks).await;
    answers_again(&riders[0]).await;
    let v = h.admin.get("/api/vehicles").await.unwrap().json();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["online"] == true),
        "the restarted instance marks its bikes online: {v}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_that_never_answers_is_504_after_the_request_timeout() {
    let h = Harness::start_full(2, |s| s.silent = true, |c| c.link.request_timeout_secs = 1).await;
    let a = h.user("13400000009").await;
    a.bind(1001, 1).await.unwrap();
    a.bind(1002, 1).await.unwrap();
    let (unlock, lock) = tokio::join!(a.unlock(1001, 1, (0, 5, 0)), a.lock(1002, 1));
    for r in [unlock, lock] {
        match r {
            Err(CallError::Refused { code: 504, message }) => {
                assert!(message.contains("did not answer"), "{message}");
            }
            other => panic!("not 504: {other:?}"),
        }
    }
    // A timeout is the vehicle's silence, not a lost link: the link stays up and the store still answers.
    assert!(h.server().links.is_up("instance-1"));
    assert_eq!(code(a.status(1001, 1).await), 0);
    assert_eq!(
        h.instance.as_ref().unwrap().bikes.lock().unwrap().riding(),
        0
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_go_to_the_instance_that_holds_the_vehicle() {
    let dir = tempfile::tempdir().unwrap();
    let one = start_instance(dir.path(), None, None, 2).await;
    let two = start_instance_with(dir.path(), None, None, 2, |s| {
        s.bikes.instance = "instance-2".into();
        s.bikes.first_id = 2001;
    })
    .await;
    let config = server_config(
        dir.path(),
        &[("instance-1", one.addr), ("instance-2", two.addr)],
    );
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = super::server::start_on(config, http, admin).await.unwrap();
    let admin = fleet::client::AdminClient::new(srv.admin_addr, Some("test-token".into()));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(srv.links.is_up("instance-1") && srv.links.is_up("instance-2")) {
        assert!(tokio::time::Instant::now() < deadline, "links never up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut a = AppClient::new(srv.http_addr);
    a.register("13400000010", "secret-123", "two")
        .await
        .unwrap();
    a.bind(1001, 1).await.unwrap();
    a.bind(2001, 1).await.unwrap();
    let riding = |r: &super::instance::Running| r.bikes.lock().unwrap().riding();
    a.unlock(2001, 1, (0, 5, 0)).await.unwrap();
    assert_eq!((riding(&one), riding(&two)), (0, 1), "2001 is instance-2's");
    a.unlock(1001, 1, (0, 5, 0)).await.unwrap();
    assert_eq!((riding(&one), riding(&two)), (1, 1), "1001 is instance-1's");
    // 4040 from the admin console reaches the instance that holds 2001 only.
    let r = admin
        .post(
            "/api/vehicles/2001/log",
            &serde_json::json!({ "log_send": true, "log_recv": true }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let settings = |r: &super::instance::Running, dev| r.bikes.lock().unwrap().log_settings(dev);
    assert_eq!(
        settings(&two, 2001),
        Some(((true, true), kingxun_proto::LogLevel::empty()))
    );
    assert_eq!(settings(&one, 2001), None);
    assert_eq!(
        settings(&one, 1001),
        Some(((false, false), kingxun_proto::LogLevel::empty()))
    );
    // Both links and their vehicle counts (from the 9002 replies).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let links = admin.get("/api/instances").await.unwrap().json();
        let seen: Vec<(String, bool, u64)> = links
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["name"].as_str().unwrap().to_owned(),
                    l["up"] == true,
                    l["vehicles"].as_u64().unwrap(),
                )
            })
            .collect();
        if seen
            == [
                ("instance-1".into(), true, 2),
                ("instance-2".into(), true, 2),
            ]
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instances: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One instance down: only its vehicles answer 503.
    two.shutdown().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while srv.links.is_up("instance-2") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance-2 never down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code(a.lock(2001, 1).await), 503);
    assert_eq!(code(a.lock(1001, 1).await), 0);
    srv.shutdown().await;
    one.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_9001_with_a_stale_timestamp_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inst = start_instance(dir.path(), None, None, 1).await;
    let settings = super::instance::InstanceSettings::default();
    let clock =
        ManualClock::new(chrono::Utc::now().fixed_offset() - chrono::Duration::seconds(400));
    let session = WebSvrSession::new(
        WebSvrConfig::new(settings.key, settings.iv).clock(Arc::new(clock.clone())),
    );
    let (client, mut events) = Client::connect_tcp(session, inst.addr, ClientConfig::default());
    let refused = tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            match e {
                ClientEvent::Session(WebSvrEvent::LoginRejected { code }) => return Some(code),
                ClientEvent::Session(WebSvrEvent::LoggedIn { .. }) => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(refused, Some(kingxun_proto::RespCode::Refused));
    let _ = client.shutdown().await;
    // The same with a fresh clock passes.
    clock.advance(Duration::from_secs(400));
    let session =
        WebSvrSession::new(WebSvrConfig::new(settings.key, settings.iv).clock(Arc::new(clock)));
    let (client, mut events) = Client::connect_tcp(session, inst.addr, ClientConfig::default());
    let ok = tokio::time::timeout(WAIT, async {
        while let Some(e) = events.recv().await {
            if let ClientEvent::Session(WebSvrEvent::LoggedIn { .. }) = e {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(ok);
    let _ = client.shutdown().await;
    inst.shutdown().await;
}
