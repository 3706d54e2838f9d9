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

pub use codec::{Codec, PadCodec, StationCodec};
pub use config::{CodecConfig, DEFAULT_MAX_MESSAGE_LEN};
pub use error::{DecodeError, EncodeError};
pub use error_code::{CodeInfo, ErrorCategory, ErrorCode, CATALOGUE};
pub use interval::{CronSpec, Interval, IntervalUnit, Period};
pub use message::{
    Bare, Blob, BrandInfo, CalibrationNew, CalibrationResult, CalibrationStep, ChangeLog,
    DebugEnable, DeviceInfo, Empty, Envelope, EquipmentAction, ErrorInfo, ErrorText, FileAction,
    FilesAction, FilesList, FilesRequest, FootFeature, Measurements, Message, Outcome,
    OutcomeStatus, Overwrite, PackageType, PackageVersion, PadMessage, RecordPush, RecordStatus,
    Rssi, ScanAction, ScanNew, ScanPage, ScanRecord, ScanStarted, Sex, StationMessage,
    StationState, StationStatus, StationTime, StationTimeError, Statistics, Store, StoreBind,
    StoreGet, StoreInfo, StoreList, StoreListQuery, SubmitStatus, UDiskInfo, UnknownMessage,
    UpgradeEnv, UpgradeInfo, UpgradeInform, UpgradeOffer, UpgradeResponse, UpgradeSource,
    Upgrading, UploadBlock, UploadStatus, UserInfo, UserInfoUpdate, Versions, WifiConnect,
    WifiList, WifiNetwork, WifiState, WifiStatus, WireMessage, DEFAULT_PAGE, DEFAULT_PAGE_SIZE,
    TAG,
};
/// The codec contract [`Codec`] implements, re-exported so that one import brings `decode` and `encode`.
pub use proto_common::codec::{Decoder, Encoder};
pub use scan_id::{ScanId, ScanIdError};
pub use server_config::ServerConfig;
