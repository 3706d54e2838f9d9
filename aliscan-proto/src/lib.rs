#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod error_code;
pub mod interval;
pub mod message;
pub mod scan_id;
pub mod server_config;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;

pub use codec::{Codec, PadCodec, StationCodec};
pub use config::{CodecConfig, DEFAULT_MAX_MESSAGE_LEN};
pub use error::{DecodeError, EncodeError};
pub use error_code::{CodeInfo, ErrorCategory, ErrorCode, CATALOGUE};
pub use interval::{CronSpec, Interval, IntervalUnit, Period};
pub use message::*;
pub use scan_id::{ScanId, ScanIdError};
pub use server_config::ServerConfig;
