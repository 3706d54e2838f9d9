#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod codec;
pub mod config;
pub mod crypto;
pub mod error;
pub mod frame;
pub mod hash;
pub mod http;
pub mod message;
pub mod replay;

pub use codec::{decode_frame, encode_frame, Codec, FrameCodec};
pub use config::{CodecConfig, DEFAULT_MAX_BODY_LEN, DEFAULT_MAX_HTTP_BODY_LEN};
pub use crypto::{crc16, LinkCipher, OpenError};
pub use error::{DecodeError, EncodeError};
pub use frame::{CryptFlag, Frame, Header, MsgId, HEADER_LEN, MAGIC, VERSION};
pub use hash::{HashValue, HashedRequest};
pub use message::{
    file_names, Connect, ConnectReply, ConnectSession, ElecLockFlags, FileDeliver, FileType, Guard,
    Heartbeat, HeartbeatReply, HeartbeatStatus, LightCtrl, LightFlags, Lock, LogLevel, LogSwitch,
    Message, MotorPowerFlag, OpenElecLock, Packet, RawReply, RawRequest, Reply, Request, RespCode,
    SetLogLevel, SetPacketLog, Unlock, FILE_DELIVER_HEAD_LEN, FILE_NAME_LEN, HEARTBEAT_SVR_HOST,
    SVR_HOST_LEN,
};
/// The codec contract the codecs implement, re-exported so that one import brings `decode` and `encode`.
pub use proto_common::codec::{Decoder, Encoder};
pub use replay::{TimestampError, TimestampWindow, DEFAULT_TIMESTAMP_WINDOW};
