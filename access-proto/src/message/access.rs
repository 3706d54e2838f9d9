//! `upload_access_info`: an attendance/access record.

use serde::{Deserialize, Serialize};

use super::person::Role;
use crate::time::LocalTimestamp;

/// `open_door_type` - how the door was opened. The spec gives no list of values (its example uses 2), so the
/// number is kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpenDoorType(pub i64);

/// `in_out_type` - whether the person went in or out. The spec gives no list of values (its example uses 2), so
/// the number is kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InOutType(pub i64);

/// One passage through the terminal, the `access_info` object.
///
/// Only `time` is required: a terminal may record a card or face it does not know, without a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessInfo {
    /// `person_id` - the person recognised, as sent by `download_person`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// `time` - when, in the terminal's local time.
    pub time: LocalTimestamp,
    /// `id_number` - identity document number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// `card_number` - access card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// `role` - the person's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `open_door_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_door_type: Option<OpenDoorType>,
    /// `in_out_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_out_type: Option<InOutType>,
    /// `community_code` - the site (community) of the terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_code: Option<String>,
}

impl AccessInfo {
    /// A record with only its time set.
    #[must_use]
    pub fn at(time: LocalTimestamp) -> Self {
        Self {
            person_id: None,
            time,
            id_number: None,
            card_number: None,
            role: None,
            open_door_type: None,
            in_out_type: None,
            community_code: None,
        }
    }
}

/// `upload_access_info` request: report a record (terminal -> server).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAccessInfo {
    /// `access_info`.
    pub access_info: AccessInfo,
}
