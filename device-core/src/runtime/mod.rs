//! tokio drivers (feature `tokio`): thin loops around a [`Session`].
//!
//! - [`attach`] runs a session over any `AsyncRead + AsyncWrite` (or any [`Transport`]) until it closes.
//! - [`client::Client`] connects (TCP, WebSocket or any connector), runs the session, and reconnects with
//!   backoff.
//! - [`server::Server`] accepts connections on a [`server::Listen`]er (raw TCP, WebSocket), runs one session per
//!   connection (or the sessions of an [`Endpoint`](crate::Endpoint) sharing one state), admits them so that idle
//!   or slow peers cannot exhaust it, and routes commands to a connection by the typed peer id it established
//!   with.
//! - `http` (features `http` and `best`) serves and queries the BEST broker lookup.
//! - `mqtt` (feature `mqtt`) carries sessions over MQTT: a device client per device, and a [`server::Listen`]er
//!   that gives each device a virtual connection on the platform's one broker connection (best-m).
//!
//! Every driver takes commands through a [`Handle`]-like API whose calls end in exactly one outcome: the
//! response (or `None` for a message without one), a refusal ([`SendError`]), a failed request
//! ([`RequestError`]: timeout or connection lost), or [`CommandError::Stopped`] when the driver is gone.
//!
//! Transport facts come from the session ([`Session::wire`]): the framing, the message limit, the buffer size
//! and the WebSocket path; [`WsConfig`] overrides them in one place.

pub mod client;
#[cfg(all(feature = "http", feature = "best"))]
pub mod http;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod server;
mod transport;

pub use transport::{
    Received, StreamTransport, TcpTransport, Transport, TransportError, WsConfig, WsPath,
    WsSettings, WsTransport,
};

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use crate::session::{CloseReason, RequestError, RequestId, SendError, Session};

/// Why a command through a driver handle did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The session refused the command at once; nothing was sent.
    #[error(transparent)]
    Refused(#[from] SendError),
    /// The request was sent but ended without a response.
    #[error(transparent)]
    Failed(#[from] RequestError),
    /// No connection is established with that peer (server side).
    #[error("no connection is established with that peer")]
    UnknownPeer,
    /// The driver has stopped.
    #[error("driver stopped")]
    Stopped,
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Disconnect {
    /// The session closed it ([`Session::close_reason`]); [`CloseReason::Requested`] when the application asked.
    #[error("{0}")]
    Session(CloseReason),
    /// The peer closed the transport.
    #[error("closed by the peer")]
    PeerClosed,
    /// The transport failed (a socket error, a WebSocket protocol error, an unanswered ping).
    #[error("transport failed: {0}")]
    Transport(TransportError),
    /// The transport could not be set up (the WebSocket handshake failed or took too long).
    #[error("handshake failed: {0}")]
    Handshake(TransportError),
    /// Nothing arrived for [`DriverConfig::idle_timeout`].
    #[error("nothing received for {0:?}")]
    Idle(Duration),
    /// A write did not complete within [`DriverConfig::write_timeout`] (the peer does not read).
    #[error("a write did not complete within {0:?}")]
    WriteTimeout(Duration),
    /// Nothing arrived within the server's first-message deadline.
    #[error("no first message within {0:?}")]
    FirstMessageTimeout(Duration),
    /// The session did not establish (log in, identify) within the server's deadline.
    #[error("not established within {0:?}")]
    EstablishTimeout(Duration),
    /// The server dropped this not yet established connection to admit a newer one.
    #[error("dropped to admit a newer connection while not established")]
    Evicted,
}

/// Settings shared by every driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Size of each socket read of a byte stream. Default 8 KiB; the TCP transports hold the buffer only
    /// while a read completes. The session's codec bounds what it buffers.
    pub read_chunk: usize,
    /// Close a connection that received nothing for this long, whatever the session says. Default none
    /// (sessions have their own liveness rules).
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose writes do not complete for this long (a peer that stopped reading). Default
    /// 30 s.
    pub write_timeout: Duration,
    /// Capacity of the command channel into each connection. Default 64.
    pub command_capacity: usize,
    /// Capacity of the event channel out of the driver. Default 256; a full channel pauses the connection
    /// instead of dropping events.
    pub event_capacity: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            read_chunk: 8 * 1024,
            idle_timeout: None,
            write_timeout: Duration::from_secs(30),
            command_capacity: 64,
            event_capacity: 256,
        }
    }
}

impl DriverConfig {
    /// Sets [`DriverConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }

    /// Sets [`DriverConfig::read_chunk`] (at least 1).
    #[must_use]
    pub fn read_chunk(mut self, n: usize) -> Self {
        self.read_chunk = n.max(1);
        self
    }

    /// Sets [`DriverConfig::write_timeout`].
    #[must_use]
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// Sets [`DriverConfig::command_capacity`] (at least 1).
    #[must_use]
    pub fn command_capacity(mut self, n: usize) -> Self {
        self.command_capacity = n.max(1);
        self
    }

    /// Sets [`DriverConfig::event_capacity`] (at least 1).
    #[must_use]
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n.max(1);
        self
    }
}

type Responder<R> = oneshot::Sender<Result<Option<R>, CommandError>>;

/// A message into a driver.
pub(crate) enum Op<S: Session> {
    Command(S::Command, Responder<S::Reply>),
    Close,
}

/// Sends commands to one running session.
pub struct Handle<S: Session> {
    ops: mpsc::Sender<Op<S>>,
}

impl<S: Session> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Self {
            ops: self.ops.clone(),
        }
    }
}

impl<S: Session> std::fmt::Debug for Handle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<S: Session> Handle<S> {
    /// Runs a command: `Ok(Some(reply))` for a request's response, `Ok(None)` once a message without a
    /// response has been written to the transport and flushed (not that the peer has read it: these messages
    /// have no acknowledgement); [`RequestError::ConnectionLost`] if the connection ended first.
    ///
    /// # Errors
    /// [`CommandError`]: refused, failed (timeout or connection lost) or driver stopped.
    pub async fn call(&self, command: S::Command) -> Result<Option<S::Reply>, CommandError> {
        call(&self.ops, command).await
    }

    /// Asks for a graceful close: the session stops, pending writes are flushed, the driver ends and does not
    /// reconnect.
    pub async fn close(&self) {
        let _ = self.ops.send(Op::Close).await;
    }
}

pub(crate) async fn call<S: Session>(
    ops: &mpsc::Sender<Op<S>>,
    command: S::Command,
) -> Result<Option<S::Reply>, CommandError> {
    let (tx, rx) = oneshot::channel();
    ops.send(Op::Command(command, tx))
        .await
        .map_err(|_| CommandError::Stopped)?;
    rx.await.unwrap_or(Err(CommandError::Stopped))
}

/// The instant the sans-io session sees: tokio's clock, so paused test time drives it too. Use it for the
/// `now` of calls into shared sans-io state (an [`Endpoint`](crate::Endpoint)) from the application.
#[must_use]
pub fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Commands waiting for their outcome: requests keyed by the session's request id, and messages without a
/// response until the transport has taken them.
pub(crate) struct Waiting<R>(HashMap<RequestId, Responder<R>>, Vec<Responder<R>>);

impl<R> Waiting<R> {
    pub(crate) fn new() -> Self {
        Self(HashMap::new(), Vec::new())
    }

    /// Everything the session queued has been written and flushed: the messages without a response are sent.
    fn written(&mut self) {
        for responder in self.1.drain(..) {
            let _ = responder.send(Ok(None));
        }
    }

    /// The connection ended with messages not yet written: a session drops its queue with its connection, so
    /// they never will be.
    fn unwritten_lost(&mut self) {
        for responder in self.1.drain(..) {
            let _ = responder.send(Err(CommandError::Failed(RequestError::ConnectionLost)));
        }
    }
}

/// Hands a command to the session and files its responder.
pub(crate) fn dispatch<S: Session>(
    session: &mut S,
    command: S::Command,
    responder: Responder<S::Reply>,
    waiting: &mut Waiting<S::Reply>,
) {
    match session.handle_command(now(), command) {
        Ok(Some(id)) => {
            waiting.0.insert(id, responder);
        }
        // Answered once the message is written (the next `write_out`), or failed if the connection ends first.
        Ok(None) => waiting.1.push(responder),
        Err(e) => {
            let _ = responder.send(Err(CommandError::Refused(e)));
        }
    }
}

/// Where one connection's outputs go: a client's or a server's event type.
pub(crate) trait Output<S: Session>: Send {
    /// What the driver's event channel carries.
    type Event: Send;
    /// Wraps a session event (with the peer, once established).
    fn event(&mut self, peer: Option<&S::Peer>, event: S::Event) -> Self::Event;
    /// The session established with `peer`: register it, and say what to report.
    fn established(&mut self, peer: &S::Peer) -> Option<Self::Event>;
    /// The connection is ending: the session is about to hear of it. Default: nothing to do.
    fn ending(&mut self) {}
}

/// Delivers finished requests and events. Returns `false` when the event receiver is gone.
async fn deliver<S: Session, O: Output<S>>(
    session: &mut S,
    waiting: &mut Waiting<S::Reply>,
    events: &mpsc::Sender<O::Event>,
    out: &mut O,
    peer: Option<&S::Peer>,
) -> bool {
    while let Some((id, outcome)) = session.poll_reply() {
        if let Some(responder) = waiting.0.remove(&id) {
            let _ = responder.send(outcome.map(Some).map_err(CommandError::Failed));
        }
    }
    let mut open = true;
    while let Some(event) = session.poll_event() {
        if open && events.send(out.event(peer, event)).await.is_err() {
            open = false;
        }
    }
    open
}

/// A [`Waker`] that wakes a driver loop through a [`Notify`] (a permit is stored when nobody waits).
#[derive(Debug, Default)]
pub(crate) struct WakeSignal(Notify);

impl Wake for WakeSignal {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

impl WakeSignal {
    pub(crate) async fn notified(&self) {
        self.0.notified().await;
    }
}

/// Deadlines and eviction a server applies to a connection that is not established yet.
#[derive(Debug, Default)]
pub(crate) struct Admit {
    /// Close when nothing arrived this long after the transport opened.
    pub first_message: Option<Duration>,
    /// Close when the session is not established this long after the transport opened.
    pub establish: Option<Duration>,
    /// Notified when the server drops this connection to admit a newer one.
    pub evict: Option<Arc<Notify>>,
}

/// How one connection ended.
pub(crate) struct RunOutcome<P> {
    pub end: Disconnect,
    /// The peer it established with, if it did.
    pub peer: Option<P>,
    /// How long the connection stayed up after the session established (`None`: it never did).
    pub established_for: Option<Duration>,
    /// Whether the application asked to stop (close requested or every handle dropped).
    pub stop: bool,
}

/// What [`run_connection`] works with besides the session and the transport.
pub(crate) struct Conn<'a, S: Session, O: Output<S>> {
    pub ops: &'a mut mpsc::Receiver<Op<S>>,
    pub waiting: &'a mut Waiting<S::Reply>,
    pub events: &'a mpsc::Sender<O::Event>,
    pub out: &'a mut O,
    pub config: &'a DriverConfig,
    pub admit: Admit,
}

/// How long a graceful transport close may take before the connection is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

async fn close_transport<T: Transport>(transport: &mut T) {
    let _ = tokio::time::timeout(CLOSE_GRACE, transport.close()).await;
}

/// Writes what the session queued, within the write timeout.
async fn write_out<S: Session, T: Transport>(
    session: &mut S,
    transport: &mut T,
    timeout: Duration,
) -> Result<(), Disconnect> {
    let write = async {
        while let Some(bytes) = session.poll_transmit() {
            transport.send(bytes).await?;
        }
        transport.flush().await
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Disconnect::Transport(e)),
        Err(_) => Err(Disconnect::WriteTimeout(timeout)),
    }
}

/// Runs `session` over `transport` until the connection ends, then tells the session and flushes its outcomes.
pub(crate) async fn run_connection<S, T, O>(
    session: &mut S,
    mut transport: T,
    cx: Conn<'_, S, O>,
) -> RunOutcome<S::Peer>
where
    S: Session,
    T: Transport,
    O: Output<S>,
{
    let Conn {
        ops,
        waiting,
        events,
        out,
        config,
        admit,
    } = cx;
    session.use_framing(transport.framing());
    let wake = Arc::new(WakeSignal::default());
    session.set_waker(&Waker::from(wake.clone()));
    let opened = Instant::now();
    let first_message_by = admit.first_message.map(|d| (opened + d, d));
    let establish_by = admit.establish.map(|d| (opened + d, d));
    let mut established_at: Option<Instant> = None;
    let mut peer: Option<S::Peer> = None;
    let mut got_first = false;
    let mut stop = false;
    let mut last_rx = opened;
    session.connection_opened(now());
    let end = loop {
        // Establishment first: the route exists before the peer reads the answer to its login.
        if peer.is_none() {
            if let Some(p) = session.peer() {
                let p = p.clone();
                established_at = Some(Instant::now());
                tracing::debug!(peer = ?p, "established");
                if let Some(event) = out.established(&p) {
                    if events.send(event).await.is_err() {
                        session.close(now());
                        stop = true;
                    }
                }
                peer = Some(p);
            }
        }
        let written = write_out(session, &mut transport, config.write_timeout).await;
        if written.is_ok() {
            waiting.written();
        }
        if !deliver(session, waiting, events, out, peer.as_ref()).await {
            session.close(now());
            stop = true;
        }
        if let Err(end) = written {
            break end;
        }
        if let Some(reason) = session.close_reason() {
            let reason = reason.clone();
            // Flush anything the close produced (a login_r with a failure code, say), then close.
            if write_out(session, &mut transport, config.write_timeout)
                .await
                .is_ok()
            {
                waiting.written();
            }
            close_transport(&mut transport).await;
            break Disconnect::Session(reason);
        }
        let first_due = first_message_by.filter(|_| !got_first);
        let establish_due = establish_by.filter(|_| peer.is_none());
        let deadline = [
            session.poll_timeout().map(Instant::from_std),
            config.idle_timeout.map(|d| last_rx + d),
            first_due.map(|(at, _)| at),
            establish_due.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min();
        let evict = admit.evict.as_deref().filter(|_| peer.is_none());
        tokio::select! {
            received = transport.recv() => match received {
                Received::Data(bytes) => {
                    last_rx = Instant::now();
                    got_first = true;
                    session.handle_input(now(), bytes);
                }
                Received::Closed => break Disconnect::PeerClosed,
                Received::Failed(e) => break Disconnect::Transport(e),
            },
            () = sleep_until(deadline) => {
                let at = Instant::now();
                if let Some(idle) = config.idle_timeout.filter(|d| at >= last_rx + *d) {
                    close_transport(&mut transport).await;
                    break Disconnect::Idle(idle);
                }
                if let Some((_, d)) = first_due.filter(|(due, _)| at >= *due) {
                    close_transport(&mut transport).await;
                    break Disconnect::FirstMessageTimeout(d);
                }
                if let Some((_, d)) = establish_due.filter(|(due, _)| at >= *due) {
                    close_transport(&mut transport).await;
                    break Disconnect::EstablishTimeout(d);
                }
                if session.poll_timeout().is_some_and(|d| d <= now()) {
                    session.handle_timeout(now());
                }
            }
            () = wake.notified() => {}
            () = notified(evict) => {
                close_transport(&mut transport).await;
                break Disconnect::Evicted;
            }
            op = ops.recv() => match op {
                Some(Op::Command(command, responder)) => dispatch(session, command, responder, waiting),
                Some(Op::Close) | None => {
                    stop = true;
                    session.close(now());
                }
            },
        }
    };
    tracing::debug!(reason = %end, "connection ended");
    out.ending();
    waiting.unwritten_lost();
    session.connection_lost(now());
    deliver(session, waiting, events, out, peer.as_ref()).await;
    if matches!(end, Disconnect::Session(CloseReason::Requested)) {
        stop = true;
    }
    RunOutcome {
        end,
        peer,
        established_for: established_at.map(|at| at.elapsed()),
        stop,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn notified(notify: Option<&Notify>) {
    match notify {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// A session attached to a transport by [`attach`].
#[derive(Debug)]
pub struct Attached<S: Session> {
    /// Commands; dropping every handle closes the session gracefully.
    pub handle: Handle<S>,
    /// The session's events.
    pub events: mpsc::Receiver<S::Event>,
    /// The driver task; it yields the session and why the connection ended.
    pub task: tokio::task::JoinHandle<(S, Disconnect)>,
}

/// Passes session events through unchanged.
struct Plain;

impl<S: Session> Output<S> for Plain
where
    S::Event: Send,
{
    type Event = S::Event;

    fn event(&mut self, _peer: Option<&S::Peer>, event: S::Event) -> S::Event {
        event
    }

    fn established(&mut self, _peer: &S::Peer) -> Option<S::Event> {
        None
    }
}

/// Runs `session` over one already-connected byte stream until it closes.
///
/// The session is not reconnected: use [`client::Client`] for that.
pub fn attach<S, IO>(session: S, io: IO, config: DriverConfig) -> Attached<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    attach_transport(session, StreamTransport::new(io, config.read_chunk), config)
}

/// Runs `session` over any [`Transport`] (a [`WsTransport`], say) until it closes.
pub fn attach_transport<S, T>(session: S, transport: T, config: DriverConfig) -> Attached<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    T: Transport + 'static,
{
    let (ops_tx, mut ops_rx) = mpsc::channel(config.command_capacity.max(1));
    let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
    let task = tokio::spawn(async move {
        let mut session = session;
        let mut waiting = Waiting::new();
        let outcome = run_connection(
            &mut session,
            transport,
            Conn {
                ops: &mut ops_rx,
                waiting: &mut waiting,
                events: &events_tx,
                out: &mut Plain,
                config: &config,
                admit: Admit::default(),
            },
        )
        .await;
        refuse_remaining(&mut ops_rx);
        (session, outcome.end)
    });
    Attached {
        handle: Handle { ops: ops_tx },
        events: events_rx,
        task,
    }
}

/// Commands that arrive after the end are refused, never left hanging.
pub(crate) fn refuse_remaining<S: Session>(ops: &mut mpsc::Receiver<Op<S>>) {
    ops.close();
    while let Ok(op) = ops.try_recv() {
        if let Op::Command(_, responder) = op {
            let _ = responder.send(Err(CommandError::Stopped));
        }
    }
}
