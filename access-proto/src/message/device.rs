//! `get_device_info` and `set_device_info`: the terminal's settings.

use serde::{Deserialize, Serialize};

/// The terminal's settings, the `device_info` object.
///
/// Every field is optional: `get_device_info` answers with all of them, `set_device_info` sends the ones to
/// change (the spec's example leaves out the two versions, which a server cannot set). Addresses are kept as
/// text because the spec types them as strings and a terminal may report an empty or host name value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `uuid` - the terminal's serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `device_ip` - the terminal's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ip: Option<String>,
    /// `device_port` - the terminal's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_port: Option<u16>,
    /// `server_ip` - the management server the terminal connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<String>,
    /// `server_port` - the management server's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    /// `address` - where the terminal is installed (free text, e.g. `公司门口`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `community_code` - the site (community) the terminal belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_code: Option<String>,
    /// `software_version`, e.g. `V3.2.1` (reported, not settable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `hardware_version`, e.g. `V5.8.9` (reported, not settable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<String>,
}

/// `set_device_info` request: change the terminal's settings (server -> terminal).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDeviceInfo {
    /// `device_info` - the settings to change.
    pub device_info: DeviceInfo,
}

/// `get_device_info` response: the terminal's settings (terminal -> server).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfoReply {
    /// `device_info` - absent when the terminal reports a failure `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_info: Option<DeviceInfo>,
}
