//! The control endpoints and their binary commands: devOpenLock -> 4001, lockDev -> 4002, devGuard -> 4003,
//! devOpenElecLock -> 4004, devLightCtrl -> 4005, devFileDeliver -> 4020.
//!
//! WebSvr checks the request (timestamp window, `hash`, binding), then sends the command to svrInstance. The
//! conversions carry the request's own `timestamp` into the command; set another one on the result if the
//! server stamps commands with its own clock.

use bytes::Bytes;

use super::{hashed_request, AckResponse};
use crate::error::EncodeError;
use crate::hash::HashedRequest;
use crate::message::wire::check_fixed_str;
use crate::message::{
    ElecLockFlags, FileDeliver, FileType, Guard, LightCtrl, LightFlags, Lock, MotorPowerFlag,
    MsgId, OpenElecLock, Unlock, FILE_NAME_LEN,
};

/// A control endpoint: the binary MsgId WebSvr sends for it.
pub trait ControlEndpoint: HashedRequest {
    /// The MsgId of the command this endpoint becomes.
    const MSG_ID: MsgId;
}

hashed_request! {
    /// Unlocks a vehicle for the user within limits; becomes 4001 [`Unlock`].
    DevOpenLockRequest => "/devOpenLock", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `allowTime` - minutes the vehicle may be used (u16, as in 4001).
        allow_time: u16 = "allowTime",
        /// `lowestSocP` - lowest state of charge allowed, percent 0..=100.
        lowest_soc_p: u8 = "lowestSocP",
        /// `farthestDist` - farthest distance allowed, metres (u32, as in 4001).
        farthest_dist: u32 = "farthestDist",
    }
}

hashed_request! {
    /// Locks a vehicle; becomes 4002 [`Lock`].
    LockDevRequest => "/lockDev", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `voice` - the locking sound.
        voice: u8 = "voice",
    }
}

hashed_request! {
    /// Puts a vehicle in anti-theft guard; becomes 4003 [`Guard`].
    DevGuardRequest => "/devGuard", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `MotorPowerFlag` - what the motor may deliver.
        motor_power: MotorPowerFlag = "MotorPowerFlag",
        /// `maxSpeed` - speed limit in (m/s) * 100.
        max_speed: u16 = "maxSpeed",
        /// `warningVoice` - the alarm sound.
        warning_voice: u8 = "warningVoice",
    }
}

hashed_request! {
    /// Opens electric locks; becomes 4004 [`OpenElecLock`] (`voice` -> `warningVoice`).
    DevOpenElecLockRequest => "/devOpenElecLock", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `lockFlag` - 0x02 seat, 0x04 glove box, 0x08 helmet.
        lock_flag: ElecLockFlags = "lockFlag",
        /// `voice` - the sound to play.
        voice: u8 = "voice",
    }
}

hashed_request! {
    /// Switches lights; becomes 4005 [`LightCtrl`]. The spec prints this endpoint without fields: this shape
    /// (the other control endpoints' fields plus 4005's `lightFlag`) is this crate's choice.
    DevLightCtrlRequest => "/devLightCtrl", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `lightFlag` - the lights to switch on, as in 4005.
        light_flag: LightFlags = "lightFlag",
    }
}

hashed_request! {
    /// Delivers a file (test endpoint); becomes 4020 [`FileDeliver`] once WebSvr has fetched `FileUrl`.
    DevFileDeliverRequest => "/devFileDeliver", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {
        /// `FileType`.
        file_type: FileType = "FileType",
        /// `FileName` - at most 32 bytes, as in 4020.
        file_name: String = "FileName",
        /// `FileUrl` - where WebSvr fetches the file.
        file_url: String = "FileUrl",
    }
}

impl ControlEndpoint for DevOpenLockRequest {
    const MSG_ID: MsgId = MsgId::Unlock;
}
impl ControlEndpoint for LockDevRequest {
    const MSG_ID: MsgId = MsgId::Lock;
}
impl ControlEndpoint for DevGuardRequest {
    const MSG_ID: MsgId = MsgId::Guard;
}
impl ControlEndpoint for DevOpenElecLockRequest {
    const MSG_ID: MsgId = MsgId::OpenElecLock;
}
impl ControlEndpoint for DevLightCtrlRequest {
    const MSG_ID: MsgId = MsgId::LightCtrl;
}
impl ControlEndpoint for DevFileDeliverRequest {
    const MSG_ID: MsgId = MsgId::FileDeliver;
}

impl From<&DevOpenLockRequest> for Unlock {
    fn from(r: &DevOpenLockRequest) -> Self {
        Self {
            dev_id: r.dev_id,
            dev_type: r.dev_type,
            timestamp: r.timestamp,
            usr_id: r.usr_id,
            allow_time: r.allow_time,
            lowest_soc_p: r.lowest_soc_p,
            farthest_dist: r.farthest_dist,
        }
    }
}

impl From<&LockDevRequest> for Lock {
    fn from(r: &LockDevRequest) -> Self {
        Self {
            dev_id: r.dev_id,
            dev_type: r.dev_type,
            timestamp: r.timestamp,
            usr_id: r.usr_id,
            voice: r.voice,
        }
    }
}

impl From<&DevGuardRequest> for Guard {
    fn from(r: &DevGuardRequest) -> Self {
        Self {
            dev_id: r.dev_id,
            dev_type: r.dev_type,
            timestamp: r.timestamp,
            usr_id: r.usr_id,
            motor_power: r.motor_power,
            max_speed: r.max_speed,
            warning_voice: r.warning_voice,
        }
    }
}

impl From<&DevOpenElecLockRequest> for OpenElecLock {
    fn from(r: &DevOpenElecLockRequest) -> Self {
        Self {
            dev_id: r.dev_id,
            dev_type: r.dev_type,
            timestamp: r.timestamp,
            usr_id: r.usr_id,
            lock_flag: r.lock_flag,
            warning_voice: r.voice,
        }
    }
}

impl From<&DevLightCtrlRequest> for LightCtrl {
    fn from(r: &DevLightCtrlRequest) -> Self {
        Self {
            dev_id: r.dev_id,
            dev_type: r.dev_type,
            timestamp: r.timestamp,
            usr_id: r.usr_id,
            light_flag: r.light_flag,
        }
    }
}

impl DevFileDeliverRequest {
    /// The 4020 command carrying `file_data` (fetched from `FileUrl`), with its MD5; `usrId` becomes
    /// `sysUsrId`.
    ///
    /// # Errors
    /// [`EncodeError::FieldTooLong`] / [`EncodeError::FieldHasNul`] for `FileName`, or
    /// [`EncodeError::FileTooLarge`] when the data does not fit `FileDataLen`.
    pub fn to_file_deliver(&self, file_data: Bytes) -> Result<FileDeliver, EncodeError> {
        check_fixed_str("FileName", &self.file_name, FILE_NAME_LEN)?;
        let command = FileDeliver::new(
            self.dev_id,
            self.dev_type,
            self.timestamp,
            self.usr_id,
            self.file_type,
            self.file_name.clone(),
            file_data,
        );
        command.file_data_len()?;
        Ok(command)
    }
}
