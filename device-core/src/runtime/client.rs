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
    dispatch, run_connection, CommandError, DriverConfig, Handle, Op, StreamTransport, Transport,
    Waiting, WsConfig, WsTransport,
};
use crate::backoff::{Backoff, BackoffConfig};
use crate::rng::{RandomSource, SplitMix64};
use crate::session::{CloseReason, Session};

/// Settings of a [`Client`].
#[derive(Debug, Clone, Copy, PartialEq)]
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
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            stable_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            driver: DriverConfig::default(),
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
}

/// What a [`Client`] reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent<E> {
    /// A connection is up; the session starts its login.
    Connected,
    /// A connection attempt failed.
    ConnectFailed(String),
    /// The connection ended (the session also reports it in its own events).
    Disconnected(Option<CloseReason>),
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
        Self::spawn(
            session,
            move || TcpStream::connect(addr),
            config,
            SplitMix64::from_entropy(),
        )
    }

    /// Starts a client that connects to a WebSocket `url` (`ws://host:port/path`) and carries one session
    /// message per text frame, with the message limit and ping/pong liveness of `ws`.
    pub fn connect_ws(
        session: S,
        url: String,
        ws: WsConfig,
        config: ClientConfig,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>) {
        let connect = move || {
            let url = url.clone();
            async move {
                let (stream, _response) =
                    tokio_tungstenite::connect_async_with_config(url, Some(ws.tungstenite()), true)
                        .await
                        .map_err(io::Error::other)?;
                Ok(WsTransport::new(stream, ws))
            }
        };
        Self::spawn_transport(session, connect, config, SplitMix64::from_entropy())
    }

    /// Starts a client over any byte-stream connector (TLS, a proxy, an in-memory pipe) with a chosen jitter
    /// source.
    pub fn spawn<C, F, IO, R>(
        session: S,
        mut connect: C,
        config: ClientConfig,
        rng: R,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>)
    where
        C: FnMut() -> F + Send + 'static,
        F: Future<Output = io::Result<IO>> + Send + 'static,
        IO: AsyncRead + AsyncWrite + Send + 'static,
        R: RandomSource + 'static,
    {
        let chunk = config.driver.read_chunk;
        let connect = move || {
            let attempt = connect();
            async move { attempt.await.map(|io| StreamTransport::new(io, chunk)) }
        };
        Self::spawn_transport(session, connect, config, rng)
    }

    /// Starts a client over any [`Transport`] connector.
    pub fn spawn_transport<C, F, T, R>(
        session: S,
        connect: C,
        config: ClientConfig,
        rng: R,
    ) -> (Self, mpsc::Receiver<ClientEvent<S::Event>>)
    where
        C: FnMut() -> F + Send + 'static,
        F: Future<Output = io::Result<T>> + Send + 'static,
        T: Transport + 'static,
        R: RandomSource + 'static,
    {
        let (ops_tx, ops_rx) = mpsc::channel(config.driver.command_capacity.max(1));
        let (events_tx, events_rx) = mpsc::channel(config.driver.event_capacity.max(1));
        let span = tracing::info_span!("client");
        let task = tokio::spawn(
            run_client(session, connect, config, rng, ops_rx, events_tx).instrument(span),
        );
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

async fn run_client<S, C, F, T, R>(
    mut session: S,
    mut connect: C,
    config: ClientConfig,
    mut rng: R,
    mut ops: mpsc::Receiver<Op<S>>,
    events: mpsc::Sender<ClientEvent<S::Event>>,
) -> S
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    C: FnMut() -> F + Send + 'static,
    F: Future<Output = io::Result<T>> + Send + 'static,
    T: Transport + 'static,
    R: RandomSource + 'static,
{
    let mut backoff = Backoff::new(config.backoff);
    let mut waiting = Waiting::new();
    let wrap = |_: Option<String>, e: S::Event| ClientEvent::Session(e);
    'outer: loop {
        let attempt = tokio::time::timeout(config.connect_timeout, connect()).await;
        match attempt {
            Ok(Ok(transport)) => {
                let _ = events.send(ClientEvent::Connected).await;
                let end = run_connection(
                    &mut session,
                    transport,
                    &mut ops,
                    &mut waiting,
                    &events,
                    &wrap,
                    &config.driver,
                )
                .await;
                let _ = events.send(ClientEvent::Disconnected(end.reason)).await;
                if end
                    .established_for
                    .is_some_and(|d| d >= config.stable_after)
                {
                    backoff.reset();
                }
                if end.stop {
                    break 'outer;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "connect failed");
                let _ = events.send(ClientEvent::ConnectFailed(e.to_string())).await;
            }
            Err(_) => {
                let _ = events
                    .send(ClientEvent::ConnectFailed("connect timed out".into()))
                    .await;
            }
        }
        let delay = backoff.next_delay(&mut rng);
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
    ops.close();
    while let Ok(Op::Command(_, responder)) = ops.try_recv() {
        let _ = responder.send(Err(CommandError::Stopped));
    }
    session
}
