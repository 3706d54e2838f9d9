//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::Harness;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=8000",
        "--window-size=1400,1000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd.args(extra);
    cmd.arg(url);
    cmd.output().expect("chromium runs")
}

fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_machines_and_commands_with_their_state() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("notice: {CHROMIUM} is absent; the dashboard browser test is skipped (apt-get install chromium)");
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

    let run = |extra: Vec<String>| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let profile = tempfile::tempdir().unwrap();
                let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
                chromium(profile.path(), &extra, &url)
            })
            .await
            .unwrap()
        }
    };
    let dom = run(vec!["--dump-dom".into()]).await;
    let html = String::from_utf8_lossy(&dom.stdout).into_owned();
    let log = String::from_utf8_lossy(&dom.stderr).into_owned();
    assert!(dom.status.success(), "chromium failed: {log}");
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
    assert!(
        html.contains("updated "),
        "the page did not finish a refresh:\n{html}"
    );
    // Console messages are logged as `CONSOLE(...)` / `Uncaught`; none may be errors.
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains(":ERROR:") && l.contains("console")
        })
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );

    let shot = target_dir().join("coffee-dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let out = run(vec![format!("--screenshot={}", shot.display())]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(&shot).expect("screenshot written");
    assert!(
        meta.len() > 10_000,
        "screenshot is only {} bytes",
        meta.len()
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    sim.shutdown().await;
    h.server.shutdown().await;
}
