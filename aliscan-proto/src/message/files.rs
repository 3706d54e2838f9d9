//! `files/scan/*`: the station's stored scans: listing, user info, actions, statistics.

use serde::{Deserialize, Serialize};

use super::record::ScanRecord;
use super::types::string_enum;

/// The page number used when `page` is absent (spec: "不传默认为1").
pub const DEFAULT_PAGE: u32 = 1;
/// The page size used when `pageSize` is absent (spec: "不传默认为10").
pub const DEFAULT_PAGE_SIZE: u32 = 10;

fn default_page() -> u32 {
    DEFAULT_PAGE
}

fn default_page_size() -> u32 {
    DEFAULT_PAGE_SIZE
}

/// `files/scan/list` data: ask for one page of records. Answered by `files/scan/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesList {
    /// `page` - page number, 1-based; [`DEFAULT_PAGE`] when absent.
    #[serde(default = "default_page")]
    pub page: u32,
    /// `pageSize` - records per page; [`DEFAULT_PAGE_SIZE`] when absent.
    #[serde(rename = "pageSize", default = "default_page_size")]
    pub page_size: u32,
}

impl Default for FilesList {
    fn default() -> Self {
        Self {
            page: DEFAULT_PAGE,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// `files/scan/status` data: one page of records, or the records whose state changed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScanPage {
    /// `count` - number of records in all pages; 0 when there are none.
    pub count: u64,
    /// `page` - this page's number; [`DEFAULT_PAGE`] when absent.
    #[serde(default = "default_page")]
    pub page: u32,
    /// `pageSize` - records per page; [`DEFAULT_PAGE_SIZE`] when absent.
    #[serde(rename = "pageSize", default = "default_page_size")]
    pub page_size: u32,
    /// `list` - the records; empty when there are none.
    pub list: Vec<ScanRecord>,
}

/// `files/scan/uinfo` data: set the customer's details of a scan. Answered by `files/scan/uinforesult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoUpdate {
    /// `scanId` - the scan.
    #[serde(rename = "scanId")]
    pub scan_id: String,
    /// `telephone` - phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// `member_num` - membership number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_num: Option<String>,
    /// `operator` - the shop assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// `birthday` - birthday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    /// `name` - name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

string_enum! {
    /// `files/scan/action` `action`.
    FileAction {
        /// `upload` - upload the records now.
        Upload = "upload",
        /// `status` - push the records' states (`files/scan/status`).
        Status = "status",
        /// `statistics` - push the statistics (`files/scan/statistics`).
        Statistics = "statistics",
        /// `delete` - delete the records.
        Delete = "delete",
        /// `list` - list the records; the only action that needs no `scanId` (the spec names it in that rule).
        List = "list",
    }
}

/// `files/scan/action` data: act on some records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesAction {
    /// `action` - what to do.
    pub action: FileAction,
    /// `scanId` - the records, a list; the spec requires it for every action but `list`.
    #[serde(rename = "scanId", default, skip_serializing_if = "Option::is_none")]
    pub scan_ids: Option<Vec<String>>,
}

/// `files/scan/request` data: push the record of the scan the pad started with this `requestId`, as
/// `files/scan/result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesRequest {
    /// `requestId` - the id the pad gave in `equipment/scan/new`.
    #[serde(rename = "requestId")]
    pub request_id: String,
}

/// `files/scan/statistics` data: record counts by upload state, pushed periodically or on request. Absent
/// counts are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Statistics {
    /// `total` - all records.
    pub total: u64,
    /// `totalUncomplete` - records not fully uploaded.
    #[serde(rename = "totalUncomplete")]
    pub uncomplete: u64,
    /// `totalUserUncomplete` - user data not uploaded yet.
    #[serde(rename = "totalUserUncomplete")]
    pub user_uncomplete: u64,
    /// `totalUserFail` - user data whose upload failed.
    #[serde(rename = "totalUserFail")]
    pub user_fail: u64,
    /// `totalJsonUncomplete` - result JSON not uploaded yet.
    #[serde(rename = "totalJsonUncomplete")]
    pub json_uncomplete: u64,
    /// `totalJsonFail` - result JSON whose upload failed.
    #[serde(rename = "totalJsonFail")]
    pub json_fail: u64,
    /// `totalJsonPriUncomplete` - private result JSON not uploaded yet.
    #[serde(rename = "totalJsonPriUncomplete")]
    pub json_pri_uncomplete: u64,
    /// `totalJsonPriFail` - private result JSON whose upload failed.
    #[serde(rename = "totalJsonPriFail")]
    pub json_pri_fail: u64,
    /// `totalCloudUncomplete` - point clouds not uploaded yet.
    #[serde(rename = "totalCloudUncomplete")]
    pub cloud_uncomplete: u64,
    /// `totalCloudFail` - point clouds whose upload failed.
    #[serde(rename = "totalCloudFail")]
    pub cloud_fail: u64,
    /// `totalMiniUncomplete` - low-precision models not uploaded yet.
    #[serde(rename = "totalMiniUncomplete")]
    pub mini_uncomplete: u64,
    /// `totalMiniFail` - low-precision models whose upload failed.
    #[serde(rename = "totalMiniFail")]
    pub mini_fail: u64,
    /// `totalScanUncomplete` - high-precision models not uploaded yet.
    #[serde(rename = "totalScanUncomplete")]
    pub scan_uncomplete: u64,
    /// `totalScanFail` - high-precision models whose upload failed.
    #[serde(rename = "totalScanFail")]
    pub scan_fail: u64,
}
