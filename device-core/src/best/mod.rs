//! BEST sessions over WebSocket (best-w): the meeting terminal ([`DeviceSession`], a client) and the platform
//! ([`PlatformSession`], one per connection), plus the HTTP broker lookup ([`BrokerLookup`] for the device,
//! [`LookupHandler`] for the platform; carried over HTTP by `runtime::http` with the `http` feature).
//!
//! One BEST message is one WebSocket text frame: each [`crate::Session::handle_input`] call carries one message
//! and each [`crate::Session::poll_transmit`] yields one, so the sessions run unchanged over
//! `runtime::client::Client::connect_ws` and a `runtime::server::Server` on a `WsListener` (at [`WS_PATH`],
//! `/best`, which the sessions' [`crate::Wire`] names).
//!
//! The onboarding chain (best.md 3.2 to 3.5): `dev.register` (devKey) -> `authCode`, `dev.accredit` -> `secret`,
//! `dev.login`, `dev.report` -> heartbeat settings; then `dev.heartbeat` at the interval the platform returns
//! (default 60 s). The device keeps `authCode` and `secret` across reconnects and only logs in again; the
//! platform answers every device request with `cmd.dev.response` (same `mid`), the device answers every platform
//! command with `dev.cmd.response` (same `mid`, `cmdId` echoed). Liveness per DECISIONS.md: the platform marks a
//! device offline after 3 missed heartbeat intervals; the device gives up on a platform silent for as long.
//!
//! The answer rule (DECISIONS.md): a message that does not decode but whose `mid` can be read is answered at
//! once, by the platform with `cmd.dev.response` and by the device with `dev.cmd.response` (`cmdId` echoed when
//! readable), code `20000001` and the decode error naming the field as `message`
//! ([`SessionError::MalformedRequest`]); a reply (`cmd.dev.response` / `dev.cmd.response`) is only reported. A
//! `mid` over [`MAX_MID_LEN`] (32) characters can never be matched, so the connection closes at once with
//! [`crate::CloseReason::Protocol`] and [`SessionError::MidTooLong`] (naming `mid` and 32): the peer sees a
//! close, not a timeout. Before login the platform closes after answering, as for any refused onboarding.
//!
//! Key exchange (best.md 2, DECISIONS.md): when [`DeviceConfig::key_exchange`] is on, the device starts every
//! connection with `device.exchange.publicKey` (X25519, base64) and `device.exchange.factor` (16 random bytes,
//! hex) before the onboarding chain; both sides then hold the same [`best_proto::exchange::SharedSecret`]
//! ([`DeviceEvent::KeyExchanged`], [`PlatformEvent::KeyExchanged`]). The platform answers an exchange whenever
//! a device starts one before login ([`PlatformConfig::key_exchange`], on by default). Keys and factors are
//! drawn from the session's [`RandomSource`], which must be [`crate::OsRandom`] in production.

mod broker;
mod device;
mod platform;

pub use broker::{BrokerDirectory, BrokerLookup, LookupHandler};
pub use device::{DeviceCommand, DeviceConfig, DeviceEvent, DeviceSession};
pub use platform::{
    DeviceRecord, DeviceRegistry, MemoryRegistry, PlatformCommand, PlatformConfig, PlatformEvent,
    PlatformSession, UploadHandling, DEFAULT_MULTI_BIO_DATA_SUPPORT,
    DEFAULT_MULTI_BIO_PHOTO_SUPPORT,
};

use std::fmt::Write as _;
use std::time::Duration;

use best_proto::{Body, Code, CodecConfig, DecodeError, EncodeError, Envelope};
use bytes::Bytes;

use crate::rng::RandomSource;
use crate::session::Shared;

/// What went wrong in a best session: a codec error (which names the field, the bytes and the limit) or a
/// session-level violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A message did not decode and could not be answered (a reply, or no readable `mid`).
    #[error(transparent)]
    Decode(Shared<DecodeError>),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(Shared<EncodeError>),
    /// A request whose fields did not decode but whose `mid` could be read: the session answered it with
    /// code `20000001` and the decode error (naming the field) as the message; `cmdId` is the command's
    /// when the device answered a platform command and it could be read.
    #[error("`{func_id}` with mid `{mid}` answered 20000001: {error}")]
    MalformedRequest {
        /// The message's `funcId` (`?` when unreadable).
        func_id: String,
        /// The request's `mid`, echoed by the answer.
        mid: String,
        /// The command's `cmdId`, echoed by the device's answer, when readable.
        cmd_id: Option<String>,
        /// What did not decode.
        error: Shared<DecodeError>,
    },
    /// A `mid` longer than DECISIONS.md allows cannot be matched: the connection closes, unanswered.
    #[error(
        "field `mid`: {len} characters exceed the maximum of {max}; the message cannot be matched"
    )]
    MidTooLong {
        /// Length of the `mid` in characters.
        len: usize,
        /// The limit ([`MAX_MID_LEN`], 32).
        max: usize,
    },
    /// A message other than the onboarding chain arrived before login (answered `10000003`).
    #[error("`{func_id}` before login")]
    BeforeLogin {
        /// The message's `funcId`.
        func_id: String,
    },
    /// The platform answered a heartbeat with `10000003` (not logged in): it dropped this device's login, so
    /// the device closes the connection to log in again on a new one.
    #[error("heartbeat answered 10000003: the platform holds no login of this device")]
    LoggedOut,
    /// An onboarding message after login on the same connection.
    #[error("`{func_id}` after login on one connection")]
    AfterLogin {
        /// The message's `funcId`.
        func_id: String,
    },
    /// A device request reused the `mid` of one still waiting for the application's answer.
    #[error("`{func_id}` with mid `{mid}` repeats one still waiting for its answer")]
    DuplicateMid {
        /// The message's `funcId`.
        func_id: String,
        /// The repeated `mid`.
        mid: String,
    },
    /// A device request arrived while the most requests were waiting for the application.
    #[error("`{func_id}` with mid `{mid}` refused: {limit} requests already waiting (limit)")]
    TooManyRequests {
        /// The message's `funcId`.
        func_id: String,
        /// Its `mid`.
        mid: String,
        /// The limit.
        limit: usize,
    },
    /// A platform command repeated the `cmdId` of one still waiting for the device's answer.
    #[error("command `{cmd_id}` repeated while it waits for its answer")]
    DuplicateCommand {
        /// The repeated `cmdId`.
        cmd_id: String,
    },
    /// More platform commands than the device allows waited for its answer at once.
    #[error("more than {limit} commands waiting for their answer (limit)")]
    TooManyCommands {
        /// [`DeviceConfig::max_pending_commands`].
        limit: usize,
    },
    /// An upload was dropped after a silence.
    #[error("upload {file_id:?} dropped after {idle:?} without a message")]
    UploadIdle {
        /// The file.
        file_id: best_proto::FileId,
        /// The idle timeout.
        idle: Duration,
    },
    /// The application answered a request or command nobody waits for (never received, answered, expired).
    #[error("no `{key}` waits for an answer")]
    NotWaiting {
        /// The `mid` (device request) or `cmdId` (platform command).
        key: String,
    },
    /// The application sent a message that is not a command with a `cmdId`.
    #[error("`{func_id}` is not a command with a cmdId")]
    NotACommand {
        /// The message's `funcId`.
        func_id: String,
    },
    /// The application tried to send a message the session sends itself.
    #[error("`{func_id}` is sent by the session itself")]
    SentBySession {
        /// The message's `funcId`.
        func_id: String,
    },
    /// A step of the onboarding chain was answered with a failure code by the platform.
    #[error("{step:?} refused by the platform with {}: {message}", code.as_str())]
    HandshakeRefused {
        /// The refused step.
        step: HandshakeStep,
        /// The platform's code.
        code: Code,
        /// The platform's message.
        message: String,
    },
    /// This platform refused a step of a device's onboarding chain (answered with `code`, then closed).
    #[error("{step:?} of {} refused with {}", sn.as_deref().unwrap_or("?"), code.as_str())]
    HandshakeDenied {
        /// The device it claimed to be, if it said.
        sn: Option<String>,
        /// The refused step.
        step: HandshakeStep,
        /// The code it was answered with.
        code: Code,
    },
    /// A step of the onboarding chain was answered without the results it needs.
    #[error("{step:?} answered without its results")]
    MissingResults {
        /// The step.
        step: HandshakeStep,
    },
    /// The key exchange failed: a bad key or factor.
    #[error("key exchange: {0}")]
    KeyExchange(best_proto::exchange::ExchangeError),
    /// The key exchange replies came out of order (a factor reply before the key one, or a key reply with no
    /// key pair of ours).
    #[error("key exchange: {step:?} reply out of order")]
    ExchangeOutOfOrder {
        /// The step whose reply came.
        step: HandshakeStep,
    },
}

crate::session::session_error_conversions!(Best);

/// What a message that did not decode still shows: its `funcId` and `mid` (strings or numbers), and the
/// `cmdId` of a command.
struct Readable {
    func_id: Option<String>,
    mid: Option<String>,
    cmd_id: Option<String>,
}

impl Readable {
    fn of(input: &[u8]) -> Self {
        let value: Option<serde_json::Value> = proto_common::json::from_slice_lenient(input).ok();
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let get = |key: &str| value.as_ref().and_then(|v| v.get(key)).and_then(text);
        let cmd_id = value
            .as_ref()
            .and_then(|v| v.pointer("/payload/params/cmdId"))
            .and_then(text);
        Self {
            func_id: get("funcId"),
            mid: get("mid"),
            cmd_id,
        }
    }

    /// The error that closes the connection when the message's `mid` is over [`MAX_MID_LEN`] (the codec's
    /// own refusal, or a longer `mid` in a message that failed for another reason): it can never be matched.
    fn unmatchable_mid(&self, e: &DecodeError) -> Option<SessionError> {
        let len = match e {
            DecodeError::MidTooLong { len, .. } => Some(*len),
            _ => self
                .mid
                .as_ref()
                .map(|m| m.chars().count())
                .filter(|&len| len > MAX_MID_LEN),
        }?;
        Some(SessionError::MidTooLong {
            len,
            max: MAX_MID_LEN,
        })
    }
}

/// Heartbeat interval when the `dev.report` reply names none (best.md 3.5, `heartbeatInterval`: default 60 s).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(60);

/// Missed heartbeat intervals after which a peer is offline (DECISIONS.md, best, Liveness: 3).
pub const MISSED_HEARTBEATS: u32 = 3;

/// Longest `mid` (DECISIONS.md, best: at most 32 characters).
pub const MAX_MID_LEN: usize = best_proto::config::MAX_MID_LEN;

/// A step of the onboarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeStep {
    /// `device.exchange.publicKey`: X25519 public keys both ways.
    ExchangePublicKey,
    /// `device.exchange.factor`: 16-byte factors both ways.
    ExchangeFactor,
    /// `dev.register`: devKey in, `authCode` out.
    Register,
    /// `dev.accredit`: `authCode` in, `secret` out.
    Accredit,
    /// `dev.login`: devKey, `authCode` and `secret`.
    Login,
    /// `dev.report`: capabilities in, heartbeat settings out.
    Report,
}

/// Message ids: a random 32-bit prefix per session and a counter that never resets, so ids stay unique per
/// device across reconnects and are at most 24 characters.
#[derive(Debug)]
struct MidGen {
    prefix: u32,
    next: u64,
}

impl MidGen {
    fn new(rng: &mut dyn RandomSource) -> Self {
        Self {
            prefix: (rng.next_u64() >> 32) as u32,
            next: 0,
        }
    }

    fn next(&mut self) -> String {
        self.next += 1;
        format!("{:08x}{:x}", self.prefix, self.next)
    }
}

/// `n` random bytes as lowercase hex.
fn random_hex(rng: &mut dyn RandomSource, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    crate::rng::fill_bytes(rng, &mut bytes);
    bytes
        .iter()
        .fold(String::with_capacity(n * 2), |mut out, b| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// An array of random bytes.
fn random_array<const N: usize>(rng: &mut dyn RandomSource) -> [u8; N] {
    let mut out = [0u8; N];
    crate::rng::fill_bytes(rng, &mut out);
    out
}

/// Compares two secrets without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    proto_common::crypto::ct_eq(a.as_bytes(), b.as_bytes())
}

/// Encodes one message.
fn encode<M: Body>(codec: &CodecConfig, envelope: &Envelope<M>) -> Result<Bytes, SessionError> {
    best_proto::Codec::<M, M>::new(*codec)
        .encode_text(envelope)
        .map(Bytes::from)
        .map_err(|e| SessionError::Encode(e.into()))
}

/// Whether a device message starts a new link (best-m, for the platform's MQTT listener): the first message
/// of every connection of a [`DeviceSession`] is `device.exchange.publicKey` (key exchange on) or one of
/// `dev.register`, `dev.accredit`, `dev.login`. Over MQTT a device's reconnect is invisible to the platform, so
/// such a message ends the device's virtual connection and opens a new one, as a new WebSocket would.
/// Onboarding messages are small: longer payloads are not parsed.
#[must_use]
pub fn starts_link(payload: &[u8]) -> bool {
    if payload.len() > 4096 {
        return false;
    }
    let Ok(value) = proto_common::json::from_slice_lenient::<serde_json::Value>(payload) else {
        return false;
    };
    matches!(
        value.get("funcId").and_then(serde_json::Value::as_str),
        Some("device.exchange.publicKey" | "dev.register" | "dev.accredit" | "dev.login")
    )
}

/// The WebSocket path of the reference platform (DECISIONS.md, best-w: `/best`).
pub const WS_PATH: &str = "/best";

/// A BEST message is a few hundred bytes (a heartbeat, a command); file chunks are larger and rare.
pub const TYPICAL_MESSAGE_LEN: usize = 1024;

/// best-w's transport facts: one JSON message per WebSocket text frame at [`WS_PATH`], up to the codec's
/// maximum.
pub(crate) fn wire(codec: &CodecConfig) -> crate::Wire {
    crate::Wire::message(codec.max_message_len, TYPICAL_MESSAGE_LEN, Some(WS_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn onboarding_messages_start_a_link() {
        for f in [
            "dev.login",
            "dev.register",
            "dev.accredit",
            "device.exchange.publicKey",
        ] {
            let m = format!(r#"{{"funcId":"{f}","mid":"1","payload":{{"params":{{}}}}}}"#);
            assert!(starts_link(m.as_bytes()), "{f}");
        }
        for m in [
            r#"{"funcId":"dev.heartbeat","mid":"1"}"#,
            r#"{"funcId":"device.exchange.factor","mid":"1"}"#,
            "not json",
        ] {
            assert!(!starts_link(m.as_bytes()), "{m}");
        }
        let long = format!(r#"{{"funcId":"dev.login","pad":"{}"}}"#, "x".repeat(5000));
        assert!(!starts_link(long.as_bytes()));
    }

    #[test]
    fn mids_are_unique_and_short() {
        let mut rng = SplitMix64::seeded(1);
        let mut g = MidGen::new(&mut rng);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let mid = g.next();
            assert!(mid.len() <= MAX_MID_LEN, "{mid}");
            assert!(seen.insert(mid));
        }
        g.next = u64::MAX - 1;
        assert_eq!(g.next().len(), 24);
    }

    #[test]
    fn random_hex_has_the_asked_length_and_secrets_compare() {
        let mut rng = SplitMix64::seeded(2);
        let a = random_hex(&mut rng, 16);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(&mut rng, 16));
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
