//! The vehicle server (WebSvr) assembled from its parts; `main.rs`, the demo and the tests start it from here.

pub mod api;
pub mod config;
pub mod http;
pub mod link;
pub mod tables;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fleet::{AdminApi, AdminToken, Fleet, Panel};

use self::config::VehicleConfig;
use self::link::Instances;

/// The log filter when `RUST_LOG` is unset.
pub const LOG_DEFAULT: &str = "info";

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running vehicle server.
pub struct Running {
    /// The fleet core (store, admin API).
    pub fleet: Fleet,
    /// Where the mini-program API is.
    pub http_addr: SocketAddr,
    /// Where the admin API and dashboard are.
    pub admin_addr: SocketAddr,
    /// The admin token (`generated` holds it in clear when this start made it).
    pub token: AdminToken,
    /// The links to the instances.
    pub links: Arc<Instances>,
    stop: tokio::sync::watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    admin: tokio::task::JoinHandle<std::io::Result<()>>,
    prune: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("http_addr", &self.http_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

fn column_list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Opens the store (with the vehicle tables) as configured.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_fleet(config: &VehicleConfig) -> Result<Fleet, Error> {
    let fleet = Fleet::open(config.fleet.clone()).await?;
    fleet
        .store()
        .migrate_with(tables::migrator(fleet.store().backend()))
        .await?;
    Ok(fleet)
}

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
/// The server could not start, or its shutdown took longer than allowed.
pub async fn serve(config: VehicleConfig) -> Result<(), Error> {
    let deadline = Duration::from_secs(config.fleet.shutdown_timeout_secs);
    let http = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| format!("http.listen {}: {e}", config.http.listen))?;
    let admin = tokio::net::TcpListener::bind(config.fleet.admin.listen)
        .await
        .map_err(|e| format!("fleet.admin.listen {}: {e}", config.fleet.admin.listen))?;
    let running = start_on(config, http, admin).await?;
    println!("mini-program API: http://{}/", running.http_addr);
    fleet::telemetry::announce_dashboard(running.admin_addr, &running.token);
    Ok(fleet::telemetry::stop_on_signal(deadline, || running.shutdown()).await?)
}

/// Starts on listeners bound by the caller; the links to the instances connect in the background.
///
/// # Errors
/// The store cannot be opened, or the configuration is invalid.
pub async fn start_on(
    config: VehicleConfig,
    http: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let fleet = open_fleet(&config).await?;
    start_with(fleet, config, http, admin).await
}

/// Starts on a fleet opened by the caller (a PostgreSQL schema of a test, say); runs the vehicle migrations.
///
/// # Errors
/// The store cannot be migrated, or the configuration is invalid.
pub async fn start_with(
    fleet: Fleet,
    config: VehicleConfig,
    http: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    fleet
        .store()
        .migrate_with(tables::migrator(fleet.store().backend()))
        .await?;
    let token = fleet.admin_token().await?;
    let links = Arc::new(Instances::start(&config.instances, &config.link)?);
    let store = fleet.store().clone();
    let router = http::router(store.clone(), links.clone(), &config.http)?;
    let http_addr = http.local_addr()?;
    let admin_addr = admin.local_addr()?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let http = tokio::spawn(fleet::api::serve(http, router, stopped(stop_rx.clone())));
    let (routes, doc) = api::routes(store.clone(), links.clone());
    let built = AdminApi {
        title: "Vehicle fleet".into(),
        catalog: Arc::new(api::Catalog),
        extra_routes: vec![routes],
        extra_openapi: vec![doc],
        panels: vec![
            Panel {
                title: "Vehicles".into(),
                url: "/api/vehicles?limit=100".into(),
                columns: column_list(&[
                    "dev_id", "instance", "owner", "online", "soc", "lng", "lat", "driving",
                ]),
            },
            Panel {
                title: "Vehicle instances".into(),
                url: "/api/instances".into(),
                columns: column_list(&["name", "addr", "up", "vehicles"]),
            },
        ],
    }
    .build(&fleet, &token);
    let admin = tokio::spawn(fleet::api::serve(
        admin,
        built.router,
        stopped(stop_rx.clone()),
    ));
    let window_ms =
        i64::try_from(config.http.timestamp_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let prune = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            // A hash older than twice the window can only come with a timestamp the window refuses.
            let before = fleet::store::now_ms().saturating_sub(window_ms.saturating_mul(2));
            if let Err(e) = users::prune_hashes(&store, before).await {
                tracing::warn!(error = %e, "seen hashes not pruned");
            }
        }
    });
    tracing::info!(http = %http_addr, admin = %admin_addr, "vehicle server up");
    Ok(Running {
        fleet,
        http_addr,
        admin_addr,
        token,
        links,
        stop,
        http,
        admin,
        prune,
    })
}

impl Running {
    /// Graceful stop: both HTTP servers finish the requests under way, the links close, the store closes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for (name, task) in [("mini-program API", self.http), ("admin API", self.admin)] {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "{name} failed"),
                Err(e) => tracing::error!(error = %e, "{name} task failed"),
            }
        }
        self.prune.abort();
        self.links.shutdown().await;
        self.fleet.shutdown().await;
    }
}
