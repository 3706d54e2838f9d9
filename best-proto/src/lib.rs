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
pub mod upload;
pub mod value;

pub use codec::{Codec, DeviceCodec, PlatformCodec};
pub use config::{CodecConfig, LookupConfig, UploadConfig};
pub use error::{DecodeError, EncodeError, ValueError};
pub use message::{
    Accredit, AccreditResults, BioData, BioPhoto, BioPhotoSelector, BioPhotoUrl, BioType, Body,
    CaptureMode, Card, CardType, Checksum, CmdResponse, Code, CommType, Command, DeleteBioPhotos,
    DeleteMeetingMembers, DeleteMeetings, DevType, DeviceMessage, Direction, Envelope, Factor,
    FileId, FileUploadEnd, FileUploadPackage, FileUploadStart, FunSwitch, FuncId, Heartbeat, Imme,
    Login, Meeting, MeetingMembers, Message, PinsCommand, PlatformMessage, ProtType, PublicKey,
    QueryUsers, Reboot, RecordType, Register, RegisterResults, Report, ReportResults, Response,
    Results, RoomOptions, RuleType, Scene, SetOptions, TempUnit, TemplateFormat, UnknownMessage,
    UpdateBioPhotos, UpdateMeetingMembers, UpdateMeetings, UpdateMultiCards, UpdateUsers,
    UploadBioPhotos, UploadMultiCards, UploadUserPhotos, UploadUsers, UploadVerifyLogs,
    UploadVerifyPhotos, User, UserCategory, UserPhoto, VerifyLog, VerifyPhoto, VerifyStatus,
    VerifyStyle,
};
/// The codec contract [`Codec`] implements, re-exported so that one import brings `decode` and `encode`.
pub use proto_common::codec::{Decoder, Encoder};
pub use value::{BioVector, BitString};
