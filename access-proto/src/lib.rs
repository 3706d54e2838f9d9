#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod message;
pub mod time;

pub use codec::{Codec, JsonSplitter, MessageCodec, SplitAll};
pub use config::{CodecConfig, DEFAULT_MAX_MESSAGE_LEN};
pub use error::{DecodeError, EncodeError};
pub use message::{
    AccessInfo, Code, Command, CommandType, DeviceInfo, DeviceInfoReply, DownloadPerson,
    FeatureCode, Image, ImageFormat, InOutType, Message, MessageKind, Mod, OpenDoorType, PairKey,
    PersonInfo, Request, RequestBody, Response, ResponseBody, Role, SessionId, SetDeviceInfo,
    UnknownMessage, UploadAccessInfo,
};
/// The codec contract the codecs implement, re-exported so that one import brings `decode` and `encode`.
pub use proto_common::codec::{Decoder, Encoder};
pub use time::{LocalTimestamp, TimestampError};
