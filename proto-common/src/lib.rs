#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod crypto;
pub mod json;
mod macros;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;

/// What the exported macros expand to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
