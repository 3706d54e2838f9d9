//! The foot-scanner station's demo steps: a station with its simulated scanner and cloud in this process, and a
//! pad (device-core's pad session over WebSocket) that books, scans and gets the record.

use std::time::Duration;

use aliscan_proto::{Sex, StationStatus};
use device_core::aliscan::{PadCommand, PadConfig, PadEvent, PadReply, PadSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use tokio::sync::mpsc::Receiver;

use crate::scenario::{Step, StepResult};
use crate::station;

/// How long a step waits for something to happen.
const WAIT: Duration = Duration::from_secs(20);

/// The station demo's state.
pub struct Demo {
    /// Keeps the store and scan files until the end.
    pub data_dir: tempfile::TempDir,
    /// The station.
    pub station: Option<station::Running>,
    pad: Option<(Client<PadSession>, Receiver<ClientEvent<PadEvent>>)>,
    scan_id: String,
}

impl Demo {
    /// Fresh state in a temporary directory.
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            data_dir: tempfile::tempdir().map_err(|e| format!("temporary store: {e}"))?,
            station: None,
            pad: None,
            scan_id: String::new(),
        })
    }

    fn station(&self) -> Result<&station::Running, String> {
        self.station
            .as_ref()
            .ok_or_else(|| "station not started".to_owned())
    }

    /// Stops the pad and the station.
    pub async fn stop(&mut self) {
        if let Some((pad, _)) = self.pad.take() {
            let _ = pad.shutdown().await;
        }
        if let Some(s) = self.station.take() {
            s.shutdown().await;
        }
    }

    async fn call(&self, command: PadCommand) -> Result<PadReply, String> {
        let (pad, _) = self.pad.as_ref().ok_or("pad not connected")?;
        match tokio::time::timeout(WAIT, pad.handle().call(command)).await {
            Ok(Ok(Some(reply))) => Ok(reply),
            other => Err(format!("no reply: {other:?}")),
        }
    }
}

async fn start(d: &mut Demo) -> StepResult {
    let mut settings = station::Settings {
        data_dir: d.data_dir.path().to_path_buf(),
        cloud_sim: true,
        init_time: Duration::from_millis(100),
        ..station::Settings::default()
    };
    settings.scanner.scan_time = Duration::from_millis(700);
    settings.scanner.compute_time = Duration::from_millis(500);
    settings.scanner.model_bytes = 256 * 1024;
    settings.upload.tick = Duration::from_millis(100);
    settings.upload.retry = Some(Duration::from_secs(1));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let running = station::start_on(settings, listener)
        .await
        .map_err(|e| e.to_string())?;
    let addr = running.addr;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running.station.state().status != StationStatus::Free {
        if tokio::time::Instant::now() > deadline {
            return Err("the station did not become free".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.station = Some(running);
    Ok(format!(
        "pad page http://{addr}/, pads at ws://{addr}/aliscan"
    ))
}

async fn connect(d: &mut Demo) -> StepResult {
    let url = format!("ws://{}/aliscan", d.station()?.addr);
    let (client, mut events) = Client::connect_ws(
        PadSession::new(PadConfig::new("demo-pad")),
        url,
        ClientConfig::default(),
    );
    let state = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(PadEvent::Connected(s))) => return Ok(s),
                Some(_) => {}
                None => return Err("pad events ended".to_owned()),
            }
        }
    })
    .await
    .map_err(|_| "the pad did not connect".to_owned())??;
    d.pad = Some((client, events));
    Ok(format!("station is {}", state.status.as_str()))
}

async fn book_and_scan(d: &mut Demo) -> StepResult {
    match d.call(PadCommand::Book).await? {
        PadReply::Status(s) if s.status == StationStatus::Booking => {}
        other => return Err(format!("booking: {other:?}")),
    }
    let scan_id = match d.call(PadCommand::Scan { sex: Sex::Female }).await? {
        PadReply::ScanStarted(s) if !s.scan_id.is_empty() => s.scan_id,
        other => return Err(format!("scan: {other:?}")),
    };
    let (_, events) = d.pad.as_mut().ok_or("pad not connected")?;
    let record = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(PadEvent::ScanFinished(r))) => return Ok(r),
                Some(_) => {}
                None => return Err("pad events ended".to_owned()),
            }
        }
    })
    .await
    .map_err(|_| "no record".to_owned())??;
    let size = record
        .data
        .result
        .as_ref()
        .and_then(|m| m.fit_size_cn)
        .ok_or("no size in the record")?;
    let measured = record
        .data
        .result
        .as_ref()
        .map_or(0, |m| m.iter().filter(|(_, v)| v.is_some()).count());
    d.scan_id = scan_id.clone();
    Ok(format!(
        "{scan_id}: size CN {size}, {measured} measurements, QR code attached"
    ))
}

async fn uploaded(d: &mut Demo) -> StepResult {
    let running = d.station()?;
    let cloud = running.cloud.clone().ok_or("no simulated cloud")?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(r) = cloud.records().get(&d.scan_id) {
            if r.record.is_some() && r.files.len() == 3 {
                let bytes: usize = r.files.values().sum();
                return Ok(format!(
                    "record and 3 files ({bytes} bytes) in the simulated cloud"
                ));
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{} did not reach the cloud", d.scan_id));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn listed(d: &mut Demo) -> StepResult {
    match d.call(PadCommand::Statistics).await? {
        PadReply::Statistics(s) if s.total == 1 && s.uncomplete == 0 => {}
        other => return Err(format!("statistics: {other:?}")),
    }
    match d
        .call(PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        })
        .await?
    {
        PadReply::Records(p) if p.count == 1 => Ok("1 record listed, 0 pending upload".into()),
        other => Err(format!("list: {other:?}")),
    }
}

/// The station demo's steps.
pub fn steps() -> Vec<Step<Demo>> {
    vec![
        Step {
            name: "start station",
            run: |d| Box::pin(start(d)),
        },
        Step {
            name: "pad connects",
            run: |d| Box::pin(connect(d)),
        },
        Step {
            name: "pad books and scans",
            run: |d| Box::pin(book_and_scan(d)),
        },
        Step {
            name: "upload reaches the cloud",
            run: |d| Box::pin(uploaded(d)),
        },
        Step {
            name: "record listed and counted",
            run: |d| Box::pin(listed(d)),
        },
    ]
}
