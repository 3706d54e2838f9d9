#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The codec contract every protocol's codecs implement: see [`proto_common::codec`].
pub use proto_common::codec;

/// Any protocol codec as a tokio-util `Decoder`/`Encoder`: see [`proto_common::tokio_codec`].
#[cfg(feature = "tokio-util")]
pub use proto_common::tokio_codec;

/// What the sessions of every protocol share (from device-core): the sans-io
/// [`Session`](session::Session) contract and its call order, close reasons, request and send errors, reconnect
/// backoff, injected clocks and random sources.
#[cfg(any(
    feature = "jetinno",
    feature = "access",
    feature = "aliscan",
    feature = "best",
    feature = "kingxun",
    feature = "tokio"
))]
pub mod session {
    pub use device_core::session::*;
    pub use device_core::{backoff, clock, correlation, liveness, outbox, rng};
    pub use device_core::{
        Backoff, BackoffConfig, ManualClock, OsRandom, RandomSource, SplitMix64, SystemClock,
        WallClock,
    };
}

/// The tokio drivers of every protocol (feature `tokio`), from device-core: [`attach`](runtime::attach) a
/// session to any `AsyncRead + AsyncWrite`, [`client::Client`](runtime::client::Client) with reconnect,
/// [`server::Server`](runtime::server::Server) with admission and routing by peer id, the TCP and WebSocket
/// transports. Each protocol module's `runtime` re-exports the part that protocol uses.
#[cfg(feature = "tokio")]
pub use device_core::runtime;

/// The driver items every protocol's `runtime` module re-exports.
#[cfg(feature = "tokio")]
#[allow(unused_macros)] // with `tokio` but no protocol
macro_rules! driver_reexports {
    () => {
        pub use device_core::runtime::client::{Client, ClientConfig, ClientEvent, ConnectError};
        pub use device_core::runtime::server::{
            AdmissionConfig, ConnectionId, Refusal, Server, ServerConfig, ServerEvent, ServerEvents,
        };
        pub use device_core::runtime::{
            attach, now, Attached, CommandError, Disconnect, DriverConfig, Handle,
        };
    };
}

#[cfg(feature = "jetinno")]
pub mod jetinno;

#[cfg(feature = "aliscan")]
pub mod aliscan;

#[cfg(feature = "best")]
pub mod best;

#[cfg(feature = "access")]
pub mod access;

#[cfg(feature = "kingxun")]
pub mod kingxun;
