//! A client driver that connects, runs its session, and reconnects with backoff.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{
    dispatch, refuse_remaining, run_connection, Admit, Conn, Disconnect, DriverConfig, Handle, Op,
    Output, StreamTransport, TcpTransport, Transport, TransportError, Waiting, WsConfig,
    WsTransport,
};
use crate::backoff::{Backoff, BackoffConfig};
use crate::rng::{OsRandom, RandomSource, SplitMix64};
use crate::session::Session;

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The connector failed (refused, unreachable, DNS).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The attempt took longer than [`ClientConfig::connect_timeout`].
    #[error("connect timed out after {0:?}")]
    TimedOut(Duration),
    /// The transport could not be set up (the WebSocket handshake failed).
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Settings of a [`Client`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Reconnect backoff. Default 1 s to 60 s, doubling, 50 % jitter; reset after a connection that stayed
    /// logged in for [`ClientConfig::stable_after`].
    pub backoff: BackoffConfig,
    /// How long a connection must stay logged in before its end resets the backoff. A peer that accepts (or
    /// logs in) and drops the link at once is then retried at a growing delay instead of in a tight loop; this
    /// matters most for sessions that count as logged in as soon as they connect (the access terminal).
    /// Default 5 s.
    pub stable_after: Duration,
    /// How long one connection attempt may take. Default 10 s.
    pub connect_timeout: Duration,
    /// Driver settings.
    pub driver: DriverConfig,
    /// WebSocket settings of [`Client::connect_ws`] (the message limit and buffers default to the session's
    /// [`Wire`](crate::Wire)).
    pub ws: WsConfig,
    /// Seed of the backoff jitter. Default `None`: [`OsRandom`]; a seed makes reconnect delays repeatable in
    /// tests.
    pub jitter_seed: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            driver: DriverConfig::default(),
            ws: WsConfig::default(),
            jitter_seed: None,
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::backoff`].
    #[must_use]
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`ClientConfig::stable_after`].
    #[must_use]
    pub fn stable_after(mut self, d: Duration) -> Self {
        self.stable_after = d;
        self
    }

    /// Sets [`ClientConfig::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets [`ClientConfig::driver`].
    #[must_use]
    pub fn driver(mut self, driver: DriverConfig) -> Self {
        self.driver = driver;
        self
    }

    /// Sets [`ClientConfig::ws`].
    #[must_use]
    pub fn ws(mut self, ws: WsConfig) -> Self {
        self.ws = ws;
        self
    }

    /// Sets [`ClientConfig::jitter_seed`].
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    fn jitter(&self) -> Box<dyn RandomSource> {
        match self.jitter_seed {
            Some(seed) => Box::new(SplitMix64::seeded(seed)),
            None => Box::new(OsRandom),
        }
    }
}

/// What a [`Client`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent<E> {
    /// A connection is up; the session starts its login.
    Connected,
    /// A connection attempt failed.
    ConnectFailed(ConnectError),
    /// The connection ended (the session also reports it in its own events).
    Disconnected(Disconnect),
    /// The next attempt starts after this delay.
    Reconnecting {
        /// Failed attempts since the last successful login.
        attempt: u32,
        /// The backoff delay.
        delay: Duration,
    },
    /// An event of the session.
    Session(E),
}

/// A running client: its [`Handle`] and the task that owns the session.
pub struct Client<S: Session> {
    handle: Handle<S>,
    task: tokio::task::JoinHandle<S>,
}

impl<S: Session> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl<S> Client<S>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    /// Starts a client that connects over TCP to `addr`.
    pub fn connect_tcp(
        session: S,
        addr: SocketAddr,
        config: ClientConfig,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>) {
        let chunk = config.driver.read_chunk;
        let connect = move || async move {
            let stream = TcpStream::connect(addr).await?;
            Ok(TcpTransport::new(stream, chunk))
        };
        Self::spawn_transport(session, connect, config)
    }

    /// Starts a client that connects to a WebSocket `url` (`ws://host:port/path`) and carries one session
    /// message per text frame, with the message limit and buffers of the session's [`Wire`](crate::Wire)
    /// (overridden by [`ClientConfig::ws`]) and its ping/pong liveness.
    pub fn connect_ws(
        session: S,
        url: String,
        config: ClientConfig,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>) {
        let settings = config.ws.resolve(&session.wire());
        let connect = move || {
            let url = url.clone();
            let settings = settings.clone();
            async move {
                let (stream, _response) = tokio_tungstenite::connect_async_with_config(
                    url,
                    Some(settings.tungstenite()),
                    true,
                )
                .await
                .map_err(TransportError::from)?;
                Ok(WsTransport::new(stream, &settings))
            }
        };
        Self::spawn_transport(session, connect, config)
    }

    /// Starts a client over any byte-stream connector (TLS, a proxy, an in-memory pipe).
    pub fn spawn<C, F, IO>(
        session: S,
        mut connect: C,
        config: ClientConfig,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>)
    where
        C: FnMut() -> F + Send + 'static,
        F: Future<Output = io::Result<IO>> + Send + 'static,
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let chunk = config.driver.read_chunk;
        let connect = move || {
            let attempt = connect();
            async move {
                let io = attempt.await?;
                Ok(StreamTransport::new(io, chunk))
            }
        };
        Self::spawn_transport(session, connect, config)
    }

    /// Starts a client over any [`Transport`] connector.
    pub fn spawn_transport<C, F, T>(
        session: S,
        connect: C,
        config: ClientConfig,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>)
    where
        C: FnMut() -> F + Send + 'static,
        F: Future<Output = Result<T, ConnectError>> + Send + 'static,
        T: Transport + 'static,
    {
        let (ops_tx, ops_rx) = mpsc::channel(config.driver.command_capacity.max(1));
        let (events_tx, events_rx) = mpsc::channel(config.driver.event_capacity.max(1));
        let span = tracing::info_span!("client");
        let task =
            tokio::spawn(run_client(session, connect, config, ops_rx, events_tx).instrument(span));
        let handle = Handle { ops: ops_tx };
        (Self { handle, task }, events_rx)
    }

    /// A handle for commands; clones share the same session.
    #[must_use]
    pub fn handle(&self) -> Handle<S> {
        self.handle.clone()
    }

    /// Closes gracefully and waits for the driver to end; returns the session.
    ///
    /// # Errors
    /// The driver task panicked.
    pub async fn shutdown(self) -> Result<S, tokio::task::JoinError> {
        self.handle.close().await;
        self.task.await
    }
}

/// Wraps session events as [`ClientEvent::Session`].
struct ClientOutput;

impl<S: Session> Output<S> for ClientOutput
where
    S::Event: Send,
{
    type Event = ClientEvent<S::Event>;

    fn event(&mut self, _peer: Option<&S::Peer>, event: S::Event) -> Self::Event {
        ClientEvent::Session(event)
    }

    fn established(&mut self, _peer: &S::Peer) -> Option<Self::Event> {
        None
    }
}

async fn run_client<S, C, F, T>(
    mut session: S,
    mut connect: C,
    config: ClientConfig,
    mut ops: mpsc::Receiver<Op<S>>,
    events: mpsc::Sender<ClientEvent<S::Event>>,
) -> S
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    C: FnMut() -> F + Send + 'static,
    F: Future<Output = Result<T, ConnectError>> + Send + 'static,
    T: Transport + 'static,
{
    let mut rng = config.jitter();
    let mut backoff = Backoff::new(config.backoff);
    let mut waiting = Waiting::new();
    'outer: loop {
        let attempt = tokio::time::timeout(config.connect_timeout, connect()).await;
        match attempt {
            Ok(Ok(transport)) => {
                let _ = events.send(ClientEvent::Connected).await;
                let outcome = run_connection(
                    &mut session,
                    transport,
                    Conn {
                        ops: &mut ops,
                        waiting: &mut waiting,
                        events: &events,
                        out: &mut ClientOutput,
                        config: &config.driver,
                        admit: Admit::default(),
                    },
                )
                .await;
                let _ = events.send(ClientEvent::Disconnected(outcome.end)).await;
                if outcome
                    .established_for
                    .is_some_and(|d| d >= config.stable_after)
                {
                    backoff.reset();
                }
                if outcome.stop {
                    break 'outer;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "connect failed");
                let _ = events.send(ClientEvent::ConnectFailed(e)).await;
            }
            Err(_) => {
                let _ = events
                    .send(ClientEvent::ConnectFailed(ConnectError::TimedOut(
                        config.connect_timeout,
                    )))
                    .await;
            }
        }
        let delay = backoff.next_delay(&mut *rng);
        let _ = events
            .send(ClientEvent::Reconnecting {
                attempt: backoff.attempt(),
                delay,
            })
            .await;
        // While waiting, commands are answered at once (the session refuses them: not connected).
        let wake = tokio::time::sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                op = ops.recv() => match op {
                    Some(Op::Command(command, responder)) => dispatch(&mut session, command, responder, &mut waiting),
                    Some(Op::Close) | None => break 'outer,
                },
            }
        }
    }
    refuse_remaining(&mut ops);
    session
}
