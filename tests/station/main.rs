//! The station over real sockets (127.0.0.1:0) and a real SQLite file: pads are device-core's pad sessions over
//! WebSocket; the browser test drives the pad page in headless Chromium.

#![forbid(unsafe_code)]
// The modules are shared by several binaries (station, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "../../examples/station/app.rs"]
mod station;

mod browser;
mod flows;
mod journal;
mod upload;

use std::path::Path;
use std::time::Duration;

use aliscan_proto::{ScanRecord, Sex};
use device_core::aliscan::{PadCommand, PadConfig, PadEvent, PadReply, PadSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::SplitMix64;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);

/// Settings with fast hardware and uploader, the store and scan files under `dir`.
pub fn fast_settings(dir: &Path) -> station::Settings {
    let mut s = station::Settings {
        data_dir: dir.to_path_buf(),
        init_time: Duration::from_millis(50),
        cloud_sim: true,
        ..station::Settings::default()
    };
    s.scanner.scan_time = Duration::from_millis(300);
    s.scanner.compute_time = Duration::from_millis(300);
    s.scanner.calibrate_time = Duration::from_millis(100);
    s.scanner.model_bytes = 64 * 1024;
    s.upload.tick = Duration::from_millis(100);
    s.upload.retry = Some(Duration::from_millis(400));
    s.upload.probe_every = Duration::from_millis(200);
    s.upload.request_timeout = Duration::from_secs(5);
    s
}

/// Starts a station with `settings` on 127.0.0.1:0.
pub async fn start(settings: station::Settings) -> station::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = station::start_on(settings, listener).await.unwrap();
    // Ready once `init` is over.
    timeout(WAIT, async {
        while running.station.state().status != aliscan_proto::StationStatus::Free {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the station became free");
    running
}

/// A pad session connected to the station.
pub type Pad = (Client<PadSession>, Receiver<ClientEvent<PadEvent>>);

/// Connects pad `id`.
pub async fn pad(running: &station::Running, id: &str) -> Pad {
    let url = format!("ws://{}/aliscan", running.addr);
    let session = PadSession::new(PadConfig::new(id)).with_rng(Box::new(SplitMix64::seeded(7)));
    let (client, mut events) = Client::connect_ws(session, url, ClientConfig::default());
    timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(PadEvent::Connected(_))) => break,
                Some(_) => {}
                None => panic!("pad events ended"),
            }
        }
    })
    .await
    .expect("the pad connected");
    (client, events)
}

/// Sends a command and returns its reply.
pub async fn call(pad: &Pad, command: PadCommand) -> PadReply {
    match timeout(WAIT, pad.0.handle().call(command)).await {
        Ok(Ok(Some(reply))) => reply,
        other => panic!("no reply: {other:?}"),
    }
}

/// Waits for a pad event matching `f`.
pub async fn wait_for<R>(
    events: &mut Receiver<ClientEvent<PadEvent>>,
    f: impl Fn(&PadEvent) -> Option<R>,
) -> R {
    timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(e)) => {
                    if let Some(r) = f(&e) {
                        return r;
                    }
                }
                Some(_) => {}
                None => panic!("pad events ended"),
            }
        }
    })
    .await
    .expect("the event arrived")
}

/// The pad's next session event.
pub async fn next_event(events: &mut Receiver<ClientEvent<PadEvent>>) -> PadEvent {
    timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(e)) => return e,
                Some(_) => {}
                None => panic!("pad events ended"),
            }
        }
    })
    .await
    .expect("a pad event arrived")
}

/// Polls `check` until it holds.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let ok = timeout(WAIT, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "timed out waiting for {what}");
}

/// Puts `n` computed records straight into the records (no scan), their files under `dir`, one second apart
/// from 2026-01-01 00:00:00 (oldest first, `scanId` `DEV0001-20260101-HHMMSS`); `shape(i, record)` adjusts
/// each before its save. Returns them as saved, once the store has them.
pub async fn put_records(
    running: &station::Running,
    dir: &Path,
    n: usize,
    mut shape: impl FnMut(usize, &mut ScanRecord),
) -> Vec<ScanRecord> {
    let scanner = station::scanner::ScannerSettings {
        data_dir: dir.join("put"),
        model_bytes: 4 * 1024,
        ..station::scanner::ScannerSettings::default()
    };
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap();
    let mut saved = Vec::with_capacity(n);
    for i in 0..n {
        let t = base + chrono::Duration::seconds(i64::try_from(i).unwrap());
        let id = format!("DEV0001-{}", t.format("%Y%m%d-%H%M%S"));
        let mut r = station::scanner::compute(
            &scanner,
            &id,
            &Sex::Female,
            100_000,
            1 + u64::try_from(i).unwrap(),
        )
        .unwrap_or_else(|c| panic!("compute {id}: {}", station::code_text(c)));
        r.scan_id = Some(id);
        r.request_id = Some(format!("req-put-{i}"));
        r.sex = Some(Sex::Female);
        r.create_time = aliscan_proto::StationTime::new(t);
        shape(i, &mut r);
        running
            .records
            .put(&r)
            .unwrap_or_else(|c| panic!("put: {}", station::code_text(c)));
        saved.push(r);
    }
    running.records.flush().await;
    saved
}

/// `GET path` on the station's HTTP side; the status and the body.
pub async fn http_get(running: &station::Running, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        running.addr
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    timeout(WAIT, conn.read_to_end(&mut raw))
        .await
        .expect("the HTTP answer in time")
        .unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "GET {path}: no end of head in {:?}",
                String::from_utf8_lossy(&raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status in {head:?}"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "GET {path}: chunked answer not expected: {head}"
    );
    (status, raw[end + 4..].to_vec())
}
