#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod message;
pub mod time;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;

pub use codec::{encode_message, Codec, JsonSplitter, SplitAll};
pub use config::{CodecConfig, DEFAULT_MAX_MESSAGE_LEN};
pub use error::{DecodeError, EncodeError};
pub use message::*;
pub use time::{LocalTimestamp, TimestampError};
