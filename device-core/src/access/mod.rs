//! Access sessions: the attendance/access terminal (TCP client) and the management server (one session per
//! connection).
//!
//! Both sides send requests and answer the other side's (access.md, DECISIONS.md): the server asks the terminal
//! `get_device_info`, `set_device_info`, `download_person` and `send_user_command`; the terminal sends
//! `upload_access_info` and `send_device_command`. A response pairs with its request by `(mod, session_id)`;
//! `session_id` is a fresh UUID per request, built from the session's injected [`RandomSource`].
//!
//! Decisions where the spec is silent (the spec defines no login and no heartbeat):
//! - **No login.** A [`TerminalSession`] is established as soon as its transport is up. The server learns who
//!   is on the line the only way the spec offers: its [`ServerSession`] asks `get_device_info` on connect and
//!   takes the terminal's `device_info.uuid` as the device id ([`Session::peer`], used for routing). A
//!   failure code, a missing `uuid`, a refusal by the server's [`Admission`] policy close the connection with
//!   [`CloseReason::LoginRejected`]; no answer within [`IDENTIFY_TIMEOUT`] closes it with
//!   [`CloseReason::LoginTimeout`]. Terminal requests that arrive before the terminal is identified are held
//!   and handed to the application right after identification, so that it can route its answers.
//! - **Liveness.** The server probes an identified terminal with `get_device_info` every [`PROBE_INTERVAL`]
//!   (a read-only request every terminal answers) and closes a link that sent nothing for [`PEER_TIMEOUT`].
//!   The terminal closes a link that sent nothing for [`PEER_TIMEOUT`] and then reconnects with backoff; it
//!   relies on those probes, so set [`TerminalConfig::peer_timeout`] to `None` against a server that never
//!   probes. Any bytes received count as life (a large `download_person` may take a while to arrive).
//! - **Answering the peer.** A received request becomes a `Request` event; the application answers it with an
//!   `Answer` command carrying the [`Response`](access_proto::Response) (build it with
//!   [`Request::reply`](access_proto::Request::reply)). The session checks the answer against the requests
//!   received and not yet answered (anything else is refused with [`SendError::Refused`]) and never refuses it
//!   for lack of room. A request not answered within [`ANSWER_TIMEOUT`] is answered by the session itself with
//!   code `-1` and reported as `Unanswered`; a request arriving while the most requests allowed are already
//!   waiting is answered `-1` at once and reported as `Busy`. A [`TerminalSession`] answers `get_device_info`
//!   itself when [`TerminalConfig::device_info`] is set.
//! - **Framing** comes from the transport ([`Session::use_framing`], called by every driver):
//!   [`Framing::Stream`] for raw TCP (one JSON object per message, `\n` after each, split by braces),
//!   [`Framing::Message`] when each [`Session::handle_input`] call carries one whole message (WebSocket text
//!   frames). A framing error or an over-long message closes the connection with
//!   [`CloseReason::Protocol`]; a whole message that does not decode is reported as `Malformed` and the
//!   connection goes on.
//! - **The answer rule** (DECISIONS.md): a request (`type` 1, or no `type` and no `code`) that does not decode
//!   but whose `mod` and `session_id` can be read is answered by the session at once with code `-1`, the
//!   decode error (naming the field, e.g. ``at `access_info.time`: ...``) as `message`, and reported as
//!   [`SessionError::MalformedRequest`]; the peer never waits for it to time out. Errors are typed
//!   ([`SessionError`], inside [`crate::ProtocolError::Access`]); the admission policy refuses with a
//!   [`Refusal`] (a result code and a reason).
//!
//! [`RandomSource`]: crate::RandomSource
//! [`Session::peer`]: crate::Session::peer
//! [`Session::use_framing`]: crate::Session::use_framing
//! [`Session::handle_input`]: crate::Session::handle_input
//! [`CloseReason::LoginRejected`]: crate::CloseReason::LoginRejected
//! [`CloseReason::LoginTimeout`]: crate::CloseReason::LoginTimeout
//! [`CloseReason::Protocol`]: crate::CloseReason::Protocol
//! [`SendError::Refused`]: crate::SendError::Refused

mod link;
mod server;
mod terminal;

pub use server::{
    Admission, AdmitAll, IdentifyFailure, Refusal, ServerCommand, ServerConfig, ServerEvent,
    ServerSession,
};
pub use terminal::{TerminalCommand, TerminalConfig, TerminalEvent, TerminalSession};

use std::time::Duration;

pub use access_proto::DEFAULT_MAX_MESSAGE_LEN;

use access_proto::{DecodeError, EncodeError, Mod, PairKey};

use crate::session::Shared;

/// What went wrong in an access session: a codec error (which names the field, the bytes and the limit) or a
/// session-level violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A message did not decode: its framing (then the connection closes) or its JSON (it goes on).
    #[error(transparent)]
    Decode(Shared<DecodeError>),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(Shared<EncodeError>),
    /// A request whose fields did not decode but whose `mod` and `session_id` could be read: the session
    /// answered it with code `-1` and the decode error (naming the field) as the message.
    #[error("request `{}` with session_id `{}` answered -1: {error}", key.module, key.session_id)]
    MalformedRequest {
        /// The request's `mod` and `session_id`, echoed by the answer.
        key: PairKey,
        /// What did not decode.
        error: Shared<DecodeError>,
    },
    /// A request repeating the `(mod, session_id)` of one still waiting for its answer (not answered twice).
    #[error("request `{}` with session_id `{}` repeats one still waiting for its answer", key.module, key.session_id)]
    DuplicateRequest {
        /// The repeated key.
        key: PairKey,
    },
    /// The application answered a request no peer is waiting for (never received, answered or expired).
    #[error("no request `{}/{}` is waiting for an answer", key.module, key.session_id)]
    NotWaiting {
        /// The answer's `mod` and `session_id`.
        key: PairKey,
    },
    /// The application tried to send a request only the other side sends (`upload_access_info` from the
    /// server, `download_person` from the terminal, ...).
    #[error("`{module}` is a request of the other side")]
    WrongDirection {
        /// The request's `mod`.
        module: Mod,
    },
    /// The server could not identify the terminal (its `get_device_info` answer, or the admission policy).
    #[error("terminal not identified: {0}")]
    Identify(IdentifyFailure),
}

crate::session::session_error_conversions!(Access);

/// How long the server waits for the terminal's answer to the `get_device_info` it sends on connect
/// (devproto's choice; the spec has no login). Default of [`ServerConfig::identify_timeout`].
pub const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// Interval of the server's `get_device_info` liveness probes (devproto's choice; the spec defines no
/// heartbeat). Default of [`ServerConfig::probe_interval`].
pub const PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// Silence after which either side declares the link dead: three probe intervals (devproto's choice).
pub const PEER_TIMEOUT: Duration = Duration::from_secs(180);

/// How long a request waits for the peer's response (devproto's choice; the spec gives none).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the application has to answer a request of the peer before the session answers it with `-1`
/// (devproto's choice: shorter than [`REQUEST_TIMEOUT`], so that the answer reaches a peer using the same
/// defaults before it gives up).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

pub use crate::session::Framing;

/// An access message without images is a few hundred bytes; transports size their buffers from this and grow
/// only for a large message (a person with a base64 photo).
pub const TYPICAL_MESSAGE_LEN: usize = 1024;

/// access's transport facts: a TCP byte stream by default, one object per message on a message transport
/// (DECISIONS.md, access), messages up to the codec's maximum (16 MiB by default), any WebSocket path.
pub(crate) fn wire(codec: &access_proto::CodecConfig) -> crate::Wire {
    crate::Wire::stream(codec.max_message_len, TYPICAL_MESSAGE_LEN)
}
