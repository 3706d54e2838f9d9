//! The tokio driver of a [`Station`]: its own accept loop over [`WsTransport`], one task per pad connection,
//! one timer task, the station shared behind a `Mutex`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::station::{PadConnection, Station, StationCommand, StationEvent};
use crate::runtime::{Received, Transport, WsConfig, WsTransport};
use crate::session::{CloseReason, SendError};
use aliscan_proto::StationState;

/// How long a WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Capacity of the event channel; a full channel pauses the station's tasks instead of dropping events.
const EVENT_CAPACITY: usize = 256;

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
    /// message per text frame, the message limit and ping/pong liveness of `ws`.
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn_ws(
        listener: TcpListener,
        station: Station,
        ws: WsConfig,
        path: Option<&str>,
    ) -> std::io::Result<(Self, mpsc::Receiver<StationEvent>)> {
        let local_addr = listener.local_addr()?;
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
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
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    tasks.spawn(timer_loop(shared.clone(), shutdown.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _peer)) = accepted {
                    tasks.spawn(serve(stream, shared.clone(), ws, path.clone(), shutdown.clone()));
                }
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

async fn serve(
    stream: TcpStream,
    shared: Arc<Shared>,
    config: WsConfig,
    path: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(ws) = handshake(stream, config, path).await else {
        return;
    };
    let mut transport = WsTransport::new(ws, config);
    let waker = Arc::new(Notify::new());
    let conn = {
        let mut station = lock(&shared.station);
        let conn = station.connection_opened(now());
        lock(&shared.wakers).insert(conn, waker.clone());
        conn
    };
    shared.settle().await;
    loop {
        let mut gone = false;
        let mut fed = false;
        tokio::select! {
            received = transport.recv() => match received {
                Received::Data(frame) => {
                    lock(&shared.station).handle_input(now(), conn, frame);
                    fed = true;
                }
                Received::Closed | Received::Failed(_) => gone = true,
            },
            () = waker.notified() => {}
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
        if lock(&shared.closing).remove(&conn).is_some() {
            transport.close().await;
            gone = true;
        }
        if gone {
            break;
        }
    }
    lock(&shared.wakers).remove(&conn);
    lock(&shared.closing).remove(&conn);
    lock(&shared.station).connection_closed(now(), conn);
    shared.settle().await;
}
