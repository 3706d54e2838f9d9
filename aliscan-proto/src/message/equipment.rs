//! `equipment/*`: station status, scan and calibration commands, device information, debug mode, USB drive
//! and logs.

use serde::{Deserialize, Serialize};

use super::types::{sex_number, string_enum, ErrorInfo, OutcomeStatus, Sex};

string_enum! {
    /// `equipment/scan/status` `status`: the station's state (all 14 of the spec).
    StationStatus {
        /// `unready` - the device is not ready.
        Unready = "unready",
        /// `waitBinding` - set-up: the station is not bound to a store.
        WaitBinding = "waitBinding",
        /// `duringDownLicense` - set-up: the license file is downloading.
        DuringDownLicense = "duringDownLicense",
        /// `licenseChecking` - set-up: the license file is being checked.
        LicenseChecking = "licenseChecking",
        /// `waitLicense` - no usable license file, network available: waiting to download one.
        WaitLicense = "waitLicense",
        /// `waitWifiSetting` - the network is needed but no Wi-Fi is connected.
        WaitWifiSetting = "waitWifiSetting",
        /// `init` - the device is initialising.
        Init = "init",
        /// `free` - ready: a pad may scan or calibrate.
        Free = "free",
        /// `debug` - debug mode: only the pad that enabled it may use the station.
        Debug = "debug",
        /// `booking` - booked: only the booking pad may scan or reset.
        Booking = "booking",
        /// `calibrating` - calibration running.
        Calibrating = "calibrating",
        /// `scanning` - scan running.
        Scanning = "scanning",
        /// `computing` - computing a scan's results.
        Computing = "computing",
        /// `abnormal` - fault: the user should contact technical support.
        Abnormal = "abnormal",
    }
}

/// `equipment/scan/status` data: pushed on every state change, and as the answer to a refused command
/// (DECISIONS.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationState {
    /// `status` - the station's state.
    pub status: StationStatus,
    /// `currentPad` - the pad that occupies the station (booking, debug), if any.
    #[serde(
        rename = "currentPad",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_pad: Option<String>,
    /// `error` - why the station is in this state, code 0 when nothing is wrong.
    pub error: ErrorInfo,
}

/// `equipment/scan/new` data: start a scan. Answered by `equipment/scan/result` with the new scan id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanNew {
    /// `sex` - the customer's sex, written as a number here.
    #[serde(with = "sex_number")]
    pub sex: Sex,
    /// `requestId` - the pad's id for this scan, echoed in the record so it can be found later.
    #[serde(rename = "requestId")]
    pub request_id: String,
}

string_enum! {
    /// `equipment/scan/action` `action`.
    ScanAction {
        /// `reset` - reset; also sent when a scan or calibration is left.
        Reset = "reset",
        /// `open` - switch the device on.
        Open = "open",
        /// `book` - book the station: only this pad may then scan or reset it.
        Book = "book",
        /// `status` - make the station push its `equipment/scan/status`.
        Status = "status",
        /// `license` - fetch the license again and let the user bind a store.
        License = "license",
        /// `debug` - enter debug mode.
        Debug = "debug",
    }
}

/// `equipment/scan/action` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentAction {
    /// `action` - what to do.
    pub action: ScanAction,
}

string_enum! {
    /// `equipment/calibration/new` and `.../result` `step`.
    CalibrationStep {
        /// `left` - scan the left foot.
        Left = "left",
        /// `right` - scan the right foot.
        Right = "right",
        /// `compute` - compute the left/right calibration.
        Compute = "compute",
        /// `c1` - reference object, position 1.
        C1 = "c1",
        /// `c2` - reference object, position 2.
        C2 = "c2",
        /// `c3` - reference object, position 3.
        C3 = "c3",
        /// `c4` - reference object, position 4.
        C4 = "c4",
        /// `c5` - reference object, position 5.
        C5 = "c5",
        /// `c6` - reference object, position 6.
        C6 = "c6",
        /// `c7` - reference object, position 7.
        C7 = "c7",
        /// `c8` - reference object, position 8.
        C8 = "c8",
        /// `8compute` - compute the reference-object calibration.
        Compute8 = "8compute",
    }
}

/// `equipment/calibration/new` data: run one calibration step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalibrationNew {
    /// `step` - the step to run.
    pub step: CalibrationStep,
}

/// `equipment/calibration/result` data: the outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalibrationResult {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed.
    pub error: ErrorInfo,
    /// `step` - the step this result is for.
    pub step: CalibrationStep,
}

/// The data of a result that carries only its outcome: `equipment/store/result`, `files/scan/uinforesult`,
/// `equipment/copyLogResult`, `equipment/uploadLogResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed.
    pub error: ErrorInfo,
}

impl Outcome {
    /// A success with error code 0.
    #[must_use]
    pub fn success() -> Self {
        Self {
            status: OutcomeStatus::Success,
            error: ErrorInfo::ok(),
        }
    }
}

/// Software versions of the station (`equipment/deviceInfoResult`, and its `prev` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Versions {
    /// `version` - main program version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `algorighmVer` (sic) - algorithm version.
    #[serde(
        rename = "algorighmVer",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub algorithm_ver: Option<String>,
    /// `sdkVer` - scanner SDK version.
    #[serde(rename = "sdkVer", default, skip_serializing_if = "Option::is_none")]
    pub sdk_ver: Option<String>,
    /// `communityVer` - network SDK version.
    #[serde(
        rename = "communityVer",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub community_ver: Option<String>,
    /// `firmwareVer` - firmware version.
    #[serde(
        rename = "firmwareVer",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub firmware_ver: Option<String>,
    /// `frontVer` - front-end (pad pages) version.
    #[serde(rename = "frontVer", default, skip_serializing_if = "Option::is_none")]
    pub front_ver: Option<String>,
    /// `createOn` - when this set of versions was recorded.
    #[serde(rename = "createOn", default, skip_serializing_if = "Option::is_none")]
    pub create_on: Option<String>,
}

/// `equipment/deviceInfoResult` data: identity and versions of the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `status` - success or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed.
    pub error: ErrorInfo,
    /// `modelName` - device model.
    #[serde(rename = "modelName", default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// `sn` - hardware serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sn: Option<String>,
    /// `ssid` - the Wi-Fi network the station uses for internet access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssid: Option<String>,
    /// `ap` - the station's own access point name, which is also its serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ap: Option<String>,
    /// `deviceId` - disk id.
    #[serde(rename = "deviceId", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// `version`, `algorighmVer`, `sdkVer`, `communityVer`, `firmwareVer`, `frontVer`, `createOn` - current
    /// versions (top-level fields of `data` on the wire).
    #[serde(flatten)]
    pub versions: Versions,
    /// `prev` - the versions of the previous start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Versions>,
}

/// `equipment/debugEnable` data: enter or leave debug mode; the station then answers with its status and
/// locks itself to this pad while in debug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugEnable {
    /// `enable` - `true` to enter debug mode, `false` to leave it.
    pub enable: bool,
}

/// `equipment/checkUDiskResult` data: the USB drive plugged into the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UDiskInfo {
    /// `status` - success (a drive is there) or failure.
    pub status: OutcomeStatus,
    /// `error` - why it failed.
    pub error: ErrorInfo,
    /// `name` - drive name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `size` - drive size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `capibility` (sic) - free space left.
    #[serde(
        rename = "capibility",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub free: Option<u64>,
    /// `logSize` - size of the logs to copy.
    #[serde(rename = "logSize", default, skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
}
