#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod message;
pub mod sign;
#[cfg(feature = "tokio-util")]
pub mod tokio_codec;

pub use codec::{
    complete_packet_len, decode_frame, encode_frame, Codec, MachineCodec, ServerCodec,
};
pub use config::{CodecConfig, HEAD_LEN, MAX_PACKET_LEN};
pub use error::{DecodeError, EncodeError};
pub use message::*;
pub use sign::MachineCode;
