//! The meeting platform assembled from its parts; `main.rs`, the demo and the tests start it from here.

pub mod api;
pub mod broker;
pub mod config;
pub mod files;
pub mod link;
pub mod meetings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use best_proto::LookupConfig;
use device_core::best::LookupHandler;
use device_core::runtime::http::{LookupServer, LookupServerConfig};
use device_core::runtime::mqtt::{BrokerAddr, MqttConfig, MqttListener};
use device_core::SystemClock;
use fleet::{AdminApi, AdminToken, Fleet, Panel};

use self::config::MeetingConfig;
use self::link::{LinkSettings, TerminalLink};
use self::meetings::{Brokers, Meetings};

/// The log filter when `RUST_LOG` is unset: the embedded broker logs every client connection at info.
pub const LOG_DEFAULT: &str = "info,rumqttd=warn";

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running meeting platform.
pub struct Running {
    /// The fleet core (store, presence, queue).
    pub fleet: Fleet,
    /// Meetings, people, terminals.
    pub meetings: Meetings,
    /// The terminal servers.
    pub link: Arc<TerminalLink>,
    /// The terminals' uploads.
    pub files: files::Files,
    /// best-w: `ws://ADDR/best`.
    pub ws_addr: SocketAddr,
    /// The broker lookup: `http://ADDR`.
    pub lookup_addr: SocketAddr,
    /// The broker best-m terminals use.
    pub broker: BrokerAddr,
    /// Where the admin API and dashboard are.
    pub admin_addr: SocketAddr,
    /// The admin token (`generated` holds it in clear when this start made it).
    pub token: AdminToken,
    lookup: LookupServer,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    admin_stop: tokio::sync::watch::Sender<bool>,
    admin: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("ws_addr", &self.ws_addr)
            .field("lookup_addr", &self.lookup_addr)
            .field("broker", &self.broker)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

fn panel(title: &str, url: &str, columns: &[&str]) -> Panel {
    Panel {
        title: title.into(),
        url: url.into(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// The admin API of the meeting deployment.
fn admin_api(meetings: Meetings, files: files::Files) -> AdminApi {
    let (routes, doc) = api::routes(meetings);
    let (file_routes, file_doc) = files::api::routes(files);
    AdminApi {
        title: "Meeting rooms".into(),
        catalog: Arc::new(link::Catalog),
        extra_routes: vec![routes, file_routes],
        extra_openapi: vec![doc, file_doc],
        panels: vec![
            panel(
                "Terminals and their transport",
                "/api/terminals?limit=50",
                &[
                    "sn",
                    "product_id",
                    "transport",
                    "registered",
                    "accredited",
                    "max_pending",
                ],
            ),
            panel(
                "Meetings",
                "/api/meetings?limit=50",
                &["id", "sn", "name", "applicant", "start_ms", "end_ms"],
            ),
            panel(
                "Check-ins",
                "/api/checkins?limit=50",
                &["meeting_id", "pin", "sn", "kind", "verify_time"],
            ),
            panel(
                "Uploaded files",
                "/api/files?limit=50",
                &["id", "sn", "file_id", "size", "received", "state", "md5"],
            ),
        ],
    }
}

/// The router of the admin API, for tests that check routes against the OpenAPI document.
pub fn admin_router(
    fleet: &Fleet,
    meetings: Meetings,
    files: files::Files,
    token: &AdminToken,
) -> fleet::api::Built {
    admin_api(meetings, files).build(fleet, token)
}

/// Opens the store (with the meeting tables) as configured.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open(config: &MeetingConfig) -> Result<(Fleet, Meetings), Error> {
    let fleet = Fleet::open(config.fleet.clone()).await?;
    let meetings = meetings_of(&fleet).await?;
    Ok((fleet, meetings))
}

/// Migrates the meeting tables of `fleet`'s store, replays the credential journal into it and loads the
/// platform state.
///
/// # Errors
/// The store cannot be migrated or read, or the journal cannot be replayed.
pub async fn meetings_of(fleet: &Fleet) -> Result<Meetings, Error> {
    let migrator = Meetings::migrator(fleet.store().backend());
    fleet.store().migrate_with(&migrator).await?;
    Ok(Meetings::load(fleet.clone()).await?)
}

/// Runs the platform until SIGINT or SIGTERM, then stops gracefully within `fleet.shutdown_timeout_secs`.
///
/// # Errors
/// The platform could not start, or its shutdown took longer than allowed.
pub async fn serve(config: MeetingConfig) -> Result<(), Error> {
    let deadline = Duration::from_secs(config.fleet.shutdown_timeout_secs);
    let running = start(config).await?;
    println!("best-w: ws://{}/best", running.ws_addr);
    println!("best-m broker: {}", running.broker.url());
    println!("lookup: http://{}", running.lookup_addr);
    fleet::telemetry::announce_dashboard(running.admin_addr, &running.token);
    Ok(fleet::telemetry::stop_on_signal(deadline, || running.shutdown()).await?)
}

async fn bind(addr: SocketAddr, key: &str) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{key} {addr}: {e}").into())
}

/// Binds the configured listeners and starts.
///
/// # Errors
/// A listener cannot be bound, the broker cannot be reached, or the store cannot be opened.
pub async fn start(config: MeetingConfig) -> Result<Running, Error> {
    let ws = fleet::listen(config.terminals.ws_listen, 4096)
        .map_err(|e| format!("terminals.ws_listen {}: {e}", config.terminals.ws_listen))?;
    let lookup = bind(config.terminals.lookup_listen, "terminals.lookup_listen").await?;
    let admin = bind(config.fleet.admin.listen, "fleet.admin.listen").await?;
    start_on(config, ws, lookup, admin).await
}

/// The MQTT settings of the platform and of its terminals.
pub fn mqtt_config(config: &MeetingConfig) -> MqttConfig {
    // A broker restart should cost seconds, not the minute a default backoff reaches.
    let backoff = device_core::BackoffConfig::default()
        .initial(Duration::from_millis(250))
        .max(Duration::from_secs(10));
    let mut mqtt = MqttConfig::default()
        .max_payload(config.mqtt.max_payload)
        .backoff(backoff);
    if let (Some(user), Some(password)) = (&config.mqtt.username, &config.mqtt.password) {
        mqtt = mqtt.credentials(user.clone(), password.clone());
    }
    mqtt
}

/// Starts on listeners bound by the caller; the broker is the configured one or the embedded one.
///
/// # Errors
/// The broker cannot be reached or the store cannot be opened.
pub async fn start_on(
    config: MeetingConfig,
    ws: tokio::net::TcpListener,
    lookup: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let fleet = Fleet::open(config.fleet.clone()).await?;
    start_with(fleet, config, ws, lookup, admin).await
}

/// As [`start_on`], over a fleet the caller opened (a store in a PostgreSQL schema of its own, say); the fleet's
/// own configuration wins over `config.fleet`.
///
/// # Errors
/// The broker cannot be reached or the store cannot be migrated.
pub async fn start_with(
    fleet: Fleet,
    config: MeetingConfig,
    ws: tokio::net::TcpListener,
    lookup: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let meetings = meetings_of(&fleet).await?;
    let token = fleet.admin_token().await?;
    let (broker, public_mqtt) = match &config.mqtt.url {
        Some(url) => {
            let broker = BrokerAddr::parse(url).map_err(|e| format!("mqtt.url: {e}"))?;
            let public = config
                .mqtt
                .public_url
                .clone()
                .unwrap_or_else(|| broker.url());
            (broker, public)
        }
        None => {
            let (listen, max) = (config.mqtt.embedded_listen, config.mqtt.max_payload);
            let addr = tokio::task::spawn_blocking(move || broker::start(listen, max)).await??;
            let broker = BrokerAddr::new(addr.ip().to_string(), addr.port());
            let public = format!("mqtt://{}:{}", config.terminals.public_host, addr.port());
            (broker, public)
        }
    };
    let settings = LinkSettings {
        heartbeat: Duration::from_secs(config.terminals.heartbeat_secs.max(1)),
        command_timeout: Duration::from_secs(config.terminals.command_timeout_secs.max(1)),
        max_pending_commands: config.terminals.max_pending_commands.max(1),
        max_message: config.mqtt.max_payload,
        max_connections: config.terminals.max_connections,
        key_exchange: config.terminals.key_exchange,
    };
    let wire = settings_wire(&settings);
    // The embedded broker may still be starting: give it a few seconds.
    let patience = if config.mqtt.url.is_none() { 10_000 } else { 0 };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(patience);
    let listener = loop {
        let attempt = MqttListener::connect(
            &broker,
            &config.mqtt.client_id,
            &wire,
            &mqtt_config(&config),
            Some(device_core::best::starts_link),
        )
        .await;
        match attempt {
            Ok(l) => break l,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(format!("mqtt broker {broker}: {e}").into()),
        }
    };
    let files = files::Files::open(fleet.clone(), &config.fleet.data_dir, config.files.clone())
        .await
        .map_err(|e| format!("{}: {e}", config.fleet.data_dir.join("files").display()))?;
    let (link, pumps) = TerminalLink::start(
        ws,
        Some(listener),
        meetings.clone(),
        files.clone(),
        &settings,
    )?;
    let ws_addr = link.ws_addr();
    meetings.set_brokers(Brokers {
        ws: Some(format!(
            "ws://{}:{}/best",
            config.terminals.public_host,
            ws_addr.port()
        )),
        mqtt: Some(public_mqtt),
    });
    let handler = LookupHandler::new(
        LookupConfig::default(),
        meetings.clone(),
        Arc::new(SystemClock),
    );
    let lookup = LookupServer::spawn(lookup, handler, LookupServerConfig::default())?;
    fleet.start_delivery(link.clone());
    let admin_addr = admin.local_addr()?;
    meetings.set_photo_base(format!(
        "http://{}:{}",
        config.terminals.public_host,
        admin_addr.port()
    ));
    let built = admin_router(&fleet, meetings.clone(), files.clone(), &token);
    let (admin_stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let admin = tokio::spawn(fleet::api::serve(admin, built.router, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    tracing::info!(ws = %ws_addr, broker = %broker, lookup = %lookup.local_addr(), admin = %admin_addr, "meeting platform up");
    Ok(Running {
        fleet,
        meetings,
        ws_addr,
        lookup_addr: lookup.local_addr(),
        broker,
        admin_addr,
        token,
        link,
        files,
        lookup,
        pumps,
        admin_stop,
        admin,
    })
}

/// The transport facts of the platform sessions (the MQTT payload limit is the codec's).
fn settings_wire(settings: &LinkSettings) -> device_core::Wire {
    use device_core::Session as _;
    device_core::best::PlatformSession::new(
        settings.session(),
        device_core::best::MemoryRegistry::new(),
    )
    .wire()
}

impl Running {
    /// Graceful stop: the admin API and the lookup stop, terminal connections close, their last events are
    /// written, command delivery stops after recording what it did, and the store closes.
    pub async fn shutdown(self) {
        let _ = self.admin_stop.send(true);
        match self.admin.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "admin server failed"),
            Err(e) => tracing::error!(error = %e, "admin server task failed"),
        }
        if let Err(e) = self.lookup.shutdown().await {
            tracing::error!(error = %e, "lookup server failed");
        }
        self.link.shutdown().await;
        drop(self.link);
        for pump in self.pumps {
            if let Err(e) = pump.await {
                tracing::error!(error = %e, "event pump failed");
            }
        }
        // Upload messages being written finish before the store closes.
        self.files.close().await;
        self.fleet.shutdown().await;
    }
}
