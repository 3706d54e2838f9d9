// The README's example runs a jetinno login; without that protocol the crate docs say where they are.
#![cfg_attr(feature = "jetinno", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "jetinno"),
    doc = "Sans-io client and server sessions for the devproto device protocols, with tokio drivers: one module \
           per protocol feature (`jetinno`, `access`, `best`, `aliscan`, `kingxun`), the drivers in `runtime` \
           (feature `tokio`). The full crate documentation is built with the `jetinno` feature."
)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "access")]
pub mod access;
#[cfg(feature = "aliscan")]
pub mod aliscan;
pub mod backoff;
#[cfg(feature = "best")]
pub mod best;
pub mod clock;
pub mod correlation;
#[cfg(feature = "jetinno")]
pub mod jetinno;
#[cfg(feature = "kingxun")]
pub mod kingxun;
pub mod liveness;
pub mod outbox;
pub mod rng;
#[cfg(feature = "tokio")]
pub mod runtime;
pub mod session;

pub use backoff::{Backoff, BackoffConfig};
pub use clock::{ManualClock, SystemClock, WallClock};
pub use rng::{OsRandom, RandomSource, SplitMix64};
pub use session::{
    CloseReason, Endpoint, Framing, ProtocolError, RequestError, RequestId, SendError, Session,
    Shared, Wire,
};
