//! What a driver reads from and writes to: a byte stream, or a WebSocket carrying one message per text frame.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::session::{Framing, Wire};

/// Why a transport failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The WebSocket layer failed (a protocol violation, an over-long message, the handshake).
    #[error(transparent)]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// A message for a WebSocket text frame was not UTF-8.
    #[error("a WebSocket text frame must be UTF-8: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    /// Nothing, not even a pong, arrived for this long.
    #[error("nothing received for {0:?} (ping unanswered)")]
    PongTimeout(Duration),
    /// The WebSocket handshake did not complete in time.
    #[error("no WebSocket handshake within {0:?}")]
    HandshakeTimeout(Duration),
    /// The session needs one message per frame and the transport is a byte stream.
    #[error("the protocol needs a message transport (one message per WebSocket frame), not a byte stream")]
    NeedsMessageFraming,
    /// The MQTT client failed (connect, subscribe, a broker disconnect); the text is rumqttc's.
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// A message over the transport's payload limit (one MQTT publish): refused, never truncated.
    #[error("a payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::WebSocket(Box::new(e))
    }
}

/// What one receive produced.
#[derive(Debug)]
pub enum Received<'a> {
    /// Bytes for [`crate::Session::handle_input`]: a chunk of a stream, or one whole WebSocket message.
    Data(&'a [u8]),
    /// The peer closed the transport.
    Closed,
    /// The transport failed.
    Failed(TransportError),
}

/// A connected transport a driver can run a session over.
///
/// Implemented for byte streams ([`StreamTransport`], [`TcpTransport`]) and WebSockets ([`WsTransport`]);
/// implement it to carry sessions over something else (one message per MQTT publish, say).
pub trait Transport: Send {
    /// How this transport cuts input: the driver tells the session ([`crate::Session::use_framing`]).
    fn framing(&self) -> Framing;

    /// Waits for the next input. Must be cancel-safe: the driver drops it when a timer or command comes first.
    fn recv(&mut self) -> impl Future<Output = Received<'_>> + Send;

    /// Queues bytes the session produced (one whole message on a message transport).
    fn send(&mut self, bytes: Bytes) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Writes everything queued.
    fn flush(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Closes the transport gracefully.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// A byte stream (TLS, a pipe, any `AsyncRead + AsyncWrite`) read in chunks into a buffer it keeps.
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
    fn framing(&self) -> Framing {
        Framing::Stream
    }

    async fn recv(&mut self) -> Received<'_> {
        match self.rd.read(&mut self.buf).await {
            Ok(0) => Received::Closed,
            Ok(n) => Received::Data(&self.buf[..n]),
            Err(e) => Received::Failed(e.into()),
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        Ok(self.wr.write_all(&bytes).await?)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(self.wr.flush().await?)
    }

    async fn close(&mut self) {
        let _ = self.wr.shutdown().await;
    }
}

/// A TCP connection that holds no read buffer while it waits: it waits for readability first and reads into a
/// buffer only then, so an idle connection costs its socket and its session, not a read chunk.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    buf: Vec<u8>,
    read_chunk: usize,
}

impl TcpTransport {
    /// Wraps a connected stream, reading at most `read_chunk` bytes at a time.
    #[must_use]
    pub fn new(stream: TcpStream, read_chunk: usize) -> Self {
        // Small packets of many devices: send them at once rather than waiting for Nagle's coalescing.
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buf: Vec::new(),
            read_chunk: read_chunk.max(1),
        }
    }
}

impl Transport for TcpTransport {
    fn framing(&self) -> Framing {
        Framing::Stream
    }

    async fn recv(&mut self) -> Received<'_> {
        // The previous chunk was handed to the session already: give its memory back before waiting.
        self.buf = Vec::new();
        loop {
            if let Err(e) = self.stream.readable().await {
                return Received::Failed(e.into());
            }
            // After readiness the read completes without waiting, so the buffer lives only for this call.
            self.buf.resize(self.read_chunk, 0);
            match self.stream.try_read(&mut self.buf) {
                Ok(0) => return Received::Closed,
                Ok(n) => return Received::Data(&self.buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.buf = Vec::new();
                }
                Err(e) => return Received::Failed(e.into()),
            }
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        Ok(self.stream.write_all(&bytes).await?)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(self.stream.flush().await?)
    }

    async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// WebSocket settings of the drivers. The message limit and the buffer sizes come from the session's
/// [`Wire`]; set them here only to override the protocol's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsConfig {
    /// Largest message accepted. Default `None`: the session codec's limit ([`Wire::max_message`]: 16 MiB for
    /// best and access, the codec's for aliscan), so a frame the codec would refuse is refused before it is
    /// buffered.
    pub max_message_size: Option<usize>,
    /// The read buffer tungstenite allocates for each connection, and the write batch it fills before writing.
    /// Default `None`: the protocol's typical message ([`Wire::typical_message`], about 1 KiB), so an idle
    /// WebSocket costs about what an idle TCP connection does (tungstenite's own default is 128 KiB each
    /// way); a larger message grows the buffer for as long as it needs it.
    pub buffer_size: Option<usize>,
    /// The path a server accepts upgrades for. Default [`WsPath::Protocol`]: the protocol's
    /// ([`Wire::ws_path`]: `/aliscan`, `/best`; any path for the others).
    pub path: WsPath,
    /// Send a ping when nothing arrived for this long. Default 30 s; `None` sends none.
    pub ping_interval: Option<Duration>,
    /// Close when nothing (not even a pong) arrived for this long. Default 90 s.
    pub pong_timeout: Duration,
}

/// Which upgrade requests a WebSocket server accepts; others get HTTP 404.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WsPath {
    /// The protocol's path ([`Wire::ws_path`]), or any path when the protocol names none. The default.
    #[default]
    Protocol,
    /// Any path.
    Any,
    /// Only this path.
    Exactly(String),
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_message_size: None,
            buffer_size: None,
            path: WsPath::Protocol,
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(90),
        }
    }
}

impl WsConfig {
    /// Sets [`WsConfig::max_message_size`].
    #[must_use]
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = Some(n);
        self
    }

    /// Sets [`WsConfig::buffer_size`].
    #[must_use]
    pub fn buffer_size(mut self, n: usize) -> Self {
        self.buffer_size = Some(n);
        self
    }

    /// Sets [`WsConfig::path`].
    #[must_use]
    pub fn path(mut self, path: WsPath) -> Self {
        self.path = path;
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

    /// The settings for one connection of a session with these transport facts.
    #[must_use]
    pub fn resolve(&self, wire: &Wire) -> WsSettings {
        let max_message = self.max_message_size.unwrap_or(wire.max_message).max(1);
        let buffer = self
            .buffer_size
            .unwrap_or(wire.typical_message)
            .clamp(64, max_message.max(64));
        let path = match &self.path {
            WsPath::Protocol => wire.ws_path.map(str::to_owned),
            WsPath::Any => None,
            WsPath::Exactly(p) => Some(p.clone()),
        };
        WsSettings {
            max_message,
            buffer,
            path,
            ping_interval: self.ping_interval,
            pong_timeout: self.pong_timeout,
        }
    }
}

/// [`WsConfig`] resolved against one protocol's [`Wire`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsSettings {
    /// Largest message accepted.
    pub max_message: usize,
    /// Read buffer and write batch size.
    pub buffer: usize,
    /// The path a server accepts (`None`: any).
    pub path: Option<String>,
    /// As [`WsConfig::ping_interval`].
    pub ping_interval: Option<Duration>,
    /// As [`WsConfig::pong_timeout`].
    pub pong_timeout: Duration,
}

impl WsSettings {
    /// The tungstenite settings: message and frame limits, and buffers of the protocol's typical message.
    #[must_use]
    pub fn tungstenite(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_message))
            .read_buffer_size(self.buffer)
            // Frames are written on flush; the write buffer only batches what one drain of the session queued.
            .write_buffer_size(0)
    }
}

/// A WebSocket carrying one session message per text frame, with ping/pong liveness.
pub struct WsTransport<S> {
    ws: WebSocketStream<S>,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
    last_rx: Instant,
    last_ping: Instant,
    message: Bytes,
}

impl<S> fmt::Debug for WsTransport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsTransport")
            .field("ping_interval", &self.ping_interval)
            .field("pong_timeout", &self.pong_timeout)
            .field("last_rx", &self.last_rx)
            .field("last_ping", &self.last_ping)
            .finish_non_exhaustive()
    }
}

impl<S> WsTransport<S> {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>, settings: &WsSettings) -> Self {
        let now = Instant::now();
        Self {
            ws,
            ping_interval: settings.ping_interval,
            pong_timeout: settings.pong_timeout,
            last_rx: now,
            last_ping: now,
            message: Bytes::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Transport for WsTransport<S> {
    fn framing(&self) -> Framing {
        Framing::Message
    }

    async fn recv(&mut self) -> Received<'_> {
        loop {
            let ping_at = self
                .ping_interval
                .map(|p| self.last_rx.max(self.last_ping) + p);
            let dead_at = self.last_rx + self.pong_timeout;
            let wake = ping_at.map_or(dead_at, |p| p.min(dead_at));
            tokio::select! {
                next = self.ws.next() => {
                    self.last_rx = Instant::now();
                    match next {
                        // The message stays referenced until the next one arrives: tungstenite then reads into
                        // a fresh buffer of the configured size instead of reclaiming a large message's one.
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
                                return Received::Failed(e.into());
                            }
                        }
                        Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return Received::Closed,
                        Some(Err(e)) => return Received::Failed(e.into()),
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if now >= dead_at {
                        return Received::Failed(TransportError::PongTimeout(self.pong_timeout));
                    }
                    self.last_ping = now;
                    if let Err(e) = self.ws.send(Message::Ping(Bytes::new())).await {
                        return Received::Failed(e.into());
                    }
                }
            }
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        let text = Utf8Bytes::try_from(bytes)?;
        Ok(self.ws.feed(Message::Text(text)).await?)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(self.ws.flush().await?)
    }

    async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
