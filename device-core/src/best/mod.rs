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
    PlatformSession,
};

use std::fmt::Write as _;
use std::time::Duration;

use best_proto::{Body, CodecConfig, Envelope};
use bytes::Bytes;

use crate::rng::RandomSource;
use crate::session::SendError;

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
fn encode<M: Body>(codec: &CodecConfig, envelope: &Envelope<M>) -> Result<Bytes, SendError> {
    best_proto::Codec::<M, M>::new(*codec)
        .encode_text(envelope)
        .map(Bytes::from)
        .map_err(|e| SendError::Encode(e.to_string()))
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
