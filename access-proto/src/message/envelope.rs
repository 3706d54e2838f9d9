//! The fields every message carries: `mod`, `session_id`, `type`, and in responses `code` and `message`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `mod` of a message: which operation it requests or answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mod {
    /// `get_device_info` - the server reads the terminal's settings (server -> terminal).
    GetDeviceInfo,
    /// `set_device_info` - the server changes the terminal's settings (server -> terminal).
    SetDeviceInfo,
    /// `download_person` - the server sends a person with face and feature data (server -> terminal).
    DownloadPerson,
    /// `upload_access_info` - the terminal reports an attendance/access record (terminal -> server).
    UploadAccessInfo,
    /// `send_user_command` - a server-defined command (server -> terminal).
    SendUserCommand,
    /// `send_device_command` - a terminal-defined command (terminal -> server).
    SendDeviceCommand,
    /// Any other name, kept as received.
    Other(String),
}

impl Mod {
    /// The known mods, in the spec's order.
    pub const KNOWN: [Mod; 6] = [
        Mod::GetDeviceInfo,
        Mod::SetDeviceInfo,
        Mod::DownloadPerson,
        Mod::UploadAccessInfo,
        Mod::SendUserCommand,
        Mod::SendDeviceCommand,
    ];

    /// The wire name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::GetDeviceInfo => "get_device_info",
            Self::SetDeviceInfo => "set_device_info",
            Self::DownloadPerson => "download_person",
            Self::UploadAccessInfo => "upload_access_info",
            Self::SendUserCommand => "send_user_command",
            Self::SendDeviceCommand => "send_device_command",
            Self::Other(name) => name,
        }
    }

    /// The mod named `name`; a name the spec does not define gives [`Mod::Other`].
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "get_device_info" => Self::GetDeviceInfo,
            "set_device_info" => Self::SetDeviceInfo,
            "download_person" => Self::DownloadPerson,
            "upload_access_info" => Self::UploadAccessInfo,
            "send_user_command" => Self::SendUserCommand,
            "send_device_command" => Self::SendDeviceCommand,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether the spec defines this mod.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for Mod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `session_id` of a request, echoed by its response.
///
/// A requester makes a fresh UUID string per request (DECISIONS.md, access); a receiver accepts any string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A session id with the given text.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// A random (version 4) UUID built from 16 random bytes, e.g. `de6a6236-db52-41e9-aaa8-00e04c110030`.
    ///
    /// The caller brings the randomness: this crate reads no RNG.
    #[must_use]
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        let mut out = String::with_capacity(36);
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push_str(&format!("{b:02x}"));
        }
        Self(out)
    }

    /// The text of the id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:?})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SessionId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for SessionId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

/// The key that pairs a response with its request: `mod` and `session_id` (DECISIONS.md, access).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PairKey {
    /// The request's `mod`, echoed by the response.
    pub module: Mod,
    /// The request's `session_id`, echoed by the response.
    pub session_id: SessionId,
}

/// The result `code` of a response.
///
/// `0 - success`, `-1 - general error`, `-2 - device fault`, `-3 - database error`; other numbers are kept.
/// Decoding never yields `Other` of a named value, so build codes with [`Code::from`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// `0` - success.
    Success,
    /// `-1` - general error.
    GeneralError,
    /// `-2` - device fault.
    DeviceFault,
    /// `-3` - database error.
    DatabaseError,
    /// Any other code, kept as received.
    Other(i64),
}

impl Code {
    /// The number on the wire.
    #[must_use]
    pub fn value(self) -> i64 {
        match self {
            Self::Success => 0,
            Self::GeneralError => -1,
            Self::DeviceFault => -2,
            Self::DatabaseError => -3,
            Self::Other(v) => v,
        }
    }

    /// Whether the code is `0`.
    #[must_use]
    pub fn is_success(self) -> bool {
        self.value() == 0
    }
}

impl From<i64> for Code {
    fn from(value: i64) -> Self {
        match value {
            0 => Self::Success,
            -1 => Self::GeneralError,
            -2 => Self::DeviceFault,
            -3 => Self::DatabaseError,
            other => Self::Other(other),
        }
    }
}

impl From<Code> for i64 {
    fn from(code: Code) -> Self {
        code.value()
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.value())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Self::from)
    }
}

/// The `type` of a message: `1` request, `2` response.
///
/// When `type` is absent a message is a response if it has `code`, a request otherwise (DECISIONS.md, access).
/// Encoders always write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `1` - a request, answered by a response with the same `mod` and `session_id`.
    Request,
    /// `2` - a response.
    Response,
}

impl MessageKind {
    /// The number on the wire.
    #[must_use]
    pub fn value(self) -> u8 {
        match self {
            Self::Request => 1,
            Self::Response => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_keep_unknown_numbers() {
        for (n, code) in [
            (0, Code::Success),
            (-1, Code::GeneralError),
            (-2, Code::DeviceFault),
            (-3, Code::DatabaseError),
            (7, Code::Other(7)),
            (-4, Code::Other(-4)),
        ] {
            assert_eq!(Code::from(n), code);
            assert_eq!(code.value(), n);
            assert_eq!(serde_json::to_string(&code).unwrap(), n.to_string());
            assert_eq!(serde_json::from_str::<Code>(&n.to_string()).unwrap(), code);
        }
        assert!(Code::Success.is_success());
        assert!(!Code::Other(1).is_success());
        assert!(serde_json::from_str::<Code>("1.5").is_err());
        assert!(serde_json::from_str::<Code>(r#""0""#).is_err());
    }

    #[test]
    fn mod_names_round_trip() {
        for m in Mod::KNOWN {
            assert_eq!(Mod::from_name(m.as_str()), m);
            assert!(m.is_known());
        }
        assert_eq!(Mod::from_name("reboot"), Mod::Other("reboot".into()));
        assert_eq!(Mod::from_name("reboot").to_string(), "reboot");
        assert!(!Mod::from_name("reboot").is_known());
    }

    #[test]
    fn random_session_ids_are_v4_uuids() {
        let id = SessionId::from_random_bytes([0xff; 16]);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = SessionId::from_random_bytes([0; 16]);
        assert_eq!(id.as_str(), "00000000-0000-4000-8000-000000000000");
        let bytes: [u8; 16] = core::array::from_fn(|i| u8::try_from(i * 17).unwrap());
        assert_eq!(
            SessionId::from_random_bytes(bytes).to_string(),
            "00112233-4455-4677-8899-aabbccddeeff"
        );
    }
}
