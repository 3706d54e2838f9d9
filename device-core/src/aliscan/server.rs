//! The tokio driver of a [`Station`]: its own accept loop over [`WsTransport`], one task per pad connection,
//! one timer task, the station shared behind a `Mutex`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use super::station::{PadConnection, Station, StationCommand, StationEvent};
use crate::runtime::{Received, Transport, WsConfig, WsTransport};
use crate::session::{CloseReason, SendError};
use aliscan_proto::StationState;

/// How long a WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`StationServer`], the station's counterpart of
/// [`ServerConfig`](crate::runtime::server::ServerConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StationServerConfig {
    /// Most pad connections at once; further ones are accepted and closed at once, before the WebSocket
    /// handshake, so the station never sees them ([`StationEvent::Refused`], and a `tracing` warning). Default
    /// 64 (devproto's choice: the spec sets no figure, and a station serves the pads of one shop).
    pub max_connections: usize,
    /// Close a connection that sent no message for this long (pongs do not count). Default none: the
    /// WebSocket ping/pong of [`WsConfig`] is the liveness check, and a pad may stay silent while it waits.
    pub idle_timeout: Option<Duration>,
    /// Capacity of the event channel. Default 256; a full channel pauses the station's tasks instead of
    /// dropping events.
    pub event_capacity: usize,
}

impl Default for StationServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 64,
            idle_timeout: None,
            event_capacity: 256,
        }
    }
}

impl StationServerConfig {
    /// Sets [`StationServerConfig::max_connections`] (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`StationServerConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Sets [`StationServerConfig::event_capacity`] (at least 1).
    #[must_use]
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n.max(1);
        self
    }
}

struct Shared {
    station: Mutex<Station>,
    /// One wake-up per connection task: the station queued something for it (or wants it closed).
    wakers: Mutex<HashMap<PadConnection, Arc<Notify>>>,
    /// Connections the station asked to close, and why.
    closing: Mutex<HashMap<PadConnection, CloseReason>>,
    /// Wakes the timer task: the station's next deadline may have moved.
    timer: Notify,
    events: mpsc::Sender<StationEvent>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Shared {
    /// After any call into the station: wake the connections, the timer, and hand events over.
    async fn settle(&self) {
        let events: Vec<StationEvent> = {
            let mut station = lock(&self.station);
            let mut closing = lock(&self.closing);
            while let Some((conn, reason)) = station.poll_close() {
                closing.insert(conn, reason);
            }
            std::iter::from_fn(|| station.poll_event()).collect()
        };
        for waker in lock(&self.wakers).values() {
            waker.notify_one();
        }
        self.timer.notify_one();
        for event in events {
            // A dropped receiver means nobody listens; the station goes on.
            let _ = self.events.send(event).await;
        }
    }
}

/// Runs a [`Station`] for pads connecting over WebSocket (`ws://HOST:PORT/aliscan` by the spec).
///
/// The station is one state machine shared by every connection, so this is not a
/// [`runtime::server::Server`](crate::runtime::server::Server) of per-connection sessions: each connection task
/// feeds its frames into the shared station and writes what the station queued for it, and every task is woken
/// whenever any call queued something (a status broadcast reaches idle pads at once). A timer task fires the
/// station's deadlines. The deployment talks to the station with [`StationServer::command`] and reads
/// [`StationEvent`]s from the channel returned by [`StationServer::spawn_ws`].
///
/// Like [`runtime::server::Server`](crate::runtime::server::Server): connections over
/// [`StationServerConfig::max_connections`] are closed at accept, an idle timeout closes silent connections,
/// and each connection runs in a `tracing` span `pad` with its peer address, the station's connection number
/// (`conn`) and, once a message named it, the pad's id (`pad`).
pub struct StationServer {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for StationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl StationServer {
    /// Serves `listener`: WebSocket upgrades (only for `path` when set; others get HTTP 404), one station
    /// message per text frame, the ping/pong liveness of `ws`, and a message limit of `ws`'s or the station's
    /// codec limit ([`Station::codec_config`]), whichever is smaller, so a frame the codec would refuse is
    /// refused before it is buffered.
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn_ws(
        listener: TcpListener,
        station: Station,
        ws: WsConfig,
        path: Option<&str>,
        config: StationServerConfig,
    ) -> std::io::Result<(Self, mpsc::Receiver<StationEvent>)> {
        let local_addr = listener.local_addr()?;
        let codec_max = station.codec_config().max_message_len;
        let ws = ws.max_message_size(ws.max_message_size.min(codec_max));
        let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared {
            station: Mutex::new(station),
            wakers: Mutex::default(),
            closing: Mutex::default(),
            timer: Notify::new(),
            events: events_tx,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            ws,
            path.map(str::to_owned),
            config,
            shutdown_rx,
        ));
        Ok((
            Self {
                shared,
                local_addr,
                shutdown,
                task: tokio::sync::Mutex::new(Some(task)),
            },
            events_rx,
        ))
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The status pads see now.
    #[must_use]
    pub fn state(&self) -> StationState {
        lock(&self.shared.station).state()
    }

    /// The pad connections open now.
    #[must_use]
    pub fn connections(&self) -> Vec<PadConnection> {
        lock(&self.shared.station).connections()
    }

    /// Runs a command on the station (send, broadcast, status change, hardware report).
    ///
    /// # Errors
    /// As [`Station::handle_command`].
    pub async fn command(&self, command: StationCommand) -> Result<(), SendError> {
        let result = lock(&self.shared.station).handle_command(now(), command);
        self.shared.settle().await;
        result
    }

    /// Stops accepting, closes every connection and waits for the tasks to end.
    ///
    /// # Errors
    /// A task panicked.
    pub async fn shutdown(&self) -> Result<(), tokio::task::JoinError> {
        let _ = self.shutdown.send(true);
        match self.task.lock().await.take() {
            Some(task) => task.await,
            None => Ok(()),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    ws: WsConfig,
    path: Option<String>,
    config: StationServerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    tasks.spawn(timer_loop(shared.clone(), shutdown.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, max = config.max_connections, "pad connection refused: at max_connections");
                    drop(stream);
                    let _ = shared.events.send(StationEvent::Refused { peer }).await;
                    continue;
                };
                let span = tracing::info_span!(
                    "pad",
                    %peer,
                    conn = tracing::field::Empty,
                    pad = tracing::field::Empty
                );
                let conn = Connection { shared: shared.clone(), ws, path: path.clone(), idle: config.idle_timeout };
                tasks.spawn(serve(stream, conn, shutdown.clone(), permit).instrument(span));
            }
            _ = shutdown.changed() => break,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = tasks.join_next(), if tasks.len() > 1 => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn timer_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let deadline = lock(&shared.station).poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {
                {
                    let mut station = lock(&shared.station);
                    let now = now();
                    if station.poll_timeout().is_some_and(|d| d <= now) {
                        station.handle_timeout(now);
                    }
                }
                shared.settle().await;
            }
            () = shared.timer.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

// tungstenite's handshake callback must return its `ErrorResponse` by value.
#[allow(clippy::result_large_err)]
async fn handshake(
    stream: TcpStream,
    config: WsConfig,
    path: Option<String>,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, String> {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let check_path = move |request: &Request, response: Response| match &path {
        Some(want) if request.uri().path() != want => {
            let mut refusal: ErrorResponse = ErrorResponse::new(Some(format!(
                "no WebSocket endpoint at {}",
                request.uri().path()
            )));
            *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
            Err(refusal)
        }
        _ => Ok(response),
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        check_path,
        Some(config.tungstenite()),
    );
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no handshake within {HANDSHAKE_TIMEOUT:?}")),
    }
}

/// What a connection task needs besides its socket.
struct Connection {
    shared: Arc<Shared>,
    ws: WsConfig,
    path: Option<String>,
    idle: Option<Duration>,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn serve(
    stream: TcpStream,
    setup: Connection,
    mut shutdown: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let Connection {
        shared,
        ws: config,
        path,
        idle,
    } = setup;
    let ws = match handshake(stream, config, path).await {
        Ok(ws) => ws,
        Err(why) => {
            tracing::info!(error = %why, "websocket handshake failed");
            return;
        }
    };
    let mut transport = WsTransport::new(ws, config);
    let waker = Arc::new(Notify::new());
    let conn = {
        let mut station = lock(&shared.station);
        let conn = station.connection_opened(now());
        lock(&shared.wakers).insert(conn, waker.clone());
        conn
    };
    let span = tracing::Span::current();
    span.record("conn", conn.get());
    tracing::info!("pad connected");
    shared.settle().await;
    let mut named = false;
    let mut last_rx = Instant::now();
    loop {
        let mut gone = false;
        let mut fed = false;
        tokio::select! {
            received = transport.recv() => match received {
                Received::Data(frame) => {
                    last_rx = Instant::now();
                    let mut station = lock(&shared.station);
                    station.handle_input(now(), conn, frame);
                    if !named {
                        if let Some(pad) = station.pad_id(conn) {
                            span.record("pad", pad);
                            named = true;
                        }
                    }
                    fed = true;
                }
                Received::Closed => {
                    tracing::info!("connection closed by the pad");
                    gone = true;
                }
                Received::Failed(e) => {
                    tracing::info!(error = %e, "connection lost");
                    gone = true;
                }
            },
            () = waker.notified() => {}
            () = sleep_until(idle.map(|d| last_rx + d)) => {
                tracing::info!(after = ?idle.unwrap_or_default(), "closing idle connection");
                transport.close().await;
                gone = true;
            }
            _ = shutdown.changed() => gone = true,
        }
        // Only a call into the station settles; a mere wake-up must not wake everyone again.
        if fed {
            shared.settle().await;
        }
        let out: Vec<Bytes> = {
            let mut station = lock(&shared.station);
            std::iter::from_fn(|| station.poll_transmit_for(conn)).collect()
        };
        let mut failed = false;
        for bytes in out {
            if transport.send(bytes).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed || transport.flush().await.is_err() {
            gone = true;
        }
        let closed_by_station = lock(&shared.closing).remove(&conn);
        if let Some(reason) = closed_by_station {
            tracing::info!(%reason, "station closed the connection");
            transport.close().await;
            gone = true;
        }
        if gone {
            break;
        }
    }
    // The slot is free before the station reports the disconnection, so a pad that sees it may connect.
    drop(permit);
    lock(&shared.wakers).remove(&conn);
    lock(&shared.closing).remove(&conn);
    lock(&shared.station).connection_closed(now(), conn);
    shared.settle().await;
}
