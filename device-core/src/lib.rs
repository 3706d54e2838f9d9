#![doc = include_str!("../README.md")]
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
    CloseReason, Endpoint, Framing, RequestError, RequestId, SendError, Session, Wire,
};
