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

/// The console check of the dashboard tests catches what it is there for: a page that logs a console error
/// and one that throws are both reported, a page that logs nothing is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_check_sees_console_errors_and_uncaught_exceptions() {
    if dashboard::absent() {
        return;
    }
    for (page, caught) in [
        ("<p>quiet</p>", false),
        ("<script>console.error('dashboard-probe')</script>", true),
        ("<script>throw new Error('dashboard-probe')</script>", true),
    ] {
        let url = format!("data:text/html,{page}");
        let out = dashboard::chromium(&url, "800,600", vec!["--dump-dom".into()]).await;
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let errors = dashboard::console_errors(&log);
        if caught {
            assert!(
                errors.iter().any(|l| l.contains("dashboard-probe")),
                "{page}: not caught in\n{log}"
            );
        } else {
            assert!(errors.is_empty(), "{page}: {errors:?}");
        }
    }
}
