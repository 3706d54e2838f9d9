//! A TCP server driver: one session per accepted connection, commands routed by device id.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{
    call, run_connection, CommandError, DriverConfig, Op, StreamTransport, Waiting, WsConfig,
    WsTransport,
};
use crate::session::{CloseReason, Session};

/// Settings of a [`Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Most connections at once; further ones are accepted and closed at once. Default 1024.
    pub max_connections: usize,
    /// Driver settings for each connection (idle timeout, read chunk, channel sizes).
    pub driver: DriverConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            driver: DriverConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::max_connections`] (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`ServerConfig::driver`].
    #[must_use]
    pub fn driver(mut self, driver: DriverConfig) -> Self {
        self.driver = driver;
        self
    }
}

/// Identifies one accepted connection for the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

/// What a [`Server`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent<E> {
    /// A connection was accepted.
    Accepted {
        /// The connection.
        conn: ConnectionId,
        /// The peer's address.
        addr: SocketAddr,
    },
    /// A connection was refused because [`ServerConfig::max_connections`] are open.
    Refused {
        /// The peer's address.
        addr: SocketAddr,
    },
    /// An event of one connection's session.
    Session {
        /// The connection.
        conn: ConnectionId,
        /// The device id, once the session knows it.
        device: Option<String>,
        /// The event.
        event: E,
    },
    /// A connection ended.
    Closed {
        /// The connection.
        conn: ConnectionId,
        /// The device id, if it had logged in.
        device: Option<String>,
        /// Why, when the session closed it itself.
        reason: Option<CloseReason>,
    },
}

type Routes<S> = Arc<Mutex<HashMap<String, (ConnectionId, mpsc::Sender<Op<S>>)>>>;

/// A running server.
pub struct Server<S: Session> {
    local_addr: SocketAddr,
    routes: Routes<S>,
    shutdown: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<S: Session> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl<S> Server<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    /// Serves `listener` with raw TCP byte streams, making one session per connection with `make_session`.
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn<M>(
        listener: TcpListener,
        make_session: M,
        config: ServerConfig,
    ) -> std::io::Result<(Self, mpsc::Receiver<ServerEvent<S::Event>>)>
    where
        M: Fn() -> S + Send + Sync + 'static,
    {
        Self::spawn_with(listener, make_session, config, Upgrade::None)
    }

    /// Serves `listener` with WebSockets: one session message per text frame, the message limit and ping/pong
    /// liveness of `ws`, and, when `path` is set, only upgrade requests for that path (others get HTTP 404).
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn_ws<M>(
        listener: TcpListener,
        make_session: M,
        ws: WsConfig,
        path: Option<&str>,
        config: ServerConfig,
    ) -> std::io::Result<(Self, mpsc::Receiver<ServerEvent<S::Event>>)>
    where
        M: Fn() -> S + Send + Sync + 'static,
    {
        let upgrade = Upgrade::Ws {
            config: ws,
            path: path.map(str::to_owned),
        };
        Self::spawn_with(listener, make_session, config, upgrade)
    }

    fn spawn_with<M>(
        listener: TcpListener,
        make_session: M,
        config: ServerConfig,
        upgrade: Upgrade,
    ) -> std::io::Result<(Self, mpsc::Receiver<ServerEvent<S::Event>>)>
    where
        M: Fn() -> S + Send + Sync + 'static,
    {
        let local_addr = listener.local_addr()?;
        let routes: Routes<S> = Arc::new(Mutex::new(HashMap::new()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (events_tx, events_rx) = mpsc::channel(config.driver.event_capacity.max(1));
        let task = tokio::spawn(accept_loop(
            listener,
            make_session,
            config,
            upgrade,
            routes.clone(),
            shutdown_rx,
            events_tx,
        ));
        Ok((
            Self {
                local_addr,
                routes,
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

    /// The devices logged in now.
    #[must_use]
    pub fn devices(&self) -> Vec<String> {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ids: Vec<String> = routes.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Runs a command on the connection of `device`.
    ///
    /// # Errors
    /// [`CommandError::UnknownDevice`] when it is not connected, or as [`super::Handle::call`].
    pub async fn call(
        &self,
        device: &str,
        command: S::Command,
    ) -> Result<Option<S::Reply>, CommandError> {
        let ops = {
            let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            routes.get(device).map(|(_, ops)| ops.clone())
        };
        match ops {
            Some(ops) => call(&ops, command).await,
            None => Err(CommandError::UnknownDevice(device.to_owned())),
        }
    }

    /// Stops accepting, closes every connection gracefully and waits for all of them to end. Calling it again
    /// returns at once.
    ///
    /// # Errors
    /// The accept task panicked.
    pub async fn shutdown(&self) -> Result<(), tokio::task::JoinError> {
        let _ = self.shutdown.send(true);
        let task = self.task.lock().await.take();
        match task {
            Some(task) => task.await,
            None => Ok(()),
        }
    }
}

/// How accepted connections carry messages.
#[derive(Debug, Clone)]
enum Upgrade {
    /// Raw TCP byte streams.
    None,
    /// A WebSocket handshake first, then one message per text frame.
    Ws {
        config: WsConfig,
        path: Option<String>,
    },
}

/// How long a WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[allow(clippy::too_many_arguments)]
async fn accept_loop<S, M>(
    listener: TcpListener,
    make_session: M,
    config: ServerConfig,
    upgrade: Upgrade,
    routes: Routes<S>,
    mut shutdown: watch::Receiver<bool>,
    events: mpsc::Sender<ServerEvent<S::Event>>,
) where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    M: Fn() -> S + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let next_id = AtomicU64::new(0);
    let mut connections = JoinSet::new();
    let mut closers: HashMap<ConnectionId, mpsc::Sender<Op<S>>> = HashMap::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Ok(conn) = done {
                    closers.remove(&conn);
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, addr)) = accepted else { continue };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%addr, "connection refused: at max_connections");
                    drop(stream);
                    let _ = events.send(ServerEvent::Refused { addr }).await;
                    continue;
                };
                let conn = ConnectionId(next_id.fetch_add(1, Ordering::Relaxed));
                let _ = events.send(ServerEvent::Accepted { conn, addr }).await;
                let (ops_tx, ops_rx) = mpsc::channel(config.driver.command_capacity.max(1));
                closers.insert(conn, ops_tx.clone());
                let span = tracing::info_span!("conn", peer = %addr, id = conn.0, device = tracing::field::Empty);
                connections.spawn(
                    serve_connection(make_session(), stream, upgrade.clone(), conn, ops_tx, ops_rx, routes.clone(), events.clone(), config.driver, permit)
                        .instrument(span),
                );
            }
        }
    }
    drop(listener);
    for closer in closers.values() {
        let _ = closer.send(Op::Close).await;
    }
    while connections.join_next().await.is_some() {}
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection<S>(
    mut session: S,
    stream: tokio::net::TcpStream,
    upgrade: Upgrade,
    conn: ConnectionId,
    ops_tx: mpsc::Sender<Op<S>>,
    mut ops_rx: mpsc::Receiver<Op<S>>,
    routes: Routes<S>,
    events: mpsc::Sender<ServerEvent<S::Event>>,
    driver: DriverConfig,
    _permit: tokio::sync::OwnedSemaphorePermit,
) -> ConnectionId
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    let mut waiting = Waiting::new();
    // Register the device's route as soon as the session knows who it is.
    let register = {
        let routes = routes.clone();
        let ops_tx = ops_tx.clone();
        move |device: &Option<String>| {
            if let Some(device) = device {
                let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
                let known = routes.get(device).is_some_and(|(c, _)| *c == conn);
                if !known {
                    tracing::Span::current().record("device", device.as_str());
                    routes.insert(device.clone(), (conn, ops_tx.clone()));
                }
            }
        }
    };
    let wrap = move |device: Option<String>, event: S::Event| {
        register(&device);
        ServerEvent::Session {
            conn,
            device,
            event,
        }
    };
    let end = match upgrade {
        Upgrade::None => {
            let transport = StreamTransport::new(stream, driver.read_chunk);
            run_connection(
                &mut session,
                transport,
                &mut ops_rx,
                &mut waiting,
                &events,
                &wrap,
                &driver,
            )
            .await
        }
        Upgrade::Ws { config, path } => match handshake(stream, config, path).await {
            Ok(ws) => {
                let transport = WsTransport::new(ws, config);
                run_connection(
                    &mut session,
                    transport,
                    &mut ops_rx,
                    &mut waiting,
                    &events,
                    &wrap,
                    &driver,
                )
                .await
            }
            Err(why) => {
                tracing::info!(error = %why, "websocket handshake failed");
                super::ConnectionEnd {
                    reason: Some(CloseReason::Protocol(format!(
                        "websocket handshake failed: {why}"
                    ))),
                    established_for: None,
                    stop: false,
                }
            }
        },
    };
    let device = session.peer_id();
    if let Some(id) = &device {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        if routes.get(id).is_some_and(|(c, _)| *c == conn) {
            routes.remove(id);
        }
    }
    ops_rx.close();
    while let Ok(Op::Command(_, responder)) = ops_rx.try_recv() {
        let _ = responder.send(Err(CommandError::Stopped));
    }
    let _ = events
        .send(ServerEvent::Closed {
            conn,
            device,
            reason: end.reason,
        })
        .await;
    conn
}

/// Runs the server side of the WebSocket handshake, with the message limits set and the path checked.
// The callback's `Result` type is tungstenite's; its size is not ours to choose.
#[allow(clippy::result_large_err)]
async fn handshake(
    stream: tokio::net::TcpStream,
    config: WsConfig,
    path: Option<String>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String> {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let check_path = move |request: &Request,
                           response: Response|
          -> Result<Response, ErrorResponse> {
        match &path {
            Some(want) if request.uri().path() != want => {
                let mut refusal = ErrorResponse::new(Some(format!(
                    "no WebSocket endpoint at {}",
                    request.uri().path()
                )));
                *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
                Err(refusal)
            }
            _ => Ok(response),
        }
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
