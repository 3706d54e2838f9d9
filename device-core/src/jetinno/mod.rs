//! Jetinno sessions: the coffee machine (TCP client) and the operator server (one session per connection).
//!
//! Liveness per DECISIONS.md: the machine sends `hb` every 20 s, the server answers each one, and either side
//! declares the link dead after 120 s without a frame from its peer; the machine then reconnects with backoff
//! and logs in again.
//!
//! Login (DECISIONS.md): the server refuses with `login_r` `ret` 2, then closes, a wrong `sign` and a
//! `timestamp` that is not a valid `yyyyMMdd` date or lies more than [`ServerConfig::login_date_window`] days
//! (default [`DEFAULT_LOGIN_DATE_WINDOW`], 1: yesterday, today and tomorrow) from its own local date, read from
//! its injected [`ServerConfig::clock`]; a `login` whose fields do not decode is answered `ret` 2 the same way.
//! An unknown machine gets `ret` [`LOGIN_UNKNOWN_MACHINE`]. jetinno has no request key beyond the `cmd`, so no
//! other message is answered for being malformed: it is reported as `Malformed` and the stream goes on. The
//! server reports every `hb` of a logged-in machine as [`ServerEvent::Heartbeat`] (for last-seen times).
//! Errors are typed: [`SessionError`], inside [`crate::ProtocolError::Jetinno`].

mod machine;
mod server;

pub use machine::{MachineCommand, MachineConfig, MachineEvent, MachineSession};
pub use server::{
    LoginFailure, MachineRegistry, ServerCommand, ServerConfig, ServerEvent, ServerSession,
    DEFAULT_LOGIN_DATE_WINDOW, LOGIN_BAD_SIGN, LOGIN_UNKNOWN_MACHINE,
};

use std::time::Duration;

/// Machine heartbeat interval (jetinno.md 3.1: every 20 s).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);

/// Silence after which either side declares the link dead (jetinno.md 3.1: 2 minutes).
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

use bytes::BytesMut;
use jetinno_proto::{Codec, CodecConfig, DecodeError, Decoder, EncodeError, Encoder, WireMessage};

use crate::session::Shared;

/// What went wrong in a jetinno session: a codec error (which names the field, the bytes and the limit) or a
/// session-level violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A packet did not decode: its framing (then the connection closes) or its body (the stream goes on).
    #[error(transparent)]
    Decode(Shared<DecodeError>),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(Shared<EncodeError>),
    /// A message other than `login` or `hb` arrived before a successful login.
    #[error("`{cmd}` before login")]
    BeforeLogin {
        /// The message's `cmd`.
        cmd: String,
    },
    /// A packet whose body did not decode arrived before a successful login.
    #[error("before login: {0}")]
    MalformedBeforeLogin(Shared<DecodeError>),
    /// A second `login` on a connection that is logged in.
    #[error("second login on one connection")]
    SecondLogin,
    /// A message this side never receives (a server message sent to the server, or the reverse).
    #[error("unexpected `{cmd}`")]
    Unexpected {
        /// The message's `cmd`.
        cmd: String,
    },
    /// A `qrcode` repeated an order number that is still waiting for its `qrcode_r`.
    #[error("qrcode for order `{order_no}` refused: already waiting for an answer")]
    DuplicateQrCode {
        /// The order.
        order_no: String,
    },
    /// A `qrcode` arrived while the most `qrcode` requests were waiting for the application.
    #[error("qrcode for order `{order_no}` refused: {limit} already waiting (limit)")]
    TooManyQrCodes {
        /// The order.
        order_no: String,
        /// [`ServerConfig::max_pending_qrcodes`].
        limit: usize,
    },
    /// The application answered a `qrcode` no machine is waiting for (never asked or expired).
    #[error("no qrcode for order `{order_no}` is waiting for an answer")]
    NoQrCodeWaiting {
        /// The order.
        order_no: String,
    },
    /// The application tried to send a message the session sends itself (`login`, `login_r`, `hb`).
    #[error("`{cmd}` is sent by the session itself")]
    SentBySession {
        /// The message's `cmd`.
        cmd: String,
    },
    /// The server answered the login with a failure code (`login_r.ret`, not 0).
    #[error("login refused by the server with ret {ret}")]
    LoginRefused {
        /// The server's `ret`.
        ret: i32,
    },
    /// This server refused a machine's login (answered `login_r` with `ret`, then closed).
    #[error("login of machine {vmc_no} refused ({reason}), answered ret {ret}")]
    LoginDenied {
        /// The machine number it claimed.
        vmc_no: u64,
        /// Why.
        reason: LoginFailure,
        /// The `ret` sent in `login_r`.
        ret: i32,
    },
}

crate::session::session_error_conversions!(Jetinno);

/// One step of reading the receive buffer.
enum Step<M> {
    /// A whole message.
    Message(M),
    /// A whole packet whose body did not decode; the stream goes on.
    Malformed(Shared<DecodeError>),
    /// The framing broke; the connection must close.
    Fatal(Shared<DecodeError>),
    /// More bytes are needed.
    NeedMore,
}

/// Takes the next packet off `rx` and decodes it as `M`.
fn next_message<M: WireMessage>(config: &CodecConfig, rx: &mut BytesMut) -> Step<M> {
    match Codec::<M, M>::new(*config).decode(rx) {
        Ok(Some(m)) => Step::Message(m),
        Ok(None) => Step::NeedMore,
        // A framing error leaves `rx` as it was; a body error consumed its packet.
        Err(e) if e.is_fatal() => Step::Fatal(e.into()),
        Err(e) => Step::Malformed(e.into()),
    }
}

/// Encodes one message as a whole packet.
fn encode_packet<M: WireMessage>(
    config: &CodecConfig,
    msg: &M,
) -> Result<bytes::Bytes, SessionError> {
    let mut buf = BytesMut::new();
    Codec::<M, M>::new(*config)
        .encode(msg, &mut buf)
        .map_err(|e| SessionError::Encode(e.into()))?;
    Ok(buf.freeze())
}

/// A jetinno packet is about 200 bytes (a login, a status report); transports size their buffers from this.
pub const TYPICAL_PACKET_LEN: usize = 512;

/// jetinno's transport facts: a TCP byte stream of packets up to the codec's maximum (DECISIONS.md, jetinno).
pub(crate) fn wire(codec: &CodecConfig) -> crate::Wire {
    crate::Wire::stream(codec.max_packet_len, TYPICAL_PACKET_LEN)
}
