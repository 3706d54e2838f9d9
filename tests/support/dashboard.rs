//! Headless Chromium for the deployments' dashboard tests: the page's DOM after its first refresh, its console
//! errors, a screenshot under `target/dashboard/`, and the rows of a panel's table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether Chromium is absent; then the caller skips, and a notice says why.
pub fn absent() -> bool {
    let absent = !Path::new(CHROMIUM).exists();
    if absent {
        eprintln!("notice: {CHROMIUM} is absent; the dashboard browser test is skipped (apt-get install chromium)");
    }
    absent
}

/// Runs Chromium headless on `url` in a fresh profile, with a `window` (`WIDTH,HEIGHT`) and `extra` flags.
pub async fn chromium(url: &str, window: &str, extra: Vec<String>) -> Output {
    let (url, window) = (url.to_owned(), window.to_owned());
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        Command::new(CHROMIUM)
            .args([
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
            ])
            .arg(format!("--window-size={window}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium runs")
    })
    .await
    .unwrap()
}

/// The page's DOM once its scripts ran; asserts that Chromium succeeded, that the page
/// finished a refresh and that its console logged no error.
pub async fn dom(url: &str, window: &str) -> String {
    let out = chromium(url, window, vec!["--dump-dom".into()]).await;
    let html = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    assert!(
        html.contains("updated "),
        "the page did not finish a refresh:\n{html}"
    );
    let errors = console_errors(&log);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    html
}

/// The lines of Chromium's log (its stderr with `--enable-logging=stderr`) that are console messages or
/// uncaught exceptions of the page (`CONSOLE(...)`, `Uncaught`).
pub fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains(":ERROR:") && l.contains("console")
        })
        .collect()
}

/// Saves a screenshot of `url` as `target/dashboard/{name}` and asserts it holds a rendered page.
pub async fn screenshot(url: &str, window: &str, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let shot: PathBuf = dir.join(name);
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        url,
        window,
        vec![format!("--screenshot={}", shot.display())],
    )
    .await;
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
}

/// The rows (as cell texts) of the table of the panel headed `title`.
pub fn panel_rows(html: &str, title: &str) -> Vec<Vec<String>> {
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
