//! The platform's commands (best.md 3.14 to 3.30). Each carries a `cmdId` that the device echoes in its
//! `dev.cmd.response`.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::data::{Card, User};
use super::types::BioType;
use crate::value::{opt, wire};

/// A command with no params but `cmdId`: `cmd.data.clear.user`, `cmd.data.clear.multiCard`,
/// `cmd.data.clear.all`, `cmd.system.sync.time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// `cmdId` - the platform's unique command number.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
}

/// A command naming users by `pins`: `cmd.data.delete.user`, `cmd.data.delete.multiCard`,
/// `cmd.data.delete.userPhoto`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinsCommand {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `pins` - staff numbers.
    pub pins: Vec<String>,
}

/// `cmd.data.update.user` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateUsers {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `users`.
    pub users: Vec<User>,
}

/// A meeting (`meeting[]` of `cmd.data.update.meeting`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// `name` - meeting name.
    pub name: String,
    /// `startSignInTime` - earliest sign-in.
    #[serde(
        rename = "startSignInTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub start_sign_in_time: Option<DateTime<FixedOffset>>,
    /// `lastSignInTime` - latest sign-in.
    #[serde(
        rename = "lastSignInTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub last_sign_in_time: Option<DateTime<FixedOffset>>,
    /// `earSignOutTime` (sic) - earliest sign-out.
    #[serde(
        rename = "earSignOutTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub earliest_sign_out_time: Option<DateTime<FixedOffset>>,
    /// `lastSignOutTime` - latest sign-out.
    #[serde(rename = "lastSignOutTime", with = "wire")]
    pub last_sign_out_time: DateTime<FixedOffset>,
    /// `id` - the meeting's unique id.
    pub id: String,
    /// `startTime` - meeting start.
    #[serde(rename = "startTime", with = "wire")]
    pub start_time: DateTime<FixedOffset>,
    /// `endTime` - meeting end.
    #[serde(rename = "endTime", with = "wire")]
    pub end_time: DateTime<FixedOffset>,
    /// `applicant` - who booked the meeting.
    pub applicant: String,
}

/// `cmd.data.update.meeting` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMeetings {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `meeting` (singular on the wire).
    #[serde(rename = "meeting")]
    pub meetings: Vec<Meeting>,
}

/// The members of one meeting (`members[]` of `cmd.data.update.meetingMember`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingMembers {
    /// `meetingId`.
    #[serde(rename = "meetingId")]
    pub meeting_id: String,
    /// `pins` - staff numbers of the members.
    pub pins: Vec<String>,
}

/// `cmd.data.update.meetingMember` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMeetingMembers {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `members`.
    pub members: Vec<MeetingMembers>,
}

/// `cmd.data.update.multiCard` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMultiCards {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `multiCards`.
    #[serde(rename = "multiCards")]
    pub multi_cards: Vec<Card>,
}

/// A biometric photo the device fetches by URL (`bioPhotos[]` of `cmd.data.update.bioPhoto`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BioPhotoUrl {
    /// `pin` - the user's staff number.
    pub pin: String,
    /// `no` - which individual (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub no: Option<u32>,
    /// `index` - template number (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub index: Option<u32>,
    /// `type` - biometric type.
    #[serde(rename = "type")]
    pub bio_type: BioType,
    /// `url` - where the JPEG is.
    pub url: String,
}

/// `cmd.data.update.bioPhoto` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateBioPhotos {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `bioPhotos`.
    #[serde(rename = "bioPhotos")]
    pub bio_photos: Vec<BioPhotoUrl>,
}

/// Which biometric photos to delete (`bioPhotos[]` of `cmd.data.delete.bioPhoto`); an absent field matches
/// everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BioPhotoSelector {
    /// `type` - biometric type (absent: all types).
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt"
    )]
    pub bio_type: Option<BioType>,
    /// `pin` - staff number (absent: all users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// `no` - which individual (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub no: Option<u32>,
}

/// `cmd.data.delete.bioPhoto` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBioPhotos {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `bioPhotos`.
    #[serde(rename = "bioPhotos")]
    pub bio_photos: Vec<BioPhotoSelector>,
}

/// `cmd.data.delete.meeting` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMeetings {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `meetings` - meeting ids.
    pub meetings: Vec<String>,
}

/// `cmd.data.delete.meetingMember` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMeetingMembers {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `meetingId`.
    #[serde(rename = "meetingId")]
    pub meeting_id: String,
    /// `pins` - staff numbers to remove.
    pub pins: Vec<String>,
}

/// `cmd.data.query.user` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryUsers {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `pin` - the user to query; absent or empty: all users.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub pin: Option<String>,
}

/// Meeting-room options (`option` of `cmd.option.set`). Other options are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomOptions {
    /// `meetRoomName` - room name.
    #[serde(rename = "meetRoomName")]
    pub name: String,
    /// `meetRoomManager` - person in charge.
    #[serde(
        rename = "meetRoomManager",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub manager: Option<String>,
    /// `meetRoomLocation` - where the room is.
    #[serde(
        rename = "meetRoomLocation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<String>,
    /// `meetRoomCapacity` - seats.
    #[serde(rename = "meetRoomCapacity", with = "wire")]
    pub capacity: u32,
    /// `meetRoomManagerPin` - staff number of the person in charge.
    #[serde(
        rename = "meetRoomManagerPin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub manager_pin: Option<String>,
}

/// `cmd.option.set` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetOptions {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `option`.
    pub option: RoomOptions,
}

/// `cmd.control.reboot` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reboot {
    /// `cmdId`.
    #[serde(rename = "cmdId")]
    pub cmd_id: String,
    /// `operator` - who asked for the reboot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}
