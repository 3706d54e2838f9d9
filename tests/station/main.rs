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
