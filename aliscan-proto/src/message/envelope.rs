//! The shapes around a payload: `padId` + `data`, and the few messages with top-level fields or no `data`.

use serde::{Deserialize, Serialize};

use super::record::ScanRecord;
use super::upgrade::{UpgradeOffer, UpgradeSource};
use crate::scan_id::{ScanId, ScanIdError};

/// The common message shape: `padId` and a typed `data` (the `topic` is the enum variant).
///
/// `pad_id` is `None` when the message has no `padId` (the spec marks it optional on station pushes, where
/// it is usually `""`); it is written only when `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<D> {
    /// `padId` - the pad the message comes from or is meant for.
    #[serde(rename = "padId", default, skip_serializing_if = "Option::is_none")]
    pub pad_id: Option<String>,
    /// `data` - the payload.
    pub data: D,
}

impl<D> Envelope<D> {
    /// A message for or from `pad_id`.
    #[must_use]
    pub fn new(pad_id: impl Into<String>, data: D) -> Self {
        Self {
            pad_id: Some(pad_id.into()),
            data,
        }
    }
}

/// A message with no `data`: `equipment/store/brand` and `equipment/store/unbind`. A `data` field, if sent, is
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Bare {
    /// `padId` - the pad the message comes from.
    #[serde(rename = "padId", default, skip_serializing_if = "Option::is_none")]
    pub pad_id: Option<String>,
}

impl Bare {
    /// A message from `pad_id`.
    #[must_use]
    pub fn new(pad_id: impl Into<String>) -> Self {
        Self {
            pad_id: Some(pad_id.into()),
        }
    }
}

/// `equipment/scan/result`: the id of the scan a pad just started, at the top level, with no `data`.
///
/// An empty `scanId` means the scan command failed and the pad must reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStarted {
    /// `padId` - the pad that sent `equipment/scan/new`.
    #[serde(rename = "padId", default, skip_serializing_if = "Option::is_none")]
    pub pad_id: Option<String>,
    /// `scanId` - the new scan's id; empty when the scan failed.
    #[serde(rename = "scanId")]
    pub scan_id: String,
}

impl ScanStarted {
    /// Whether the scan command failed (`scanId` is empty).
    #[must_use]
    pub fn failed(&self) -> bool {
        self.scan_id.is_empty()
    }

    /// The scan id, parsed.
    ///
    /// # Errors
    /// [`ScanIdError`] when `scanId` is empty or not `DEVICEID-YYYYMMDD-HHmmss`.
    pub fn parse_scan_id(&self) -> Result<ScanId, ScanIdError> {
        self.scan_id.parse()
    }
}

/// `files/scan/result` and `files/scan/update`: one record, with its `scanId` also at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPush {
    /// `padId` - the pad that started the scan (`result`), or empty.
    #[serde(rename = "padId", default, skip_serializing_if = "Option::is_none")]
    pub pad_id: Option<String>,
    /// `scanId` - the scan.
    #[serde(rename = "scanId")]
    pub scan_id: String,
    /// `data` - the record (boxed: a record with its measurements is about 2 KiB).
    pub data: Box<ScanRecord>,
}

/// `inform/upgradeInform`: an upgrade offer, with its `source` at the top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeInform {
    /// `padId` - empty: the offer goes to every pad.
    #[serde(rename = "padId", default, skip_serializing_if = "Option::is_none")]
    pub pad_id: Option<String>,
    /// `source` - where the new version was found.
    pub source: UpgradeSource,
    /// `data` - the offer.
    pub data: UpgradeOffer,
}
