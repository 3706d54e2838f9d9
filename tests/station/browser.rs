//! The pad page in headless Chromium, driven over the DevTools protocol (skipped, with a notice, when
//! `/usr/bin/chromium` is absent): two pads at once, a tablet-sized and a phone-sized one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{fast_settings, put_records, start, WAIT};

const CHROMIUM: &str = "/usr/bin/chromium";

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// A DevTools connection to one browser; pages are flat sessions on it.
struct Cdp {
    sink: tokio::sync::Mutex<Sink>,
    next: AtomicU64,
    waiting: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    /// Console errors and exceptions, per session.
    errors: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Cdp {
    async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let (sink, mut stream) = ws.split();
        let waiting: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let errors: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let (w, e) = (waiting.clone(), errors.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if let Some(id) = v["id"].as_u64() {
                    if let Some(tx) = w.lock().unwrap().remove(&id) {
                        let _ = tx.send(v);
                    }
                    continue;
                }
                let session = v["sessionId"].as_str().unwrap_or("").to_owned();
                let method = v["method"].as_str().unwrap_or("");
                let error = match method {
                    "Runtime.consoleAPICalled" if v["params"]["type"] == "error" => {
                        Some(v["params"]["args"].to_string())
                    }
                    "Runtime.exceptionThrown" => Some(v["params"]["exceptionDetails"].to_string()),
                    "Log.entryAdded" if v["params"]["entry"]["level"] == "error" => {
                        Some(v["params"]["entry"]["text"].to_string())
                    }
                    _ => None,
                };
                if let Some(error) = error {
                    e.lock().unwrap().entry(session).or_default().push(error);
                }
            }
        });
        Self {
            sink: tokio::sync::Mutex::new(sink),
            next: AtomicU64::new(1),
            waiting,
            errors,
        }
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::text(msg.to_string()))
            .await
            .unwrap();
        let reply = tokio::time::timeout(WAIT, rx)
            .await
            .unwrap_or_else(|_| panic!("{method}: no reply within {WAIT:?}"))
            .unwrap();
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// Opens a page of `width` x `height` (mobile: touch and a phone's viewport) at `url`.
    async fn page(&self, url: &str, width: u32, height: u32, mobile: bool) -> Page<'_> {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        for m in ["Runtime.enable", "Page.enable", "Log.enable"] {
            self.call(Some(&session), m, json!({})).await;
        }
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
        self.call(Some(&session), "Page.navigate", json!({ "url": url }))
            .await;
        Page { cdp: self, session }
    }
}

struct Page<'a> {
    cdp: &'a Cdp,
    session: String,
}

impl Page<'_> {
    async fn eval(&self, expression: &str) -> Value {
        let r = self
            .cdp
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expression` is truthy.
    async fn until(&self, what: &str, expression: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            // Before the page has loaded its elements are missing: not yet, rather than an error.
            let v = self
                .eval(&format!(
                    "(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"
                ))
                .await;
            if v == json!(true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let body = self.eval("document.body.innerText").await;
                panic!("timed out waiting for {what} ({expression}); page text:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn click(&self, id: &str) {
        let ok = self
            .eval(&format!(
                "(() => {{ const b = document.getElementById('{id}'); if (!b || b.disabled) return false; b.click(); return true; }})()"
            ))
            .await;
        assert_eq!(ok, json!(true), "#{id} missing or disabled");
    }

    async fn fill(&self, id: &str, value: &str) {
        self.eval(&format!(
            "document.getElementById('{id}').value = {}",
            json!(value)
        ))
        .await;
    }

    async fn text(&self, id: &str) -> String {
        self.eval(&format!("document.getElementById('{id}').textContent"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn screenshot(&self, path: &Path) {
        // A background page draws no frames; the one in front does.
        self.cdp
            .call(Some(&self.session), "Page.bringToFront", json!({}))
            .await;
        let shot = self
            .cdp
            .call(
                Some(&self.session),
                "Page.captureScreenshot",
                json!({ "format": "png" }),
            )
            .await;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, &bytes).unwrap();
        assert!(
            bytes.len() > 10_000,
            "screenshot is only {} bytes",
            bytes.len()
        );
    }

    fn errors(&self) -> Vec<String> {
        self.cdp
            .errors
            .lock()
            .unwrap()
            .get(&self.session)
            .cloned()
            .unwrap_or_default()
    }
}

fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("station");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pads_in_chromium_book_scan_list_and_calibrate() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("notice: {CHROMIUM} is absent; the pad page browser test is skipped (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fast_settings(dir.path());
    settings.scanner.fail_step = Some(aliscan_proto::CalibrationStep::C3);
    settings.scanner.scan_time = Duration::from_millis(800);
    settings.scanner.compute_time = Duration::from_millis(600);
    let running = start(settings).await;
    let base = format!("http://{}/", running.addr);
    // Eleven older records already in the store (two pages with the scan to come); the oldest is another
    // customer's.
    let older = put_records(&running, dir.path(), 11, |i, r| {
        if i == 0 {
            r.user_info.as_mut().unwrap().name = Some("Li Lei".into());
        }
    })
    .await;
    let li_lei = older[0].scan_id.clone().unwrap();
    // A second station whose scanner sees too few points.
    let sparse_dir = tempfile::tempdir().unwrap();
    let mut sparse = fast_settings(sparse_dir.path());
    sparse.scanner.points = Some(5_000);
    let sparse = start(sparse).await;

    let profile = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(CHROMIUM)
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
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let ws_url = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("ws://") {
                return line[at..].trim().to_owned();
            }
        }
        panic!("chromium printed no DevTools address");
    })
    .await
    .expect("DevTools address in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let cdp = Cdp::connect(&ws_url).await;

    let a = cdp
        .page(&format!("{base}?pad=pad-a&lang=en"), 1280, 800, false)
        .await;
    let b = cdp
        .page(&format!("{base}?pad=pad-b&lang=zh"), 390, 844, true)
        .await;
    for p in [&a, &b] {
        p.until(
            "the station is free",
            "document.getElementById('status').dataset.status === 'free'",
        )
        .await;
    }

    // pad-a books; pad-b sees the booking, and is refused when it tries.
    a.fill("name", "Wang Fang").await;
    a.fill("telephone", "13800000000").await;
    a.click("book").await;
    a.until(
        "pad-a holds the booking",
        "document.getElementById('holder').textContent === 'pad-a'",
    )
    .await;
    b.until(
        "pad-b sees pad-a's booking",
        "document.getElementById('holder').textContent === 'pad-a' && document.getElementById('status').dataset.status === 'booking'",
    )
    .await;
    assert_eq!(
        b.eval("document.getElementById('book').disabled").await,
        json!(true)
    );
    // The button is disabled; the protocol refusal still shows when the pad sends the booking anyway.
    b.eval("S.want = 'book'; send('equipment/scan/action', { action: 'book' })")
        .await;
    b.until(
        "pad-b is told who holds the station",
        "document.getElementById('notice').textContent.includes('pad-a') && document.getElementById('notice').className === 'err'",
    )
    .await;

    // Scan: progress through the stages, then the result with its QR image and measurements.
    a.click("start").await;
    a.until(
        "scanning shows",
        "document.querySelector('#stages span[data-s=scanning]').className === 'on' && parseFloat(document.getElementById('bar').style.width) > 0",
    )
    .await;
    b.until(
        "pad-b sees the scan",
        "['scanning','computing'].includes(document.getElementById('status').dataset.status)",
    )
    .await;
    a.until(
        "computing shows",
        "document.querySelector('#stages span[data-s=computing]').className === 'on'",
    )
    .await;
    a.until(
        "the result with a decoded QR image",
        "!document.getElementById('result').hidden && document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 100",
    )
    .await;
    let scan_id = a.text("scanid").await;
    assert!(scan_id.starts_with("DEV0001-"), "{scan_id}");
    let rows = a
        .eval("document.querySelectorAll('#measurements tr').length")
        .await;
    assert!(rows.as_u64().unwrap() >= 25, "{rows}");
    assert_ne!(a.text("size-cn").await, "-");
    a.until(
        "the customer details are saved",
        "document.getElementById('notice').className === 'ok'",
    )
    .await;
    b.until(
        "pad-b sees the station free again",
        "document.getElementById('status').dataset.status === 'free'",
    )
    .await;

    // The record is in the list (newest first), on the first of two pages.
    a.click("tab-records").await;
    let row = format!("document.querySelector('#records-body tr[data-scan=\"{scan_id}\"]')");
    let rows = "document.querySelectorAll('#records-body tr')";
    a.until("the record is listed", &row).await;
    a.until(
        "with the customer's name",
        &format!("{row} && {row}.textContent.includes('Wang Fang')"),
    )
    .await;
    a.until(
        "the first of two pages",
        &format!("document.getElementById('pageinfo').textContent === 'page 1 of 2, 12 records' && {rows}.length === 10"),
    )
    .await;
    // Next: the second page holds the two oldest records.
    a.click("next").await;
    a.until(
        "the second page",
        &format!("document.getElementById('pageinfo').textContent === 'page 2 of 2, 12 records' && {rows}.length === 2"),
    )
    .await;
    assert!(
        a.eval(&format!(
            "!!document.querySelector('#records-body tr[data-scan=\"{li_lei}\"]')"
        ))
        .await
            == json!(true),
        "the oldest record is not on page 2"
    );
    assert_eq!(
        a.eval("document.getElementById('next').disabled").await,
        json!(true)
    );

    // The search shows only the matching rows: this customer, the other one, nobody.
    let only = |id: &str| {
        format!(
            "{rows}.length === 1 && {rows}[0].dataset.scan === '{id}' && document.getElementById('pageinfo').textContent.startsWith('page 1 of 1, 1 ')"
        )
    };
    a.fill("search", "wang").await;
    a.click("search-btn").await;
    a.until("the search finds only Wang Fang's record", &only(&scan_id))
        .await;
    a.fill("search", "li lei").await;
    a.click("search-btn").await;
    a.until("the search finds only Li Lei's record", &only(&li_lei))
        .await;
    a.fill("search", "nobody").await;
    a.click("search-btn").await;
    a.until(
        "a search matching nothing shows no rows",
        &format!("{rows}.length === 0 && document.getElementById('pageinfo').textContent.endsWith(' 0 records')"),
    )
    .await;
    a.fill("search", "wang").await;
    a.click("search-btn").await;
    a.until("the search finds it again", &only(&scan_id)).await;
    a.eval(&format!("{row}.click()")).await;
    a.until(
        "the detail shows its QR code",
        "document.querySelector('#detail img.qr')",
    )
    .await;

    // Calibration: the injected step fails with its catalogue message, in English and in Chinese.
    a.click("tab-calib").await;
    a.click("calib-ref").await;
    a.until(
        "c3 fails",
        "document.getElementById('step-c3').className === 'fail'",
    )
    .await;
    assert_eq!(
        a.eval("document.getElementById('step-c2').className").await,
        json!("ok")
    );
    let msg = a.text("calib-msg").await;
    assert!(
        msg.contains("100202") && msg.contains("image capture failed"),
        "{msg}"
    );
    b.click("tab-calib").await;
    b.click("calib-ref").await;
    b.until(
        "c3 fails on pad-b",
        "document.getElementById('step-c3').className === 'fail'",
    )
    .await;
    let msg = b.text("calib-msg").await;
    assert!(msg.contains("采图失败"), "{msg}");

    // Settings: Wi-Fi networks and the statistics from the store.
    b.click("tab-settings").await;
    b.click("wifi-scan").await;
    b.until(
        "the networks are listed",
        "document.querySelectorAll('#wifi-list tr').length === 3",
    )
    .await;
    b.until(
        "the statistics count the records",
        "document.querySelector('#stats td[data-k=total]') && document.querySelector('#stats td[data-k=total]').textContent === '12'",
    )
    .await;
    // The store: unbound at first, then bound through the page.
    b.until(
        "the brand is answered",
        "document.getElementById('brand').textContent !== '-'",
    )
    .await;
    let brand = b.text("brand").await;
    assert!(!brand.contains("Shanghai Nanjing Rd"), "{brand}");
    b.click("store-list").await;
    b.until(
        "the stores are listed",
        "document.querySelectorAll('#stores tr').length === 3",
    )
    .await;
    assert_eq!(
        b.eval("(() => { const x = document.querySelector('#stores button[data-name=\"Shanghai Nanjing Rd\"]'); if (!x) return false; x.click(); return true; })()")
            .await,
        json!(true),
        "no bind button for Shanghai Nanjing Rd"
    );
    b.until(
        "the binding shows",
        "document.getElementById('store-msg').textContent === 'OK' && document.getElementById('brand').textContent === 'Demo Shoes / Shanghai Nanjing Rd'",
    )
    .await;

    // Debug mode locks the station to pad-b; pad-a sees it and may not book.
    b.click("debug-on").await;
    a.until(
        "pad-a sees pad-b's debug lock",
        "document.getElementById('status').dataset.status === 'debug' && document.getElementById('holder').textContent === 'pad-b' && document.getElementById('book').disabled",
    )
    .await;
    b.click("debug-off").await;
    a.until(
        "the station is free again",
        "document.getElementById('status').dataset.status === 'free'",
    )
    .await;

    // Too few points: the scan fails with the catalogue's 100205 and its text.
    let c = cdp
        .page(
            &format!("http://{}/?pad=pad-c&lang=en", sparse.addr),
            1280,
            800,
            false,
        )
        .await;
    c.until(
        "the sparse station is free",
        "document.getElementById('status').dataset.status === 'free'",
    )
    .await;
    c.click("start").await;
    c.until(
        "the point-count failure shows",
        "document.getElementById('notice').className === 'err' && document.getElementById('notice').textContent === '100205 too few points in the point cloud'",
    )
    .await;
    assert_eq!(
        c.eval("document.getElementById('result').hidden").await,
        json!(true)
    );
    assert!(sparse.records.all().is_empty());
    assert!(
        c.errors().is_empty(),
        "pad-c console errors: {:?}",
        c.errors()
    );

    // Screenshots at both sizes: the tablet on its result, the phone on its settings.
    a.click("tab-scan").await;
    a.screenshot(&target_dir().join("pad-tablet-1280x800.png"))
        .await;
    b.screenshot(&target_dir().join("pad-phone-390x844.png"))
        .await;
    assert!(
        a.errors().is_empty(),
        "pad-a console errors: {:?}",
        a.errors()
    );
    assert!(
        b.errors().is_empty(),
        "pad-b console errors: {:?}",
        b.errors()
    );

    let _ = cdp.call(None, "Browser.close", json!({})).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    sparse.shutdown().await;
    running.shutdown().await;
}
