//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent): terminals
//! with their transport (WebSocket and MQTT), a meeting, its check-in and an uploaded file.

use std::time::Duration;

use best_proto::Code;

use crate::{dashboard, sim, Harness, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_terminals_by_transport_meetings_check_ins_and_files() {
    if dashboard::absent() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("BW", 1, 1).await;
    h.provision("BM", 1, 1).await;
    h.people(&["1001", "1002"]).await;
    let ws = h.terminals("BW", 1, 1, sim::Transport::Ws).await;
    let mqtt = h.terminals("BM", 1, 1, sim::Transport::Mqtt).await;
    for c in crate::flows::meeting(&h, "dash-1", "BM000001", &["1001", "1002"]).await {
        h.command_state(c, "acked").await;
    }
    let t = mqtt.terminal("BM000001").unwrap();
    assert_eq!(t.check_in("dash-1", "1002").await, Ok(Code::Success));
    let photo = bytes::Bytes::from(vec![7u8; 3000]);
    let report = ws
        .terminal("BW000001")
        .unwrap()
        .upload("room1", photo, None, WAIT)
        .await
        .unwrap();
    assert_eq!(report.code, Code::Success);
    // The transport is recorded with the report; wait until the API shows both.
    h.poll("/api/terminals?limit=50", |t| {
        let items = t["items"].as_array().unwrap();
        ["websocket", "mqtt"]
            .iter()
            .all(|tr| items.iter().any(|i| i["transport"] == *tr))
    })
    .await;
    h.poll("/api/checkins?meeting=dash-1", |c| {
        !c["items"].as_array().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = format!("http://{}/", h.platform.admin_addr);

    let html = dashboard::dom(&url, "1400,1600").await;
    let terminals = dashboard::panel_rows(&html, "Terminals and their transport");
    let transport_of = |sn: &str| {
        terminals
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(sn))
            .and_then(|r| r.get(2).cloned())
            .unwrap_or_else(|| panic!("terminal {sn} missing: {terminals:?}"))
    };
    assert_eq!(transport_of("BW000001"), "websocket");
    assert_eq!(transport_of("BM000001"), "mqtt");
    let meetings = dashboard::panel_rows(&html, "Meetings");
    assert!(
        meetings
            .iter()
            .any(|r| r.first().map(String::as_str) == Some("dash-1")
                && r.get(1).map(String::as_str) == Some("BM000001")),
        "meeting missing: {meetings:?}"
    );
    let checkins = dashboard::panel_rows(&html, "Check-ins");
    assert!(
        checkins
            .iter()
            .any(|r| r.first().map(String::as_str) == Some("dash-1")
                && r.get(1).map(String::as_str) == Some("1002")
                && r.get(2).map(String::as_str) == Some("BM000001")),
        "check-in missing: {checkins:?}"
    );
    let files = dashboard::panel_rows(&html, "Uploaded files");
    assert!(
        files
            .iter()
            .any(|r| r.get(1).map(String::as_str) == Some("BW000001")
                && r.get(2).map(String::as_str) == Some("room1")
                && r.get(5).map(String::as_str) == Some("complete")),
        "file missing: {files:?}"
    );

    dashboard::screenshot(&url, "1400,1600", "meeting.png").await;
    h.platform.shutdown().await;
}
