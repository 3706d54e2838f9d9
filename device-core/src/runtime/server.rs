//! The server driver: one for every protocol and transport.
//!
//! A [`Server`] accepts connections from a [`Listen`]er (raw TCP: a [`TcpListener`]; WebSocket: a
//! [`WsListener`]; any other transport that implements [`Listen`]), makes a session for each with its
//! [`Endpoint`] (any `FnMut() -> S`, or a shared state such as the aliscan station), runs it with the
//! transport facts of [`Session::wire`], reports [`ServerEvent::Established`] with the typed peer id the
//! session logged in with, and routes [`Server::call`]s by that id.
//!
//! ```no_run
//! # #[cfg(feature = "jetinno")]
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use device_core::jetinno::{MachineRegistry, ServerCommand, ServerConfig as JetinnoConfig, ServerSession};
//! use device_core::runtime::server::{Server, ServerConfig, ServerEvent};
//! use jetinno_proto::{MachineCode, PayDone, PayType, ServerMessage};
//!
//! let registry: Arc<dyn MachineRegistry> = Arc::new(|vmc_no: u64| MachineCode::new(format!("{vmc_no:08}")).ok());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:7000").await?;
//! let (server, mut events) = Server::spawn(
//!     listener,
//!     move || ServerSession::new(JetinnoConfig::default(), registry.clone()),
//!     ServerConfig::default(),
//! )?;
//! while let Some(event) = events.recv().await {
//!     if let ServerEvent::Established { peer: vmc_no, .. } = event {
//!         let server = server.clone();
//!         tokio::spawn(async move {
//!             let pay = PayDone { vmc_no, product_amount: 100, order_no: "o-1".into(), paydone: true,
//!                 paytype: PayType::Alipay };
//!             let _ = server.call(&vmc_no, ServerCommand::Send(ServerMessage::from(pay))).await;
//!         });
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Admission
//! A connection counts as *pending* from accept until its session is established (logged in, identified,
//! named by its first message). Pending connections have their own budget and deadlines, so peers that
//! connect and stay silent, or trickle bytes, cannot lock devices out ([`AdmissionConfig`]):
//! - at most [`AdmissionConfig::max_pending`] pending connections; a new arrival over the budget is still
//!   served: the oldest pending connection is dropped for it ([`Disconnect::Evicted`]);
//! - at most [`AdmissionConfig::max_pending_per_source`] pending connections per source address; more are
//!   refused at accept ([`Refusal::SourceLimit`]);
//! - the WebSocket upgrade must complete within [`AdmissionConfig::handshake_timeout`], the first message
//!   arrive within [`AdmissionConfig::first_message_timeout`], the session establish within
//!   [`AdmissionConfig::establish_timeout`];
//! - established connections keep their slots: they are never dropped to admit anyone, and only
//!   [`ServerConfig::max_connections`] bounds them all.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{
    call, now, refuse_remaining, run_connection, Admit, CommandError, Conn, Disconnect,
    DriverConfig, Op, Output, TcpTransport, Transport, TransportError, Waiting, WakeSignal,
    WsConfig, WsSettings, WsTransport,
};
use crate::session::{Endpoint, Framing, Session, Wire};

/// How long a failed accept (out of file descriptors, say) pauses the accept loop, so it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Limits on connections that are not established yet (h2's pre-handshake limits are the model).
///
/// The defaults are sized for a fleet of about 10,000 devices per server: a fleet reconnecting after a
/// restart logs in within a few round trips, so 4,096 pending connections hold a large part of it at once
/// (and 1,000 idle or slow peers leave room to spare), at about 16 KiB each; 64 per source address leaves room
/// for a site of devices behind one NAT. Over the budget the oldest pending connection is dropped, and a device
/// dropped to admit a newer connection reconnects with its backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmissionConfig {
    /// Most pending connections at once; over it, the oldest pending one is dropped for the newcomer. Default
    /// 4,096.
    pub max_pending: usize,
    /// Most pending connections from one source address; more are refused at accept. Default 64.
    pub max_pending_per_source: usize,
    /// Most connections, established or not, from one source address. Default none (devices behind one NAT
    /// may be many).
    pub max_per_source: Option<usize>,
    /// How long the transport set-up (the WebSocket upgrade) may take. Default 10 s.
    pub handshake_timeout: Duration,
    /// How long after set-up the first message (the first bytes on a stream) may take. Default 10 s.
    pub first_message_timeout: Duration,
    /// How long after set-up the session may take to establish (log in, identify). Default 30 s, the login
    /// timeout of the jetinno session and the identify timeout of the access server.
    pub establish_timeout: Duration,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            max_pending: 4096,
            max_pending_per_source: 64,
            max_per_source: None,
            handshake_timeout: Duration::from_secs(10),
            first_message_timeout: Duration::from_secs(10),
            establish_timeout: Duration::from_secs(30),
        }
    }
}

impl AdmissionConfig {
    /// Sets [`AdmissionConfig::max_pending`] (at least 1).
    #[must_use]
    pub fn max_pending(mut self, n: usize) -> Self {
        self.max_pending = n.max(1);
        self
    }

    /// Sets [`AdmissionConfig::max_pending_per_source`] (at least 1).
    #[must_use]
    pub fn max_pending_per_source(mut self, n: usize) -> Self {
        self.max_pending_per_source = n.max(1);
        self
    }

    /// Sets [`AdmissionConfig::max_per_source`].
    #[must_use]
    pub fn max_per_source(mut self, n: Option<usize>) -> Self {
        self.max_per_source = n.map(|n| n.max(1));
        self
    }

    /// Sets [`AdmissionConfig::handshake_timeout`].
    #[must_use]
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// Sets [`AdmissionConfig::first_message_timeout`].
    #[must_use]
    pub fn first_message_timeout(mut self, d: Duration) -> Self {
        self.first_message_timeout = d;
        self
    }

    /// Sets [`AdmissionConfig::establish_timeout`].
    #[must_use]
    pub fn establish_timeout(mut self, d: Duration) -> Self {
        self.establish_timeout = d;
        self
    }
}

/// Settings of a [`Server`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Most connections at once, established or not. When it is reached, a newcomer takes the slot of the
    /// oldest pending connection, or is refused when every connection is established. Default 16,384.
    pub max_connections: usize,
    /// Limits on connections that are not established yet.
    pub admission: AdmissionConfig,
    /// Driver settings for each connection (idle and write timeouts, read chunk, channel sizes).
    pub driver: DriverConfig,
    /// WebSocket settings of a [`WsListener`]: overrides of the protocol's path, message limit and buffers,
    /// and the ping/pong liveness.
    pub ws: WsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 16 * 1024,
            admission: AdmissionConfig::default(),
            driver: DriverConfig::default(),
            ws: WsConfig::default(),
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

    /// Sets [`ServerConfig::admission`].
    #[must_use]
    pub fn admission(mut self, admission: AdmissionConfig) -> Self {
        self.admission = admission;
        self
    }

    /// Sets [`ServerConfig::driver`].
    #[must_use]
    pub fn driver(mut self, driver: DriverConfig) -> Self {
        self.driver = driver;
        self
    }

    /// Sets [`ServerConfig::ws`].
    #[must_use]
    pub fn ws(mut self, ws: WsConfig) -> Self {
        self.ws = ws;
        self
    }
}

/// What a [`Listen`]er needs to set up one connection's transport: the session's facts and the server's
/// settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenSetup {
    /// The session's transport facts.
    pub wire: Wire,
    /// The WebSocket settings resolved against [`OpenSetup::wire`].
    pub ws: WsSettings,
    /// The byte-stream read chunk ([`DriverConfig::read_chunk`]).
    pub read_chunk: usize,
    /// How long the set-up may take ([`AdmissionConfig::handshake_timeout`]).
    pub handshake_timeout: Duration,
}

/// A source of connections a [`Server`] serves: raw TCP ([`TcpListener`]), WebSocket ([`WsListener`]), or
/// another transport (an MQTT client whose devices publish on per-device topics would yield one connection
/// per device, its transport carrying one message per publish).
pub trait Listen: Send + 'static {
    /// What [`Listen::accept`] yields: a connection before its transport is set up.
    type Conn: Send + 'static;
    /// The transport sessions run over.
    type Transport: Transport + 'static;

    /// The local address, for logs and tests.
    ///
    /// # Errors
    /// The listener has none.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// The next connection and the address it comes from. Runs in the accept loop: keep it short.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;

    /// Sets up one connection's transport (a handshake); runs in the connection's own task, bounded by the
    /// server's handshake deadline.
    fn open(
        conn: Self::Conn,
        setup: &OpenSetup,
    ) -> impl Future<Output = Result<Self::Transport, TransportError>> + Send;

    /// Whether an accepted address identifies one peer, so per-source limits apply. Default `true`; a
    /// transport that multiplexes many devices over one broker connection says `false`.
    fn addresses_are_peers(&self) -> bool {
        true
    }
}

impl Listen for TcpListener {
    type Conn = TcpStream;
    type Transport = TcpTransport;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }

    async fn open(conn: TcpStream, setup: &OpenSetup) -> Result<TcpTransport, TransportError> {
        Ok(TcpTransport::new(conn, setup.read_chunk))
    }
}

/// A TCP listener whose connections upgrade to WebSocket: one session message per text frame, the protocol's
/// path ([`Wire::ws_path`], HTTP 404 for others), message limit and buffers (all overridable in
/// [`ServerConfig::ws`]).
#[derive(Debug)]
pub struct WsListener(TcpListener);

impl WsListener {
    /// Serves WebSocket upgrades on `listener`.
    #[must_use]
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

impl Listen for WsListener {
    type Conn = TcpStream;
    type Transport = WsTransport<TcpStream>;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        self.0.accept().await
    }

    async fn open(
        conn: TcpStream,
        setup: &OpenSetup,
    ) -> Result<WsTransport<TcpStream>, TransportError> {
        let _ = conn.set_nodelay(true);
        let ws = handshake(conn, &setup.ws, setup.handshake_timeout).await?;
        Ok(WsTransport::new(ws, &setup.ws))
    }
}

/// Runs the server side of the WebSocket handshake, with the message limits set and the path checked.
// The callback's `Result` type is tungstenite's; its size is not ours to choose.
#[allow(clippy::result_large_err)]
async fn handshake(
    stream: TcpStream,
    settings: &WsSettings,
    timeout: Duration,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, TransportError> {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let path = settings.path.clone();
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
        Some(settings.tungstenite()),
    );
    match tokio::time::timeout(timeout, accept).await {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(TransportError::HandshakeTimeout(timeout)),
    }
}

/// Identifies one accepted connection for the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    /// The number, for logs.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// [`ServerConfig::max_connections`] are open and every one of them is established.
    AtCapacity {
        /// The limit.
        max: usize,
    },
    /// The source address holds its most pending connections ([`AdmissionConfig::max_pending_per_source`]) or
    /// its most connections ([`AdmissionConfig::max_per_source`]).
    SourceLimit {
        /// The limit that was reached.
        max: usize,
    },
}

/// What a [`Server`] reports.
#[non_exhaustive]
pub enum ServerEvent<S: Session> {
    /// A connection was accepted; its transport is being set up.
    Accepted {
        /// The connection.
        conn: ConnectionId,
        /// The peer's address.
        addr: SocketAddr,
    },
    /// A connection was refused at accept. Reported on a best-effort basis: when the event channel is full
    /// the report is dropped, so that a flood cannot stall the accept loop.
    Refused {
        /// The peer's address.
        addr: SocketAddr,
        /// Why.
        reason: Refusal,
    },
    /// The session established (logged in, identified) with `peer`: commands to `peer` now reach this
    /// connection. A peer that establishes again on a new connection takes the route over.
    Established {
        /// The connection.
        conn: ConnectionId,
        /// Who.
        peer: S::Peer,
    },
    /// An event of one connection's session.
    Session {
        /// The connection.
        conn: ConnectionId,
        /// The peer, once established.
        peer: Option<S::Peer>,
        /// The event.
        event: S::Event,
    },
    /// An event of the state the sessions share (an [`Endpoint`] such as the aliscan station).
    Shared(S::Event),
    /// A connection ended.
    Closed {
        /// The connection.
        conn: ConnectionId,
        /// The peer, if it had established.
        peer: Option<S::Peer>,
        /// Why.
        reason: Disconnect,
    },
}

impl<S: Session> std::fmt::Debug for ServerEvent<S>
where
    S::Event: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Accepted { conn, addr } => f
                .debug_struct("Accepted")
                .field("conn", conn)
                .field("addr", addr)
                .finish(),
            Self::Refused { addr, reason } => f
                .debug_struct("Refused")
                .field("addr", addr)
                .field("reason", reason)
                .finish(),
            Self::Established { conn, peer } => f
                .debug_struct("Established")
                .field("conn", conn)
                .field("peer", peer)
                .finish(),
            Self::Session { conn, peer, event } => f
                .debug_struct("Session")
                .field("conn", conn)
                .field("peer", peer)
                .field("event", event)
                .finish(),
            Self::Shared(event) => f.debug_tuple("Shared").field(event).finish(),
            Self::Closed { conn, peer, reason } => f
                .debug_struct("Closed")
                .field("conn", conn)
                .field("peer", peer)
                .field("reason", reason)
                .finish(),
        }
    }
}

type Routes<S> = Mutex<HashMap<<S as Session>::Peer, (ConnectionId, mpsc::Sender<Op<S>>)>>;

/// What every handle and task of one server shares.
struct Shared<S: Session> {
    local_addr: SocketAddr,
    routes: Routes<S>,
    shutdown: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Shuts the server down when the last [`Server`] handle is dropped (tasks never hold one).
struct Life<S: Session>(Arc<Shared<S>>);

impl<S: Session> Drop for Life<S> {
    fn drop(&mut self) {
        self.0.shutdown.send_replace(true);
    }
}

/// A running server; a cheap handle: clones share the same server, so a task spawned from the event loop can
/// hold one and `call` without stalling the loop.
///
/// The server runs until [`Server::shutdown`] (which stops it for every clone and waits for every connection
/// to end), or until the last clone is dropped (which starts the same graceful shutdown without waiting).
#[must_use = "dropping the Server shuts it down"]
pub struct Server<S: Session> {
    shared: Arc<Shared<S>>,
    _life: Arc<Life<S>>,
}

impl<S: Session> Clone for Server<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _life: self._life.clone(),
        }
    }
}

impl<S: Session> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

/// The channel of a server's events.
pub type ServerEvents<S> = mpsc::Receiver<ServerEvent<S>>;

impl<S> Server<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    /// Serves `listener`: a session from `endpoint` for every connection (any `FnMut() -> S`, or a shared
    /// state such as the aliscan station), admitted, run and routed as `config` says.
    ///
    /// # Errors
    /// The listener has no local address.
    pub fn spawn<L, E>(
        listener: L,
        endpoint: E,
        config: ServerConfig,
    ) -> io::Result<(Self, ServerEvents<S>)>
    where
        L: Listen,
        E: Endpoint<S>,
    {
        let local_addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (events_tx, events_rx) = mpsc::channel(config.driver.event_capacity.max(1));
        let shared = Arc::new(Shared {
            local_addr,
            routes: Mutex::new(HashMap::new()),
            shutdown,
            task: tokio::sync::Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(
            listener,
            endpoint,
            Arc::new(config),
            shared.clone(),
            shutdown_rx,
            events_tx,
        ));
        if let Ok(mut slot) = shared.task.try_lock() {
            *slot = Some(task);
        }
        tracing::info!(%local_addr, "server listening");
        let life = Arc::new(Life(shared.clone()));
        Ok((
            Self {
                shared,
                _life: life,
            },
            events_rx,
        ))
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The peers established now.
    #[must_use]
    pub fn peers(&self) -> Vec<S::Peer> {
        let routes = self
            .shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.keys().cloned().collect()
    }

    /// Whether `peer` is established now.
    #[must_use]
    pub fn is_established(&self, peer: &S::Peer) -> bool {
        let routes = self
            .shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.contains_key(peer)
    }

    /// Runs a command on the connection established with `peer`: `Ok(Some(reply))` for a request's response,
    /// `Ok(None)` once a message without one
    /// has been written to the connection and flushed ([`crate::RequestError::ConnectionLost`] if it ended
    /// first).
    ///
    /// Awaiting a request's response inside the loop that reads this server's events can stall that loop
    /// once the event channel fills up; spawn a task with a clone of the server instead.
    ///
    /// # Errors
    /// [`CommandError::UnknownPeer`] when no connection is established with `peer`, or as
    /// [`super::Handle::call`].
    pub async fn call(
        &self,
        peer: &S::Peer,
        command: S::Command,
    ) -> Result<Option<S::Reply>, CommandError> {
        let ops = self.route(peer).ok_or(CommandError::UnknownPeer)?;
        call(&ops, command).await
    }

    /// Closes the connection established with `peer` gracefully; `false` when there is none.
    pub async fn close(&self, peer: &S::Peer) -> bool {
        match self.route(peer) {
            Some(ops) => ops.send(Op::Close).await.is_ok(),
            None => false,
        }
    }

    fn route(&self, peer: &S::Peer) -> Option<mpsc::Sender<Op<S>>> {
        let routes = self
            .shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.get(peer).map(|(_, ops)| ops.clone())
    }

    /// Stops accepting, closes every connection gracefully and waits for all of them to end, for every clone
    /// of this server. Calling it again returns at once.
    ///
    /// # Errors
    /// The accept task panicked.
    pub async fn shutdown(&self) -> Result<(), tokio::task::JoinError> {
        self.shared.shutdown.send_replace(true);
        let task = self.shared.task.lock().await.take();
        match task {
            Some(task) => task.await,
            None => Ok(()),
        }
    }
}

/// A connection's admission state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Pending,
    Evicting,
    Established,
}

struct Entry {
    ip: Option<IpAddr>,
    stage: Stage,
    evict: Arc<Notify>,
}

/// The accept loop's book of live connections: who is pending, from where, and who to drop first.
struct Admission {
    max_connections: usize,
    config: AdmissionConfig,
    live: HashMap<ConnectionId, Entry>,
    /// Pending connections, oldest first (ids grow with time).
    pending: BTreeSet<ConnectionId>,
    evicting: usize,
    pending_per_ip: HashMap<IpAddr, usize>,
    per_ip: HashMap<IpAddr, usize>,
}

fn count_up(map: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    *map.entry(ip).or_insert(0) += 1;
}

fn count_down(map: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    if let Some(n) = map.get_mut(&ip) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&ip);
        }
    }
}

impl Admission {
    fn new(max_connections: usize, config: AdmissionConfig) -> Self {
        Self {
            max_connections: max_connections.max(1),
            config,
            live: HashMap::new(),
            pending: BTreeSet::new(),
            evicting: 0,
            pending_per_ip: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }

    /// Decides on a newcomer from `ip`: refused, or admitted (after dropping the oldest pending connection
    /// when a budget is full).
    fn admit(&mut self, ip: Option<IpAddr>) -> Result<(), Refusal> {
        if let Some(ip) = ip {
            if let Some(max) = self.config.max_per_source {
                if self.per_ip.get(&ip).copied().unwrap_or(0) >= max {
                    return Err(Refusal::SourceLimit { max });
                }
            }
            let max = self.config.max_pending_per_source.max(1);
            if self.pending_per_ip.get(&ip).copied().unwrap_or(0) >= max {
                return Err(Refusal::SourceLimit { max });
            }
        }
        let open = self.live.len() - self.evicting;
        let full =
            open >= self.max_connections || self.pending.len() >= self.config.max_pending.max(1);
        if full && !self.evict_oldest() {
            return Err(Refusal::AtCapacity {
                max: self.max_connections,
            });
        }
        Ok(())
    }

    fn evict_oldest(&mut self) -> bool {
        let Some(conn) = self.pending.pop_first() else {
            return false;
        };
        if let Some(entry) = self.live.get_mut(&conn) {
            entry.stage = Stage::Evicting;
            entry.evict.notify_one();
            self.evicting += 1;
            if let Some(ip) = entry.ip {
                count_down(&mut self.pending_per_ip, ip);
            }
        }
        true
    }

    fn insert(&mut self, conn: ConnectionId, ip: Option<IpAddr>, evict: Arc<Notify>) {
        if let Some(ip) = ip {
            count_up(&mut self.per_ip, ip);
            count_up(&mut self.pending_per_ip, ip);
        }
        self.pending.insert(conn);
        self.live.insert(
            conn,
            Entry {
                ip,
                stage: Stage::Pending,
                evict,
            },
        );
    }

    fn notice(&mut self, notice: Notice) {
        match notice {
            Notice::Established(conn) => self.established(conn),
            Notice::Ended(conn) => self.remove(conn),
        }
    }

    fn established(&mut self, conn: ConnectionId) {
        let Some(entry) = self.live.get_mut(&conn) else {
            return;
        };
        // An evicting connection that established before it saw the eviction keeps its slot.
        let (stage, ip) = (entry.stage, entry.ip);
        entry.stage = Stage::Established;
        self.leave(conn, stage, ip);
    }

    fn remove(&mut self, conn: ConnectionId) {
        let Some(entry) = self.live.remove(&conn) else {
            return;
        };
        self.leave(conn, entry.stage, entry.ip);
        if let Some(ip) = entry.ip {
            count_down(&mut self.per_ip, ip);
        }
    }

    /// Gives back what `conn` held in its `stage`: its pending slot, or its part of the eviction count.
    fn leave(&mut self, conn: ConnectionId, stage: Stage, ip: Option<IpAddr>) {
        match stage {
            Stage::Pending => {
                self.pending.remove(&conn);
                if let Some(ip) = ip {
                    count_down(&mut self.pending_per_ip, ip);
                }
            }
            Stage::Evicting => self.evicting -= 1,
            Stage::Established => {}
        }
    }
}

/// What the connection tasks tell the accept loop.
enum Notice {
    Established(ConnectionId),
    Ended(ConnectionId),
}

async fn accept_loop<S, L, E>(
    mut listener: L,
    mut endpoint: E,
    config: Arc<ServerConfig>,
    shared: Arc<Shared<S>>,
    mut shutdown: watch::Receiver<bool>,
    events: mpsc::Sender<ServerEvent<S>>,
) where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    L: Listen,
    E: Endpoint<S>,
{
    let wake = Arc::new(WakeSignal::default());
    endpoint.set_waker(&Waker::from(wake.clone()));
    let (notices_tx, mut notices) = mpsc::unbounded_channel();
    let mut admission = Admission::new(config.max_connections, config.admission);
    let per_source = listener.addresses_are_peers();
    let mut next_id = 0u64;
    let mut connections = JoinSet::new();
    let mut closers: HashMap<ConnectionId, mpsc::Sender<Op<S>>> = HashMap::new();
    loop {
        // Bookkeeping before anything is reported or admitted: a slot freed (or a login completed) before an
        // event the application sees is free (or safe) for the next arrival.
        while let Ok(notice) = notices.try_recv() {
            admission.notice(notice);
        }
        while let Some(done) = connections.try_join_next() {
            if let Ok(conn) = done {
                closers.remove(&conn);
                admission.remove(conn);
            }
        }
        while let Some(event) = endpoint.poll_event() {
            let _ = events.send(ServerEvent::Shared(event)).await;
        }
        let deadline = endpoint.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(notice) = notices.recv() => admission.notice(notice),
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Ok(conn) = done {
                    closers.remove(&conn);
                    admission.remove(conn);
                }
            }
            () = super::sleep_until(deadline) => {
                if endpoint.poll_timeout().is_some_and(|d| d <= now()) {
                    endpoint.handle_timeout(now());
                }
            }
            () = wake.notified() => {}
            accepted = listener.accept() => {
                let (raw, addr) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: pause instead of spinning; connections keep running.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                while let Ok(notice) = notices.try_recv() {
                    admission.notice(notice);
                }
                let ip = per_source.then_some(addr.ip());
                if let Err(reason) = admission.admit(ip) {
                    tracing::debug!(%addr, ?reason, "connection refused");
                    drop(raw);
                    let _ = events.try_send(ServerEvent::Refused { addr, reason });
                    continue;
                }
                let conn = ConnectionId(next_id);
                next_id += 1;
                let evict = Arc::new(Notify::new());
                admission.insert(conn, ip, evict.clone());
                let (ops_tx, ops_rx) = mpsc::channel(config.driver.command_capacity.max(1));
                closers.insert(conn, ops_tx.clone());
                let session = endpoint.new_session(now());
                let task = ConnectionTask {
                    conn,
                    addr,
                    ops_tx,
                    ops_rx,
                    shared: shared.clone(),
                    events: events.clone(),
                    notices: notices_tx.clone(),
                    config: config.clone(),
                    evict,
                };
                let span = tracing::info_span!("conn", %addr, id = conn.0, peer = tracing::field::Empty);
                connections.spawn(task.run::<L>(session, raw).instrument(span));
            }
        }
    }
    drop(listener);
    for closer in closers.values() {
        let _ = closer.send(Op::Close).await;
    }
    while connections.join_next().await.is_some() {}
    while let Some(event) = endpoint.poll_event() {
        let _ = events.send(ServerEvent::Shared(event)).await;
    }
}

/// One connection's task, before it runs.
struct ConnectionTask<S: Session> {
    conn: ConnectionId,
    addr: SocketAddr,
    ops_tx: mpsc::Sender<Op<S>>,
    ops_rx: mpsc::Receiver<Op<S>>,
    shared: Arc<Shared<S>>,
    events: mpsc::Sender<ServerEvent<S>>,
    notices: mpsc::UnboundedSender<Notice>,
    config: Arc<ServerConfig>,
    evict: Arc<Notify>,
}

/// Registers the route when the session establishes, and wraps events with the connection and the peer.
struct ServerOutput<S: Session> {
    conn: ConnectionId,
    shared: Arc<Shared<S>>,
    ops_tx: mpsc::Sender<Op<S>>,
    notices: mpsc::UnboundedSender<Notice>,
}

impl<S: Session> Output<S> for ServerOutput<S>
where
    S: Send,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    type Event = ServerEvent<S>;

    fn event(&mut self, peer: Option<&S::Peer>, event: S::Event) -> ServerEvent<S> {
        ServerEvent::Session {
            conn: self.conn,
            peer: peer.cloned(),
            event,
        }
    }

    fn established(&mut self, peer: &S::Peer) -> Option<ServerEvent<S>> {
        tracing::Span::current().record("peer", tracing::field::debug(peer));
        self.shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer.clone(), (self.conn, self.ops_tx.clone()));
        let _ = self.notices.send(Notice::Established(self.conn));
        Some(ServerEvent::Established {
            conn: self.conn,
            peer: peer.clone(),
        })
    }

    fn ending(&mut self) {
        let _ = self.notices.send(Notice::Ended(self.conn));
    }
}

impl<S> ConnectionTask<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    async fn run<L: Listen>(self, mut session: S, raw: L::Conn) -> ConnectionId {
        let Self {
            conn,
            addr,
            ops_tx,
            mut ops_rx,
            shared,
            events,
            notices,
            config,
            evict,
        } = self;
        let _ = events.send(ServerEvent::Accepted { conn, addr }).await;
        let wire = session.wire();
        let setup = OpenSetup {
            ws: config.ws.resolve(&wire),
            wire,
            read_chunk: config.driver.read_chunk,
            handshake_timeout: config.admission.handshake_timeout,
        };
        let opened = tokio::select! {
            opened = L::open(raw, &setup) => opened.map_err(Disconnect::Handshake),
            () = evict.notified() => Err(Disconnect::Evicted),
        };
        let opened = opened.and_then(|transport| {
            if wire.framing == Framing::Message && transport.framing() == Framing::Stream {
                Err(Disconnect::Handshake(TransportError::NeedsMessageFraming))
            } else {
                Ok(transport)
            }
        });
        let (reason, peer) = match opened {
            Err(reason) => {
                tracing::debug!(%reason, "transport set-up failed");
                (reason, None)
            }
            Ok(transport) => {
                let mut waiting = Waiting::new();
                let mut out = ServerOutput {
                    conn,
                    shared: shared.clone(),
                    ops_tx,
                    notices,
                };
                let admit = Admit {
                    first_message: Some(config.admission.first_message_timeout),
                    establish: Some(config.admission.establish_timeout),
                    evict: Some(evict),
                };
                let outcome = run_connection(
                    &mut session,
                    transport,
                    Conn {
                        ops: &mut ops_rx,
                        waiting: &mut waiting,
                        events: &events,
                        out: &mut out,
                        config: &config.driver,
                        admit,
                    },
                )
                .await;
                (outcome.end, outcome.peer)
            }
        };
        if let Some(peer) = &peer {
            let mut routes = shared.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if routes.get(peer).is_some_and(|(c, _)| *c == conn) {
                routes.remove(peer);
            }
        }
        refuse_remaining(&mut ops_rx);
        let _ = events
            .send(ServerEvent::Closed { conn, peer, reason })
            .await;
        conn
    }
}
