//! `equipment/wifi/*`: the station's Wi-Fi list, status and connect/disconnect commands.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::types::{string_enum, ErrorInfo};

/// `equipment/wifi/connect` data: join `ssid`, replacing any current connection. Answered by
/// `equipment/wifi/status`.
///
/// `Debug` prints the password's length, not the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiConnect {
    /// `ssid` - network name.
    pub ssid: String,
    /// `pwd` - network password.
    pub pwd: String,
}

impl fmt::Debug for WifiConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifiConnect")
            .field("ssid", &self.ssid)
            .field("pwd", &format_args!("<{} bytes>", self.pwd.len()))
            .finish()
    }
}

/// `equipment/wifi/result` data: the networks in range. Sent whatever the outcome; `count` 0 and an empty
/// `list` on failure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WifiList {
    /// `count` - number of networks.
    pub count: u32,
    /// `list` - the networks.
    pub list: Vec<WifiNetwork>,
}

/// One network of [`WifiList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiNetwork {
    /// `ssid` - network name.
    pub ssid: String,
    /// `rssi` - signal strength.
    pub rssi: Rssi,
    /// `isCurrent` - the station is connected to it.
    #[serde(rename = "isCurrent")]
    pub is_current: bool,
    /// `isOurAp` - it is the access point the station itself opened.
    #[serde(rename = "isOurAp")]
    pub is_our_ap: bool,
}

/// Signal strength in dBm. The spec prints it as a string (`"-50"`), which encoders write; decoders also
/// accept a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rssi(pub i32);

impl Serialize for Rssi {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Rssi {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rssi;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signal strength in dBm, as a decimal string or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rssi, E> {
                i32::try_from(v)
                    .map(Rssi)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rssi, E> {
                i32::try_from(v)
                    .map(Rssi)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rssi, E> {
                v.parse()
                    .map(Rssi)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

string_enum! {
    /// `equipment/wifi/status` `status`: the station's Wi-Fi state.
    WifiStatus {
        /// `unconnected` - not connected.
        Unconnected = "unconnected",
        /// `connected` - connected.
        Connected = "connected",
        /// `noInternet` - connected, but without internet access.
        NoInternet = "noInternet",
    }
}

/// `equipment/wifi/status` data: pushed on every change and after connect/disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WifiState {
    /// `status` - the Wi-Fi state.
    pub status: WifiStatus,
    /// `error` - why, when the last command failed (code 0 otherwise).
    pub error: ErrorInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rssi_reads_string_or_number_and_writes_a_string() {
        assert_eq!(serde_json::from_str::<Rssi>("\"-50\"").unwrap(), Rssi(-50));
        assert_eq!(serde_json::from_str::<Rssi>("-50").unwrap(), Rssi(-50));
        assert_eq!(serde_json::to_string(&Rssi(-50)).unwrap(), "\"-50\"");
        let e = serde_json::from_str::<Rssi>("\"strong\"").unwrap_err();
        assert!(
            e.to_string().contains("invalid value: string \"strong\""),
            "{e}"
        );
        assert!(serde_json::from_str::<Rssi>("9999999999").is_err());
    }

    #[test]
    fn password_is_not_printed() {
        let c = WifiConnect {
            ssid: "shop".into(),
            pwd: "secret".into(),
        };
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("secret") && debug.contains("<6 bytes>"),
            "{debug}"
        );
    }
}
