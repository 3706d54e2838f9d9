//! The link: an instance that is down answers control requests at once; a restart during traffic leaves every
//! request with exactly one answer; a 9001 with a stale timestamp is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use device_core::kingxun::{WebSvrConfig, WebSvrEvent, WebSvrSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::ManualClock;

use super::{code, start_instance, Harness, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restart_during_traffic_leaves_every_request_one_answer() {
    let mut h = Harness::start(4).await;
    let riders = [
        h.user("13400000001").await,
        h.user("13400000002").await,
        h.user("13400000003").await,
    ];
    for (i, r) in riders.iter().enumerate() {
        r.bind(1001 + u32::try_from(i).unwrap(), 1).await.unwrap();
    }
    let riders = Arc::new(riders);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..3 {
        let (riders, stop) = (riders.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let r = &riders[i];
            let dev = 1001 + u32::try_from(i).unwrap();
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                let c = if answers.len() % 2 == 0 {
                    code(r.unlock(dev, 1, (0, 5, 0)).await)
                } else {
                    code(r.lock(dev, 1).await)
                };
                answers.push((c, started.elapsed()));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The instance stops (its links close, every bike goes offline in the store).
    h.instance.take().unwrap().shutdown().await;
    h.wait_link(false).await;
    // Down: control endpoints answer at once.
    let t = Instant::now();
    assert_eq!(code(riders[0].lock(1001, 1).await), 503);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered in {:?}",
        t.elapsed()
    );
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
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    let mut down = 0;
    for t in tasks {
        let answers = t.await.unwrap();
        for (c, took) in &answers {
            // Every request ended in one answer: the vehicle's RespCode, or 503/504 for the link.
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
    // After the restart the bikes answer again: whatever the traffic left, lock then unlock works.
    assert!([0, 1].contains(&code(riders[0].lock(1001, 1).await)));
    assert_eq!(code(riders[0].unlock(1001, 1, (0, 5, 0)).await), 0);
    h.stop().await;
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
