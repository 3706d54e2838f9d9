//! The foot-scanner station assembled from its parts; `main.rs`, the demo and the tests start it from here.
//!
//! device-core's [`Station`] keeps the protocol (statuses, booking, debug lock, calibration order, replies and
//! broadcasts); this deployment plugs in the simulated scanner ([`scanner`]), the records in the fleet store
//! ([`records`]), the uploader ([`uploader`]) and the simulated Wi-Fi, store directory and USB drive, and
//! answers what the station leaves to it (device info, reachability, statistics, record status and delete).

pub mod cloud;
pub mod qr;
pub mod records;
pub mod scanner;
pub mod uploader;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aliscan_proto::{
    DeviceInfo, Envelope, ErrorCode, ErrorInfo, FileAction, OutcomeStatus, PadMessage, RecordPush,
    RecordStatus, ScanAction, ScanPage, StationMessage, StationStatus, Versions,
};
use device_core::aliscan::{
    HardwareReport, PadConnection, PadLink, SimulatedDirectory, SimulatedMaintenance,
    SimulatedWifi, Station, StationCommand, StationConfig, StationEndpoint, StationEvent,
};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent};
use tokio::sync::{mpsc, watch};

use self::cloud::CloudSim;
use self::records::{Records, StationRecords};
use self::scanner::{ScannerSettings, SimScanner};
use self::uploader::{Reachability, UploadSettings};

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Everything the station reads: flags, with `.server.json` (`--config-dir`) for the spec's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The station's device id (first part of every `scanId`).
    pub device_id: String,
    /// Where the store (`fleet.db`) and the scan files (`scans/`) go.
    pub data_dir: PathBuf,
    /// A `postgres://` URL to keep the records in PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// The PostgreSQL schema (default: the URL's search path).
    pub database_schema: Option<String>,
    /// The simulated scanner.
    pub scanner: ScannerSettings,
    /// The uploader (its cloud URL; `cloud_sim` sets it to the local stand-in).
    pub upload: UploadSettings,
    /// Serve the simulated cloud at `/cloud` on the station's port and upload to it.
    pub cloud_sim: bool,
    /// How long a booking lasts without a scan (`validBookPeriod`).
    pub book_period: Option<Duration>,
    /// How often the record statistics are pushed to every pad (`cron.statistics`).
    pub statistics_every: Option<Duration>,
    /// How long the station stays `init` after start before it is `free`.
    pub init_time: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            device_id: "DEV0001".into(),
            data_dir: PathBuf::from("data/station"),
            database_url: None,
            database_schema: None,
            scanner: ScannerSettings::default(),
            upload: UploadSettings::default(),
            cloud_sim: false,
            book_period: Some(Duration::from_secs(3 * 3600)),
            statistics_every: Some(Duration::from_secs(600)),
            init_time: Duration::from_millis(500),
        }
    }
}

impl Settings {
    /// Applies a `.server.json` (aliscan.md): the intervals (`retryUploadInterval`, `deleteLife`,
    /// `validBookPeriod`, with the spec's grammar: a bare number is hours, anything unparsable is "never"),
    /// the QR code's size and URL prefix, and `cron.statistics`. The WebSocket path stays `/aliscan`
    /// (DECISIONS.md).
    pub fn apply_server_json(&mut self, config: &aliscan_proto::ServerConfig) {
        let lf = &config.local_file;
        self.upload.retry = lf.retry_upload_interval.to_duration();
        self.upload.delete_life = lf.delete_life.to_duration();
        self.book_period = lf.valid_book_period.to_duration();
        if config.qr_code.size > 0 {
            self.scanner.qr_size = config.qr_code.size;
        }
        if !config.qr_code.url_prefix.is_empty() && config.qr_code.url_prefix != "xxx" {
            self.scanner.qr_prefix = config.qr_code.url_prefix.clone();
        }
        self.statistics_every = config.cron.statistics.every_duration();
        if config.ws.url_prefix != device_core::aliscan::WS_PATH {
            tracing::warn!(
                configured = %config.ws.url_prefix,
                "ws.urlPrefix is ignored: the station serves pads at /aliscan"
            );
        }
    }

    /// Reads `<dir>/.server.json` into these settings.
    ///
    /// # Errors
    /// The file cannot be read, or a value does not fit (the error names its key path).
    pub fn read_config_dir(&mut self, dir: &std::path::Path) -> Result<(), Error> {
        let path = dir.join(".server.json");
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config = aliscan_proto::ServerConfig::from_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.apply_server_json(&config);
        Ok(())
    }
}

/// A running station.
pub struct Running {
    /// Where pads connect (`http://ADDR/` page, `ws://ADDR/aliscan`).
    pub addr: SocketAddr,
    /// The station, to command it and read its state.
    pub station: StationEndpoint,
    /// The records.
    pub records: Records,
    /// The simulated cloud, when `cloud_sim` is set.
    pub cloud: Option<CloudSim>,
    /// Whether the cloud answered last.
    pub reach: Reachability,
    server: Server<PadLink>,
    store: fleet::Store,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Opens the store of `settings` and migrates the records table.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_store(settings: &Settings) -> Result<fleet::Store, Error> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| format!("{}: {e}", settings.data_dir.display()))?;
    let store = match &settings.database_url {
        Some(url) => fleet::Store::connect(url, settings.database_schema.as_deref()).await?,
        None => fleet::Store::open_sqlite(&settings.data_dir).await?,
    };
    store
        .migrate_with(records::migrator(store.backend()))
        .await?;
    Ok(store)
}

/// Runs the station on `listen` until SIGINT or SIGTERM.
///
/// # Errors
/// The port cannot be bound or the store opened.
pub async fn serve(settings: Settings, listen: SocketAddr) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen {listen}: {e}"))?;
    let running = start_on(settings, listener).await?;
    println!("pad page: http://{}/", running.addr);
    println!("websocket: ws://{}/aliscan", running.addr);
    if running.cloud.is_some() {
        println!("simulated cloud: http://{}/cloud", running.addr);
    }
    fleet::telemetry::shutdown_signal().await;
    running.shutdown().await;
    Ok(())
}

/// Starts on a listener bound by the caller.
///
/// # Errors
/// The store cannot be opened.
pub async fn start_on(
    mut settings: Settings,
    listener: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let addr = listener.local_addr()?;
    let store = open_store(&settings).await?;
    let (records, writer) = Records::open(store.clone(), &settings.data_dir).await?;
    let cloud = settings.cloud_sim.then(CloudSim::new);
    if cloud.is_some() {
        settings.upload.cloud = Some(format!("http://{addr}/cloud"));
    }
    if settings.scanner.data_dir == ScannerSettings::default().data_dir {
        settings.scanner.data_dir = settings.data_dir.join("scans");
    }
    let (hw_tx, mut hw_rx) = mpsc::unbounded_channel::<HardwareReport>();
    let (upload_handle, upload_rx) = uploader::channel();
    let wifi = SimulatedWifi::new()
        .network("shop-5g", "scan1234", -48, true)
        .network("shop-guest", "guest", -67, false)
        .network("backroom", "backroom", -80, true);
    let directory = SimulatedDirectory::new("Demo Shoes")
        .store("Hangzhou West Lake", "HZ001")
        .store("Shanghai Nanjing Rd", "SH002")
        .store("Beijing Sanlitun", "BJ003");
    let maintenance = SimulatedMaintenance::new();
    maintenance.set_log_size(3 << 20);
    let station = Station::new(
        StationConfig::new(settings.device_id.clone())
            .initial_status(StationStatus::Init)
            .book_period(settings.book_period),
        Box::new(SimScanner::new(settings.scanner.clone(), hw_tx)),
        Box::new(StationRecords(records.clone())),
        Box::new(upload_handle),
    )
    .wifi(Box::new(wifi))
    .stores(Box::new(directory))
    .maintenance(Box::new(maintenance));
    let endpoint = StationEndpoint::new(station);
    let (ws_side, http_side, accept) = web::split(listener)?;
    let (server, mut events) = Server::spawn(ws_side, endpoint.clone(), ServerConfig::default())?;
    let (stop, stop_rx) = watch::channel(false);
    let reach = Reachability::default();
    let mut tasks = vec![accept];

    // Hardware reports to the station.
    {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(report) = hw_rx.recv().await {
                let _ = endpoint.handle_command(
                    device_core::runtime::now(),
                    StationCommand::Hardware(report),
                );
            }
        }));
    }
    // What the station leaves to the deployment.
    {
        let ctx = Deployment {
            station: endpoint.clone(),
            records: records.clone(),
            reach: reach.clone(),
            device_id: settings.device_id.clone(),
        };
        tasks.push(tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let ServerEvent::Shared(e) = event {
                    ctx.station_event(e).await;
                }
            }
        }));
    }
    tasks.push(tokio::spawn(uploader::run(
        settings.upload.clone(),
        records.clone(),
        endpoint.clone(),
        reach.clone(),
        upload_rx,
        stop_rx.clone(),
    )));
    if let Some(every) = settings.statistics_every {
        let (endpoint, records, mut stop) = (endpoint.clone(), records.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tick.tick() => {}
                }
                if let Ok(s) = records.statistics().await {
                    let msg = StationMessage::FilesStatistics(Envelope::new("", s));
                    let _ = endpoint.handle_command(
                        device_core::runtime::now(),
                        StationCommand::Broadcast(msg),
                    );
                }
            }
        }));
    }
    // Start-up: `init` until the hardware is ready.
    {
        let endpoint = endpoint.clone();
        let init = settings.init_time;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(init).await;
            let _ = endpoint.handle_command(
                device_core::runtime::now(),
                StationCommand::SetStatus {
                    status: StationStatus::Free,
                    error: ErrorInfo::ok(),
                },
            );
        }));
    }
    let mut router = web::router(records.clone());
    if let Some(c) = &cloud {
        router = router.nest("/cloud", c.router());
    }
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(async move {
        axum::serve(http_side, router)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, "station up");
    Ok(Running {
        addr,
        station: endpoint,
        records,
        cloud,
        reach,
        server,
        store,
        stop,
        tasks,
        http,
        writer,
    })
}

impl Running {
    /// Stops: pads are disconnected, the HTTP side finishes its requests, every record save is written, the
    /// store closes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.shutdown().await;
        let _ = self.http.await;
        for t in &self.tasks {
            t.abort();
        }
        self.records.flush().await;
        drop(self.records);
        self.writer.abort();
        self.store.close().await;
    }
}

/// Answers what the station passes on.
struct Deployment {
    station: StationEndpoint,
    records: Records,
    reach: Reachability,
    device_id: String,
}

impl Deployment {
    fn send(&self, to: PadConnection, message: StationMessage) {
        if let Err(e) = self.station.handle_command(
            device_core::runtime::now(),
            StationCommand::Send { to, message },
        ) {
            tracing::debug!(conn = to.get(), error = %e, "answer not sent");
        }
    }

    async fn station_event(&self, event: StationEvent) {
        match event {
            StationEvent::Message { conn, message } => self.answer(conn, message).await,
            StationEvent::ScanFinished(r) => {
                tracing::info!(scan = ?r.scan_id, "scan finished and stored");
            }
            StationEvent::ScanFailed { scan_id, error } => {
                tracing::info!(scan = %scan_id, code = error.get(), "scan failed");
            }
            StationEvent::Malformed { conn, error } => {
                tracing::info!(conn = conn.get(), %error, "malformed pad message; connection closed");
            }
            _ => {}
        }
    }

    async fn answer(&self, conn: PadConnection, message: PadMessage) {
        match message {
            PadMessage::DeviceInfo(env) => {
                let info = DeviceInfo {
                    status: OutcomeStatus::Success,
                    error: ErrorInfo::ok(),
                    model_name: Some("devproto-sim".into()),
                    sn: Some(format!("SN-{}", self.device_id)),
                    ssid: None,
                    ap: Some(format!("AP-{}", self.device_id)),
                    device_id: Some(self.device_id.clone()),
                    versions: Versions {
                        version: Some(env!("CARGO_PKG_VERSION").into()),
                        ..Versions::default()
                    },
                    prev: None,
                };
                self.send(
                    conn,
                    StationMessage::DeviceInfoResult(Envelope {
                        pad_id: env.pad_id,
                        data: info,
                    }),
                );
            }
            PadMessage::NetQuery(env) => {
                let up = self.reach.get().unwrap_or(false);
                self.send(
                    conn,
                    StationMessage::NetResult(Envelope {
                        pad_id: env.pad_id,
                        data: up,
                    }),
                );
            }
            PadMessage::FilesAction(env) => match env.data.action {
                FileAction::Statistics => match self.records.statistics().await {
                    Ok(s) => self.send(
                        conn,
                        StationMessage::FilesStatistics(Envelope {
                            pad_id: env.pad_id,
                            data: s,
                        }),
                    ),
                    Err(e) => tracing::error!(error = %e, "statistics not read"),
                },
                FileAction::Status => {
                    let list: Vec<_> = env
                        .data
                        .scan_ids
                        .iter()
                        .flatten()
                        .filter_map(|id| self.records.get(id))
                        .collect();
                    let page = ScanPage {
                        count: u64::try_from(list.len()).unwrap_or(0),
                        page: 1,
                        page_size: u32::try_from(list.len().max(1)).unwrap_or(10),
                        list,
                    };
                    self.send(
                        conn,
                        StationMessage::FilesStatus(Envelope {
                            pad_id: env.pad_id,
                            data: page,
                        }),
                    );
                }
                FileAction::Delete => {
                    for id in env.data.scan_ids.iter().flatten() {
                        let Some(mut r) = self.records.get(id) else {
                            continue;
                        };
                        r.status = Some(RecordStatus::Deleted);
                        r.update_pad_id.clone_from(&env.pad_id);
                        if self.records.put(&r).is_ok() {
                            if let Some(dir) = &r.save_path {
                                let _ = tokio::fs::remove_dir_all(dir).await;
                            }
                            let msg = StationMessage::FilesUpdate(RecordPush {
                                pad_id: env.pad_id.clone(),
                                scan_id: id.clone(),
                                data: Box::new(r),
                            });
                            let _ = self.station.handle_command(
                                device_core::runtime::now(),
                                StationCommand::Broadcast(msg),
                            );
                        }
                    }
                }
                other => tracing::debug!(action = %other.as_str(), "files action ignored"),
            },
            PadMessage::ScanAction(env) => match env.data.action {
                // The station passes on only `open` and `license`: the simulated station is always open and
                // licensed, so there is nothing to do but answer with the status.
                ScanAction::Open | ScanAction::License => {
                    let state = self.station.state();
                    self.send(
                        conn,
                        StationMessage::ScanStatus(Envelope {
                            pad_id: env.pad_id,
                            data: state,
                        }),
                    );
                }
                other => {
                    tracing::debug!(action = %other.as_str(), "scan action not passed on by the station ignored");
                }
            },
            PadMessage::FilesRequest(env) => {
                tracing::debug!(request = %env.data.request_id, "files/scan/request for an unknown requestId");
            }
            other => tracing::debug!(topic = other.topic(), "pad message not handled"),
        }
    }
}

/// The catalogue code of a failure, for logs and tests.
pub fn code_text(code: ErrorCode) -> String {
    format!(
        "{} {}",
        code.get(),
        code.description_en().unwrap_or("unknown code")
    )
}
