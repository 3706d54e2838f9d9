//! Data records and the device's data uploads (best.md 3.8 to 3.13): users, photos, cards, verification logs.
//!
//! [`User`] and [`Card`] are shared with the platform's `cmd.data.update.*` commands.

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::types::{
    BioType, CardType, FileId, FunSwitch, RecordType, RuleType, TemplateFormat, UserCategory,
    VerifyStatus, VerifyStyle,
};
use crate::value::{opt, wire};

/// A user, as uploaded by the device (`dev.data.upload.user`) or pushed by the platform
/// (`cmd.data.update.user`).
///
/// `role` and `ruleType` are printed only for the platform's command, `group`, `idNum` and
/// `threatLevelGroupNum` only for the device's upload; both directions accept all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `pin` - the user's staff number.
    pub pin: String,
    /// `role` - the user's role (required in `cmd.data.update.user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `password` - [`user_password`](crate::crypto::user_password) digest, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `passwordSalt` - the salt of `password`, hex.
    #[serde(
        rename = "passwordSalt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub password_salt: Option<String>,
    /// `group` - group for multi-person opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `idNum` - ID card number or ID card physical number.
    #[serde(rename = "idNum", default, skip_serializing_if = "Option::is_none")]
    pub id_num: Option<String>,
    /// `startTime` - start of validity.
    #[serde(
        rename = "startTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub start_time: Option<DateTime<FixedOffset>>,
    /// `endTime` - end of validity.
    #[serde(
        rename = "endTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// `firstName` - the name (the whole name when not split).
    #[serde(rename = "firstName")]
    pub first_name: String,
    /// `lastName` - family name.
    #[serde(rename = "lastName", default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `funSwitch` - extra functions.
    #[serde(rename = "funSwitch")]
    pub fun_switch: FunSwitch,
    /// `disable` - `true` deny list, `false` allow list.
    #[serde(with = "wire")]
    pub disable: bool,
    /// `threatLevelGroupNum` - threat level group.
    #[serde(
        rename = "threatLevelGroupNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub threat_level_group_num: Option<String>,
    /// `bioDatas` - biometric templates (left out when empty).
    #[serde(rename = "bioDatas", default, skip_serializing_if = "Vec::is_empty")]
    pub bio_datas: Vec<BioData>,
    /// `ruleType` - rule category (default access control).
    #[serde(
        rename = "ruleType",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub rule_type: Option<RuleType>,
}

impl User {
    /// A user with the required fields only: no function switch, on the allow list.
    #[must_use]
    pub fn new(pin: impl Into<String>, first_name: impl Into<String>) -> Self {
        Self {
            pin: pin.into(),
            role: None,
            password: None,
            password_salt: None,
            group: None,
            id_num: None,
            start_time: None,
            end_time: None,
            first_name: first_name.into(),
            last_name: None,
            fun_switch: FunSwitch::empty(),
            disable: false,
            threat_level_group_num: None,
            bio_datas: Vec::new(),
            rule_type: None,
        }
    }
}

/// One biometric template of a user (`bioDatas[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BioData {
    /// `no` - which finger, eye, ... (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub no: Option<u32>,
    /// `index` - template number for that individual, from 0 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub index: Option<u32>,
    /// `valid` - template valid (default yes).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub valid: Option<bool>,
    /// `duress` - duress template (default no).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub duress: Option<bool>,
    /// `type` - biometric type.
    #[serde(rename = "type")]
    pub bio_type: BioType,
    /// `majorVer` - algorithm major version (10 of 10.3).
    #[serde(rename = "majorVer", with = "wire")]
    pub major_ver: u32,
    /// `minorVer` - algorithm minor version (3 of 10.3).
    #[serde(rename = "minorVer", with = "wire")]
    pub minor_ver: u32,
    /// `fmt` - template format.
    pub fmt: TemplateFormat,
    /// `tmp` - the template.
    pub tmp: String,
}

/// Declares a photo record: `content` (base64) or `contentFileId` (alias `contentFileDialog`), not both
/// absent; `Debug` prints the content's length only.
macro_rules! photo_record {
    (
        $(#[$meta:meta])* $name:ident / $raw:ident = $raw_lit:literal {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = $raw_lit)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// `content` - the picture, base64 on the wire.
            #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
            pub content: Option<Bytes>,
            /// `contentFileId` (also read as `contentFileDialog`) - a file uploaded beforehand with
            /// `dev.file.upload.*`.
            #[serde(rename = "contentFileId", default, skip_serializing_if = "Option::is_none", with = "opt")]
            pub content_file_id: Option<FileId>,
        }

        #[derive(Deserialize)]
        struct $raw {
            $($(#[$fmeta])* $field: $ty,)*
            #[serde(default, with = "opt")]
            content: Option<Bytes>,
            #[serde(rename = "contentFileId", alias = "contentFileDialog", default, with = "opt")]
            content_file_id: Option<FileId>,
        }

        impl TryFrom<$raw> for $name {
            type Error = &'static str;

            fn try_from(raw: $raw) -> Result<Self, Self::Error> {
                if raw.content.is_none() && raw.content_file_id.is_none() {
                    return Err("neither `content` nor `contentFileId` is given");
                }
                Ok(Self {
                    $($field: raw.$field,)*
                    content: raw.content,
                    content_file_id: raw.content_file_id,
                })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &self.$field))*
                    .field("content", &self.content.as_ref().map(|c| format!("<{} bytes>", c.len())))
                    .field("content_file_id", &self.content_file_id)
                    .finish()
            }
        }
    };
}

photo_record! {
    /// A user photo (portrait), `userPhotos[]` of `dev.data.upload.userPhoto`.
    UserPhoto / RawUserPhoto = "RawUserPhoto" {
        /// `pin` - the user's staff number.
        pin: String,
        /// `extension` - picture file extension (default `jpg`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<String>,
    }
}

photo_record! {
    /// A biometric photo, `bioPhotos[]` of `dev.data.upload.bioPhoto`.
    BioPhoto / RawBioPhoto = "RawBioPhoto" {
        /// `pin` - the user's staff number.
        pin: String,
        /// `no` - which individual (default 0).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
        no: Option<u32>,
        /// `index` - template number (default 0).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
        index: Option<u32>,
        /// `type` - biometric type.
        #[serde(rename = "type")]
        bio_type: BioType,
        /// `extension` - picture file extension (default `jpg`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<String>,
    }
}

photo_record! {
    /// A verification photo, `verifyPhotos[]` of `dev.data.upload.verifyPhoto`.
    VerifyPhoto / RawVerifyPhoto = "RawVerifyPhoto" {
        /// `pin` - the user's staff number.
        pin: String,
        /// `meetCode` - meeting number.
        #[serde(rename = "meetCode")]
        meet_code: String,
        /// `photoTime` - when the photo was taken.
        #[serde(rename = "photoTime", default, skip_serializing_if = "Option::is_none", with = "opt")]
        photo_time: Option<DateTime<FixedOffset>>,
        /// `extension` - picture file extension (default `jpg`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<String>,
        /// `logId` - the verification record this photo belongs to.
        #[serde(rename = "logId", default, skip_serializing_if = "Option::is_none")]
        log_id: Option<String>,
    }
}

/// A card of a user (`multiCards[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// `pin` - the user's staff number.
    pub pin: String,
    /// `card` - card number, decimal string.
    pub card: String,
    /// `type` - main or secondary (default main; required in `cmd.data.update.multiCard`).
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub card_type: Option<CardType>,
    /// `lossFlag` - `true` for a lost card (default `false`; required in `cmd.data.update.multiCard`).
    #[serde(
        rename = "lossFlag",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub loss_flag: Option<bool>,
}

/// A verification (sign-in/sign-out) record, `verifyLog[]` of `dev.data.upload.verifyLog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyLog {
    /// `pin` - the user's staff number.
    pub pin: String,
    /// `meetCode` - meeting room number.
    #[serde(rename = "meetCode")]
    pub meet_code: String,
    /// `verifyTime` - when the user verified.
    #[serde(rename = "verifyTime", with = "wire")]
    pub verify_time: DateTime<FixedOffset>,
    /// `verifyStyle` - how the user verified.
    #[serde(rename = "verifyStyle")]
    pub verify_style: VerifyStyle,
    /// `status` - which window the verification fell in.
    pub status: VerifyStatus,
    /// `category` - the user's role.
    pub category: UserCategory,
    /// `logId` - record id, to match verification photos.
    #[serde(rename = "logId")]
    pub log_id: String,
    /// `recodeType` (sic) - sign-in or sign-out.
    #[serde(rename = "recodeType")]
    pub record_type: RecordType,
}

/// `dev.data.upload.user` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadUsers {
    /// `users`.
    pub users: Vec<User>,
}

/// `dev.data.upload.userPhoto` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadUserPhotos {
    /// `userPhotos`.
    #[serde(rename = "userPhotos")]
    pub user_photos: Vec<UserPhoto>,
}

/// `dev.data.upload.bioPhoto` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadBioPhotos {
    /// `bioPhotos`.
    #[serde(rename = "bioPhotos")]
    pub bio_photos: Vec<BioPhoto>,
}

/// `dev.data.upload.multiCard` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMultiCards {
    /// `multiCards`.
    #[serde(rename = "multiCards")]
    pub multi_cards: Vec<Card>,
}

/// `dev.data.upload.verifyLog` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadVerifyLogs {
    /// `verifyLog` (singular on the wire).
    #[serde(rename = "verifyLog")]
    pub verify_logs: Vec<VerifyLog>,
}

/// `dev.data.upload.verifyPhoto` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadVerifyPhotos {
    /// `verifyPhotos`.
    #[serde(rename = "verifyPhotos")]
    pub verify_photos: Vec<VerifyPhoto>,
}
