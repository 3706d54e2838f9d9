//! What every session shares: the [`Session`] trait the drivers run, request ids, outcomes and close reasons.

use std::time::{Duration, Instant};

use bytes::Bytes;

/// Identifies one request issued through a session; unique for the session's lifetime, reconnects included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The id as a number, for logs.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why a request ended without a response. A peer's own failure code is not here: it is part of the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No response arrived within the request timeout; a response arriving later is dropped and counted.
    #[error("no response within {0:?}")]
    TimedOut(Duration),
    /// The connection closed before the response arrived.
    #[error("connection lost before the response arrived")]
    ConnectionLost,
}

/// Why a command was refused at once, without being sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The outbound queue holds its maximum of application messages.
    #[error("outbound queue is full ({capacity} messages)")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// Too many requests are waiting for responses.
    #[error("too many requests in flight ({capacity})")]
    TooManyInFlight {
        /// The most requests that may wait at once.
        capacity: usize,
    },
    /// The session has not logged in (or is not connected), so it cannot carry application messages.
    #[error("session is not logged in")]
    NotReady,
    /// A request with the same correlation key is already waiting.
    #[error("a request with key `{key}` is already waiting for its response")]
    DuplicateKey {
        /// The correlation key.
        key: String,
    },
    /// The message names no request this side is waiting to answer, or is not one this side may send.
    #[error("refused: {0}")]
    Refused(String),
    /// The message could not be encoded (too large, invalid value).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The session is closed.
    #[error("session is closed")]
    Closed,
}

/// Why a session asks its driver to close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Nothing arrived from the peer for this long.
    PeerSilent {
        /// The liveness timeout that elapsed.
        after: Duration,
    },
    /// The peer broke the protocol (bad framing, a message out of order); the text says how.
    Protocol(String),
    /// The login was refused; the text says why.
    LoginRejected(String),
    /// The login got no answer in time.
    LoginTimeout,
    /// The application asked for a graceful close.
    Requested,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PeerSilent { after } => write!(f, "peer silent for {after:?}"),
            Self::Protocol(why) => write!(f, "protocol error: {why}"),
            Self::LoginRejected(why) => write!(f, "login rejected: {why}"),
            Self::LoginTimeout => f.write_str("login timed out"),
            Self::Requested => f.write_str("closed by the application"),
        }
    }
}

/// A sans-io protocol session: one side of one connection, driven by bytes, time and commands.
///
/// A session never reads the clock, the RNG or a socket. Its driver:
/// 1. calls [`Session::connection_opened`] once the transport is up;
/// 2. then, in any order, feeds [`Session::handle_input`] with received bytes (for a message transport, one call
///    per message), [`Session::handle_timeout`] when [`Session::poll_timeout`] is reached, and
///    [`Session::handle_command`] with the application's commands;
/// 3. after each of those calls, drains [`Session::poll_transmit`] (write the bytes in order),
///    [`Session::poll_event`] and [`Session::poll_reply`], and re-reads [`Session::poll_timeout`];
/// 4. closes the transport once [`Session::close_reason`] is set (after writing the pending transmits), or when
///    the transport fails, and then calls [`Session::connection_lost`], which ends every waiting request with
///    [`RequestError::ConnectionLost`]. A client session may then be reconnected: back to 1.
pub trait Session {
    /// What the application asks the session to do.
    type Command;
    /// The response a request ends with.
    type Reply;
    /// What the session tells the application.
    type Event;

    /// The transport is up: a client starts its login here.
    fn connection_opened(&mut self, now: Instant);

    /// The transport is gone: waiting requests end with [`RequestError::ConnectionLost`], login state resets.
    fn connection_lost(&mut self, now: Instant);

    /// Bytes from the peer.
    fn handle_input(&mut self, now: Instant, data: &[u8]);

    /// The deadline of [`Session::poll_timeout`] was reached.
    fn handle_timeout(&mut self, now: Instant);

    /// A command from the application. `Ok(Some(id))` is a request whose outcome [`Session::poll_reply`] will
    /// yield exactly once; `Ok(None)` a message sent without a response.
    ///
    /// # Errors
    /// [`SendError`] when the command is refused at once; nothing was queued.
    fn handle_command(
        &mut self,
        now: Instant,
        command: Self::Command,
    ) -> Result<Option<RequestId>, SendError>;

    /// The next bytes to write, in order.
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// When [`Session::handle_timeout`] must be called next, if ever.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next event for the application.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// The next finished request: its response or why it has none.
    fn poll_reply(&mut self) -> Option<(RequestId, Result<Self::Reply, RequestError>)>;

    /// Set once the session wants the connection closed.
    fn close_reason(&self) -> Option<&CloseReason>;

    /// Whether the session completed its login on the current connection (drivers reset backoff on it).
    fn is_established(&self) -> bool;

    /// The peer's device id once known (a server session learns it at login), for routing and logs.
    fn peer_id(&self) -> Option<String>;

    /// Asks for a graceful close: the session stops taking commands and sets [`CloseReason::Requested`].
    fn close(&mut self, now: Instant);
}
