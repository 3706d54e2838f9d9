//! Vehicle binding, sharing and queries: status, positions, events, itineraries, nearby vehicles.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{hashed_request, AckResponse, ErrCode, OwnerFlag, Position};

hashed_request! {
    /// Lists the vehicles the user may use.
    GetUsrDevsRequest => "/getUsrDevs", GetUsrDevsResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
    }
    unhashed {}
}

hashed_request! {
    /// Binds a vehicle to the user.
    BindDevWithUsrRequest => "/bindDevWithUsr", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// Unbinds a vehicle.
    UnbindDevRequest => "/unbindDev", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// Shares a vehicle with a family member; answered 200 (phone not registered) or 300 (share limit).
    ShareDevWithFamilyRequest => "/shareDevWithFamily", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `fmPhone` - the family member's phone number.
        fm_phone: String = "fmPhone",
        /// `shareTracks` - share the tracks.
        share_tracks: bool = "shareTracks",
        /// `shareLtinerary` - share the itineraries.
        share_ltinerary: bool = "shareLtinerary",
    }
    unhashed {}
}

hashed_request! {
    /// Stops sharing a vehicle with a family member; answered 200 when the phone is not registered.
    UnshareDevWithFamilyRequest => "/unshareDevWithFamily", AckResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `fmPhone` - the family member's phone number.
        fm_phone: String = "fmPhone",
    }
    unhashed {}
}

hashed_request! {
    /// Who may use the vehicle.
    DevSharedStatusRequest => "/devSharedStatus", DevSharedStatusResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's current status.
    DevStatusRequest => "/devStatus", DevStatusResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's status history.
    DevStatusHistoryRequest => "/devStatusHistory", DevStatusHistoryResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `timeStart` - Unix milliseconds.
        time_start: u64 = "timeStart",
        /// `timeEnd` - Unix milliseconds.
        time_end: u64 = "timeEnd",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's position (and the current ride's track).
    DevPosInfoRequest => "/devPosInfo", DevPosInfoResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's event history.
    GetDevEventRequest => "/getDevEvent", GetDevEventResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `timeStart` - Unix milliseconds.
        time_start: u64 = "timeStart",
        /// `timeEnd` - Unix milliseconds.
        time_end: u64 = "timeEnd",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's latest itinerary (the spec's spelling `Ltinerary`).
    DevLtineraryRequest => "/devLtinerary", DevLtineraryResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
    }
    unhashed {}
}

hashed_request! {
    /// The vehicle's itinerary history.
    DevLtineraryHistoryRequest => "/devLtineraryHistory", DevLtineraryHistoryResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devId`.
        dev_id: u32 = "devId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `timeStart` - Unix milliseconds.
        time_start: u64 = "timeStart",
        /// `timeEnd` - Unix milliseconds.
        time_end: u64 = "timeEnd",
    }
    unhashed {}
}

/// `PositionScope` of `/searchUseableVechicles`: the four corners of the search area.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionScope {
    /// `topLeft`.
    #[serde(rename = "topLeft")]
    pub top_left: Position,
    /// `topRight`.
    #[serde(rename = "topRight")]
    pub top_right: Position,
    /// `bottomLeft`.
    #[serde(rename = "bottomLeft")]
    pub bottom_left: Position,
    /// `bottomRight`.
    #[serde(rename = "bottomRight")]
    pub bottom_right: Position,
}

hashed_request! {
    /// Searches vehicles that can be borrowed nearby (the spec's spellings `Vechicles`, `postion`).
    SearchUseableVechiclesRequest => "/searchUseableVechicles", SearchUseableVechiclesResponse;
    hashed {
        /// `usrId`.
        usr_id: u32 = "usrId",
        /// `devType`.
        dev_type: u8 = "devType",
        /// `postion` - where the user is; hashed as `lngPos` then `latPos`.
        postion: Position = "postion",
        /// `time` - when the vehicle is wanted, Unix milliseconds.
        time: u64 = "time",
    }
    unhashed {
        /// `hoursToUse`.
        hours_to_use: f64 = "hoursToUse",
        /// `distance`.
        distance: f64 = "distance",
        /// `PositionScope` - the area to search.
        position_scope: PositionScope = "PositionScope",
    }
}

/// One vehicle of the `devList` of `/getUsrDevs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsrDev {
    /// `devId`.
    #[serde(rename = "devId")]
    pub dev_id: u32,
    /// `devType`.
    #[serde(rename = "devType")]
    pub dev_type: u8,
    /// `ownerFlag`.
    #[serde(rename = "ownerFlag")]
    pub owner_flag: OwnerFlag,
    /// `nickname` - the vehicle's name.
    pub nickname: String,
    /// `devPhotoUrl`.
    #[serde(rename = "devPhotoUrl")]
    pub dev_photo_url: String,
}

/// `batteryStatus` of a [`DevStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatteryStatus {
    /// `socpercent` - state of charge, percent.
    pub socpercent: f64,
    /// `voltage`.
    pub voltage: f64,
    /// `temp` - temperature.
    pub temp: f64,
    /// `currentflag` - current direction flag.
    pub currentflag: u8,
    /// `current`.
    pub current: f64,
    /// `seriescount` - number of cells in series.
    pub seriescount: u32,
    /// `seriesdata` - per-cell values.
    pub seriesdata: Vec<f64>,
}

/// `devStatus`: a vehicle's status. Battery fields are optional, since a battery may be absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevStatus {
    /// `position`.
    pub position: Position,
    /// `mileage`.
    pub mileage: f64,
    /// `bdriving` - 1 while riding.
    pub bdriving: u8,
    /// `speed`.
    pub speed: f64,
    /// `status`.
    pub status: i64,
    /// `bMiniBatExist` - 1 when the small (backup) battery is present.
    #[serde(rename = "bMiniBatExist")]
    pub b_mini_bat_exist: u8,
    /// `MiniBatteryid`.
    #[serde(
        rename = "MiniBatteryid",
        default,
        deserialize_with = "super::string_or_number::option::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub mini_battery_id: Option<String>,
    /// `MiniiBatteryStatus` (the spec's spelling) - not described by the spec, kept as raw JSON.
    #[serde(
        rename = "MiniiBatteryStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mini_battery_status: Option<Value>,
    /// `batteryExist` - 1 when the battery is present.
    #[serde(rename = "batteryExist")]
    pub battery_exist: u8,
    /// `chargeFlag` - 1 while charging.
    #[serde(rename = "chargeFlag")]
    pub charge_flag: u8,
    /// `batteryId`.
    #[serde(
        rename = "batteryId",
        default,
        deserialize_with = "super::string_or_number::option::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub battery_id: Option<String>,
    /// `batteryStatus`.
    #[serde(
        rename = "batteryStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub battery_status: Option<BatteryStatus>,
    /// `sttime` - the time of the status, as a string (the spec says so).
    pub sttime: String,
}

/// Response of `/getUsrDevs`. The spec prints `devStatus` beside `devList`, at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetUsrDevsResponse {
    /// `errCode` - 0, or 0xFF for bad parameters.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devList` (success).
    #[serde(rename = "devList", default, skip_serializing_if = "Option::is_none")]
    pub dev_list: Option<Vec<UsrDev>>,
    /// `devStatus` (success).
    #[serde(rename = "devStatus", default, skip_serializing_if = "Option::is_none")]
    pub dev_status: Option<DevStatus>,
}

/// One entry of `devOwnerStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevOwner {
    /// `usrId`.
    #[serde(rename = "usrId")]
    pub usr_id: u32,
    /// `ownerFlag`.
    #[serde(rename = "ownerFlag")]
    pub owner_flag: OwnerFlag,
}

/// Response of `/devSharedStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevSharedStatusResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devOwnerStatus` (success).
    #[serde(
        rename = "devOwnerStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dev_owner_status: Option<Vec<DevOwner>>,
}

/// Response of `/devStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevStatusResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devStatus` (success).
    #[serde(rename = "devStatus", default, skip_serializing_if = "Option::is_none")]
    pub dev_status: Option<DevStatus>,
}

/// One entry of `devStatusArray`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevStatusRecord {
    /// `TimeStart` - Unix milliseconds.
    #[serde(rename = "TimeStart")]
    pub time_start: u64,
    /// `TimeEnd` - Unix milliseconds.
    #[serde(rename = "TimeEnd")]
    pub time_end: u64,
    /// `devStatus`.
    #[serde(rename = "devStatus")]
    pub dev_status: DevStatus,
}

/// Response of `/devStatusHistory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevStatusHistoryResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devStatusArray` (success).
    #[serde(
        rename = "devStatusArray",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dev_status_array: Option<Vec<DevStatusRecord>>,
}

/// `devPosInfo`: where the vehicle is; the ride fields exist only while `bdriving` is 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevPosInfo {
    /// `cur_lngPos`.
    #[serde(rename = "cur_lngPos")]
    pub cur_lng_pos: f64,
    /// `cur_latPos`.
    #[serde(rename = "cur_latPos")]
    pub cur_lat_pos: f64,
    /// `sttime`.
    pub sttime: String,
    /// `bdriving` - 1 while riding.
    pub bdriving: u8,
    /// `st_lngPos` - where the ride started (riding only).
    #[serde(rename = "st_lngPos", default, skip_serializing_if = "Option::is_none")]
    pub st_lng_pos: Option<f64>,
    /// `st_latPos` (riding only).
    #[serde(rename = "st_latPos", default, skip_serializing_if = "Option::is_none")]
    pub st_lat_pos: Option<f64>,
    /// `Points` - the track, without the start and current positions (riding only).
    #[serde(rename = "Points", default, skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<Position>>,
    /// `speed` (riding only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

/// Response of `/devPosInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevPosInfoResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devPosInfo` (success).
    #[serde(
        rename = "devPosInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dev_pos_info: Option<DevPosInfo>,
}

/// One entry of `devEventArray`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevEvent {
    /// `eventTime` - Unix milliseconds.
    #[serde(rename = "eventTime")]
    pub event_time: u64,
    /// `eventType`.
    #[serde(rename = "eventType")]
    pub event_type: i64,
    /// `eventDesc`.
    #[serde(rename = "eventDesc")]
    pub event_desc: String,
}

/// Response of `/getDevEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetDevEventResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `devEventArray` (success).
    #[serde(
        rename = "devEventArray",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dev_event_array: Option<Vec<DevEvent>>,
}

/// One itinerary (ride).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Itinerary {
    /// `TimeStart` - Unix milliseconds.
    #[serde(rename = "TimeStart")]
    pub time_start: u64,
    /// `TimeEnd` - Unix milliseconds.
    #[serde(rename = "TimeEnd")]
    pub time_end: u64,
    /// `st_lngPos`.
    #[serde(rename = "st_lngPos")]
    pub st_lng_pos: f64,
    /// `st_latPos`.
    #[serde(rename = "st_latPos")]
    pub st_lat_pos: f64,
    /// `end_lngPos`.
    #[serde(rename = "end_lngPos")]
    pub end_lng_pos: f64,
    /// `end_latPos`.
    #[serde(rename = "end_latPos")]
    pub end_lat_pos: f64,
    /// `ltinerary` - distance in units of 10 m.
    pub ltinerary: u32,
    /// `maxSpeed`.
    #[serde(rename = "maxSpeed")]
    pub max_speed: f64,
    /// `aveSpeed`.
    #[serde(rename = "aveSpeed")]
    pub ave_speed: f64,
    /// `maxCurrent` - highest supply current.
    #[serde(rename = "maxCurrent")]
    pub max_current: f64,
    /// `batteryId`.
    #[serde(
        rename = "batteryId",
        deserialize_with = "super::string_or_number::deserialize"
    )]
    pub battery_id: String,
}

/// Response of `/devLtinerary`: the itinerary's fields at the top level, present on success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevLtineraryResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `TimeStart`.
    #[serde(rename = "TimeStart", default, skip_serializing_if = "Option::is_none")]
    pub time_start: Option<u64>,
    /// `TimeEnd`.
    #[serde(rename = "TimeEnd", default, skip_serializing_if = "Option::is_none")]
    pub time_end: Option<u64>,
    /// `st_lngPos`.
    #[serde(rename = "st_lngPos", default, skip_serializing_if = "Option::is_none")]
    pub st_lng_pos: Option<f64>,
    /// `st_latPos`.
    #[serde(rename = "st_latPos", default, skip_serializing_if = "Option::is_none")]
    pub st_lat_pos: Option<f64>,
    /// `end_lngPos`.
    #[serde(
        rename = "end_lngPos",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub end_lng_pos: Option<f64>,
    /// `end_latPos`.
    #[serde(
        rename = "end_latPos",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub end_lat_pos: Option<f64>,
    /// `ltinerary` - distance in units of 10 m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltinerary: Option<u32>,
    /// `maxSpeed`.
    #[serde(rename = "maxSpeed", default, skip_serializing_if = "Option::is_none")]
    pub max_speed: Option<f64>,
    /// `aveSpeed`.
    #[serde(rename = "aveSpeed", default, skip_serializing_if = "Option::is_none")]
    pub ave_speed: Option<f64>,
    /// `maxCurrent`.
    #[serde(
        rename = "maxCurrent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_current: Option<f64>,
    /// `batteryId`.
    #[serde(
        rename = "batteryId",
        default,
        deserialize_with = "super::string_or_number::option::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub battery_id: Option<String>,
}

impl DevLtineraryResponse {
    /// The itinerary, when every one of its fields is present.
    #[must_use]
    pub fn itinerary(&self) -> Option<Itinerary> {
        Some(Itinerary {
            time_start: self.time_start?,
            time_end: self.time_end?,
            st_lng_pos: self.st_lng_pos?,
            st_lat_pos: self.st_lat_pos?,
            end_lng_pos: self.end_lng_pos?,
            end_lat_pos: self.end_lat_pos?,
            ltinerary: self.ltinerary?,
            max_speed: self.max_speed?,
            ave_speed: self.ave_speed?,
            max_current: self.max_current?,
            battery_id: self.battery_id.clone()?,
        })
    }
}

/// Response of `/devLtineraryHistory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevLtineraryHistoryResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `LtineraryArray` (success).
    #[serde(
        rename = "LtineraryArray",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ltinerary_array: Option<Vec<Itinerary>>,
}

/// One entry of `vehicles` of `/searchUseableVechicles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    /// `devId`.
    #[serde(rename = "devId")]
    pub dev_id: u32,
    /// `devType`.
    #[serde(rename = "devType")]
    pub dev_type: u8,
    /// `devPostion` (the spec's spelling).
    #[serde(rename = "devPostion")]
    pub dev_postion: Position,
    /// `devSOCPercent`.
    #[serde(rename = "devSOCPercent")]
    pub dev_soc_percent: f64,
    /// `availableMiles`.
    #[serde(rename = "availableMiles")]
    pub available_miles: f64,
    /// `returnTime` - Unix milliseconds.
    #[serde(rename = "returnTime")]
    pub return_time: u64,
    /// `price`.
    pub price: f64,
}

/// Response of `/searchUseableVechicles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchUseableVechiclesResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `vehicles` (success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicles: Option<Vec<Vehicle>>,
}
