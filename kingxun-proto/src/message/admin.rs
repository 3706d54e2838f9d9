//! Console commands, WebSvr -> svrInstance, plain (CryptFlag 0): 4020 file delivery, 4040 packet logging,
//! 4041 device log level. The reply is a bare `RespCode` (0 ok, 1 refused, 0xFF error).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::wire::{check_fixed_str, put_fixed_str, FixedBody, Reader};
use super::MsgId;
use crate::error::{DecodeError, EncodeError};

/// Size of the `FileName` field: 32 bytes UTF-8, right-padded with NUL (DECISIONS.md).
pub const FILE_NAME_LEN: usize = 32;

/// Bytes of a 4020 body before `FileData`.
pub const FILE_DELIVER_HEAD_LEN: usize = 4 + 1 + 8 + 4 + 1 + FILE_NAME_LEN + 4 + 16;

wire_enum! {
    /// `FileType` of 4020.
    pub enum FileType: u8 {
        /// 1 - firmware and other system files.
        System = 1,
        /// 2 - media files.
        Media = 2,
    }
}

wire_enum! {
    /// `logSendFlag` / `logRecvFlag` of 4040 and 4041.
    pub enum LogSwitch: u8 {
        /// 0 - logging off.
        Off = 0,
        /// 1 - logging on.
        On = 1,
    }
}

bitflags::bitflags! {
    /// `logLevel` of 4041: the levels the device logs. Unknown bits are kept.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct LogLevel: u8 {
        /// bit 0 - error.
        const ERROR = 0x01;
        /// bit 1 - warning.
        const WARNING = 0x02;
        /// bit 2 - info.
        const INFO = 0x04;
        /// bit 3 - debug.
        const DEBUG = 0x08;
    }
}
flags_as_integer!(LogLevel: u8);

/// Well-known `FileName`s of 4020 (kingxun.md): what the device does with the file.
pub mod file_names {
    /// BMS firmware.
    pub const BMS: &str = "bms";
    /// Motor controller firmware.
    pub const MOTOR_CONTROL: &str = "motorcontrol";
    /// Main controller firmware.
    pub const MAIN_CONTROL: &str = "maincontrol";
    /// Dashboard firmware.
    pub const DASHBOARD: &str = "dashboard";
    /// Weather announcement sound.
    pub const WEATHER_MP3: &str = "weather.mp3";
}

/// 4020 - file delivery (firmware or media) from the server console.
///
/// `FileDataLen` is the length of [`FileDeliver::file_data`]; `FileMD5` is verified against the data on decode
/// ([`DecodeError::FileMd5Mismatch`], which the receiver answers with RespCode 0xFF) and on encode.
/// `Debug` prints the data's length, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct FileDeliver {
    /// `devId` - the vehicle; the frame header carries the same devId.
    pub dev_id: u32,
    /// `devtype` - the vehicle type.
    pub dev_type: u8,
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
    /// `sysUsrId` - the console user.
    pub sys_usr_id: u32,
    /// `FileType`.
    pub file_type: FileType,
    /// `FileName` - at most 32 bytes UTF-8; see [`file_names`].
    pub file_name: String,
    /// `FileMD5` - MD5 of `FileData`.
    pub file_md5: [u8; 16],
    /// `FileData`.
    pub file_data: Bytes,
}

impl fmt::Debug for FileDeliver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDeliver")
            .field("dev_id", &self.dev_id)
            .field("dev_type", &self.dev_type)
            .field("timestamp", &self.timestamp)
            .field("sys_usr_id", &self.sys_usr_id)
            .field("file_type", &self.file_type)
            .field("file_name", &self.file_name)
            .field("file_md5", &hex::encode(self.file_md5))
            .field(
                "file_data",
                &format_args!("<{} bytes>", self.file_data.len()),
            )
            .finish()
    }
}

impl FileDeliver {
    /// A delivery of `file_data`, with `FileMD5` computed from it.
    #[must_use]
    pub fn new(
        dev_id: u32,
        dev_type: u8,
        timestamp: u64,
        sys_usr_id: u32,
        file_type: FileType,
        file_name: impl Into<String>,
        file_data: Bytes,
    ) -> Self {
        Self {
            dev_id,
            dev_type,
            timestamp,
            sys_usr_id,
            file_type,
            file_name: file_name.into(),
            file_md5: Md5::digest(&file_data).into(),
            file_data,
        }
    }

    /// `FileDataLen` as it goes on the wire.
    ///
    /// # Errors
    /// [`EncodeError::FileTooLarge`] when the data is longer than a u32 can say.
    pub fn file_data_len(&self) -> Result<u32, EncodeError> {
        u32::try_from(self.file_data.len()).map_err(|_| EncodeError::FileTooLarge {
            len: self.file_data.len(),
        })
    }

    /// Whether `FileMD5` is the MD5 of `FileData`.
    #[must_use]
    pub fn md5_matches(&self) -> bool {
        <[u8; 16]>::from(Md5::digest(&self.file_data)) == self.file_md5
    }

    /// Checks the name, length and MD5 before encoding.
    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        check_fixed_str("FileName", &self.file_name, FILE_NAME_LEN)?;
        self.file_data_len()?;
        let computed: [u8; 16] = Md5::digest(&self.file_data).into();
        if computed != self.file_md5 {
            return Err(EncodeError::FileMd5Mismatch {
                expected: hex::encode(self.file_md5),
                computed: hex::encode(computed),
            });
        }
        Ok(())
    }

    /// Body length on the wire.
    pub(crate) fn body_len(&self) -> Option<usize> {
        FILE_DELIVER_HEAD_LEN.checked_add(self.file_data.len())
    }

    /// Appends the body; [`FileDeliver::check`] must have passed.
    pub(crate) fn put(&self, dst: &mut BytesMut) {
        dst.put_u32(self.dev_id);
        dst.put_u8(self.dev_type);
        dst.put_u64(self.timestamp);
        dst.put_u32(self.sys_usr_id);
        dst.put_u8(self.file_type.into());
        put_fixed_str::<FILE_NAME_LEN>(dst, &self.file_name);
        dst.put_u32(u32::try_from(self.file_data.len()).unwrap_or(u32::MAX));
        dst.put_slice(&self.file_md5);
        dst.put_slice(&self.file_data);
    }

    /// Decodes a body, checking `FileDataLen` and `FileMD5` against the data; the data is not copied.
    pub(crate) fn decode(body_ref: super::BodyRef<'_>) -> Result<Self, DecodeError> {
        let body = body_ref.as_slice();
        let msg_id = MsgId::FileDeliver;
        let part = "request body before FileData";
        let Some(head) = body.get(..FILE_DELIVER_HEAD_LEN) else {
            return Err(DecodeError::BodyLength {
                msg_id,
                part,
                expected: FILE_DELIVER_HEAD_LEN,
                found: body.len(),
            });
        };
        let mut r = Reader::new(head, msg_id, part, FILE_DELIVER_HEAD_LEN);
        let dev_id = r.u32()?;
        let dev_type = r.u8()?;
        let timestamp = r.u64()?;
        let sys_usr_id = r.u32()?;
        let file_type = FileType::from(r.u8()?);
        let file_name = r.fixed_str::<FILE_NAME_LEN>("FileName")?;
        let declared = r.u32()?;
        let file_md5: [u8; 16] = r.array()?;
        let file_data = body_ref.tail(FILE_DELIVER_HEAD_LEN);
        if usize::try_from(declared).ok() != Some(file_data.len()) {
            return Err(DecodeError::FileLength {
                declared,
                actual: file_data.len(),
            });
        }
        let computed: [u8; 16] = Md5::digest(&file_data).into();
        if computed != file_md5 {
            return Err(DecodeError::FileMd5Mismatch {
                expected: hex::encode(file_md5),
                computed: hex::encode(computed),
            });
        }
        Ok(Self {
            dev_id,
            dev_type,
            timestamp,
            sys_usr_id,
            file_type,
            file_name,
            file_md5,
            file_data,
        })
    }
}

/// The JSON form of 4020, with `FileDataLen` spelled out.
#[derive(Serialize, Deserialize)]
struct FileDeliverJson {
    #[serde(rename = "devId")]
    dev_id: u32,
    #[serde(rename = "devtype")]
    dev_type: u8,
    timestamp: u64,
    #[serde(rename = "sysUsrId")]
    sys_usr_id: u32,
    #[serde(rename = "FileType")]
    file_type: FileType,
    #[serde(rename = "FileName")]
    file_name: String,
    #[serde(
        rename = "FileDataLen",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    file_data_len: Option<u64>,
    #[serde(rename = "FileMD5", default)]
    file_md5: Option<HexMd5>,
    #[serde(rename = "FileData", with = "super::hexser::bytes")]
    file_data: Bytes,
}

/// An MD5 digest as hex.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct HexMd5(#[serde(with = "super::hexser::array")] [u8; 16]);

impl Serialize for FileDeliver {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FileDeliverJson {
            dev_id: self.dev_id,
            dev_type: self.dev_type,
            timestamp: self.timestamp,
            sys_usr_id: self.sys_usr_id,
            file_type: self.file_type,
            file_name: self.file_name.clone(),
            file_data_len: u64::try_from(self.file_data.len()).ok(),
            file_md5: Some(HexMd5(self.file_md5)),
            file_data: self.file_data.clone(),
        }
        .serialize(serializer)
    }
}

/// `FileDataLen` and `FileMD5` are checked against `FileData` when given, and computed when left out.
impl<'de> Deserialize<'de> for FileDeliver {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let json = FileDeliverJson::deserialize(deserializer)?;
        let actual = json.file_data.len();
        if let Some(declared) = json.file_data_len {
            if usize::try_from(declared).ok() != Some(actual) {
                return Err(D::Error::custom(format_args!(
                    "FileDataLen {declared} does not match the {actual} bytes of FileData"
                )));
            }
        }
        let computed: [u8; 16] = Md5::digest(&json.file_data).into();
        if let Some(HexMd5(given)) = json.file_md5 {
            if given != computed {
                return Err(D::Error::custom(format_args!(
                    "FileMD5 {} does not match the MD5 {} of FileData",
                    hex::encode(given),
                    hex::encode(computed)
                )));
            }
        }
        Ok(Self {
            dev_id: json.dev_id,
            dev_type: json.dev_type,
            timestamp: json.timestamp,
            sys_usr_id: json.sys_usr_id,
            file_type: json.file_type,
            file_name: json.file_name,
            file_md5: computed,
            file_data: json.file_data,
        })
    }
}

/// 4040 - set the server's socket packet logging for a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPacketLog {
    /// `devId` - the vehicle; the frame header carries the same devId.
    #[serde(rename = "devId")]
    pub dev_id: u32,
    /// `devtype` - the vehicle type.
    #[serde(rename = "devtype")]
    pub dev_type: u8,
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
    /// `sysUsrId` - the console user.
    #[serde(rename = "sysUsrId")]
    pub sys_usr_id: u32,
    /// `logSendFlag` - log the packets sent.
    #[serde(rename = "logSendFlag")]
    pub log_send: LogSwitch,
    /// `logRecvFlag` - log the packets received.
    #[serde(rename = "logRecvFlag")]
    pub log_recv: LogSwitch,
}

impl FixedBody for SetPacketLog {
    const LEN: usize = 4 + 1 + 8 + 4 + 1 + 1;

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u32(self.dev_id);
        dst.put_u8(self.dev_type);
        dst.put_u64(self.timestamp);
        dst.put_u32(self.sys_usr_id);
        dst.put_u8(self.log_send.into());
        dst.put_u8(self.log_recv.into());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dev_id: r.u32()?,
            dev_type: r.u8()?,
            timestamp: r.u64()?,
            sys_usr_id: r.u32()?,
            log_send: r.u8()?.into(),
            log_recv: r.u8()?.into(),
        })
    }
}

/// 4041 - set the device's log level (and its packet logging).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLogLevel {
    /// `devId` - the vehicle; the frame header carries the same devId.
    #[serde(rename = "devId")]
    pub dev_id: u32,
    /// `devtype` - the vehicle type.
    #[serde(rename = "devtype")]
    pub dev_type: u8,
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
    /// `sysUsrId` - the console user.
    #[serde(rename = "sysUsrId")]
    pub sys_usr_id: u32,
    /// `logSendFlag` - log the packets sent.
    #[serde(rename = "logSendFlag")]
    pub log_send: LogSwitch,
    /// `logRecvFlag` - log the packets received.
    #[serde(rename = "logRecvFlag")]
    pub log_recv: LogSwitch,
    /// `logLevel` - the levels to log.
    #[serde(rename = "logLevel")]
    pub log_level: LogLevel,
}

impl FixedBody for SetLogLevel {
    const LEN: usize = 4 + 1 + 8 + 4 + 1 + 1 + 1;

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u32(self.dev_id);
        dst.put_u8(self.dev_type);
        dst.put_u64(self.timestamp);
        dst.put_u32(self.sys_usr_id);
        dst.put_u8(self.log_send.into());
        dst.put_u8(self.log_recv.into());
        dst.put_u8(self.log_level.bits());
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dev_id: r.u32()?,
            dev_type: r.u8()?,
            timestamp: r.u64()?,
            sys_usr_id: r.u32()?,
            log_send: r.u8()?.into(),
            log_recv: r.u8()?.into(),
            log_level: LogLevel::from_bits_retain(r.u8()?),
        })
    }
}
