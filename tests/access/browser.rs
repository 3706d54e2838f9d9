//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent): the
//! terminal online, the person, its push with the terminal's answer code, and the access record.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sim::{Direction, Opened, Transport};
use crate::{Harness, WAIT};

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
        "--window-size=1400,1400",
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

/// The rows (as cell texts) of the table of the panel headed `title`.
fn panel_rows(html: &str, title: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<h2>{title}</h2>"))
        .unwrap_or_else(|| panic!("panel {title} missing:\n{html}"));
    let rest = &html[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    let body = &rest[..end];
    let body = body.split("<tbody>").nth(1).unwrap_or("");
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').map_or(0, |i| i + 1)..];
                    c[..c.find("</td>").unwrap_or(c.len())].to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_terminal_online_the_person_its_push_and_the_record() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("notice: {CHROMIUM} is absent; the dashboard browser test is skipped (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let sim = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    h.online(&sim).await;
    h.poll("/api/terminals?community=C1", |t| {
        t["items"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let (face, face_b64) = crate::blob(2000, 5);
    let body = serde_json::json!({
        "person_id": "P7", "community_code": "C1", "person_name": "Wang Wu", "card_number": "card-P7",
        "id_number": "1545123", "role": 12,
        "face": {"width": 520, "height": 690, "format": 2, "length": face.len(), "data": face_b64},
    });
    let r = h.api.post("/api/persons", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    h.poll("/api/persons/P7/pushes", |p| {
        p["items"][0]["code"] == 0 && p["items"][0]["state"] == "acked"
    })
    .await;
    let t = &sim.terminals[0];
    assert!(t.wait_for(WAIT, |v| v.people.contains_key("P7")).await);
    t.produce(Some("P7"), Opened::Face, Direction::In).unwrap();
    assert!(
        t.wait_for(WAIT, |v| v.uploaded == 1 && v.pending == 0)
            .await,
        "{:?}",
        t.view()
    );
    let stored = h
        .poll("/api/access", |a| {
            a["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    let time = stored["items"][0]["time"].as_str().unwrap().to_owned();
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
    assert!(html.contains("Access terminals"), "title missing:\n{html}");
    assert!(
        html.contains("updated "),
        "the page did not finish a refresh:\n{html}"
    );
    // The devices table: the terminal, online.
    let devices = panel_rows(
        &html,
        r#"Devices <button id="first" type="button" disabled="">first</button> <button id="next" type="button" disabled="">next</button>"#,
    );
    assert!(
        devices
            .iter()
            .any(|r| r[0] == "SIM-T00001" && r[2] == "online"),
        "terminal not shown online: {devices:?}"
    );
    let terminals = panel_rows(&html, "Terminals");
    assert!(
        terminals
            .iter()
            .any(|r| r[0] == "SIM-T00001" && r[1] == "C1"),
        "terminal missing: {terminals:?}"
    );
    let people = panel_rows(&html, "People");
    assert!(
        people
            .iter()
            .any(|r| r[..4] == ["P7", "Wang Wu", "C1", "card-P7"]),
        "person missing: {people:?}"
    );
    // The push: person, terminal, state, answer code.
    let pushes = panel_rows(&html, "Pushes");
    assert!(
        pushes
            .iter()
            .any(|r| r[..4] == ["P7", "SIM-T00001", "acked", "0"]),
        "push missing: {pushes:?}"
    );
    let records = panel_rows(&html, "Access records");
    assert!(
        records
            .iter()
            .any(|r| r[..6] == [time.as_str(), "SIM-T00001", "P7", "card-P7", "2", "1"]),
        "record missing: {records:?}"
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

    let shot = target_dir().join("access.png");
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
    sim.shutdown().await;
    h.server.shutdown().await;
}
