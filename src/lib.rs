#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The Jetinno coffee vending machine protocol: see [`jetinno_proto`].
#[cfg(feature = "jetinno")]
pub use jetinno_proto as jetinno;
