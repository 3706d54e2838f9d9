//! The access server assembled from its parts; `main.rs`, the demo and the tests start it from here.

pub mod api;
pub mod config;
pub mod link;
pub mod people;
pub mod records;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fleet::{AdminApi, AdminToken, Fleet, Panel};

use self::config::AccessConfig;
use self::link::{LinkSettings, TerminalLink};
use self::people::People;
use self::records::Records;

/// The log filter when `RUST_LOG` is unset.
pub const LOG_DEFAULT: &str = "info";

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running access server.
pub struct Running {
    /// The fleet core (store, presence, queue).
    pub fleet: Fleet,
    /// People and pushes.
    pub people: People,
    /// Access records.
    pub records: Records,
    /// Where terminals connect over raw TCP.
    pub tcp_addr: SocketAddr,
    /// Where terminals connect over WebSocket.
    pub ws_addr: SocketAddr,
    /// Where the admin API and dashboard are.
    pub admin_addr: SocketAddr,
    /// The admin token (`generated` holds it in clear when this start made it).
    pub token: AdminToken,
    link: Arc<TerminalLink>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
    admin_stop: tokio::sync::watch::Sender<bool>,
    admin: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The admin API of the access deployment.
fn admin_api(people: People, records: Records, max_body: usize) -> AdminApi {
    let (routes, doc) = api::routes(api::AccessApi { people, records }, max_body);
    AdminApi {
        title: "Access terminals".into(),
        catalog: Arc::new(link::Catalog),
        extra_routes: vec![routes],
        extra_openapi: vec![doc],
        panels: vec![
            Panel {
                title: "Terminals".into(),
                url: "/api/terminals?limit=50".into(),
                columns: [
                    "device_id",
                    "community_code",
                    "address",
                    "device_ip",
                    "device_port",
                    "software_version",
                    "hardware_version",
                    "transport",
                ]
                .map(String::from)
                .to_vec(),
            },
            Panel {
                title: "People".into(),
                url: "/api/persons?limit=50".into(),
                columns: [
                    "person_id",
                    "person_name",
                    "community_code",
                    "card_number",
                    "version",
                ]
                .map(String::from)
                .to_vec(),
            },
            Panel {
                title: "Pushes".into(),
                url: "/api/pushes?limit=50".into(),
                columns: [
                    "person_id",
                    "device_id",
                    "state",
                    "code",
                    "message",
                    "version",
                ]
                .map(String::from)
                .to_vec(),
            },
            Panel {
                title: "Access records".into(),
                url: "/api/access?limit=50".into(),
                columns: [
                    "time",
                    "device_id",
                    "person_id",
                    "card_number",
                    "open_door_type",
                    "in_out_type",
                ]
                .map(String::from)
                .to_vec(),
            },
        ],
    }
}

/// The router of the admin API, for tests that check routes against the OpenAPI document.
pub fn admin_router(
    fleet: &Fleet,
    people: People,
    records: Records,
    token: &AdminToken,
) -> fleet::api::Built {
    admin_api(people, records, 16 * 1024 * 1024).build(fleet, token)
}

/// Opens the store (with the access tables) as configured.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_fleet(config: &AccessConfig) -> Result<Fleet, Error> {
    let fleet = Fleet::open(config.fleet.clone()).await?;
    let migrator = People::migrator(fleet.store().backend());
    fleet.store().migrate_with(migrator).await?;
    Ok(fleet)
}

/// Runs the server until SIGINT or SIGTERM, then stops gracefully within `fleet.shutdown_timeout_secs`.
///
/// # Errors
/// The server could not start, or its shutdown took longer than allowed.
pub async fn serve(config: AccessConfig) -> Result<(), Error> {
    let deadline = Duration::from_secs(config.fleet.shutdown_timeout_secs);
    let running = start(config).await?;
    println!("terminals (tcp): {}", running.tcp_addr);
    println!("terminals (ws):  ws://{}/", running.ws_addr);
    fleet::telemetry::announce_dashboard(running.admin_addr, &running.token);
    Ok(fleet::telemetry::stop_on_signal(deadline, || running.shutdown()).await?)
}

/// Binds the configured listeners and starts.
///
/// # Errors
/// A listener cannot be bound, or the store cannot be opened.
pub async fn start(config: AccessConfig) -> Result<Running, Error> {
    let backlog = config.terminals.backlog;
    let tcp = fleet::listen(config.terminals.listen, backlog)
        .map_err(|e| format!("terminals.listen {}: {e}", config.terminals.listen))?;
    let ws = fleet::listen(config.terminals.ws_listen, backlog)
        .map_err(|e| format!("terminals.ws_listen {}: {e}", config.terminals.ws_listen))?;
    let admin = tokio::net::TcpListener::bind(config.fleet.admin.listen)
        .await
        .map_err(|e| format!("fleet.admin.listen {}: {e}", config.fleet.admin.listen))?;
    start_on(config, tcp, ws, admin).await
}

/// Starts on listeners bound by the caller.
///
/// # Errors
/// The store cannot be opened.
pub async fn start_on(
    config: AccessConfig,
    tcp: tokio::net::TcpListener,
    ws: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let fleet = open_fleet(&config).await?;
    let token = fleet.admin_token().await?;
    let t = &config.terminals;
    let people = People::new(
        fleet.clone(),
        config.people.max_blob_bytes,
        t.max_message_bytes,
    );
    let (records, writer) = Records::start(fleet.store().clone());
    let settings = LinkSettings {
        max_connections: t.max_connections,
        identify_timeout: Duration::from_secs(t.identify_timeout_secs),
        probe_interval: Duration::from_secs(t.probe_interval_secs.max(1)),
        peer_timeout: Duration::from_secs(t.peer_timeout_secs),
        request_timeout: Duration::from_secs(t.request_timeout_secs),
        max_message: t.max_message_bytes,
        max_pending: t.max_pending,
        max_pending_per_source: t.max_pending_per_source,
        max_concurrent_pushes: t.max_concurrent_pushes,
    };
    let (link, pumps) = TerminalLink::start(
        tcp,
        ws,
        fleet.clone(),
        people.clone(),
        records.clone(),
        &settings,
    )?;
    fleet.start_delivery(link.clone());
    let admin_addr = admin.local_addr()?;
    let built = admin_api(
        people.clone(),
        records.clone(),
        config.people.max_body_bytes,
    )
    .build(&fleet, &token);
    let (admin_stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let admin = tokio::spawn(fleet::api::serve(admin, built.router, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    tracing::info!(tcp = %link.tcp_addr(), ws = %link.ws_addr(), admin = %admin_addr, "access server up");
    Ok(Running {
        tcp_addr: link.tcp_addr(),
        ws_addr: link.ws_addr(),
        fleet,
        people,
        records,
        admin_addr,
        token,
        link,
        pumps,
        writer,
        admin_stop,
        admin,
    })
}

impl Running {
    /// Graceful stop: the admin API finishes its requests, terminal connections close (records under way
    /// are committed and answered first), their last events are written, delivery stops, the store closes.
    pub async fn shutdown(self) {
        let _ = self.admin_stop.send(true);
        match self.admin.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "admin server failed"),
            Err(e) => tracing::error!(error = %e, "admin server task failed"),
        }
        self.link.shutdown().await;
        drop(self.link);
        for pump in self.pumps {
            if let Err(e) = pump.await {
                tracing::error!(error = %e, "event pump failed");
            }
        }
        self.records.close().await;
        if let Err(e) = self.writer.await {
            tracing::error!(error = %e, "records writer failed");
        }
        self.fleet.shutdown().await;
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("tcp_addr", &self.tcp_addr)
            .field("ws_addr", &self.ws_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}
