//! What a driver reads from and writes to: a byte stream, or a WebSocket carrying one message per text frame.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// What one receive produced.
#[derive(Debug)]
pub enum Received<'a> {
    /// Bytes for [`crate::Session::handle_input`]: a chunk of a stream, or one whole WebSocket message.
    Data(&'a [u8]),
    /// The peer closed the transport.
    Closed,
    /// The transport failed; the text says how.
    Failed(String),
}

/// A connected transport a driver can run a session over.
///
/// Implemented for byte streams ([`StreamTransport`]) and WebSockets ([`WsTransport`]); implement it to carry
/// sessions over something else.
pub trait Transport: Send {
    /// Waits for the next input. Must be cancel-safe: the driver drops it when a timer or command comes first.
    fn recv(&mut self) -> impl Future<Output = Received<'_>> + Send;

    /// Queues bytes the session produced (one whole message on a message transport).
    fn send(&mut self, bytes: Bytes) -> impl Future<Output = Result<(), String>> + Send;

    /// Writes everything queued.
    fn flush(&mut self) -> impl Future<Output = Result<(), String>> + Send;

    /// Closes the transport gracefully.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// A byte stream (TCP, TLS, a pipe) read in chunks.
pub struct StreamTransport<IO> {
    rd: ReadHalf<IO>,
    wr: WriteHalf<IO>,
    buf: Vec<u8>,
}

impl<IO> fmt::Debug for StreamTransport<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamTransport")
            .field("read_chunk", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl<IO: AsyncRead + AsyncWrite> StreamTransport<IO> {
    /// Wraps `io`, reading at most `read_chunk` bytes at a time.
    pub fn new(io: IO, read_chunk: usize) -> Self {
        let (rd, wr) = tokio::io::split(io);
        Self {
            rd,
            wr,
            buf: vec![0; read_chunk.max(1)],
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Send> Transport for StreamTransport<IO> {
    async fn recv(&mut self) -> Received<'_> {
        match self.rd.read(&mut self.buf).await {
            Ok(0) => Received::Closed,
            Ok(n) => Received::Data(&self.buf[..n]),
            Err(e) => Received::Failed(e.to_string()),
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), String> {
        self.wr.write_all(&bytes).await.map_err(|e| e.to_string())
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.wr.flush().await.map_err(|e| e.to_string())
    }

    async fn close(&mut self) {
        let _ = self.wr.shutdown().await;
    }
}

/// WebSocket settings of the drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsConfig {
    /// Largest message accepted, set from the protocol codec's limit rather than the library's 64 MiB default.
    /// Default 1 MiB.
    pub max_message_size: usize,
    /// Send a ping when nothing arrived for this long. Default 30 s; `None` sends none.
    pub ping_interval: Option<Duration>,
    /// Close when nothing (not even a pong) arrived for this long. Default 90 s.
    pub pong_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message_size: 1024 * 1024,
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(90),
        }
    }
}

impl WsConfig {
    /// Sets [`WsConfig::max_message_size`].
    #[must_use]
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = n;
        self
    }

    /// Sets [`WsConfig::ping_interval`].
    #[must_use]
    pub fn ping_interval(mut self, d: Option<Duration>) -> Self {
        self.ping_interval = d;
        self
    }

    /// Sets [`WsConfig::pong_timeout`].
    #[must_use]
    pub fn pong_timeout(mut self, d: Duration) -> Self {
        self.pong_timeout = d;
        self
    }

    /// The tungstenite settings: message and frame limits from this config.
    #[must_use]
    pub fn tungstenite(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size))
    }
}

/// A WebSocket carrying one session message per text frame, with ping/pong liveness.
pub struct WsTransport<S> {
    ws: WebSocketStream<S>,
    config: WsConfig,
    last_rx: Instant,
    last_ping: Instant,
    message: Bytes,
}

impl<S> fmt::Debug for WsTransport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsTransport")
            .field("config", &self.config)
            .field("last_rx", &self.last_rx)
            .field("last_ping", &self.last_ping)
            .finish_non_exhaustive()
    }
}

impl<S> WsTransport<S> {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>, config: WsConfig) -> Self {
        let now = Instant::now();
        Self {
            ws,
            config,
            last_rx: now,
            last_ping: now,
            message: Bytes::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Transport for WsTransport<S> {
    async fn recv(&mut self) -> Received<'_> {
        loop {
            let ping_at = self
                .config
                .ping_interval
                .map(|p| self.last_rx.max(self.last_ping) + p);
            let dead_at = self.last_rx + self.config.pong_timeout;
            let wake = ping_at.map_or(dead_at, |p| p.min(dead_at));
            tokio::select! {
                next = self.ws.next() => {
                    self.last_rx = Instant::now();
                    match next {
                        Some(Ok(Message::Text(text))) => {
                            self.message = Bytes::from(text);
                            return Received::Data(&self.message);
                        }
                        Some(Ok(Message::Binary(bytes))) => {
                            self.message = bytes;
                            return Received::Data(&self.message);
                        }
                        // Pongs to the peer's pings are queued by tungstenite; write them out now.
                        Some(Ok(Message::Ping(_))) => {
                            if let Err(e) = self.ws.flush().await {
                                return Received::Failed(e.to_string());
                            }
                        }
                        Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return Received::Closed,
                        Some(Err(e)) => return Received::Failed(e.to_string()),
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if now >= dead_at {
                        return Received::Failed(format!(
                            "nothing received for {:?} (ping unanswered)",
                            self.config.pong_timeout
                        ));
                    }
                    self.last_ping = now;
                    if let Err(e) = self.ws.send(Message::Ping(Bytes::new())).await {
                        return Received::Failed(e.to_string());
                    }
                }
            }
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), String> {
        let message = match Utf8Bytes::try_from(bytes) {
            Ok(text) => Message::Text(text),
            Err(e) => return Err(format!("a WebSocket text frame must be UTF-8: {e}")),
        };
        self.ws.feed(message).await.map_err(|e| e.to_string())
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| e.to_string())
    }

    async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
