#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The codec contract every protocol's codecs implement: see [`proto_common::codec`].
pub use proto_common::codec;

/// Any protocol codec as a tokio-util `Decoder`/`Encoder`: see [`proto_common::tokio_codec`].
#[cfg(feature = "tokio-util")]
pub use proto_common::tokio_codec;

/// The Jetinno coffee vending machine protocol: see [`jetinno_proto`].
#[cfg(feature = "jetinno")]
pub use jetinno_proto as jetinno;

/// The Aliscan foot-scanner station protocol (pad <-> station, JSON over WebSocket): see [`aliscan_proto`].
#[cfg(feature = "aliscan")]
pub use aliscan_proto as aliscan;

/// The BEST meeting-terminal platform protocol (JSON over WebSocket or MQTT, HTTP broker lookup): see
/// [`best_proto`].
#[cfg(feature = "best")]
pub use best_proto as best;

/// The access/attendance terminal protocol: see [`access_proto`].
#[cfg(feature = "access")]
pub use access_proto as access;

/// The Kingxun e-bike platform protocol: see [`kingxun_proto`].
#[cfg(feature = "kingxun")]
pub use kingxun_proto as kingxun;
