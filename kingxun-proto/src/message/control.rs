//! Device control commands, WebSvr -> svrInstance, all sealed (CryptFlag 1): 4001-4005.
//!
//! Every body starts with `devId u32, devtype u8, timestamp u64, usrId u32`; the reply is a bare `RespCode`.

use bytes::BufMut;
use serde::{Deserialize, Serialize};

use super::wire::{FixedBody, Reader};
use crate::error::DecodeError;

/// Bytes of the common prefix `devId, devtype, timestamp, usrId`.
const PREFIX_LEN: usize = 4 + 1 + 8 + 4;

wire_enum! {
    /// `MotorPowerFlag` of 4003: what the motor may still deliver while guarded.
    pub enum MotorPowerFlag: u8 {
        /// 0 - motor output off.
        Off = 0,
        /// 1 - power limited to 100 W.
        Limit100W = 1,
        /// 2 - power limited to 200 W.
        Limit200W = 2,
        /// 0xFF - power not limited.
        Unlimited = 0xFF,
    }
}

bitflags::bitflags! {
    /// `lockFlag` of 4004: which electric locks to open. Unknown bits are kept.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct ElecLockFlags: u8 {
        /// 0x02 - seat (storage bucket) lock.
        const SEAT = 0x02;
        /// 0x04 - glove box lock.
        const GLOVE_BOX = 0x04;
        /// 0x08 - helmet lock.
        const HELMET = 0x08;
    }
}
flags_as_integer!(ElecLockFlags: u8);

bitflags::bitflags! {
    /// `lightFlag` of 4005: which lights to switch on. Unknown bits are kept.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct LightFlags: u16 {
        /// 0x0001 - headlight.
        const HEADLIGHT = 0x0001;
        /// 0x0004 - high beam.
        const HIGH_BEAM = 0x0004;
        /// 0x0010 - position (outline) lights.
        const POSITION = 0x0010;
        /// 0x0040 - left turn signal.
        const LEFT_TURN = 0x0040;
        /// 0x0080 - right turn signal.
        const RIGHT_TURN = 0x0080;
        /// 0x0100 - hazard lights.
        const HAZARD = 0x0100;
        /// 0x0400 - brake light.
        const BRAKE = 0x0400;
    }
}
flags_as_integer!(LightFlags: u16);

/// Declares one control command: the common prefix, then its own fields (each with its wire integer type
/// and the `Reader` / `BufMut` methods that read and write it), with `FixedBody` in wire order.
macro_rules! control_command {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $wire:literal, $repr:ty, $read:ident, $put:ident; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            /// `devId` - the vehicle; the frame header carries the same devId.
            #[serde(rename = "devId")]
            pub dev_id: u32,
            /// `devtype` - the vehicle type.
            #[serde(rename = "devtype")]
            pub dev_type: u8,
            /// `timestamp` - Unix milliseconds.
            pub timestamp: u64,
            /// `usrId` - the user on whose behalf the command is sent.
            #[serde(rename = "usrId")]
            pub usr_id: u32,
            $( $(#[$fmeta])* #[serde(rename = $wire)] pub $field: $ty, )*
        }

        impl FixedBody for $name {
            const LEN: usize = PREFIX_LEN $( + std::mem::size_of::<$repr>() )*;

            fn put<B: BufMut>(&self, dst: &mut B) {
                dst.put_u32(self.dev_id);
                dst.put_u8(self.dev_type);
                dst.put_u64(self.timestamp);
                dst.put_u32(self.usr_id);
                $( dst.$put(<$repr>::from(self.$field)); )*
            }

            #[inline]
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    dev_id: r.u32()?,
                    dev_type: r.u8()?,
                    timestamp: r.u64()?,
                    usr_id: r.u32()?,
                    $( $field: <$ty>::from(r.$read()?), )*
                })
            }
        }
    };
}

control_command! {
    /// 4001 - remote unlock: lets the user ride within the given limits.
    Unlock {
        /// `allowTime` - minutes the vehicle may be used.
        allow_time: u16 => "allowTime", u16, u16, put_u16;
        /// `lowestSocP` - lowest state of charge allowed, percent 0..=100.
        lowest_soc_p: u8 => "lowestSocP", u8, u8, put_u8;
        /// `farthestDist` - farthest distance allowed, metres.
        farthest_dist: u32 => "farthestDist", u32, u32, put_u32;
    }
}

control_command! {
    /// 4002 - remote lock.
    Lock {
        /// `voice` - the locking sound to play.
        voice: u8 => "voice", u8, u8, put_u8;
    }
}

control_command! {
    /// 4003 - anti-theft guard.
    Guard {
        /// `MotorPowerFlag` - what the motor may deliver.
        motor_power: MotorPowerFlag => "MotorPowerFlag", u8, u8, put_u8;
        /// `maxSpeed` - speed limit in (m/s) * 100.
        max_speed: u16 => "maxSpeed", u16, u16, put_u16;
        /// `warningVoice` - the alarm sound.
        warning_voice: u8 => "warningVoice", u8, u8, put_u8;
    }
}

control_command! {
    /// 4004 - open electric locks (seat, glove box, helmet).
    OpenElecLock {
        /// `lockFlag` - the locks to open.
        lock_flag: ElecLockFlags => "lockFlag", u8, u8, put_u8;
        /// `warningVoice` - the sound to play.
        warning_voice: u8 => "warningVoice", u8, u8, put_u8;
    }
}

control_command! {
    /// 4005 - light control.
    LightCtrl {
        /// `lightFlag` - the lights to switch on.
        light_flag: LightFlags => "lightFlag", u16, u16, put_u16;
    }
}

impl From<u8> for ElecLockFlags {
    fn from(bits: u8) -> Self {
        Self::from_bits_retain(bits)
    }
}

impl From<u16> for LightFlags {
    fn from(bits: u16) -> Self {
        Self::from_bits_retain(bits)
    }
}

impl From<ElecLockFlags> for u8 {
    fn from(flags: ElecLockFlags) -> Self {
        flags.bits()
    }
}

impl From<LightFlags> for u16 {
    fn from(flags: LightFlags) -> Self {
        flags.bits()
    }
}
