//! Typed aliscan messages: [`PadMessage`] (pad -> station), [`StationMessage`] (station -> pad), and
//! [`Message`] for traffic of either direction.
//!
//! Every message is a JSON object `{"topic": ..., "padId": ..., "data": ...}`; a few carry `scanId` or `source`
//! at the top level and two have no `data` (DECISIONS.md). The topic is read first, then the rest of the object
//! straight into the payload type of that topic, in one pass. An unknown topic decodes to an `Unknown` variant
//! that keeps the raw JSON, so it round-trips and the connection goes on.

mod envelope;
mod equipment;
mod files;
mod record;
mod store;
mod types;
mod upgrade;
mod wifi;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use envelope::{Bare, Envelope, RecordPush, ScanStarted, UpgradeInform};
pub use equipment::{
    CalibrationNew, CalibrationResult, CalibrationStep, DebugEnable, DeviceInfo, EquipmentAction,
    Outcome, ScanAction, ScanNew, StationState, StationStatus, UDiskInfo, Versions,
};
pub use files::{
    FileAction, FilesAction, FilesList, FilesRequest, ScanPage, Statistics, UserInfoUpdate,
    DEFAULT_PAGE, DEFAULT_PAGE_SIZE,
};
pub use record::{
    FootFeature, Measurements, RecordStatus, ScanRecord, SubmitStatus, UploadBlock, UploadStatus,
    UserInfo,
};
pub use store::{BrandInfo, Store, StoreBind, StoreGet, StoreInfo, StoreList, StoreListQuery};
pub use types::{
    Blob, Empty, ErrorInfo, ErrorText, OutcomeStatus, Sex, StationTime, StationTimeError,
};
pub use upgrade::{
    ChangeLog, Overwrite, PackageType, PackageVersion, UpgradeEnv, UpgradeInfo, UpgradeOffer,
    UpgradeResponse, UpgradeSource, Upgrading,
};
pub use wifi::{Rssi, WifiConnect, WifiList, WifiNetwork, WifiState, WifiStatus};

use crate::error::{DecodeError, EncodeError};

/// The name of the tag field of every aliscan message.
pub const TAG: &str = "topic";

/// A message whose `topic` this crate does not know (for that direction), kept as the raw JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMessage {
    /// The unknown `topic`.
    pub topic: String,
    /// The whole JSON object as received, `topic` included.
    pub raw: Value,
}

/// A type that is a whole aliscan message: decodable from and encodable to one WebSocket text frame.
pub trait WireMessage: Sized {
    /// Decodes one message (one text frame). No size limit: [`Codec`](crate::Codec) applies one.
    ///
    /// # Errors
    /// [`DecodeError::NotUtf8`] or [`DecodeError::Json`] naming the topic and the failing field.
    fn from_json(text: &[u8]) -> Result<Self, DecodeError>;

    /// Writes the message as strict JSON, topic first.
    ///
    /// # Errors
    /// [`EncodeError`] when the message cannot be written.
    fn write_json<W: std::io::Write>(&self, out: W) -> Result<(), EncodeError>;

    /// The message as strict JSON text, ready for a text frame.
    ///
    /// # Errors
    /// As [`WireMessage::write_json`].
    fn to_json(&self) -> Result<String, EncodeError>;
}

/// Serializes a known message with its topic first.
#[derive(Serialize)]
struct WithTopic<'a, T> {
    topic: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Parses a message under the strict-then-lenient rule; errors name the topic and the failing field.
pub(crate) fn decode_message<T: DeserializeOwned>(text: &[u8]) -> Result<T, DecodeError> {
    // serde_json refuses invalid UTF-8 anywhere in a document, so the text is checked only to explain a failure.
    proto_common::json::from_slice_lenient(text).map_err(|source| match std::str::from_utf8(text) {
        Err(e) => DecodeError::NotUtf8 {
            offset: e.valid_up_to(),
        },
        Ok(_) => DecodeError::Json {
            topic: peek_topic(text).unwrap_or_else(|| "?".into()),
            source,
        },
    })
}

/// The `topic` of a message, read up to that field only, so that it is found even when a later part of the
/// message is malformed. Meant for error paths.
pub(crate) fn peek_topic(text: &[u8]) -> Option<String> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    use std::fmt;

    struct Peek<'a>(&'a mut Option<String>);
    impl<'de> Visitor<'de> for Peek<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == TAG {
                    *self.0 = map.next_value::<String>().ok();
                    // Stop here: the rest of the message is not needed, and may be what is malformed.
                    return Err(A::Error::custom("found"));
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut topic = None;
    let mut de = serde_json::Deserializer::from_slice(text);
    // The outcome is always an error once the topic is found; only the captured value matters.
    let _ = de.deserialize_map(Peek(&mut topic));
    topic
}

/// `value` as JSON text, naming `topic` in the error.
fn value_to_string<T: Serialize + ?Sized>(topic: &str, value: &T) -> Result<String, EncodeError> {
    serde_json::to_string(value).map_err(|source| EncodeError::Json {
        topic: topic.to_owned(),
        source,
    })
}

/// Writes `value` as JSON, naming `topic` in the error.
fn write_value<W: std::io::Write, T: Serialize + ?Sized>(
    out: W,
    topic: &str,
    value: &T,
) -> Result<(), EncodeError> {
    serde_json::to_writer(out, value).map_err(|source| EncodeError::Json {
        topic: topic.to_owned(),
        source,
    })
}

/// Checks that an unknown message is an object carrying its topic, and that the topic is not a known one.
fn check_unknown(u: &UnknownMessage, known: impl Fn(&str) -> bool) -> Result<(), EncodeError> {
    match u.raw.get(TAG) {
        Some(Value::String(topic)) if *topic == u.topic => {
            if known(topic) {
                Err(EncodeError::KnownTopic {
                    topic: topic.clone(),
                })
            } else {
                Ok(())
            }
        }
        _ => Err(EncodeError::NotAMessage {
            topic: u.topic.clone(),
        }),
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The rest of a message after its topic, refusing a second `topic`: a message with two topics is ambiguous.
struct NoSecondTopic<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for NoSecondTopic<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
        use std::borrow::Cow;
        match self.0.next_key::<Key<'de>>()? {
            None => Ok(None),
            Some(Key(k)) if k == TAG => Err(serde::de::Error::duplicate_field(TAG)),
            Some(Key(Cow::Borrowed(k))) => {
                seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some)
            }
            Some(Key(Cow::Owned(k))) => seed.deserialize(StringDeserializer::new(k)).map(Some),
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Collects the rest of an unknown message into its raw JSON, `topic` first. Callers hand `body` over through
/// [`NoSecondTopic`], as `message_enum!` does.
fn collect_unknown<'de, A: serde::de::MapAccess<'de>>(
    topic: &str,
    body: NoSecondTopic<A>,
) -> Result<UnknownMessage, A::Error> {
    let raw = proto_common::json::collect_unknown(TAG, topic, body)?;
    Ok(UnknownMessage {
        topic: topic.to_owned(),
        raw,
    })
}

/// Declares one direction's message enum ([`proto_common::message_enum!`]) with `pad_id` and its
/// [`WireMessage`] impl.
macro_rules! message_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal,)* }) => {
        proto_common::message_enum! {
            tag: TAG, accessor: topic, field: topic, unknown: UnknownMessage,
            collect_unknown: collect_unknown, with_tag: WithTopic, body: NoSecondTopic;
            $(#[$meta])*
            $name { $($(#[$vmeta])* $variant($ty) = $wire,)* }
        }

        impl $name {
            /// The `padId` of this message, if it has a string one.
            #[must_use]
            pub fn pad_id(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(m) => m.pad_id.as_deref(),)*
                    Self::Unknown(u) => u.raw.get("padId").and_then(Value::as_str),
                }
            }
        }

        impl WireMessage for $name {
            fn from_json(text: &[u8]) -> Result<Self, DecodeError> {
                decode_message(text)
            }

            fn write_json<W: std::io::Write>(&self, out: W) -> Result<(), EncodeError> {
                if let Self::Unknown(u) = self {
                    check_unknown(u, Self::knows)?;
                }
                write_value(out, self.topic(), self)
            }

            fn to_json(&self) -> Result<String, EncodeError> {
                if let Self::Unknown(u) = self {
                    check_unknown(u, Self::knows)?;
                }
                value_to_string(self.topic(), self)
            }
        }
    };
}

message_enum! {
    /// A message from the pad (the front-end) to the station program.
    ///
    /// The spec requires a `padId` on every pad message; decoders accept one without (`pad_id: None`) and
    /// leave the refusal to the station, which answers refused commands with its status (DECISIONS.md).
    PadMessage {
        /// `equipment/wifi/list` - scan for Wi-Fi networks; answered by `equipment/wifi/result`.
        WifiList(Envelope<Empty>) = "equipment/wifi/list",
        /// `equipment/wifi/qst` - ask for the Wi-Fi state; answered by `equipment/wifi/status`.
        WifiQuery(Envelope<Empty>) = "equipment/wifi/qst",
        /// `equipment/wifi/connect` - join a network; answered by `equipment/wifi/status`.
        WifiConnect(Envelope<WifiConnect>) = "equipment/wifi/connect",
        /// `equipment/wifi/disconnect` - leave the network; answered by `equipment/wifi/status`.
        WifiDisconnect(Envelope<Empty>) = "equipment/wifi/disconnect",
        /// `equipment/scan/new` - start a scan; answered by `equipment/scan/result`.
        ScanNew(Envelope<ScanNew>) = "equipment/scan/new",
        /// `equipment/calibration/new` - run a calibration step; answered by `equipment/calibration/result`.
        CalibrationNew(Envelope<CalibrationNew>) = "equipment/calibration/new",
        /// `equipment/store/brand` - ask for the brand (no `data`); answered by `equipment/store/brandresult`.
        StoreBrand(Bare) = "equipment/store/brand",
        /// `equipment/store/list` - list stores; answered by `equipment/store/listresult`.
        StoreList(Envelope<StoreListQuery>) = "equipment/store/list",
        /// `equipment/store/get` - look a store up; answered by `equipment/store/getresult`.
        StoreGet(Envelope<StoreGet>) = "equipment/store/get",
        /// `equipment/store/bind` - bind the station to a store; answered by `equipment/store/result`.
        StoreBind(Envelope<StoreBind>) = "equipment/store/bind",
        /// `equipment/store/unbind` - unbind the store (no `data`); answered by `equipment/store/result`.
        StoreUnbind(Bare) = "equipment/store/unbind",
        /// `equipment/scan/action` - reset, open, book, status, license or debug.
        ScanAction(Envelope<EquipmentAction>) = "equipment/scan/action",
        /// `files/scan/list` - ask for a page of records; answered by `files/scan/status`.
        FilesList(Envelope<FilesList>) = "files/scan/list",
        /// `files/scan/uinfo` - set a scan's customer details; answered by `files/scan/uinforesult`.
        UserInfoUpdate(Envelope<UserInfoUpdate>) = "files/scan/uinfo",
        /// `files/scan/action` - upload, delete, or report records.
        FilesAction(Envelope<FilesAction>) = "files/scan/action",
        /// `inform/upgradeResponse` - accept or refuse an upgrade offer.
        UpgradeResponse(Envelope<UpgradeResponse>) = "inform/upgradeResponse",
        /// `equipment/deviceInfo` - ask for identity and versions; answered by `equipment/deviceInfoResult`.
        DeviceInfo(Envelope<Empty>) = "equipment/deviceInfo",
        /// `equipment/debugEnable` - enter or leave debug mode.
        DebugEnable(Envelope<DebugEnable>) = "equipment/debugEnable",
        /// `equipment/checkUDisk` - check the USB drive; answered by `equipment/checkUDiskResult`.
        CheckUDisk(Envelope<Empty>) = "equipment/checkUDisk",
        /// `equipment/copyLog` - copy the logs to the USB drive; answered by `equipment/copyLogResult`.
        CopyLog(Envelope<Empty>) = "equipment/copyLog",
        /// `equipment/uploadLog` - upload the logs; answered by `equipment/uploadLogResult`.
        UploadLog(Envelope<Empty>) = "equipment/uploadLog",
        /// `equipment/info/update` - refetch brand, logos and QR prefix; answered by
        /// `equipment/store/brandresult`.
        InfoUpdate(Envelope<Empty>) = "equipment/info/update",
        /// `files/scan/request` - ask for the record of a `requestId`; answered by `files/scan/result`.
        FilesRequest(Envelope<FilesRequest>) = "files/scan/request",
        /// `equipment/net/qst` - ask whether the back end is reachable; answered by `equipment/net/result`.
        NetQuery(Envelope<Empty>) = "equipment/net/qst",
    }
}

message_enum! {
    /// A message from the station program to the pad (answers and pushes).
    StationMessage {
        /// `equipment/wifi/result` - the networks in range.
        WifiResult(Envelope<WifiList>) = "equipment/wifi/result",
        /// `equipment/wifi/status` - the Wi-Fi state.
        WifiStatus(Envelope<WifiState>) = "equipment/wifi/status",
        /// `equipment/scan/status` - the station's state.
        ScanStatus(Envelope<StationState>) = "equipment/scan/status",
        /// `equipment/scan/result` - the new scan's id (top-level `scanId`, no `data`); empty = the scan failed.
        ScanResult(ScanStarted) = "equipment/scan/result",
        /// `equipment/calibration/result` - the outcome of a calibration step.
        CalibrationResult(Envelope<CalibrationResult>) = "equipment/calibration/result",
        /// `equipment/store/brandresult` - brand, store and artwork.
        StoreBrandResult(Envelope<BrandInfo>) = "equipment/store/brandresult",
        /// `equipment/store/listresult` - a page of stores.
        StoreListResult(Envelope<StoreList>) = "equipment/store/listresult",
        /// `equipment/store/getresult` - the store looked up.
        StoreGetResult(Envelope<StoreInfo>) = "equipment/store/getresult",
        /// `equipment/store/result` - outcome of bind or unbind.
        StoreResult(Envelope<Outcome>) = "equipment/store/result",
        /// `files/scan/uinforesult` - outcome of a user-info update.
        UserInfoResult(Envelope<Outcome>) = "files/scan/uinforesult",
        /// `files/scan/status` - a page of records.
        FilesStatus(Envelope<ScanPage>) = "files/scan/status",
        /// `files/scan/result` - a finished scan's record (top-level `scanId`).
        FilesResult(RecordPush) = "files/scan/result",
        /// `files/scan/update` - a record that changed (top-level `scanId`).
        FilesUpdate(RecordPush) = "files/scan/update",
        /// `files/scan/statistics` - record counts by upload state.
        FilesStatistics(Envelope<Statistics>) = "files/scan/statistics",
        /// `inform/upgradeInform` - an upgrade offer (top-level `source`).
        UpgradeInform(UpgradeInform) = "inform/upgradeInform",
        /// `inform/upgrading` - the upgrade started.
        Upgrading(Envelope<Upgrading>) = "inform/upgrading",
        /// `equipment/deviceInfoResult` - identity and versions.
        DeviceInfoResult(Envelope<DeviceInfo>) = "equipment/deviceInfoResult",
        /// `equipment/checkUDiskResult` - the USB drive.
        CheckUDiskResult(Envelope<UDiskInfo>) = "equipment/checkUDiskResult",
        /// `equipment/copyLogResult` - outcome of the log copy.
        CopyLogResult(Envelope<Outcome>) = "equipment/copyLogResult",
        /// `equipment/uploadLogResult` - outcome of the log upload.
        UploadLogResult(Envelope<Outcome>) = "equipment/uploadLogResult",
        /// `equipment/net/result` - whether the back end is reachable (`data` is a bare boolean).
        NetResult(Envelope<bool>) = "equipment/net/result",
        /// `equipment/brand/error` - the station's brand or store no longer matches the back end's; `data` is
        /// the back end's bare error code (22001, 22003, 22005, 20001, 20005, 20007, 23001, ...). The pad
        /// answers by sending `equipment/scan/action` `license`.
        BrandError(Envelope<i64>) = "equipment/brand/error",
    }
}

/// A message of either direction, for tools that read captured traffic.
///
/// The direction follows from the topic: no topic exists in both directions. An unknown topic is
/// [`Message::Unknown`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// A station message is a few hundred bytes larger than a pad message; boxing would cost an allocation per
// decoded message to save a copy of that size.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Pad -> station.
    Pad(PadMessage),
    /// Station -> pad.
    Station(StationMessage),
    /// A topic neither direction knows.
    Unknown(UnknownMessage),
}

impl Message {
    /// The wire topic.
    #[must_use]
    pub fn topic(&self) -> &str {
        match self {
            Self::Pad(m) => m.topic(),
            Self::Station(m) => m.topic(),
            Self::Unknown(u) => &u.topic,
        }
    }

    /// Whether the topic is known to this crate.
    #[must_use]
    pub fn is_known(&self) -> bool {
        match self {
            Self::Pad(m) => m.is_known(),
            Self::Station(m) => m.is_known(),
            Self::Unknown(_) => false,
        }
    }

    /// Whether `topic` is known in either direction.
    #[must_use]
    pub fn knows(topic: &str) -> bool {
        PadMessage::knows(topic) || StationMessage::knows(topic)
    }
}

impl From<PadMessage> for Message {
    fn from(m: PadMessage) -> Self {
        Self::Pad(m)
    }
}

impl From<StationMessage> for Message {
    fn from(m: StationMessage) -> Self {
        Self::Station(m)
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Pad(m) => m.serialize(s),
            Self::Station(m) => m.serialize(s),
            Self::Unknown(u) => u.raw.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        proto_common::json::deserialize_tagged(d)
    }
}

impl proto_common::json::TaggedMessage for Message {
    const TAG: &'static str = TAG;

    fn deserialize_body<'de, A: serde::de::MapAccess<'de>>(
        tag: &str,
        body: A,
    ) -> Result<Self, A::Error> {
        if PadMessage::knows(tag) {
            PadMessage::deserialize_body(tag, body).map(Self::Pad)
        } else if StationMessage::knows(tag) {
            StationMessage::deserialize_body(tag, body).map(Self::Station)
        } else {
            collect_unknown(tag, NoSecondTopic(body)).map(Self::Unknown)
        }
    }
}

impl WireMessage for Message {
    fn from_json(text: &[u8]) -> Result<Self, DecodeError> {
        decode_message(text)
    }

    fn write_json<W: std::io::Write>(&self, out: W) -> Result<(), EncodeError> {
        match self {
            Self::Pad(m) => m.write_json(out),
            Self::Station(m) => m.write_json(out),
            Self::Unknown(u) => {
                check_unknown(u, Self::knows)?;
                write_value(out, &u.topic, &u.raw)
            }
        }
    }

    fn to_json(&self) -> Result<String, EncodeError> {
        match self {
            Self::Pad(m) => m.to_json(),
            Self::Station(m) => m.to_json(),
            Self::Unknown(u) => {
                check_unknown(u, Self::knows)?;
                value_to_string(&u.topic, &u.raw)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_small() {
        // Records are boxed in `RecordPush` so that a message moves cheaply.
        assert!(
            std::mem::size_of::<StationMessage>() <= 640,
            "{}",
            std::mem::size_of::<StationMessage>()
        );
        assert!(
            std::mem::size_of::<PadMessage>() <= 256,
            "{}",
            std::mem::size_of::<PadMessage>()
        );
    }
}
