#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod broker;
pub mod codec;
pub mod config;
pub mod crypto;
pub mod error;
pub mod exchange;
pub mod message;
pub mod sign;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;
pub mod upload;
pub mod value;

pub use codec::{decode, encode};
pub use config::{CodecConfig, LookupConfig, UploadConfig};
pub use error::{DecodeError, EncodeError, ValueError};
pub use message::*;
pub use value::{BioVector, BitString};
