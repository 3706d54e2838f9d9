//! tokio drivers (feature `tokio`): thin loops around a [`Session`].
//!
//! - [`attach`] runs a session over any `AsyncRead + AsyncWrite` until it closes.
//! - [`client::Client`] connects (TCP or any connector), runs the session, and reconnects with backoff.
//! - [`server::Server`] accepts TCP connections, runs one session per connection, and routes commands to a
//!   device by the id it logged in with.
//!
//! Every driver takes commands through a [`Handle`]-like API whose calls end in exactly one outcome: the
//! response (or `None` for a message without one), a refusal ([`SendError`]), a failed request
//! ([`RequestError`]: timeout or connection lost), or [`CommandError::Stopped`] when the driver is gone.

pub mod client;
pub mod server;
mod transport;

pub use transport::{Received, StreamTransport, Transport, WsConfig, WsTransport};

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
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
    /// No connection of that device is up (server side).
    #[error("no connection for device `{0}`")]
    UnknownDevice(String),
    /// The driver has stopped.
    #[error("driver stopped")]
    Stopped,
}

/// Settings shared by every driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Size of each socket read. Default 8 KiB. The session's codec bounds what it buffers.
    pub read_chunk: usize,
    /// Close a connection that received nothing for this long, whatever the session says. Default none
    /// (sessions have their own liveness rules).
    pub idle_timeout: Option<Duration>,
    /// Capacity of the command channel into the driver. Default 64.
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
    /// response is queued for writing.
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

/// The instant the sans-io session sees: tokio's clock, so paused test time drives it too.
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Requests sent and waiting for their outcome, keyed by the session's request id.
pub(crate) struct Waiting<R>(HashMap<RequestId, Responder<R>>);

impl<R> Waiting<R> {
    pub(crate) fn new() -> Self {
        Self(HashMap::new())
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
        Ok(None) => {
            let _ = responder.send(Ok(None));
        }
        Err(e) => {
            let _ = responder.send(Err(CommandError::Refused(e)));
        }
    }
}

/// Delivers finished requests and events. Returns `false` when the event receiver is gone.
pub(crate) async fn deliver<S: Session, T>(
    session: &mut S,
    waiting: &mut Waiting<S::Reply>,
    events: &mpsc::Sender<T>,
    wrap: &(dyn Fn(Option<String>, S::Event) -> T + Send + Sync),
) -> bool {
    while let Some((id, outcome)) = session.poll_reply() {
        if let Some(responder) = waiting.0.remove(&id) {
            let _ = responder.send(outcome.map(Some).map_err(CommandError::Failed));
        }
    }
    let mut open = true;
    while let Some(event) = session.poll_event() {
        if open && events.send(wrap(session.peer_id(), event)).await.is_err() {
            open = false;
        }
    }
    open
}

/// How one connection ended.
pub(crate) struct ConnectionEnd {
    /// What the session said, if it closed the connection itself.
    pub reason: Option<CloseReason>,
    /// How long the connection stayed up after the session logged in (`None`: it never did).
    pub established_for: Option<std::time::Duration>,
    /// Whether the application asked to stop (close requested or every handle dropped).
    pub stop: bool,
}

/// Runs `session` over `transport` until the connection ends, then tells the session and flushes its outcomes.
pub(crate) async fn run_connection<S, T, E>(
    session: &mut S,
    mut transport: T,
    ops: &mut mpsc::Receiver<Op<S>>,
    waiting: &mut Waiting<S::Reply>,
    events: &mpsc::Sender<E>,
    wrap: &(dyn Fn(Option<String>, S::Event) -> E + Send + Sync),
    config: &DriverConfig,
) -> ConnectionEnd
where
    S: Session,
    T: Transport,
{
    let mut established: Option<Instant> = None;
    let mut stop = false;
    let mut last_rx = Instant::now();
    session.connection_opened(now());
    let reason = loop {
        // Write what the session queued, then hand out its outcomes.
        let mut write_failed = false;
        while let Some(bytes) = session.poll_transmit() {
            if transport.send(bytes).await.is_err() {
                write_failed = true;
                break;
            }
        }
        if !write_failed && transport.flush().await.is_err() {
            write_failed = true;
        }
        if established.is_none() && session.is_established() {
            established = Some(Instant::now());
            tracing::info!(
                device = session.peer_id().as_deref().unwrap_or(""),
                "logged in"
            );
        }
        if !deliver(session, waiting, events, wrap).await {
            session.close(now());
            stop = true;
        }
        if write_failed {
            break None;
        }
        if let Some(reason) = session.close_reason() {
            let reason = reason.clone();
            // Flush anything the close produced (a login_r with a failure code, say), then close.
            while let Some(bytes) = session.poll_transmit() {
                if transport.send(bytes).await.is_err() {
                    break;
                }
            }
            let _ = transport.flush().await;
            transport.close().await;
            break Some(reason);
        }
        let deadline = [
            session.poll_timeout().map(Instant::from_std),
            config.idle_timeout.map(|d| last_rx + d),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            received = transport.recv() => match received {
                Received::Data(bytes) => {
                    last_rx = Instant::now();
                    session.handle_input(now(), bytes);
                }
                Received::Closed => break None,
                Received::Failed(e) => {
                    tracing::debug!(error = %e, "transport failed");
                    break None;
                }
            },
            () = sleep_until(deadline) => {
                if let Some(idle) = config.idle_timeout.filter(|d| Instant::now() >= last_rx + *d) {
                    break Some(CloseReason::PeerSilent { after: idle });
                }
                session.handle_timeout(now());
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
    match &reason {
        Some(r) => tracing::info!(reason = %r, "connection closed"),
        None => tracing::info!("connection lost"),
    }
    session.connection_lost(now());
    deliver(session, waiting, events, wrap).await;
    if matches!(reason, Some(CloseReason::Requested)) {
        stop = true;
    }
    ConnectionEnd {
        reason,
        established_for: established.map(|at| at.elapsed()),
        stop,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
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
    /// The driver task; it yields the session and why it closed (`None` when the transport failed).
    pub task: tokio::task::JoinHandle<(S, Option<CloseReason>)>,
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
        let wrap = |_: Option<String>, e: S::Event| e;
        let end = run_connection(
            &mut session,
            transport,
            &mut ops_rx,
            &mut waiting,
            &events_tx,
            &wrap,
            &config,
        )
        .await;
        // Commands that arrive after the end are refused, never left hanging.
        ops_rx.close();
        while let Ok(Op::Command(_, responder)) = ops_rx.try_recv() {
            let _ = responder.send(Err(CommandError::Stopped));
        }
        (session, end.reason)
    });
    Attached {
        handle: Handle { ops: ops_tx },
        events: events_rx,
        task,
    }
}
