//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent): a bound
//! vehicle with its owner, online state, battery and last position, and its instance up.

use std::path::{Path, PathBuf};
use std::process::Command;

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
async fn the_dashboard_shows_the_vehicle_its_owner_online_state_battery_and_position() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("notice: {CHROMIUM} is absent; the dashboard browser test is skipped (apt-get install chromium)");
        return;
    }
    let h = Harness::start(1).await;
    h.wait_link(true).await;
    let alice = h.user("13800000009").await;
    alice.bind(1001, 1).await.unwrap();
    let usr = alice.usr_id().to_string();
    let admin = h.admin.clone();
    let bike = h
        .until("vehicle 1001 online and owned", || {
            let admin = admin.clone();
            let usr = usr.clone();
            async move {
                let v = admin.get("/api/vehicles").await.ok()?.json();
                let bike = v["items"]
                    .as_array()?
                    .iter()
                    .find(|b| b["dev_id"] == 1001)?
                    .clone();
                (bike["online"] == true && bike["owner"].as_u64() == usr.parse().ok())
                    .then_some(bike)
            }
        })
        .await;
    let url = format!("http://{}/", h.server().admin_addr);

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
    assert!(
        html.contains("updated "),
        "the page did not finish a refresh:\n{html}"
    );
    // dev_id, instance, owner, online, soc, lng, lat, driving: as the API gave them.
    let vehicles = panel_rows(&html, "Vehicles");
    let row = vehicles
        .iter()
        .find(|r| r.first().map(String::as_str) == Some("1001"))
        .unwrap_or_else(|| panic!("vehicle 1001 missing: {vehicles:?}"));
    assert_eq!(row[2], usr, "owner: {row:?}");
    assert_eq!(row[3], "true", "online: {row:?}");
    // Numbers as the page prints them (JavaScript's shortest form) are the API's values.
    for (i, field) in [(4, "soc"), (5, "lng"), (6, "lat")] {
        let cell: f64 = row[i]
            .parse()
            .unwrap_or_else(|e| panic!("{field} `{}`: {e}", row[i]));
        assert_eq!(Some(cell), bike[field].as_f64(), "{field}: {row:?}");
    }
    let instances = panel_rows(&html, "Vehicle instances");
    assert!(
        instances
            .iter()
            .any(|r| r.get(2).map(String::as_str) == Some("true")),
        "instance not shown up: {instances:?}"
    );
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

    let shot = target_dir().join("vehicle.png");
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
    h.stop().await;
}
