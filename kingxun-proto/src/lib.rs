#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod codec;
pub mod config;
pub mod crypto;
pub mod error;
pub mod hash;
pub mod http;
pub mod message;
pub mod replay;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;

pub use codec::{
    decode_frame, encode_frame, Codec, Frame, FrameCodec, Header, HEADER_LEN, MAGIC, VERSION,
};
pub use config::{CodecConfig, DEFAULT_MAX_BODY_LEN, DEFAULT_MAX_HTTP_BODY_LEN};
pub use crypto::{crc16, LinkCipher, OpenError};
pub use error::{DecodeError, EncodeError};
pub use hash::{HashValue, HashedRequest};
pub use message::*;
pub use replay::{TimestampError, TimestampWindow, DEFAULT_TIMESTAMP_WINDOW};
