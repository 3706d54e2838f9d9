#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod message;
pub mod sign;

pub use codec::{
    complete_packet_len, decode_frame, encode_frame, Codec, MachineCodec, ServerCodec,
};
pub use config::{CodecConfig, HEAD_LEN, MAX_PACKET_LEN};
pub use error::{DecodeError, EncodeError};
pub use message::{
    Discount, ErrorReport, FastCode, FastCodeError, Login, LoginReply, MachineHeartbeat,
    MachineMessage, MachineState, MachineStatus, Message, OpenDoor, PayDone, PayType, PriceEntry,
    PriceSet, ProductDone, Products, QrCodeReply, QrCodeRequest, QrType, Reboot, Rinsing,
    ServerHeartbeat, ServerMessage, UnknownMessage, Upgrade, WireMessage, FAST_CODE_MAX_LEVEL, TAG,
};
/// The codec contract [`Codec`] implements, re-exported so that one import brings `decode` and `encode`.
pub use proto_common::codec::{Decoder, Encoder};
pub use sign::MachineCode;
