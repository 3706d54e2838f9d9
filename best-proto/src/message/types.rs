//! Value types shared by the messages: result codes, `funcId`s and the closed value sets of the spec.

use std::fmt;

use crate::config::MAX_FILE_ID_LEN;
use crate::value::{code_enum, serde_via_wire, string_enum, WireValue};

/// A result code: 8 characters, `00000000` for success (DECISIONS.md, best).
///
/// The reference codes are named; any other code is kept as sent in [`Code::Other`] (8 characters or not: the
/// spec's own examples print placeholders such as `xxxx`). A code sent as a JSON number is read as its 8-digit
/// zero-padded decimal form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `00000000` - success.
    Success,
    /// `10000001` - bad signature or credentials.
    BadCredentials,
    /// `10000002` - unknown device.
    UnknownDevice,
    /// `10000003` - not logged in.
    NotLoggedIn,
    /// `20000001` - malformed params.
    MalformedParams,
    /// `20000002` - unsupported funcId.
    UnsupportedFuncId,
    /// `30000001` - file checksum mismatch.
    FileChecksumMismatch,
    /// `30000002` - file offset mismatch (the message carries the expected offset).
    FileOffsetMismatch,
    /// `30000003` - unknown fileId.
    UnknownFileId,
    /// Any other code, kept as sent.
    Other(String),
}

impl Code {
    /// The wire string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "00000000",
            Self::BadCredentials => "10000001",
            Self::UnknownDevice => "10000002",
            Self::NotLoggedIn => "10000003",
            Self::MalformedParams => "20000001",
            Self::UnsupportedFuncId => "20000002",
            Self::FileChecksumMismatch => "30000001",
            Self::FileOffsetMismatch => "30000002",
            Self::UnknownFileId => "30000003",
            Self::Other(s) => s,
        }
    }

    /// Whether this is `00000000`.
    #[must_use]
    pub fn is_success(&self) -> bool {
        *self == Self::Success
    }
}

impl From<&str> for Code {
    fn from(s: &str) -> Self {
        match s {
            "00000000" => Self::Success,
            "10000001" => Self::BadCredentials,
            "10000002" => Self::UnknownDevice,
            "10000003" => Self::NotLoggedIn,
            "20000001" => Self::MalformedParams,
            "20000002" => Self::UnsupportedFuncId,
            "30000001" => Self::FileChecksumMismatch,
            "30000002" => Self::FileOffsetMismatch,
            "30000003" => Self::UnknownFileId,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl WireValue for Code {
    const EXPECTING: &'static str = "a result code string";

    fn from_wire(s: &str) -> Option<Self> {
        Some(Self::from(s))
    }

    fn from_u64(n: u64) -> Option<Self> {
        Some(Self::from(format!("{n:08}").as_str()))
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_wire!(Code);

/// `imme`: whether a message is urgent (best.md 4.2: absent, empty or `0` means not urgent, anything else urgent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Imme {
    /// `0` - not urgent.
    Normal,
    /// `1` - urgent.
    Urgent,
    /// Any other value, kept as sent; urgent by the spec's rule.
    Other(String),
}

impl Imme {
    /// Whether the message is urgent under the spec's rule.
    #[must_use]
    pub fn is_urgent(&self) -> bool {
        !matches!(self, Self::Normal)
    }
}

impl WireValue for Imme {
    const EXPECTING: &'static str = "an urgency flag (\"0\" or \"1\")";

    fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "0" => Self::Normal,
            "1" => Self::Urgent,
            other => Self::Other(other.to_owned()),
        })
    }

    fn from_u64(n: u64) -> Option<Self> {
        Self::from_wire(&n.to_string())
    }

    fn from_i64(n: i64) -> Option<Self> {
        Self::from_wire(&n.to_string())
    }

    fn from_bool(b: bool) -> Option<Self> {
        Some(if b { Self::Urgent } else { Self::Normal })
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Normal => "0",
            Self::Urgent => "1",
            Self::Other(s) => s,
        })
    }
}

serde_via_wire!(Imme);

/// Who sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Device (terminal) to platform: `dev.*` and `device.*`.
    DeviceToPlatform,
    /// Platform to device: `cmd.*`.
    PlatformToDevice,
}

impl Direction {
    /// `device -> platform` or `platform -> device`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceToPlatform => "device -> platform",
            Self::PlatformToDevice => "platform -> device",
        }
    }
}

string_enum! {
    /// A `funcId`: the name of a message.
    FuncId {
        /// `device.exchange.publicKey` - key exchange, public keys (optional handshake).
        ExchangePublicKey = "device.exchange.publicKey",
        /// `device.exchange.factor` - key exchange, factors (optional handshake).
        ExchangeFactor = "device.exchange.factor",
        /// `dev.register` - device registration.
        Register = "dev.register",
        /// `dev.accredit` - device authorisation.
        Accredit = "dev.accredit",
        /// `dev.login` - device login.
        Login = "dev.login",
        /// `dev.report` - device capabilities and settings report.
        Report = "dev.report",
        /// `dev.heartbeat` - business heartbeat.
        Heartbeat = "dev.heartbeat",
        /// `dev.file.upload.start` - large file upload, start.
        FileUploadStart = "dev.file.upload.start",
        /// `dev.file.upload.package` - large file upload, one chunk.
        FileUploadPackage = "dev.file.upload.package",
        /// `dev.file.upload.end` - large file upload, end.
        FileUploadEnd = "dev.file.upload.end",
        /// `dev.data.upload.user` - users uploaded by the device.
        UploadUser = "dev.data.upload.user",
        /// `dev.data.upload.userPhoto` - user photos (portraits).
        UploadUserPhoto = "dev.data.upload.userPhoto",
        /// `dev.data.upload.bioPhoto` - biometric photos.
        UploadBioPhoto = "dev.data.upload.bioPhoto",
        /// `dev.data.upload.multiCard` - cards.
        UploadMultiCard = "dev.data.upload.multiCard",
        /// `dev.data.upload.verifyLog` - verification (sign-in/out) records.
        UploadVerifyLog = "dev.data.upload.verifyLog",
        /// `dev.data.upload.verifyPhoto` - verification photos.
        UploadVerifyPhoto = "dev.data.upload.verifyPhoto",
        /// `dev.system.sync.time` - the device asks for the platform time.
        DevSyncTime = "dev.system.sync.time",
        /// `dev.cmd.response` - the device's answer to a platform command.
        CmdResponse = "dev.cmd.response",
        /// `cmd.dev.response` - the platform's answer to a device request.
        DevResponse = "cmd.dev.response",
        /// `cmd.data.update.user` - add or update users.
        UpdateUser = "cmd.data.update.user",
        /// `cmd.data.update.meeting` - add or update meetings.
        UpdateMeeting = "cmd.data.update.meeting",
        /// `cmd.data.update.meetingMember` - set meeting members.
        UpdateMeetingMember = "cmd.data.update.meetingMember",
        /// `cmd.data.update.multiCard` - add or update cards.
        UpdateMultiCard = "cmd.data.update.multiCard",
        /// `cmd.data.update.bioPhoto` - biometric photos to fetch by URL.
        UpdateBioPhoto = "cmd.data.update.bioPhoto",
        /// `cmd.data.delete.user` - delete users.
        DeleteUser = "cmd.data.delete.user",
        /// `cmd.data.delete.bioPhoto` - delete biometric photos.
        DeleteBioPhoto = "cmd.data.delete.bioPhoto",
        /// `cmd.data.delete.multiCard` - delete the cards of users.
        DeleteMultiCard = "cmd.data.delete.multiCard",
        /// `cmd.data.delete.meeting` - delete meetings.
        DeleteMeeting = "cmd.data.delete.meeting",
        /// `cmd.data.delete.meetingMember` - remove members from a meeting.
        DeleteMeetingMember = "cmd.data.delete.meetingMember",
        /// `cmd.data.delete.userPhoto` - delete user photos.
        DeleteUserPhoto = "cmd.data.delete.userPhoto",
        /// `cmd.data.query.user` - ask the device for its users.
        QueryUser = "cmd.data.query.user",
        /// `cmd.data.clear.user` - delete every user.
        ClearUser = "cmd.data.clear.user",
        /// `cmd.data.clear.multiCard` - delete every card.
        ClearMultiCard = "cmd.data.clear.multiCard",
        /// `cmd.data.clear.all` - delete all data.
        ClearAll = "cmd.data.clear.all",
        /// `cmd.option.set` - set meeting-room options.
        OptionSet = "cmd.option.set",
        /// `cmd.control.reboot` - reboot the device.
        Reboot = "cmd.control.reboot",
        /// `cmd.system.sync.time` - tell the device to fetch the platform time.
        SyncTime = "cmd.system.sync.time",
    }
}

impl FuncId {
    /// Who sends this message: `cmd.*` the platform, everything else the device.
    #[must_use]
    pub fn direction(&self) -> Direction {
        if self.as_str().starts_with("cmd.") {
            Direction::PlatformToDevice
        } else {
            Direction::DeviceToPlatform
        }
    }
}

string_enum! {
    /// `devType` of `dev.register`.
    DevType {
        /// `att` - attendance terminal.
        Attendance = "att",
        /// `acc` - access control.
        Access = "acc",
        /// `elev` - elevator control.
        Elevator = "elev",
        /// `icc` - ID card terminal.
        IdCard = "icc",
        /// `meet` - meeting terminal.
        Meeting = "meet",
    }
}

string_enum! {
    /// `protType` of `dev.register`.
    ProtType {
        /// `best-w` - BEST over WebSocket.
        BestW = "best-w",
        /// `best-m` - BEST over MQTT.
        BestM = "best-m",
        /// `best-t` - BEST over Tencent IoT Hub.
        BestT = "best-t",
    }
}

string_enum! {
    /// `commType` of `dev.report`: the network interface in use.
    CommType {
        /// `ethernet` - wired.
        Ethernet = "ethernet",
        /// `usb-4G-modem` - 4G cellular.
        Cellular = "usb-4G-modem",
        /// `serial-wireless` - Wi-Fi (serial or SDIO).
        Wifi = "serial-wireless",
    }
}

code_enum! {
    /// A biometric type: the position in the `0:1:1:0...` vectors and `type` of bio data and photos
    /// (DECISIONS.md, best).
    BioType {
        /// `0` - general.
        General = 0,
        /// `1` - fingerprint.
        Fingerprint = 1,
        /// `2` - near-infrared face.
        NirFace = 2,
        /// `3` - voiceprint.
        Voiceprint = 3,
        /// `4` - iris.
        Iris = 4,
        /// `5` - retina.
        Retina = 5,
        /// `6` - palm print.
        PalmPrint = 6,
        /// `7` - finger vein.
        FingerVein = 7,
        /// `8` - palm.
        Palm = 8,
        /// `9` - visible-light face.
        VisibleFace = 9,
    }
}

code_enum! {
    /// `fmt` of a biometric template.
    TemplateFormat {
        /// `0` - ZK.
        Zk = 0,
        /// `1` - ISO.
        Iso = 1,
        /// `2` - ANSI.
        Ansi = 2,
    }
}

code_enum! {
    /// `capturePic` of `dev.report`: when the device takes and keeps photos.
    CaptureMode {
        /// `0` - no photo.
        Off = 0,
        /// `1` - take a photo, do not keep it.
        CaptureOnly = 1,
        /// `2` - take and keep.
        CaptureAndSave = 2,
        /// `3` - keep on successful verification.
        SaveOnSuccess = 3,
        /// `4` - keep on failed verification.
        SaveOnFailure = 4,
    }
}

code_enum! {
    /// `irTempUnit` of `dev.report`.
    TempUnit {
        /// `0` - Celsius.
        Celsius = 0,
        /// `1` - Fahrenheit.
        Fahrenheit = 1,
    }
}

code_enum! {
    /// `scene` of `dev.report`.
    Scene {
        /// `1` - standard access control mode.
        AccessControl = 1,
        /// `2` - plain mode: recognition alone opens, no time zones or access groups.
        Plain = 2,
    }
}

code_enum! {
    /// `ruleType` of a user.
    RuleType {
        /// `1` - attendance.
        Attendance = 1,
        /// `2` - access control (default).
        Access = 2,
        /// `3` - attendance and access control.
        AttendanceAndAccess = 3,
    }
}

code_enum! {
    /// `type` of a card.
    CardType {
        /// `0` - main card (default).
        Main = 0,
        /// `1` - secondary card.
        Secondary = 1,
    }
}

code_enum! {
    /// `status` of a verification record.
    VerifyStatus {
        /// `0` - signed in between the earliest and latest sign-in times.
        SignInWindow = 0,
        /// `1` - signed out between the earliest and latest sign-out times.
        SignOutWindow = 1,
        /// `255` - neither (the default).
        Unspecified = 255,
    }
}

code_enum! {
    /// `category` of a verification record: the user's role.
    UserCategory {
        /// `0` - ordinary staff (`NORMAL`).
        Normal = 0,
        /// `4` - visitor (`VISITOR`).
        Visitor = 4,
    }
}

code_enum! {
    /// `recodeType` (sic) of a verification record.
    RecordType {
        /// `0` - sign-in.
        SignIn = 0,
        /// `1` - sign-out.
        SignOut = 1,
        /// `255` - unspecified (the default).
        Unspecified = 255,
    }
}

/// `verifyStyle` of a verification record: a verify style code, the index into the device's `verifyStyles`.
///
/// The spec's appendix of verify style codes is not part of best.md, so codes are kept as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VerifyStyle(pub u32);

impl WireValue for VerifyStyle {
    const EXPECTING: &'static str = "a verify style code (a decimal integer)";

    fn from_wire(s: &str) -> Option<Self> {
        s.parse().ok().map(Self)
    }

    fn from_u64(n: u64) -> Option<Self> {
        u32::try_from(n).ok().map(Self)
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

serde_via_wire!(VerifyStyle);

bitflags::bitflags! {
    /// `funSwitch` of a user: `0` none, `1` extended lock time, `2` temporary user, `3` both.
    ///
    /// Unknown bits are kept (`from_bits_retain`), so any value round-trips.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FunSwitch: u32 {
        /// `1` - extended lock drive time.
        const EXTENDED_LOCK_TIME = 1;
        /// `2` - temporary user.
        const TEMPORARY_USER = 2;
    }
}

impl WireValue for FunSwitch {
    const EXPECTING: &'static str = "a function switch (a decimal integer)";

    fn from_wire(s: &str) -> Option<Self> {
        s.parse().ok().map(Self::from_bits_retain)
    }

    fn from_u64(n: u64) -> Option<Self> {
        u32::try_from(n).ok().map(Self::from_bits_retain)
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

impl serde::Serialize for FunSwitch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::value::wire::serialize(self, s)
    }
}

impl<'de> serde::Deserialize<'de> for FunSwitch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::wire::deserialize(d)
    }
}

/// A `fileId`: 1 to 64 ASCII letters and digits (best.md 3.7; a 32-character UUID without dashes is advised).
///
/// ```
/// use best_proto::FileId;
/// assert!(FileId::new("e78dc2cef23d495ab4f890fe3362bee9").is_ok());
/// assert!(FileId::new("e78dc2ce-f23d").is_err());
/// assert!(FileId::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(String);

impl FileId {
    /// Checks and wraps a file id.
    ///
    /// # Errors
    /// [`ValueError`](crate::error::ValueError) when `id` is empty, longer than 64 or not alphanumeric.
    pub fn new(id: impl Into<String>) -> Result<Self, crate::error::ValueError> {
        let id = id.into();
        if Self::valid(&id) {
            Ok(Self(id))
        } else {
            Err(crate::error::ValueError {
                value: id.chars().take(64).collect(),
                expected: Self::EXPECTING,
            })
        }
    }

    fn valid(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= MAX_FILE_ID_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl WireValue for FileId {
    const EXPECTING: &'static str = "a file id of 1 to 64 ASCII letters and digits";

    fn from_wire(s: &str) -> Option<Self> {
        Self::valid(s).then(|| Self(s.to_owned()))
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_via_wire!(FileId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_the_reference_codes_and_keep_others() {
        assert_eq!(Code::from("30000002"), Code::FileOffsetMismatch);
        assert_eq!(Code::from("40000009"), Code::Other("40000009".into()));
        let numeric: Code = serde_json::from_str("0").unwrap();
        assert_eq!(numeric, Code::Success);
        let numeric: Code = serde_json::from_str("10000003").unwrap();
        assert_eq!(numeric, Code::NotLoggedIn);
        assert_eq!(
            serde_json::to_string(&Code::UnknownFileId).unwrap(),
            "\"30000003\""
        );
    }

    #[test]
    fn imme_follows_the_urgency_rule() {
        let imme: Imme = serde_json::from_str("1").unwrap();
        assert!(imme.is_urgent());
        let imme: Imme = serde_json::from_str("\"0\"").unwrap();
        assert!(!imme.is_urgent());
        let imme: Imme = serde_json::from_str("\"xxxx\"").unwrap();
        assert_eq!(imme, Imme::Other("xxxx".into()));
        assert!(imme.is_urgent());
    }

    #[test]
    fn code_enums_keep_unknown_codes() {
        let t: BioType = serde_json::from_str("\"9\"").unwrap();
        assert_eq!(t, BioType::VisibleFace);
        let t: BioType = serde_json::from_str("12").unwrap();
        assert_eq!(t, BioType::Other(12));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"12\"");
        let e = serde_json::from_str::<BioType>("\"face\"").unwrap_err();
        assert!(e.to_string().contains("`BioType` code"), "{e}");
    }

    #[test]
    fn fun_switch_keeps_unknown_bits() {
        let s: FunSwitch = serde_json::from_str("\"3\"").unwrap();
        assert_eq!(s, FunSwitch::EXTENDED_LOCK_TIME | FunSwitch::TEMPORARY_USER);
        let s: FunSwitch = serde_json::from_str("\"12\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"12\"");
    }

    #[test]
    fn func_ids_know_their_direction() {
        assert_eq!(FuncId::from("dev.report"), FuncId::Report);
        assert_eq!(FuncId::Report.direction(), Direction::DeviceToPlatform);
        assert_eq!(
            FuncId::ExchangeFactor.direction(),
            Direction::DeviceToPlatform
        );
        assert_eq!(FuncId::Reboot.direction(), Direction::PlatformToDevice);
        assert_eq!(
            FuncId::from("cmd.firmware.upgrade").direction(),
            Direction::PlatformToDevice
        );
    }
}
