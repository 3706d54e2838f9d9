//! Typed BEST messages: the [`Envelope`] header, one enum per direction ([`DeviceMessage`],
//! [`PlatformMessage`]) and [`Message`] for traffic of either direction.
//!
//! ```text
//! { "funcId": "...", "mid": "...", "imme"?: "0|1", "sn"?: "...", "code"?: "...", "message"?: "...",
//!   "payload": { "params": {...} } | { "results": {...} } }
//! ```
//!
//! The envelope fields are read first, then the payload by `funcId` in the same pass (`funcId` comes first in
//! every vendor message; when it does not, the payload is buffered and typed afterwards). An unknown `funcId`
//! decodes to `Unknown` with the raw JSON object. Extra fields are ignored.

mod command;
mod data;
mod file;
mod reply;
mod session;
mod types;

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use command::{
    BioPhotoSelector, BioPhotoUrl, Command, DeleteBioPhotos, DeleteMeetingMembers, DeleteMeetings,
    Meeting, MeetingMembers, PinsCommand, QueryUsers, Reboot, RoomOptions, SetOptions,
    UpdateBioPhotos, UpdateMeetingMembers, UpdateMeetings, UpdateMultiCards, UpdateUsers,
};
pub use data::{
    BioData, BioPhoto, Card, UploadBioPhotos, UploadMultiCards, UploadUserPhotos, UploadUsers,
    UploadVerifyLogs, UploadVerifyPhotos, User, UserPhoto, VerifyLog, VerifyPhoto,
};
pub use file::{Checksum, FileUploadEnd, FileUploadPackage, FileUploadStart};
pub use reply::{CmdResponse, Response, Results};
pub use session::{
    Accredit, AccreditResults, Factor, Heartbeat, Login, PublicKey, Register, RegisterResults,
    Report, ReportResults,
};
pub use types::{
    BioType, CaptureMode, CardType, Code, CommType, DevType, Direction, FileId, FunSwitch, FuncId,
    Imme, ProtType, RecordType, RuleType, Scene, TempUnit, TemplateFormat, UserCategory,
    VerifyStatus, VerifyStyle,
};

use reply::CmdResponseParams;

/// A message whose `funcId` this crate does not know, kept as the raw JSON object (`funcId` included).
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMessage {
    /// The unknown `funcId`.
    pub func_id: String,
    /// The whole JSON object as received. When encoded, the envelope's `mid`, `imme` and `sn` replace the
    /// raw ones.
    pub raw: Map<String, Value>,
}

/// A message from the device (terminal) to the platform.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeviceMessage {
    /// `device.exchange.publicKey` - the device's public key.
    ExchangePublicKey(PublicKey),
    /// `device.exchange.factor` - the device's encryption factor.
    ExchangeFactor(Factor),
    /// `dev.register` - registration.
    Register(Register),
    /// `dev.accredit` - authorisation.
    Accredit(Accredit),
    /// `dev.login` - login.
    Login(Login),
    /// `dev.report` - capabilities and settings.
    Report(Box<Report>),
    /// `dev.heartbeat` - business heartbeat.
    Heartbeat(Heartbeat),
    /// `dev.file.upload.start` - a file upload begins.
    FileUploadStart(FileUploadStart),
    /// `dev.file.upload.package` - one chunk of a file.
    FileUploadPackage(FileUploadPackage),
    /// `dev.file.upload.end` - a file upload is complete.
    FileUploadEnd(FileUploadEnd),
    /// `dev.data.upload.user` - users.
    UploadUsers(UploadUsers),
    /// `dev.data.upload.userPhoto` - user photos.
    UploadUserPhotos(UploadUserPhotos),
    /// `dev.data.upload.bioPhoto` - biometric photos.
    UploadBioPhotos(UploadBioPhotos),
    /// `dev.data.upload.multiCard` - cards.
    UploadMultiCards(UploadMultiCards),
    /// `dev.data.upload.verifyLog` - verification records.
    UploadVerifyLogs(UploadVerifyLogs),
    /// `dev.data.upload.verifyPhoto` - verification photos.
    UploadVerifyPhotos(UploadVerifyPhotos),
    /// `dev.system.sync.time` - asks for the platform time (no payload).
    SyncTime,
    /// `dev.cmd.response` - the answer to a platform command.
    CmdResponse(CmdResponse),
    /// A device message whose `funcId` this crate does not know.
    Unknown(UnknownMessage),
}

/// A message from the platform to the device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PlatformMessage {
    /// `cmd.dev.response` - the answer to a device request.
    Response(Response),
    /// `cmd.data.update.user` - add or update users.
    UpdateUsers(UpdateUsers),
    /// `cmd.data.update.meeting` - add or update meetings.
    UpdateMeetings(UpdateMeetings),
    /// `cmd.data.update.meetingMember` - set meeting members.
    UpdateMeetingMembers(UpdateMeetingMembers),
    /// `cmd.data.update.multiCard` - add or update cards.
    UpdateMultiCards(UpdateMultiCards),
    /// `cmd.data.update.bioPhoto` - biometric photos to fetch.
    UpdateBioPhotos(UpdateBioPhotos),
    /// `cmd.data.delete.user` - delete users.
    DeleteUsers(PinsCommand),
    /// `cmd.data.delete.bioPhoto` - delete biometric photos.
    DeleteBioPhotos(DeleteBioPhotos),
    /// `cmd.data.delete.multiCard` - delete the cards of users.
    DeleteMultiCards(PinsCommand),
    /// `cmd.data.delete.meeting` - delete meetings.
    DeleteMeetings(DeleteMeetings),
    /// `cmd.data.delete.meetingMember` - remove meeting members.
    DeleteMeetingMembers(DeleteMeetingMembers),
    /// `cmd.data.delete.userPhoto` - delete user photos.
    DeleteUserPhotos(PinsCommand),
    /// `cmd.data.query.user` - query users.
    QueryUsers(QueryUsers),
    /// `cmd.data.clear.user` - delete every user.
    ClearUsers(Command),
    /// `cmd.data.clear.multiCard` - delete every card.
    ClearMultiCards(Command),
    /// `cmd.data.clear.all` - delete all data.
    ClearAll(Command),
    /// `cmd.option.set` - set meeting-room options.
    SetOptions(SetOptions),
    /// `cmd.control.reboot` - reboot.
    Reboot(Reboot),
    /// `cmd.system.sync.time` - fetch the platform time.
    SyncTime(Command),
    /// A platform message (`cmd.*`) whose `funcId` this crate does not know.
    Unknown(UnknownMessage),
}

/// A message of either direction, told apart by `funcId`: `cmd.*` (and a reply without `funcId`) is a
/// platform message, anything else a device message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Device to platform.
    Device(DeviceMessage),
    /// Platform to device.
    Platform(PlatformMessage),
}

/// One BEST message: the envelope header and the typed body.
///
/// ```
/// use best_proto::{DeviceMessage, Envelope, Heartbeat};
/// let hb = Envelope::<DeviceMessage>::new("m1", DeviceMessage::Heartbeat(Heartbeat { is_free: Some(true) }));
/// assert_eq!(
///     String::from_utf8(hb.to_json().unwrap()).unwrap(),
///     r#"{"funcId":"dev.heartbeat","mid":"m1","payload":{"params":{"isFree":"1"}}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<M = Message> {
    /// `mid` - message id, unique per device, at most 32 characters; a reply carries the request's.
    pub mid: String,
    /// `imme` - urgency.
    pub imme: Option<Imme>,
    /// `sn` - device serial number (login requests over best-w).
    pub sn: Option<String>,
    /// The message.
    pub message: M,
}

impl<M> Envelope<M> {
    /// An envelope without `imme` and `sn`.
    pub fn new(mid: impl Into<String>, message: impl Into<M>) -> Self {
        Self {
            mid: mid.into(),
            imme: None,
            sn: None,
            message: message.into(),
        }
    }

    /// Sets `sn`.
    #[must_use]
    pub fn with_sn(mut self, sn: impl Into<String>) -> Self {
        self.sn = Some(sn.into());
        self
    }

    /// Sets `imme`.
    #[must_use]
    pub fn with_imme(mut self, imme: Imme) -> Self {
        self.imme = Some(imme);
        self
    }

    /// The envelope with its message converted (`Envelope<DeviceMessage>` into `Envelope<Message>`).
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> Envelope<N> {
        Envelope {
            mid: self.mid,
            imme: self.imme,
            sn: self.sn,
            message: f(self.message),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Message {}
    impl Sealed for super::DeviceMessage {}
    impl Sealed for super::PlatformMessage {}
}

/// A message body that an [`Envelope`] carries: [`Message`], [`DeviceMessage`] or [`PlatformMessage`].
pub trait Body: sealed::Sealed + Sized {
    /// The direction this body type accepts, `None` for both.
    const DIRECTION: Option<Direction>;

    /// The wire `funcId`.
    fn name(&self) -> &str;

    /// Whether this is a message the crate knows (not `Unknown`).
    fn is_known(&self) -> bool;

    /// Narrows a message of either direction, handing it back when it is of the other direction.
    ///
    /// # Errors
    /// The message itself, when it is not of this type's direction.
    #[allow(clippy::result_large_err)] // hands the message back by value; boxing it would only add an allocation
    fn from_message(message: Message) -> Result<Self, Message>;

    #[doc(hidden)]
    fn serialize_body<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error>;
}

/// `{"<key>": value}`: the `payload` object.
struct Payload<'a, T> {
    key: &'static str,
    value: &'a T,
}

impl<T: Serialize> Serialize for Payload<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.key, self.value)?;
        map.end()
    }
}

fn params<S: SerializeMap, T: Serialize>(map: &mut S, value: &T) -> Result<(), S::Error> {
    map.serialize_entry(
        "payload",
        &Payload {
            key: "params",
            value,
        },
    )
}

fn reply_head<S: SerializeMap>(
    map: &mut S,
    code: &Code,
    message: Option<&String>,
) -> Result<(), S::Error> {
    map.serialize_entry("code", code)?;
    if let Some(m) = message {
        map.serialize_entry("message", m)?;
    }
    Ok(())
}

/// Header keys written from the envelope, skipped when writing an unknown message's raw fields.
const HEADER_KEYS: [&str; 4] = ["funcId", "mid", "imme", "sn"];

fn unknown_fields<S: SerializeMap>(map: &mut S, u: &UnknownMessage) -> Result<(), S::Error> {
    for (k, v) in &u.raw {
        if !HEADER_KEYS.contains(&k.as_str()) {
            map.serialize_entry(k, v)?;
        }
    }
    Ok(())
}

impl DeviceMessage {
    /// The wire `funcId`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Unknown(u) => &u.func_id,
            known => known.func_id_static(),
        }
    }

    fn func_id_static(&self) -> &'static str {
        let id = match self {
            Self::ExchangePublicKey(_) => FuncId::ExchangePublicKey,
            Self::ExchangeFactor(_) => FuncId::ExchangeFactor,
            Self::Register(_) => FuncId::Register,
            Self::Accredit(_) => FuncId::Accredit,
            Self::Login(_) => FuncId::Login,
            Self::Report(_) => FuncId::Report,
            Self::Heartbeat(_) => FuncId::Heartbeat,
            Self::FileUploadStart(_) => FuncId::FileUploadStart,
            Self::FileUploadPackage(_) => FuncId::FileUploadPackage,
            Self::FileUploadEnd(_) => FuncId::FileUploadEnd,
            Self::UploadUsers(_) => FuncId::UploadUser,
            Self::UploadUserPhotos(_) => FuncId::UploadUserPhoto,
            Self::UploadBioPhotos(_) => FuncId::UploadBioPhoto,
            Self::UploadMultiCards(_) => FuncId::UploadMultiCard,
            Self::UploadVerifyLogs(_) => FuncId::UploadVerifyLog,
            Self::UploadVerifyPhotos(_) => FuncId::UploadVerifyPhoto,
            Self::SyncTime => FuncId::DevSyncTime,
            Self::CmdResponse(_) => FuncId::CmdResponse,
            Self::Unknown(_) => return "",
        };
        known_name(&id)
    }
}

/// The `'static` wire name of a known `funcId`.
fn known_name(id: &FuncId) -> &'static str {
    match id {
        FuncId::ExchangePublicKey => "device.exchange.publicKey",
        FuncId::ExchangeFactor => "device.exchange.factor",
        FuncId::Register => "dev.register",
        FuncId::Accredit => "dev.accredit",
        FuncId::Login => "dev.login",
        FuncId::Report => "dev.report",
        FuncId::Heartbeat => "dev.heartbeat",
        FuncId::FileUploadStart => "dev.file.upload.start",
        FuncId::FileUploadPackage => "dev.file.upload.package",
        FuncId::FileUploadEnd => "dev.file.upload.end",
        FuncId::UploadUser => "dev.data.upload.user",
        FuncId::UploadUserPhoto => "dev.data.upload.userPhoto",
        FuncId::UploadBioPhoto => "dev.data.upload.bioPhoto",
        FuncId::UploadMultiCard => "dev.data.upload.multiCard",
        FuncId::UploadVerifyLog => "dev.data.upload.verifyLog",
        FuncId::UploadVerifyPhoto => "dev.data.upload.verifyPhoto",
        FuncId::DevSyncTime => "dev.system.sync.time",
        FuncId::CmdResponse => "dev.cmd.response",
        FuncId::DevResponse => "cmd.dev.response",
        FuncId::UpdateUser => "cmd.data.update.user",
        FuncId::UpdateMeeting => "cmd.data.update.meeting",
        FuncId::UpdateMeetingMember => "cmd.data.update.meetingMember",
        FuncId::UpdateMultiCard => "cmd.data.update.multiCard",
        FuncId::UpdateBioPhoto => "cmd.data.update.bioPhoto",
        FuncId::DeleteUser => "cmd.data.delete.user",
        FuncId::DeleteBioPhoto => "cmd.data.delete.bioPhoto",
        FuncId::DeleteMultiCard => "cmd.data.delete.multiCard",
        FuncId::DeleteMeeting => "cmd.data.delete.meeting",
        FuncId::DeleteMeetingMember => "cmd.data.delete.meetingMember",
        FuncId::DeleteUserPhoto => "cmd.data.delete.userPhoto",
        FuncId::QueryUser => "cmd.data.query.user",
        FuncId::ClearUser => "cmd.data.clear.user",
        FuncId::ClearMultiCard => "cmd.data.clear.multiCard",
        FuncId::ClearAll => "cmd.data.clear.all",
        FuncId::OptionSet => "cmd.option.set",
        FuncId::Reboot => "cmd.control.reboot",
        FuncId::SyncTime => "cmd.system.sync.time",
        FuncId::Other(_) => "",
    }
}

impl Body for DeviceMessage {
    const DIRECTION: Option<Direction> = Some(Direction::DeviceToPlatform);

    fn name(&self) -> &str {
        DeviceMessage::name(self)
    }

    fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    fn from_message(message: Message) -> Result<Self, Message> {
        match message {
            Message::Device(m) => Ok(m),
            other => Err(other),
        }
    }

    fn serialize_body<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
        match self {
            Self::ExchangePublicKey(p) => params(map, p),
            Self::ExchangeFactor(p) => params(map, p),
            Self::Register(p) => params(map, p),
            Self::Accredit(p) => params(map, p),
            Self::Login(p) => params(map, p),
            Self::Report(p) => params(map, p),
            Self::Heartbeat(p) => params(map, p),
            Self::FileUploadStart(p) => params(map, p),
            Self::FileUploadPackage(p) => params(map, p),
            Self::FileUploadEnd(p) => params(map, p),
            Self::UploadUsers(p) => params(map, p),
            Self::UploadUserPhotos(p) => params(map, p),
            Self::UploadBioPhotos(p) => params(map, p),
            Self::UploadMultiCards(p) => params(map, p),
            Self::UploadVerifyLogs(p) => params(map, p),
            Self::UploadVerifyPhotos(p) => params(map, p),
            Self::SyncTime => Ok(()),
            Self::CmdResponse(r) => {
                reply_head(map, &r.code, r.message.as_ref())?;
                params(
                    map,
                    &CmdResponseParams {
                        cmd_id: r.cmd_id.clone(),
                    },
                )
            }
            Self::Unknown(u) => unknown_fields(map, u),
        }
    }
}

impl PlatformMessage {
    /// The wire `funcId`.
    #[must_use]
    pub fn name(&self) -> &str {
        let id = match self {
            Self::Response(_) => FuncId::DevResponse,
            Self::UpdateUsers(_) => FuncId::UpdateUser,
            Self::UpdateMeetings(_) => FuncId::UpdateMeeting,
            Self::UpdateMeetingMembers(_) => FuncId::UpdateMeetingMember,
            Self::UpdateMultiCards(_) => FuncId::UpdateMultiCard,
            Self::UpdateBioPhotos(_) => FuncId::UpdateBioPhoto,
            Self::DeleteUsers(_) => FuncId::DeleteUser,
            Self::DeleteBioPhotos(_) => FuncId::DeleteBioPhoto,
            Self::DeleteMultiCards(_) => FuncId::DeleteMultiCard,
            Self::DeleteMeetings(_) => FuncId::DeleteMeeting,
            Self::DeleteMeetingMembers(_) => FuncId::DeleteMeetingMember,
            Self::DeleteUserPhotos(_) => FuncId::DeleteUserPhoto,
            Self::QueryUsers(_) => FuncId::QueryUser,
            Self::ClearUsers(_) => FuncId::ClearUser,
            Self::ClearMultiCards(_) => FuncId::ClearMultiCard,
            Self::ClearAll(_) => FuncId::ClearAll,
            Self::SetOptions(_) => FuncId::OptionSet,
            Self::Reboot(_) => FuncId::Reboot,
            Self::SyncTime(_) => FuncId::SyncTime,
            Self::Unknown(u) => return &u.func_id,
        };
        known_name(&id)
    }

    /// The command's `cmdId` (`None` for a [`Response`] and an unknown message without a string `cmdId`).
    #[must_use]
    pub fn cmd_id(&self) -> Option<&str> {
        Some(match self {
            Self::Response(_) => return None,
            Self::UpdateUsers(c) => &c.cmd_id,
            Self::UpdateMeetings(c) => &c.cmd_id,
            Self::UpdateMeetingMembers(c) => &c.cmd_id,
            Self::UpdateMultiCards(c) => &c.cmd_id,
            Self::UpdateBioPhotos(c) => &c.cmd_id,
            Self::DeleteUsers(c) | Self::DeleteMultiCards(c) | Self::DeleteUserPhotos(c) => {
                &c.cmd_id
            }
            Self::DeleteBioPhotos(c) => &c.cmd_id,
            Self::DeleteMeetings(c) => &c.cmd_id,
            Self::DeleteMeetingMembers(c) => &c.cmd_id,
            Self::QueryUsers(c) => &c.cmd_id,
            Self::ClearUsers(c)
            | Self::ClearMultiCards(c)
            | Self::ClearAll(c)
            | Self::SyncTime(c) => &c.cmd_id,
            Self::SetOptions(c) => &c.cmd_id,
            Self::Reboot(c) => &c.cmd_id,
            Self::Unknown(u) => return u.raw.get("payload")?.get("params")?.get("cmdId")?.as_str(),
        })
    }
}

impl Body for PlatformMessage {
    const DIRECTION: Option<Direction> = Some(Direction::PlatformToDevice);

    fn name(&self) -> &str {
        PlatformMessage::name(self)
    }

    fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }

    fn from_message(message: Message) -> Result<Self, Message> {
        match message {
            Message::Platform(m) => Ok(m),
            other => Err(other),
        }
    }

    fn serialize_body<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
        match self {
            Self::Response(r) => {
                reply_head(map, &r.code, r.message.as_ref())?;
                match &r.results {
                    Some(results) => map.serialize_entry(
                        "payload",
                        &Payload {
                            key: "results",
                            value: results,
                        },
                    ),
                    None => Ok(()),
                }
            }
            Self::UpdateUsers(p) => params(map, p),
            Self::UpdateMeetings(p) => params(map, p),
            Self::UpdateMeetingMembers(p) => params(map, p),
            Self::UpdateMultiCards(p) => params(map, p),
            Self::UpdateBioPhotos(p) => params(map, p),
            Self::DeleteUsers(p) | Self::DeleteMultiCards(p) | Self::DeleteUserPhotos(p) => {
                params(map, p)
            }
            Self::DeleteBioPhotos(p) => params(map, p),
            Self::DeleteMeetings(p) => params(map, p),
            Self::DeleteMeetingMembers(p) => params(map, p),
            Self::QueryUsers(p) => params(map, p),
            Self::ClearUsers(p)
            | Self::ClearMultiCards(p)
            | Self::ClearAll(p)
            | Self::SyncTime(p) => params(map, p),
            Self::SetOptions(p) => params(map, p),
            Self::Reboot(p) => params(map, p),
            Self::Unknown(u) => unknown_fields(map, u),
        }
    }
}

impl Message {
    /// The wire `funcId`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Device(m) => m.name(),
            Self::Platform(m) => m.name(),
        }
    }

    /// The direction of this message.
    #[must_use]
    pub fn direction(&self) -> Direction {
        match self {
            Self::Device(_) => Direction::DeviceToPlatform,
            Self::Platform(_) => Direction::PlatformToDevice,
        }
    }
}

impl Body for Message {
    const DIRECTION: Option<Direction> = None;

    fn name(&self) -> &str {
        Message::name(self)
    }

    fn is_known(&self) -> bool {
        match self {
            Self::Device(m) => m.is_known(),
            Self::Platform(m) => m.is_known(),
        }
    }

    fn from_message(message: Message) -> Result<Self, Message> {
        Ok(message)
    }

    fn serialize_body<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
        match self {
            Self::Device(m) => m.serialize_body(map),
            Self::Platform(m) => m.serialize_body(map),
        }
    }
}

impl From<DeviceMessage> for Message {
    fn from(m: DeviceMessage) -> Self {
        Self::Device(m)
    }
}

impl From<PlatformMessage> for Message {
    fn from(m: PlatformMessage) -> Self {
        Self::Platform(m)
    }
}

macro_rules! from_params {
    ($enum:ident { $($variant:ident($ty:ty),)* }) => {$(
        impl From<$ty> for $enum {
            fn from(p: $ty) -> Self {
                Self::$variant(p.into())
            }
        }

        impl From<$ty> for Message {
            fn from(p: $ty) -> Self {
                Self::from($enum::$variant(p.into()))
            }
        }
    )*};
}

from_params!(DeviceMessage {
    Register(Register),
    Accredit(Accredit),
    Login(Login),
    Report(Report),
    Heartbeat(Heartbeat),
    FileUploadStart(FileUploadStart),
    FileUploadPackage(FileUploadPackage),
    FileUploadEnd(FileUploadEnd),
    UploadUsers(UploadUsers),
    UploadUserPhotos(UploadUserPhotos),
    UploadBioPhotos(UploadBioPhotos),
    UploadMultiCards(UploadMultiCards),
    UploadVerifyLogs(UploadVerifyLogs),
    UploadVerifyPhotos(UploadVerifyPhotos),
    CmdResponse(CmdResponse),
});

from_params!(PlatformMessage {
    Response(Response),
    UpdateUsers(UpdateUsers),
    UpdateMeetings(UpdateMeetings),
    UpdateMeetingMembers(UpdateMeetingMembers),
    UpdateMultiCards(UpdateMultiCards),
    UpdateBioPhotos(UpdateBioPhotos),
    DeleteBioPhotos(DeleteBioPhotos),
    DeleteMeetings(DeleteMeetings),
    DeleteMeetingMembers(DeleteMeetingMembers),
    QueryUsers(QueryUsers),
    SetOptions(SetOptions),
    Reboot(Reboot),
});

impl<M: Body> Serialize for Envelope<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("funcId", self.message.name())?;
        map.serialize_entry("mid", &self.mid)?;
        if let Some(imme) = &self.imme {
            map.serialize_entry("imme", imme)?;
        }
        if let Some(sn) = &self.sn {
            map.serialize_entry("sn", sn)?;
        }
        self.message.serialize_body(&mut map)?;
        map.end()
    }
}

impl<'de, M: Body> Deserialize<'de> for Envelope<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let envelope = d.deserialize_map(EnvelopeVisitor)?;
        let Envelope {
            mid,
            imme,
            sn,
            message,
        } = envelope;
        match M::from_message(message) {
            Ok(message) => Ok(Envelope {
                mid,
                imme,
                sn,
                message,
            }),
            Err(other) => Err(de::Error::custom(format_args!(
                "`{}` is not a {} message",
                other.name(),
                M::DIRECTION.map_or("", Direction::as_str)
            ))),
        }
    }
}

/// A top-level key of the envelope.
enum Field {
    FuncId,
    Mid,
    Imme,
    Sn,
    Code,
    Message,
    Payload,
    Other(String),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "funcId" => Field::FuncId,
                    "mid" => Field::Mid,
                    "imme" => Field::Imme,
                    "sn" => Field::Sn,
                    "code" => Field::Code,
                    "message" => Field::Message,
                    "payload" => Field::Payload,
                    other => Field::Other(other.to_owned()),
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// `imme` read under the optional-value rule (absent, null and `""` are `None`).
struct OptImme(Option<Imme>);

impl<'de> Deserialize<'de> for OptImme {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::opt::deserialize(d).map(OptImme)
    }
}

/// `code` read leniently (string or number).
struct OptCode(Option<Code>);

impl<'de> Deserialize<'de> for OptCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::opt::deserialize(d).map(OptCode)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<Message>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a BEST message object with `funcId` and `mid`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut func: Option<FuncId> = None;
        let mut mid: Option<String> = None;
        let mut imme: Option<Imme> = None;
        let mut sn: Option<String> = None;
        let mut code: Option<Code> = None;
        let mut message: Option<String> = None;
        let mut typed: Option<Option<Message>> = None;
        let mut buffered: Option<Value> = None;
        let mut extra = Map::new();
        let unknown = |f: &Option<FuncId>| matches!(f, Some(FuncId::Other(_)));
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::FuncId => func = Some(map.next_value()?),
                Field::Mid => mid = Some(map.next_value()?),
                Field::Imme => imme = map.next_value::<OptImme>()?.0,
                Field::Sn => sn = map.next_value()?,
                Field::Code if unknown(&func) => {
                    extra.insert("code".into(), map.next_value()?);
                }
                Field::Code => code = map.next_value::<OptCode>()?.0,
                Field::Message if unknown(&func) => {
                    extra.insert("message".into(), map.next_value()?);
                }
                Field::Message => message = map.next_value()?,
                Field::Payload => match &func {
                    Some(FuncId::Other(_)) => {
                        extra.insert("payload".into(), map.next_value()?);
                    }
                    Some(id) => typed = Some(map.next_value_seed(PayloadSeed(id))?),
                    None => buffered = Some(map.next_value()?),
                },
                Field::Other(name) => {
                    if func.is_none() || unknown(&func) {
                        extra.insert(name, map.next_value()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
        }
        let mid = mid.ok_or_else(|| de::Error::missing_field("mid"))?;
        let func = match func {
            Some(id) => id,
            // A reply printed without `funcId` (best.md 2): it has a `code`.
            None if code.is_some() => FuncId::DevResponse,
            None => return Err(de::Error::missing_field("funcId")),
        };
        if let FuncId::Other(name) = func {
            let mut raw = Map::new();
            raw.insert("funcId".into(), Value::String(name.clone()));
            raw.insert("mid".into(), Value::String(mid.clone()));
            if let Some(i) = &imme {
                raw.insert(
                    "imme".into(),
                    Value::String(crate::value::to_wire_string(i)),
                );
            }
            if let Some(s) = &sn {
                raw.insert("sn".into(), Value::String(s.clone()));
            }
            if let Some(c) = &code {
                raw.insert("code".into(), Value::String(c.as_str().to_owned()));
            }
            if let Some(m) = &message {
                raw.insert("message".into(), Value::String(m.clone()));
            }
            if let Some(p) = buffered {
                raw.insert("payload".into(), p);
            }
            raw.append(&mut extra);
            let unknown = UnknownMessage { func_id: name, raw };
            let message = if unknown.func_id.starts_with("cmd.") {
                Message::Platform(PlatformMessage::Unknown(unknown))
            } else {
                Message::Device(DeviceMessage::Unknown(unknown))
            };
            return Ok(Envelope {
                mid,
                imme,
                sn,
                message,
            });
        }
        let body = match typed {
            Some(body) => body,
            None => match buffered {
                Some(value) => {
                    // Typed after the fact: track the path ourselves so the error still names the field.
                    let mut track = serde_path_to_error::Track::new();
                    let tracked = serde_path_to_error::Deserializer::new(&value, &mut track);
                    PayloadSeed(&func).deserialize(tracked).map_err(|e| {
                        de::Error::custom(format_args!("at `payload.{}`: {e}", track.path()))
                    })?
                }
                None => None,
            },
        };
        let body = match body {
            Some(body) => body,
            None => without_payload::<A::Error>(&func)?,
        };
        let body = match body {
            Message::Platform(PlatformMessage::Response(mut r)) => {
                r.code = code.ok_or_else(|| de::Error::missing_field("code"))?;
                r.message = message;
                Message::Platform(PlatformMessage::Response(r))
            }
            Message::Device(DeviceMessage::CmdResponse(mut r)) => {
                r.code = code.ok_or_else(|| de::Error::missing_field("code"))?;
                r.message = message;
                Message::Device(DeviceMessage::CmdResponse(r))
            }
            other => other,
        };
        Ok(Envelope {
            mid,
            imme,
            sn,
            message: body,
        })
    }
}

/// The message for a known `funcId` whose `payload` (or its `params`/`results`) is absent.
fn without_payload<E: de::Error>(func: &FuncId) -> Result<Message, E> {
    match func {
        FuncId::DevResponse => Ok(Message::Platform(PlatformMessage::Response(Response {
            code: Code::Success,
            message: None,
            results: None,
        }))),
        _ => {
            // Messages whose params are all optional (`dev.heartbeat`) decode; others name the missing field.
            let empty = de::value::MapDeserializer::<_, E>::new(std::iter::empty::<(&str, &str)>());
            ParamsSeed(func).deserialize(empty)
        }
    }
}

/// Reads `payload`: `{"params": ...}`, or `{"results": ...}` for `cmd.dev.response`. `None` when the key is
/// absent or `payload` is null.
struct PayloadSeed<'a>(&'a FuncId);

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Option<Message>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = Option<Message>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let want = if *self.0 == FuncId::DevResponse {
            "results"
        } else {
            "params"
        };
        let mut body = None;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Other(k) if k == want => {
                    body = Some(map.next_value_seed(ParamsSeed(self.0))?)
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(body)
    }
}

/// Reads `params` (or `results`) of a known `funcId` into its typed message.
struct ParamsSeed<'a>(&'a FuncId);

impl<'de> DeserializeSeed<'de> for ParamsSeed<'_> {
    type Value = Message;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Message, D::Error> {
        use DeviceMessage as Dm;
        use PlatformMessage as Pm;
        let dev = |m: DeviceMessage| Message::Device(m);
        let plat = |m: PlatformMessage| Message::Platform(m);
        Ok(match self.0 {
            FuncId::ExchangePublicKey => dev(Dm::ExchangePublicKey(Deserialize::deserialize(d)?)),
            FuncId::ExchangeFactor => dev(Dm::ExchangeFactor(Deserialize::deserialize(d)?)),
            FuncId::Register => dev(Dm::Register(Deserialize::deserialize(d)?)),
            FuncId::Accredit => dev(Dm::Accredit(Deserialize::deserialize(d)?)),
            FuncId::Login => dev(Dm::Login(Deserialize::deserialize(d)?)),
            FuncId::Report => dev(Dm::Report(Deserialize::deserialize(d)?)),
            FuncId::Heartbeat => dev(Dm::Heartbeat(Deserialize::deserialize(d)?)),
            FuncId::FileUploadStart => dev(Dm::FileUploadStart(Deserialize::deserialize(d)?)),
            FuncId::FileUploadPackage => dev(Dm::FileUploadPackage(Deserialize::deserialize(d)?)),
            FuncId::FileUploadEnd => dev(Dm::FileUploadEnd(Deserialize::deserialize(d)?)),
            FuncId::UploadUser => dev(Dm::UploadUsers(Deserialize::deserialize(d)?)),
            FuncId::UploadUserPhoto => dev(Dm::UploadUserPhotos(Deserialize::deserialize(d)?)),
            FuncId::UploadBioPhoto => dev(Dm::UploadBioPhotos(Deserialize::deserialize(d)?)),
            FuncId::UploadMultiCard => dev(Dm::UploadMultiCards(Deserialize::deserialize(d)?)),
            FuncId::UploadVerifyLog => dev(Dm::UploadVerifyLogs(Deserialize::deserialize(d)?)),
            FuncId::UploadVerifyPhoto => dev(Dm::UploadVerifyPhotos(Deserialize::deserialize(d)?)),
            FuncId::DevSyncTime => {
                IgnoredAny::deserialize(d)?;
                dev(Dm::SyncTime)
            }
            FuncId::CmdResponse => {
                let p = CmdResponseParams::deserialize(d)?;
                dev(Dm::CmdResponse(CmdResponse {
                    code: Code::Success,
                    message: None,
                    cmd_id: p.cmd_id,
                }))
            }
            FuncId::DevResponse => plat(Pm::Response(Response {
                code: Code::Success,
                message: None,
                results: Some(Deserialize::deserialize(d)?),
            })),
            FuncId::UpdateUser => plat(Pm::UpdateUsers(Deserialize::deserialize(d)?)),
            FuncId::UpdateMeeting => plat(Pm::UpdateMeetings(Deserialize::deserialize(d)?)),
            FuncId::UpdateMeetingMember => {
                plat(Pm::UpdateMeetingMembers(Deserialize::deserialize(d)?))
            }
            FuncId::UpdateMultiCard => plat(Pm::UpdateMultiCards(Deserialize::deserialize(d)?)),
            FuncId::UpdateBioPhoto => plat(Pm::UpdateBioPhotos(Deserialize::deserialize(d)?)),
            FuncId::DeleteUser => plat(Pm::DeleteUsers(Deserialize::deserialize(d)?)),
            FuncId::DeleteBioPhoto => plat(Pm::DeleteBioPhotos(Deserialize::deserialize(d)?)),
            FuncId::DeleteMultiCard => plat(Pm::DeleteMultiCards(Deserialize::deserialize(d)?)),
            FuncId::DeleteMeeting => plat(Pm::DeleteMeetings(Deserialize::deserialize(d)?)),
            FuncId::DeleteMeetingMember => {
                plat(Pm::DeleteMeetingMembers(Deserialize::deserialize(d)?))
            }
            FuncId::DeleteUserPhoto => plat(Pm::DeleteUserPhotos(Deserialize::deserialize(d)?)),
            FuncId::QueryUser => plat(Pm::QueryUsers(Deserialize::deserialize(d)?)),
            FuncId::ClearUser => plat(Pm::ClearUsers(Deserialize::deserialize(d)?)),
            FuncId::ClearMultiCard => plat(Pm::ClearMultiCards(Deserialize::deserialize(d)?)),
            FuncId::ClearAll => plat(Pm::ClearAll(Deserialize::deserialize(d)?)),
            FuncId::OptionSet => plat(Pm::SetOptions(Deserialize::deserialize(d)?)),
            FuncId::Reboot => plat(Pm::Reboot(Deserialize::deserialize(d)?)),
            FuncId::SyncTime => plat(Pm::SyncTime(Deserialize::deserialize(d)?)),
            FuncId::Other(name) => {
                return Err(de::Error::custom(format_args!("unknown funcId `{name}`")));
            }
        })
    }
}
