//! What every session shares: the [`Session`] trait the drivers run, request ids, outcomes and close reasons.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::task::Waker;
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
    /// The message names no request this side is waiting to answer, or is not one this side may send; the
    /// error says which message and why.
    #[error("refused: {0}")]
    Refused(ProtocolError),
    /// The message could not be encoded (too large, invalid value); the error wraps the codec's
    /// `EncodeError`, which names the field and the limit.
    #[error("cannot encode: {0}")]
    Encode(ProtocolError),
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
    /// The peer broke the protocol (bad framing, a message out of order, an unmatchable request); the error
    /// says how, naming the field, the bytes and the limit where known.
    Protocol(ProtocolError),
    /// The login was refused, by the peer (its code) or by this side (why).
    LoginRejected(ProtocolError),
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

/// A session-level error of one protocol: what [`CloseReason::Protocol`], [`CloseReason::LoginRejected`],
/// [`SendError::Refused`] and [`SendError::Encode`] carry.
///
/// One variant per protocol, each wrapping that protocol's own `SessionError`, so that a protocol can be left
/// out of a build without touching the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A jetinno session error.
    #[cfg(feature = "jetinno")]
    #[error("jetinno: {0}")]
    Jetinno(crate::jetinno::SessionError),
    /// An access session error.
    #[cfg(feature = "access")]
    #[error("access: {0}")]
    Access(crate::access::SessionError),
    /// A best session error.
    #[cfg(feature = "best")]
    #[error("best: {0}")]
    Best(crate::best::SessionError),
    /// A kingxun session error.
    #[cfg(feature = "kingxun")]
    #[error("kingxun: {0}")]
    Kingxun(crate::kingxun::SessionError),
    /// An aliscan session error.
    #[cfg(feature = "aliscan")]
    #[error("aliscan: {0}")]
    Aliscan(crate::aliscan::SessionError),
}

/// The conversions of a protocol's `SessionError` (in scope where it is called, with an `Encode` variant):
/// into [`ProtocolError`] as that protocol's variant, into `std::io::Error` (`InvalidData`), into
/// [`SendError`] (an encode error becomes [`SendError::Encode`], any other [`SendError::Refused`]) and into
/// [`CloseReason::Protocol`].
#[allow(unused_macros)] // unused in a build without any protocol feature
macro_rules! session_error_conversions {
    ($variant:ident) => {
        impl From<SessionError> for $crate::session::ProtocolError {
            fn from(e: SessionError) -> Self {
                Self::$variant(e)
            }
        }

        impl From<SessionError> for std::io::Error {
            fn from(e: SessionError) -> Self {
                Self::new(std::io::ErrorKind::InvalidData, e)
            }
        }

        impl From<SessionError> for $crate::SendError {
            /// An encode error becomes [`crate::SendError::Encode`], any other [`crate::SendError::Refused`].
            fn from(e: SessionError) -> Self {
                match e {
                    SessionError::Encode(_) => Self::Encode(e.into()),
                    other => Self::Refused(other.into()),
                }
            }
        }

        impl From<SessionError> for $crate::CloseReason {
            fn from(e: SessionError) -> Self {
                Self::Protocol(e.into())
            }
        }
    };
}
#[allow(unused_imports)] // unused in a build without any protocol feature
pub(crate) use session_error_conversions;

impl From<ProtocolError> for std::io::Error {
    fn from(e: ProtocolError) -> Self {
        Self::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// A codec error shared between clones: the proto crates' `DecodeError`/`EncodeError` hold a `serde_json`
/// error, which is neither `Clone` nor `PartialEq`, while events and close reasons are both.
///
/// Dereferences to the wrapped error, so its typed fields (which field, which bytes, which limit) stay
/// reachable; equality compares the errors' messages, which name all of those.
pub struct Shared<E>(Arc<E>);

impl<E> Shared<E> {
    /// Wraps an error.
    #[must_use]
    pub fn new(error: E) -> Self {
        Self(Arc::new(error))
    }

    /// The wrapped error.
    #[must_use]
    pub fn get(&self) -> &E {
        &self.0
    }
}

impl<E> From<E> for Shared<E> {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E> std::ops::Deref for Shared<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl<E: Debug> Debug for Shared<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::fmt::Display> std::fmt::Display for Shared<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: std::error::Error> std::error::Error for Shared<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl<E: Debug + std::fmt::Display> PartialEq for Shared<E> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (format!("{:?}", self.0) == format!("{:?}", other.0)
                && self.0.to_string() == other.0.to_string())
    }
}

impl<E: Debug + std::fmt::Display> Eq for Shared<E> {}

/// How the bytes given to [`Session::handle_input`] are cut into messages: the transport decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// A byte stream (raw TCP): input arrives in arbitrary chunks and the session's codec finds the message
    /// boundaries. The default.
    #[default]
    Stream,
    /// Every [`Session::handle_input`] call carries exactly one whole message (a WebSocket text frame, an MQTT
    /// publish), and every [`Session::poll_transmit`] is sent as one message.
    Message,
}

/// What a protocol asks of the transport it runs on: facts a driver derives from the session instead of a
/// second setting (the server and client configs can still override them in one place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Wire {
    /// The framing the protocol is defined with: [`Framing::Stream`] for the TCP protocols (jetinno, access,
    /// kingxun), [`Framing::Message`] for the WebSocket ones (aliscan, best). A stream session also runs over a
    /// message transport (each message is a chunk of its stream; access switches to one object per message on
    /// [`Session::use_framing`]); a message session needs a message transport.
    pub framing: Framing,
    /// The largest message the session's codec accepts, in bytes: a message transport refuses larger frames
    /// before buffering them.
    pub max_message: usize,
    /// The size of a typical message, in bytes: transports size their buffers from it and grow them only for
    /// larger messages.
    pub typical_message: usize,
    /// The WebSocket path the protocol is served at (DECISIONS.md: `/aliscan`, `/best`); `None` = any path.
    pub ws_path: Option<&'static str>,
}

impl Wire {
    /// A stream protocol whose messages are at most `max_message` bytes.
    #[must_use]
    pub const fn stream(max_message: usize, typical_message: usize) -> Self {
        Self {
            framing: Framing::Stream,
            max_message,
            typical_message,
            ws_path: None,
        }
    }

    /// A message protocol (one message per WebSocket text frame) whose messages are at most `max_message`
    /// bytes, served at `ws_path`.
    #[must_use]
    pub const fn message(
        max_message: usize,
        typical_message: usize,
        ws_path: Option<&'static str>,
    ) -> Self {
        Self {
            framing: Framing::Message,
            max_message,
            typical_message,
            ws_path,
        }
    }
}

/// A sans-io protocol session: one side of one connection, driven by bytes, time and commands.
///
/// A session never reads the clock, the RNG or a socket. Its driver:
/// 1. calls [`Session::use_framing`] with the framing of the transport it runs on, then
///    [`Session::connection_opened`] once the transport is up;
/// 2. then, in any order, feeds [`Session::handle_input`] with received bytes (for a message transport, one call
///    per message), [`Session::handle_timeout`] when [`Session::poll_timeout`] is reached, and
///    [`Session::handle_command`] with the application's commands;
/// 3. after each of those calls (and whenever the waker given to [`Session::set_waker`] is woken), drains
///    [`Session::poll_transmit`] (write the bytes in order), [`Session::poll_event`] and
///    [`Session::poll_reply`], re-reads [`Session::poll_timeout`], and checks [`Session::peer`]: the first time
///    it is `Some`, the session is established with that peer (a server routes commands by it);
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
    /// Who the session is established with: the device id a server session learns at login (jetinno `vmc_no`,
    /// best `sn`, access `uuid`, kingxun `svrHost#sessionId`, aliscan pad id), `()` for a client session,
    /// which knows its server by address.
    type Peer: Clone + Eq + Hash + Debug + Send + Sync + 'static;

    /// The transport facts of this protocol, from the session's codec config and DECISIONS.md.
    #[must_use]
    fn wire(&self) -> Wire;

    /// The framing of the transport the session runs on, called before [`Session::connection_opened`]. Only a
    /// protocol carried both ways (access) changes anything; the default ignores it.
    fn use_framing(&mut self, framing: Framing) {
        let _ = framing;
    }

    /// A waker for a session that shares state with others (the aliscan station's pads): it wakes it when
    /// something else queued output for it, and the driver then drains the session. The default ignores it.
    fn set_waker(&mut self, waker: &Waker) {
        let _ = waker;
    }

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
    #[must_use]
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// When [`Session::handle_timeout`] must be called next, if ever.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next event for the application.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// The next finished request: its response or why it has none.
    #[must_use]
    fn poll_reply(&mut self) -> Option<(RequestId, Result<Self::Reply, RequestError>)>;

    /// Set once the session wants the connection closed.
    #[must_use]
    fn close_reason(&self) -> Option<&CloseReason>;

    /// Whether the session completed its login on the current connection (drivers reset backoff on it).
    #[must_use]
    fn is_established(&self) -> bool;

    /// The peer this connection is established with, once known: a server session learns it at login and
    /// keeps it until the connection ends. A driver routes commands by it.
    #[must_use]
    fn peer(&self) -> Option<&Self::Peer>;

    /// Asks for a graceful close: the session stops taking commands and sets [`CloseReason::Requested`].
    fn close(&mut self, now: Instant);
}

/// The state a server's sessions share, and the factory of those sessions (quinn's `Endpoint` next to its
/// `Connection`s).
///
/// Most protocols run one independent session per connection: any `FnMut() -> S` is an endpoint with no state
/// of its own. A protocol whose connections share one state machine (the aliscan station: booking, the scan in
/// progress, status broadcasts) implements this trait: its sessions reach the shared state and wake each
/// other through [`Session::set_waker`], and the endpoint has its own timers and events. The server driver
/// calls [`Endpoint::new_session`] for every accepted connection, fires [`Endpoint::handle_timeout`] at
/// [`Endpoint::poll_timeout`], and drains [`Endpoint::poll_event`] whenever the waker given to
/// [`Endpoint::set_waker`] is woken.
pub trait Endpoint<S: Session>: Send + 'static {
    /// A session for a connection that was just accepted.
    fn new_session(&mut self, now: Instant) -> S;

    /// A waker for the endpoint's own work: woken when it has events or its deadline moved. Default: ignored.
    fn set_waker(&mut self, waker: &Waker) {
        let _ = waker;
    }

    /// When [`Endpoint::handle_timeout`] must be called next, if ever. Default: never.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The deadline of [`Endpoint::poll_timeout`] was reached. Default: nothing to do.
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// The next event of the shared state (not of one connection). Default: none.
    #[must_use]
    fn poll_event(&mut self) -> Option<S::Event> {
        None
    }
}

impl<S: Session, F: FnMut() -> S + Send + 'static> Endpoint<S> for F {
    fn new_session(&mut self, _now: Instant) -> S {
        self()
    }
}
