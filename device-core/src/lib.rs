#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod aliscan;
pub mod backoff;
pub mod best;
pub mod clock;
pub mod correlation;
pub mod jetinno;
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
