//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent).

use std::time::Duration;

use crate::{dashboard, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_machines_and_commands_with_their_state() {
    if dashboard::absent() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let sim = h.machines(1).await;
    h.poll("/api/devices/1001", |d| d["online"] == true).await;
    let id = h
        .command(1001, serde_json::json!({ "cmd": "rinsing" }))
        .await;
    h.poll(&format!("/api/commands/{id}"), |c| c["state"] == "sent")
        .await;
    let url = format!("http://{}/", h.server.admin_addr);

    let html = dashboard::dom(&url, "1400,1000").await;
    // The devices table lists the machine as online, the queue shows the command in its final state.
    assert!(
        html.contains("<td>1001</td>"),
        "machine missing from the page:\n{html}"
    );
    assert!(html.contains(">online<"), "online state missing:\n{html}");
    assert!(
        html.contains("<td>rinsing</td>"),
        "command missing:\n{html}"
    );
    assert!(
        html.contains(r#"class="state sent""#),
        "command state missing:\n{html}"
    );
    assert!(html.contains("Coffee fleet"), "title missing");

    dashboard::screenshot(&url, "1400,1000", "coffee-dashboard.png").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    sim.shutdown().await;
    h.server.shutdown().await;
}
