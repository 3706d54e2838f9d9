//! The vehicle instance assembled: the svrInstance link server (device-core) over the simulated bikes, and
//! the task that moves them and writes their history into the shared store. `main.rs`, the demo and the
//! tests start it from here.

pub mod sim;
#[path = "../vehicle-server/tables.rs"]
pub mod tables;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use device_core::kingxun::{
    DeviceCommand, Dispatch, InstanceConfig, InstanceEvent, InstanceHandler, InstanceSession,
};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent};
use fleet::store::Store;

use self::sim::{Bikes, BikesConfig};

/// A startup failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Settings of one instance.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    /// The bikes.
    pub bikes: BikesConfig,
    /// The initial KEY and IV of the link (configured on the WebSvr too).
    pub key: [u8; 16],
    /// The initial IV.
    pub iv: [u8; 16],
    /// How often bikes move and the history is written.
    pub tick: Duration,
    /// Most WebSvr connections at once.
    pub max_connections: usize,
    /// Test knob, default `false`: every device command is deferred and never answered (the session's own
    /// 0xFF after its answer timeout is pushed out to an hour), so the WebSvr's request timeout can be tested.
    pub silent: bool,
}

impl Default for InstanceSettings {
    fn default() -> Self {
        Self {
            bikes: BikesConfig::default(),
            key: *b"kingxun-demo-key",
            iv: *b"kingxun-demo-iv!",
            tick: Duration::from_secs(1),
            max_connections: 64,
            silent: false,
        }
    }
}

/// Parses a 16-byte KEY or IV given as 32 hex digits.
///
/// # Errors
/// Not 32 hex digits; the message names `what`.
pub fn parse_key(what: &str, hex_text: &str) -> Result<[u8; 16], String> {
    let bytes = hex::decode(hex_text).map_err(|e| format!("{what}: `{hex_text}`: {e}"))?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{what}: {} bytes, expected 16 (32 hex digits)", bytes.len()))
}

/// The per-connection handler: a handle on the shared bikes, and whether commands go unanswered
/// ([`InstanceSettings::silent`]).
#[derive(Clone)]
struct Handler(Arc<Mutex<Bikes>>, bool);

impl InstanceHandler for Handler {
    fn device_count(&self) -> u32 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count()
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        if self.1 {
            return Dispatch::Defer;
        }
        let now = fleet::store::now_ms();
        let code = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .command(now, &command.request);
        Dispatch::Answer(code)
    }
}

/// A running instance.
pub struct Running {
    /// Where WebSvr connects.
    pub addr: SocketAddr,
    /// The bikes.
    pub bikes: Arc<Mutex<Bikes>>,
    server: Server<InstanceSession<Handler>>,
    stop: tokio::sync::watch::Sender<bool>,
    ticker: tokio::task::JoinHandle<()>,
    events: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Opens the store at `url` (or the SQLite file under `data_dir`) with the vehicle tables.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_store(
    url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<Store, fleet::store::StoreError> {
    let store = match url {
        Some(url) => Store::connect(url, None).await?,
        None => Store::open_sqlite(data_dir).await?,
    };
    store
        .migrate_with(tables::migrator(store.backend()))
        .await?;
    Ok(store)
}

/// Writes what the bikes owe the store; on failure the batch is kept for the next try.
async fn flush(store: &Store, bikes: &Mutex<Bikes>, carry: &mut Vec<tables::Write>) {
    carry.extend(
        bikes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take_writes(),
    );
    if carry.is_empty() {
        return;
    }
    // Chunks of 2,000 rows keep a 10,000-bike start from holding the write lock for long.
    while !carry.is_empty() {
        let n = carry.len().min(2000);
        match tables::write_batch(store, &carry[..n]).await {
            Ok(()) => {
                carry.drain(..n);
            }
            Err(e) => {
                tracing::warn!(error = %e, pending = carry.len(), "history not written, retrying next tick");
                return;
            }
        }
    }
}

/// Starts serving the link on `listener` with the bikes of `settings`; their first status is in the store
/// before this returns.
///
/// # Errors
/// The store failed, or the listener has no address.
pub async fn start(
    store: Store,
    listener: tokio::net::TcpListener,
    settings: InstanceSettings,
) -> Result<Running, Error> {
    let now = fleet::store::now_ms();
    let bikes = Arc::new(Mutex::new(Bikes::new(settings.bikes.clone(), now)));
    let mut carry = Vec::new();
    flush(&store, &bikes, &mut carry).await;
    if !carry.is_empty() {
        return Err("the vehicles' first status could not be written".into());
    }
    let handler = Handler(bikes.clone(), settings.silent);
    let (key, iv) = (settings.key, settings.iv);
    let mut session = InstanceConfig::new(key, iv).svr_start_time(now.try_into().unwrap_or(0));
    if settings.silent {
        session = session.answer_timeout(Duration::from_secs(3600));
    }
    let endpoint = move || InstanceSession::new(session.clone(), handler.clone());
    let config = ServerConfig::default().max_connections(settings.max_connections);
    let (server, mut events) = Server::spawn(listener, endpoint, config)?;
    let addr = server.local_addr();
    let events = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ServerEvent::Session {
                    event: InstanceEvent::LoginRefused { svr_host, reason },
                    ..
                } => tracing::warn!(%svr_host, %reason, "9001 refused"),
                ServerEvent::Session {
                    event:
                        InstanceEvent::LoggedIn {
                            svr_host,
                            session_id,
                        },
                    ..
                } => tracing::info!(%svr_host, session_id, "WebSvr linked"),
                ServerEvent::Session {
                    event: InstanceEvent::Malformed(e),
                    ..
                } => tracing::warn!(error = %e, "malformed frame"),
                ServerEvent::Closed { peer, reason, .. } => {
                    tracing::info!(peer = ?peer.map(|p| p.to_string()), ?reason, "WebSvr link closed");
                }
                _ => {}
            }
        }
    });
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let ticker = {
        let bikes = bikes.clone();
        let tick = settings.tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stop_rx.wait_for(|s| *s) => break,
                }
                let t = tokio::time::Instant::now();
                let dt = t.duration_since(last).as_secs_f64();
                last = t;
                bikes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tick(fleet::store::now_ms(), dt);
                flush(&store, &bikes, &mut carry).await;
            }
            // Last writes, then every bike offline.
            bikes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .all_status(fleet::store::now_ms(), false);
            flush(&store, &bikes, &mut carry).await;
            store.close().await;
        })
    };
    tracing::info!(%addr, vehicles = settings.bikes.vehicles, instance = %settings.bikes.instance, "vehicle instance up");
    Ok(Running {
        addr,
        bikes,
        server,
        stop,
        ticker,
        events,
    })
}

impl Running {
    /// Number of simulated vehicles.
    #[must_use]
    pub fn vehicle_count(&self) -> u32 {
        self.bikes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count()
    }

    /// Graceful stop: links close, the last history is written, every bike is marked offline.
    pub async fn shutdown(self) {
        if let Err(e) = self.server.shutdown().await {
            tracing::error!(error = %e, "link server failed");
        }
        drop(self.server);
        let _ = self.stop.send(true);
        if let Err(e) = self.ticker.await {
            tracing::error!(error = %e, "ticker failed");
        }
        self.events.abort();
    }

    /// Stops at once without the last writes (a crash, for restart tests).
    pub fn abort(self) {
        self.ticker.abort();
        self.events.abort();
        drop(self.server);
    }
}
