//! The coffee server assembled from its parts; `main.rs`, the demo and the tests start it from here.

pub mod api;
pub mod config;
pub mod link;
pub mod orders;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fleet::{AdminApi, AdminToken, Fleet, Panel};

use self::config::CoffeeConfig;
use self::link::{LinkSettings, MachineLink};
use self::orders::{Orders, SimulatedProvider};

/// The log filter when `RUST_LOG` is unset. device-core logs each connection's start, end and refusal at debug
/// (10,000 machines reconnecting would write tens of thousands of lines at info); the link summarizes refusals
/// (one line per 10 s with a count) and counts them in `fleet_connections_refused_total`, and failures of the
/// listener itself (out of descriptors) stay at warn.
pub const LOG_DEFAULT: &str = "info";

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running coffee server.
pub struct Running {
    /// The fleet core (store, presence, queue).
    pub fleet: Fleet,
    /// The orders service.
    pub orders: Orders,
    /// Where machines connect.
    pub machines_addr: SocketAddr,
    /// Where the admin API and dashboard are.
    pub admin_addr: SocketAddr,
    /// The admin token (`generated` holds it in clear when this start made it).
    pub token: AdminToken,
    link: Arc<MachineLink>,
    pump: tokio::task::JoinHandle<()>,
    confirmations: tokio::task::JoinHandle<()>,
    confirm_stop: tokio::sync::watch::Sender<bool>,
    admin_stop: tokio::sync::watch::Sender<bool>,
    admin: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The admin API of the coffee deployment.
fn admin_api(orders: Orders) -> AdminApi {
    let (routes, doc) = api::routes(orders);
    AdminApi {
        title: "Coffee fleet".into(),
        catalog: Arc::new(link::Catalog),
        extra_routes: vec![routes],
        extra_openapi: vec![doc],
        panels: vec![
            Panel {
                title: "Orders".into(),
                url: "/api/orders?limit=50".into(),
                columns: [
                    "order_no",
                    "device_id",
                    "product_id",
                    "amount_fen",
                    "state",
                    "refund_due",
                ]
                .map(String::from)
                .to_vec(),
            },
            Panel {
                title: "Sales per machine and day".into(),
                url: "/api/sales?limit=50".into(),
                columns: [
                    "day",
                    "device_id",
                    "dispensed",
                    "revenue_fen",
                    "refunds_due",
                ]
                .map(String::from)
                .to_vec(),
            },
        ],
    }
}

/// The router of the admin API, for tests that check routes against the OpenAPI document.
pub fn admin_router(fleet: &Fleet, orders: Orders, token: &AdminToken) -> fleet::api::Built {
    admin_api(orders).build(fleet, token)
}

/// Opens the store (with the orders table) as configured.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_fleet(config: &CoffeeConfig) -> Result<Fleet, Error> {
    let fleet = Fleet::open(config.fleet.clone()).await?;
    let migrator = Orders::migrator(fleet.store().backend());
    fleet.store().migrate_with(migrator).await?;
    Ok(fleet)
}

/// Runs the server until SIGINT or SIGTERM, then stops gracefully within `fleet.shutdown_timeout_secs`.
/// Prints where machines connect, the dashboard and a newly generated admin token.
///
/// # Errors
/// The server could not start, or its shutdown took longer than allowed.
pub async fn serve(config: CoffeeConfig) -> Result<(), Error> {
    let deadline = Duration::from_secs(config.fleet.shutdown_timeout_secs);
    let running = start(config).await?;
    println!("machines: {}", running.machines_addr);
    fleet::telemetry::announce_dashboard(running.admin_addr, &running.token);
    Ok(fleet::telemetry::stop_on_signal(deadline, || running.shutdown()).await?)
}

/// Binds the configured listeners and starts.
///
/// # Errors
/// A listener cannot be bound, or the store cannot be opened.
pub async fn start(config: CoffeeConfig) -> Result<Running, Error> {
    let machines = fleet::listen(config.machines.listen, config.machines.backlog)
        .map_err(|e| format!("machines.listen {}: {e}", config.machines.listen))?;
    let admin = tokio::net::TcpListener::bind(config.fleet.admin.listen)
        .await
        .map_err(|e| format!("fleet.admin.listen {}: {e}", config.fleet.admin.listen))?;
    start_on(config, machines, admin).await
}

/// Starts on listeners bound by the caller.
///
/// # Errors
/// The store cannot be opened.
pub async fn start_on(
    config: CoffeeConfig,
    machines: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
) -> Result<Running, Error> {
    let fleet = open_fleet(&config).await?;
    let token = fleet.admin_token().await?;
    let (confirm_tx, mut confirm_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let confirm_after = (config.payment.confirm_after_ms > 0)
        .then(|| Duration::from_millis(config.payment.confirm_after_ms));
    let provider = Arc::new(
        SimulatedProvider::new(config.payment.base_url.clone(), confirm_after, confirm_tx)
            .with_delay(Duration::from_millis(config.payment.create_delay_ms)),
    );
    let orders = Orders::new(
        fleet.clone(),
        provider,
        Duration::from_secs(config.payment.pay_done_ttl_secs),
    );
    match orders.repair_pay_done().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            orders = n,
            "paid orders within the pay_done TTL checked for their push"
        ),
        Err(e) => tracing::error!(error = %e, "paid orders not checked for their pay_done push"),
    }
    // Confirmations are applied one at a time; a stop waits for the one under way (never cut between marking
    // the order paid and queueing its `pay_done`).
    let (confirm_stop, mut confirm_stopped) = tokio::sync::watch::channel(false);
    let confirmations = {
        let orders = orders.clone();
        tokio::spawn(async move {
            loop {
                let order_no = tokio::select! {
                    biased;
                    _ = confirm_stopped.wait_for(|s| *s) => break,
                    next = confirm_rx.recv() => match next {
                        Some(order_no) => order_no,
                        None => break,
                    },
                };
                if let Err(e) = orders.paid(&order_no).await {
                    tracing::warn!(order = %order_no, error = %e, "payment confirmation not applied");
                }
            }
        })
    };
    let settings = LinkSettings {
        max_connections: config.machines.max_connections,
        login_timeout: Duration::from_secs(config.machines.login_timeout_secs),
        peer_timeout: Duration::from_secs(config.machines.peer_timeout_secs),
        qrcode_timeout: Duration::from_secs(config.machines.qrcode_timeout_secs),
        max_pending: config.machines.max_pending,
        max_pending_per_source: config.machines.max_pending_per_source,
    };
    let (link, pump) = MachineLink::start(machines, fleet.clone(), orders.clone(), &settings)?;
    fleet.start_delivery(link.clone());
    let admin_addr = admin.local_addr()?;
    let built = admin_router(&fleet, orders.clone(), &token);
    let (admin_stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let admin = tokio::spawn(fleet::api::serve(admin, built.router, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    tracing::info!(machines = %link.local_addr(), admin = %admin_addr, "coffee server up");
    Ok(Running {
        machines_addr: link.local_addr(),
        fleet,
        orders,
        admin_addr,
        token,
        link,
        pump,
        confirmations,
        confirm_stop,
        admin_stop,
        admin,
    })
}

impl Running {
    /// Graceful stop: the admin API stops taking requests and finishes those under way, machine connections
    /// close, their last events are written, command delivery stops after recording what it did, and the store
    /// closes.
    pub async fn shutdown(self) {
        let _ = self.admin_stop.send(true);
        match self.admin.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "admin server failed"),
            Err(e) => tracing::error!(error = %e, "admin server task failed"),
        }
        self.link.shutdown().await;
        // The pump ends once the server's last event (every connection's close) is handled.
        drop(self.link);
        if let Err(e) = self.pump.await {
            tracing::error!(error = %e, "event pump failed");
        }
        let _ = self.confirm_stop.send(true);
        if let Err(e) = self.confirmations.await {
            tracing::error!(error = %e, "payment confirmations task failed");
        }
        self.fleet.shutdown().await;
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("machines_addr", &self.machines_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}
