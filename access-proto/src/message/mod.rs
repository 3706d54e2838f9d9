//! Typed messages: one [`Message`] is a [`Request`] or a [`Response`], told apart by `type`.
//!
//! Both peers send requests and answer them (DECISIONS.md, access): the management server asks the terminal
//! for `get_device_info`, `set_device_info`, `download_person` and `send_user_command`; the terminal sends
//! `upload_access_info` and `send_device_command`. A response echoes its request's `mod` and `session_id`
//! ([`PairKey`]) and adds `code` and `message`.
//!
//! ```text
//! request   {"mod":"upload_access_info","session_id":"…","type":1,"access_info":{…}}
//! response  {"mod":"upload_access_info","session_id":"…","type":2,"code":0,"message":""}
//! ```

mod access;
mod command;
mod device;
mod envelope;
mod person;

use std::io::Write;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess};
use serde::ser::{self, SerializeMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use proto_common::json::{self, TaggedMessage};

pub use access::{AccessInfo, InOutType, OpenDoorType, UploadAccessInfo};
pub use command::{Command, CommandType};
pub use device::{DeviceInfo, DeviceInfoReply, SetDeviceInfo};
pub use envelope::{Code, MessageKind, Mod, PairKey, SessionId};
pub use person::{DownloadPerson, FeatureCode, Image, ImageFormat, PersonInfo, Role};

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};

/// One message of the protocol, in either direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `type` 1: a request.
    Request(Request),
    /// `type` 2: a response.
    Response(Response),
}

/// A request (`type` 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `session_id` - fresh per request ([`SessionId::from_random_bytes`]); the response echoes it.
    pub session_id: SessionId,
    /// The `mod` and its fields.
    pub body: RequestBody,
}

/// What a request asks for: its `mod` and that mod's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// `get_device_info` (server -> terminal), no fields.
    GetDeviceInfo,
    /// `set_device_info` (server -> terminal).
    SetDeviceInfo(SetDeviceInfo),
    /// `download_person` (server -> terminal).
    DownloadPerson(DownloadPerson),
    /// `upload_access_info` (terminal -> server).
    UploadAccessInfo(UploadAccessInfo),
    /// `send_user_command` (server -> terminal).
    SendUserCommand(Command),
    /// `send_device_command` (terminal -> server).
    SendDeviceCommand(Command),
    /// A `mod` the spec does not define, kept raw.
    Unknown(UnknownMessage),
}

/// A response (`type` 2) to the request with the same `mod` and `session_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `session_id` of the request answered.
    pub session_id: SessionId,
    /// `code` - the result; a failure code is the peer's answer, not a decode error.
    pub code: Code,
    /// `message` - a description of `code` (often empty; an absent `message` decodes as empty).
    pub message: String,
    /// The `mod` answered and the response's fields.
    pub body: ResponseBody,
}

/// What a response answers: its `mod` and that mod's fields (only `get_device_info` has any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// `get_device_info`: the terminal's settings.
    GetDeviceInfo(DeviceInfoReply),
    /// `set_device_info`.
    SetDeviceInfo,
    /// `download_person`.
    DownloadPerson,
    /// `upload_access_info`.
    UploadAccessInfo,
    /// `send_user_command`.
    SendUserCommand,
    /// `send_device_command`.
    SendDeviceCommand,
    /// A `mod` the spec does not define, kept raw.
    Unknown(UnknownMessage),
}

/// A message whose `mod` the spec does not define.
///
/// The envelope (`mod`, `session_id`, `type`, and in a response `code` and `message`) is read into the
/// [`Request`] or [`Response`]; every other field is kept here. Decoding never gives a known name here; a
/// value built with one encodes as that known message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnknownMessage {
    /// The `mod`.
    pub name: String,
    /// The fields after the envelope, as received.
    pub fields: Map<String, Value>,
}

impl Message {
    /// Decodes one JSON object (strict JSON first, then once more with trailing commas removed).
    ///
    /// No size limit is applied here: the caller already holds the bytes. The stream [`Codec`](crate::Codec)
    /// and [`Message::from_text`] apply [`CodecConfig::max_message_len`].
    ///
    /// # Errors
    /// [`DecodeError::Json`] naming the `mod` and the path of the field that failed.
    pub fn from_json(input: &[u8]) -> Result<Self, DecodeError> {
        json::from_slice_lenient(input).map_err(|source| DecodeError::Json {
            name: json::peek_tag(input, <Self as TaggedMessage>::TAG).unwrap_or_else(|| "?".into()),
            source,
        })
    }

    /// Writes the message as compact, strict JSON, without the stream's trailing newline.
    ///
    /// # Errors
    /// [`EncodeError::EnvelopeField`] for an [`UnknownMessage`] whose fields repeat the envelope.
    pub fn write_json<W: Write>(&self, out: W) -> Result<(), EncodeError> {
        self.check()?;
        serde_json::to_writer(out, self).map_err(|source| EncodeError::Json {
            name: self.name().to_owned(),
            source,
        })
    }

    /// The message as compact, strict JSON bytes, without the stream's trailing newline.
    ///
    /// # Errors
    /// As [`Message::write_json`].
    pub fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(256);
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// Decodes the text of one WebSocket text frame, refusing one over the default 16 MiB.
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`] or [`DecodeError::Json`].
    pub fn from_text(text: &str) -> Result<Self, DecodeError> {
        Self::from_text_with(text, &CodecConfig::default())
    }

    /// [`Message::from_text`] under the limits of `config`.
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`] or [`DecodeError::Json`].
    pub fn from_text_with(text: &str, config: &CodecConfig) -> Result<Self, DecodeError> {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.len() > config.max_message_len {
            return Err(DecodeError::MessageTooLarge {
                len: trimmed.len(),
                max: config.max_message_len,
            });
        }
        Self::from_json(trimmed.as_bytes())
    }

    /// The text of one WebSocket text frame, refusing a message over the default 16 MiB.
    ///
    /// # Errors
    /// [`EncodeError::MessageTooLarge`], or as [`Message::write_json`].
    pub fn to_text(&self) -> Result<String, EncodeError> {
        self.to_text_with(&CodecConfig::default())
    }

    /// [`Message::to_text`] under the limits of `config`.
    ///
    /// # Errors
    /// [`EncodeError::MessageTooLarge`], or as [`Message::write_json`].
    pub fn to_text_with(&self, config: &CodecConfig) -> Result<String, EncodeError> {
        let json = self.to_json()?;
        if json.len() > config.max_message_len {
            return Err(EncodeError::MessageTooLarge {
                len: json.len(),
                max: config.max_message_len,
            });
        }
        // serde_json writes UTF-8 only.
        String::from_utf8(json).map_err(|e| EncodeError::Json {
            name: self.name().to_owned(),
            source: serde::ser::Error::custom(e),
        })
    }

    /// Refuses what would not encode to a message that decodes back to this one.
    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        let (unknown, reserved): (_, &[&str]) = match self {
            Self::Request(Request {
                body: RequestBody::Unknown(u),
                ..
            }) => (u, &["mod", "session_id", "type"]),
            Self::Response(Response {
                body: ResponseBody::Unknown(u),
                ..
            }) => (u, &["mod", "session_id", "type", "code", "message"]),
            _ => return Ok(()),
        };
        match reserved.iter().find(|f| unknown.fields.contains_key(**f)) {
            Some(field) => Err(EncodeError::EnvelopeField {
                name: unknown.name.clone(),
                field: (*field).to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Request or response.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Request(_) => MessageKind::Request,
            Self::Response(_) => MessageKind::Response,
        }
    }

    /// The wire name, `mod`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Request(r) => r.body.name(),
            Self::Response(r) => r.body.name(),
        }
    }

    /// Whether the spec defines this message's `mod`.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(
            self,
            Self::Request(Request {
                body: RequestBody::Unknown(_),
                ..
            }) | Self::Response(Response {
                body: ResponseBody::Unknown(_),
                ..
            })
        )
    }

    /// `session_id`.
    #[must_use]
    pub fn session_id(&self) -> &SessionId {
        match self {
            Self::Request(r) => &r.session_id,
            Self::Response(r) => &r.session_id,
        }
    }

    /// The key pairing a request with its response: `mod` and `session_id`.
    #[must_use]
    pub fn pair_key(&self) -> PairKey {
        match self {
            Self::Request(r) => r.pair_key(),
            Self::Response(r) => r.pair_key(),
        }
    }
}

impl From<Request> for Message {
    fn from(request: Request) -> Self {
        Self::Request(request)
    }
}

impl From<Response> for Message {
    fn from(response: Response) -> Self {
        Self::Response(response)
    }
}

impl Request {
    /// A request with the given id and body.
    #[must_use]
    pub fn new(session_id: impl Into<SessionId>, body: RequestBody) -> Self {
        Self {
            session_id: session_id.into(),
            body,
        }
    }

    /// The key its response carries.
    #[must_use]
    pub fn pair_key(&self) -> PairKey {
        PairKey {
            module: self.body.module(),
            session_id: self.session_id.clone(),
        }
    }

    /// A response to this request with `code` and `message` and no fields (for `get_device_info`, set
    /// [`DeviceInfoReply::device_info`] afterwards).
    #[must_use]
    pub fn reply(&self, code: Code, message: impl Into<String>) -> Response {
        let body = match &self.body {
            RequestBody::GetDeviceInfo => ResponseBody::GetDeviceInfo(DeviceInfoReply::default()),
            RequestBody::SetDeviceInfo(_) => ResponseBody::SetDeviceInfo,
            RequestBody::DownloadPerson(_) => ResponseBody::DownloadPerson,
            RequestBody::UploadAccessInfo(_) => ResponseBody::UploadAccessInfo,
            RequestBody::SendUserCommand(_) => ResponseBody::SendUserCommand,
            RequestBody::SendDeviceCommand(_) => ResponseBody::SendDeviceCommand,
            RequestBody::Unknown(u) => ResponseBody::Unknown(UnknownMessage {
                name: u.name.clone(),
                fields: Map::new(),
            }),
        };
        Response {
            session_id: self.session_id.clone(),
            code,
            message: message.into(),
            body,
        }
    }
}

impl Response {
    /// The key of the request it answers.
    #[must_use]
    pub fn pair_key(&self) -> PairKey {
        PairKey {
            module: self.body.module(),
            session_id: self.session_id.clone(),
        }
    }

    /// Whether this response answers `request` (same `mod` and `session_id`).
    #[must_use]
    pub fn answers(&self, request: &Request) -> bool {
        self.session_id == request.session_id && self.body.name() == request.body.name()
    }
}

impl RequestBody {
    /// The wire name, `mod`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::GetDeviceInfo => "get_device_info",
            Self::SetDeviceInfo(_) => "set_device_info",
            Self::DownloadPerson(_) => "download_person",
            Self::UploadAccessInfo(_) => "upload_access_info",
            Self::SendUserCommand(_) => "send_user_command",
            Self::SendDeviceCommand(_) => "send_device_command",
            Self::Unknown(u) => &u.name,
        }
    }

    /// The `mod`.
    #[must_use]
    pub fn module(&self) -> Mod {
        Mod::from_name(self.name())
    }
}

impl ResponseBody {
    /// The wire name, `mod`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::GetDeviceInfo(_) => "get_device_info",
            Self::SetDeviceInfo => "set_device_info",
            Self::DownloadPerson => "download_person",
            Self::UploadAccessInfo => "upload_access_info",
            Self::SendUserCommand => "send_user_command",
            Self::SendDeviceCommand => "send_device_command",
            Self::Unknown(u) => &u.name,
        }
    }

    /// The `mod`.
    #[must_use]
    pub fn module(&self) -> Mod {
        Mod::from_name(self.name())
    }
}

// ---- encoding: envelope first, in the order the spec prints it, then the mod's fields ----

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Request(r) => r.serialize(serializer),
            Self::Response(r) => r.serialize(serializer),
        }
    }
}

fn write_command<M: SerializeMap>(map: &mut M, command: &Command) -> Result<(), M::Error> {
    map.serialize_entry("command_type", &command.command_type)?;
    map.serialize_entry("command_value", &command.command_value)
}

fn write_unknown<M: SerializeMap>(
    map: &mut M,
    unknown: &UnknownMessage,
    reserved: &[&str],
) -> Result<(), M::Error> {
    for (key, value) in &unknown.fields {
        if reserved.contains(&key.as_str()) {
            return Err(ser::Error::custom(format_args!(
                "unknown message `{}` carries the envelope field `{key}` among its fields",
                unknown.name
            )));
        }
        map.serialize_entry(key, value)?;
    }
    Ok(())
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("mod", self.body.name())?;
        map.serialize_entry("session_id", &self.session_id)?;
        map.serialize_entry("type", &MessageKind::Request.value())?;
        match &self.body {
            RequestBody::GetDeviceInfo => {}
            RequestBody::SetDeviceInfo(b) => map.serialize_entry("device_info", &b.device_info)?,
            RequestBody::DownloadPerson(b) => map.serialize_entry("person_info", &b.person_info)?,
            RequestBody::UploadAccessInfo(b) => {
                map.serialize_entry("access_info", &b.access_info)?
            }
            RequestBody::SendUserCommand(c) | RequestBody::SendDeviceCommand(c) => {
                write_command(&mut map, c)?
            }
            RequestBody::Unknown(u) => write_unknown(&mut map, u, &["mod", "session_id", "type"])?,
        }
        map.end()
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("mod", self.body.name())?;
        map.serialize_entry("session_id", &self.session_id)?;
        map.serialize_entry("type", &MessageKind::Response.value())?;
        map.serialize_entry("code", &self.code)?;
        map.serialize_entry("message", &self.message)?;
        match &self.body {
            ResponseBody::GetDeviceInfo(DeviceInfoReply {
                device_info: Some(info),
            }) => map.serialize_entry("device_info", info)?,
            ResponseBody::Unknown(u) => {
                write_unknown(
                    &mut map,
                    u,
                    &["mod", "session_id", "type", "code", "message"],
                )?;
            }
            _ => {}
        }
        map.end()
    }
}

// ---- decoding: one pass, dispatched on `mod` (proto_common::json::deserialize_tagged) ----

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json::deserialize_tagged(deserializer)
    }
}

/// Declares the wire shape of one mod: the envelope plus that mod's fields, all read in one pass.
macro_rules! wire {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Deserialize)]
        struct $name {
            session_id: SessionId,
            #[serde(rename = "type", default)]
            kind: Option<i64>,
            #[serde(default)]
            code: Option<Code>,
            #[serde(default)]
            message: Option<String>,
            $( #[serde(default)] $field: Option<$ty>, )*
        }

        impl $name {
            fn envelope<E: de::Error>(&mut self) -> Result<Envelope, E> {
                Envelope::new(
                    std::mem::replace(&mut self.session_id, SessionId::new(String::new())),
                    self.kind,
                    self.code,
                    self.message.take(),
                )
            }
        }
    };
}

wire!(DeviceInfoWire {
    device_info: DeviceInfo
});
wire!(PersonWire {
    person_info: PersonInfo
});
wire!(AccessWire {
    access_info: AccessInfo
});
wire!(CommandWire {
    command_type: CommandType,
    command_value: String
});

/// The envelope of a decoded message, its kind settled.
enum Envelope {
    Request(SessionId),
    Response(ResponseHead),
}

/// The envelope of a response, waiting for its body.
struct ResponseHead {
    session_id: SessionId,
    code: Code,
    message: String,
}

impl ResponseHead {
    fn with(self, body: ResponseBody) -> Message {
        Message::Response(Response {
            session_id: self.session_id,
            code: self.code,
            message: self.message,
            body,
        })
    }
}

impl Envelope {
    fn new<E: de::Error>(
        session_id: SessionId,
        kind: Option<i64>,
        code: Option<Code>,
        message: Option<String>,
    ) -> Result<Self, E> {
        Ok(match kind_of(kind, code.is_some())? {
            MessageKind::Request => Self::Request(session_id),
            MessageKind::Response => Self::Response(ResponseHead {
                session_id,
                code: required(code, "code")?,
                message: message.unwrap_or_default(),
            }),
        })
    }
}

/// The kind given by `type`, or when it is absent by the presence of `code` (DECISIONS.md, access).
fn kind_of<E: de::Error>(kind: Option<i64>, has_code: bool) -> Result<MessageKind, E> {
    match kind {
        Some(1) => Ok(MessageKind::Request),
        Some(2) => Ok(MessageKind::Response),
        None if has_code => Ok(MessageKind::Response),
        None => Ok(MessageKind::Request),
        Some(other) => Err(E::custom(format_args!(
            "`type` must be 1 (request) or 2 (response), found {other}"
        ))),
    }
}

fn request(session_id: SessionId, body: RequestBody) -> Message {
    Message::Request(Request { session_id, body })
}

fn required<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

impl TaggedMessage for Message {
    const TAG: &'static str = "mod";

    fn deserialize_body<'de, A: MapAccess<'de>>(tag: &str, body: A) -> Result<Self, A::Error> {
        Ok(match tag {
            "get_device_info" => {
                let mut w = DeviceInfoWire::deserialize(MapAccessDeserializer::new(body))?;
                match w.envelope()? {
                    Envelope::Request(id) => request(id, RequestBody::GetDeviceInfo),
                    Envelope::Response(head) => {
                        head.with(ResponseBody::GetDeviceInfo(DeviceInfoReply {
                            device_info: w.device_info,
                        }))
                    }
                }
            }
            "set_device_info" => {
                let mut w = DeviceInfoWire::deserialize(MapAccessDeserializer::new(body))?;
                match w.envelope()? {
                    Envelope::Request(id) => request(
                        id,
                        RequestBody::SetDeviceInfo(SetDeviceInfo {
                            device_info: required(w.device_info, "device_info")?,
                        }),
                    ),
                    Envelope::Response(head) => head.with(ResponseBody::SetDeviceInfo),
                }
            }
            "download_person" => {
                let mut w = PersonWire::deserialize(MapAccessDeserializer::new(body))?;
                match w.envelope()? {
                    Envelope::Request(id) => request(
                        id,
                        RequestBody::DownloadPerson(DownloadPerson {
                            person_info: required(w.person_info, "person_info")?,
                        }),
                    ),
                    Envelope::Response(head) => head.with(ResponseBody::DownloadPerson),
                }
            }
            "upload_access_info" => {
                let mut w = AccessWire::deserialize(MapAccessDeserializer::new(body))?;
                match w.envelope()? {
                    Envelope::Request(id) => request(
                        id,
                        RequestBody::UploadAccessInfo(UploadAccessInfo {
                            access_info: required(w.access_info, "access_info")?,
                        }),
                    ),
                    Envelope::Response(head) => head.with(ResponseBody::UploadAccessInfo),
                }
            }
            "send_user_command" | "send_device_command" => {
                let mut w = CommandWire::deserialize(MapAccessDeserializer::new(body))?;
                let user = tag == "send_user_command";
                match w.envelope()? {
                    Envelope::Request(id) => {
                        let command = Command {
                            command_type: required(w.command_type, "command_type")?,
                            command_value: required(w.command_value, "command_value")?,
                        };
                        request(
                            id,
                            if user {
                                RequestBody::SendUserCommand(command)
                            } else {
                                RequestBody::SendDeviceCommand(command)
                            },
                        )
                    }
                    Envelope::Response(head) => head.with(if user {
                        ResponseBody::SendUserCommand
                    } else {
                        ResponseBody::SendDeviceCommand
                    }),
                }
            }
            other => unknown(other, body)?,
        })
    }
}

/// An unknown `mod`: the envelope is read from the collected fields, the rest kept raw.
fn unknown<'de, A: MapAccess<'de>>(name: &str, body: A) -> Result<Message, A::Error> {
    let Value::Object(mut fields) = json::collect_unknown(Message::TAG, name, body)? else {
        return Err(de::Error::custom("collected fields are not an object"));
    };
    fields.remove(Message::TAG);
    let session_id = match fields.remove("session_id") {
        Some(Value::String(id)) => SessionId::new(id),
        Some(other) => {
            return Err(de::Error::custom(format_args!(
                "`session_id` must be a string, found {other}"
            )))
        }
        None => return Err(de::Error::missing_field("session_id")),
    };
    let kind = match fields.remove("type") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(other) => {
            return Err(de::Error::custom(format_args!(
                "`type` must be 1 (request) or 2 (response), found {other}"
            )))
        }
    };
    let has_code = !matches!(fields.get("code"), None | Some(Value::Null));
    let is_response = kind_of::<A::Error>(kind, has_code)? == MessageKind::Response;
    let name = name.to_owned();
    if !is_response {
        return Ok(Message::Request(Request {
            session_id,
            body: RequestBody::Unknown(UnknownMessage { name, fields }),
        }));
    }
    let code = match fields.remove("code") {
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().map(Code::from),
        None | Some(Value::Null) => None,
        Some(other) => {
            return Err(de::Error::custom(format_args!(
                "`code` must be an integer, found {other}"
            )))
        }
    };
    let message = match fields.remove("message") {
        Some(Value::String(m)) => m,
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(de::Error::custom(format_args!(
                "`message` must be a string, found {other}"
            )))
        }
    };
    Ok(Message::Response(Response {
        session_id,
        code: required(code, "code")?,
        message,
        body: ResponseBody::Unknown(UnknownMessage { name, fields }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalTimestamp;
    use serde_json::json;

    fn decode(text: &str) -> Result<Message, DecodeError> {
        Message::from_json(text.as_bytes())
    }

    fn round_trip(message: &Message) {
        let json = message.to_json().unwrap();
        assert_eq!(
            &Message::from_json(&json).unwrap(),
            message,
            "{}",
            String::from_utf8_lossy(&json)
        );
    }

    #[test]
    fn type_is_inferred_from_code_when_absent() {
        let request =
            decode(r#"{"mod":"download_person","session_id":"s","person_info":{"person_id":"p"}}"#)
                .unwrap();
        assert_eq!(request.kind(), MessageKind::Request);
        let response = decode(r#"{"mod":"download_person","session_id":"s","code":-2}"#).unwrap();
        assert_eq!(
            response,
            Message::Response(Response {
                session_id: "s".into(),
                code: Code::DeviceFault,
                message: String::new(),
                body: ResponseBody::DownloadPerson,
            })
        );
        // A null `code` is no code.
        let request = decode(r#"{"mod":"get_device_info","session_id":"s","code":null}"#).unwrap();
        assert_eq!(
            request,
            Request::new("s", RequestBody::GetDeviceInfo).into()
        );
        // An explicit `type` wins over `code`: a request's `code` is ignored.
        let request =
            decode(r#"{"mod":"get_device_info","session_id":"s","type":1,"code":0}"#).unwrap();
        assert_eq!(request.kind(), MessageKind::Request);
        // Same rules for unknown mods.
        let unknown =
            decode(r#"{"mod":"reboot","session_id":"s","code":3,"message":"busy","x":1}"#).unwrap();
        assert_eq!(
            unknown,
            Message::Response(Response {
                session_id: "s".into(),
                code: Code::Other(3),
                message: "busy".into(),
                body: ResponseBody::Unknown(UnknownMessage {
                    name: "reboot".into(),
                    fields: json!({"x": 1}).as_object().unwrap().clone(),
                }),
            })
        );
        let unknown = decode(r#"{"session_id":"s","mod":"reboot","delay":5}"#).unwrap();
        assert_eq!(unknown.kind(), MessageKind::Request);
        assert!(!unknown.is_known());
        assert_eq!(unknown.name(), "reboot");
    }

    #[test]
    fn envelope_errors_name_the_field() {
        for (text, expected) in [
            (
                r#"{"mod":"get_device_info","session_id":"s","type":3}"#,
                "invalid `get_device_info` message: `type` must be 1 (request) or 2 (response), found 3",
            ),
            (
                r#"{"mod":"reboot","session_id":"s","type":0}"#,
                "invalid `reboot` message: `type` must be 1 (request) or 2 (response), found 0",
            ),
            (
                r#"{"mod":"reboot","session_id":"s","type":"1"}"#,
                r#"invalid `reboot` message: `type` must be 1 (request) or 2 (response), found "1""#,
            ),
            (r#"{"mod":"set_device_info","session_id":"s","type":2}"#, "missing field `code`"),
            (r#"{"mod":"reboot","session_id":"s","type":2}"#, "missing field `code`"),
            (r#"{"mod":"reboot","type":1}"#, "missing field `session_id`"),
            (r#"{"mod":"reboot","session_id":1}"#, "`session_id` must be a string, found 1"),
            (r#"{"mod":"reboot","session_id":"s","code":"0"}"#, r#"`code` must be an integer, found "0""#),
            (r#"{"mod":"reboot","session_id":"s","code":0,"message":5}"#, "`message` must be a string, found 5"),
            (r#"{"mod":"set_device_info","session_id":"s","type":1}"#, "missing field `device_info`"),
            (r#"{"mod":"download_person","session_id":"s"}"#, "missing field `person_info`"),
            (r#"{"mod":"upload_access_info","session_id":"s"}"#, "missing field `access_info`"),
            (r#"{"mod":"send_user_command","session_id":"s","command_value":"x"}"#, "missing field `command_type`"),
            (r#"{"mod":"send_device_command","session_id":"s","command_type":1}"#, "missing field `command_value`"),
            (r#"{"session_id":"s"}"#, "invalid `?` message: missing field `mod`"),
            (r#"{"mod":5,"session_id":"s"}"#, "invalid `5` message:"),
            (r#"[1]"#, "invalid `?` message:"),
        ] {
            let err = decode(text).unwrap_err();
            assert!(!err.is_fatal());
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn body_errors_carry_the_path_of_the_field() {
        for (text, path, expected) in [
            (
                r#"{"mod":"download_person","session_id":"s","type":1,"person_info":{"person_id":"p","face":{"width":1,"height":1,"format":2,"length":123221,"data":"QkFTRTY0IGZhY2UgZGF0YQ=="}}}"#,
                "person_info.face",
                "`length` is 123221 but `data` decodes to 16 bytes",
            ),
            (
                r#"{"mod":"download_person","session_id":"s","type":1,"person_info":{"person_id":"p","right_code":{"length":16,"data":"BASE64 code data"}}}"#,
                "person_info.right_code.data",
                "not standard base64",
            ),
            (
                r#"{"mod":"upload_access_info","session_id":"s","type":1,"access_info":{"time":"2019-08-23 12:34:35"}}"#,
                "access_info.time",
                "`2019-08-23 12:34:35` is not a yyyyMMddHHmmss local time: expected 14 digits",
            ),
            (
                r#"{"mod":"get_device_info","session_id":"s","type":2,"code":0,"device_info":{"device_port":70000}}"#,
                "device_info.device_port",
                "invalid value: integer `70000`, expected u16",
            ),
        ] {
            let err = decode(text).unwrap_err();
            let DecodeError::Json { name, source } = &err else {
                panic!("{err:?}")
            };
            assert_eq!(source.path(), path, "{err}");
            assert!(err.to_string().contains(expected), "{err}");
            assert_eq!(name, &json::peek_tag(text.as_bytes(), "mod").unwrap());
        }
    }

    #[test]
    fn unknown_extra_fields_and_trailing_commas_are_accepted() {
        let m = decode(r#"{"mod":"send_user_command","session_id":"s","type":1,"command_type":2,"command_value":"x","extra":[1,],}"#)
            .unwrap();
        assert_eq!(
            m,
            Request::new(
                "s",
                RequestBody::SendUserCommand(Command {
                    command_type: CommandType(2),
                    command_value: "x".into()
                })
            )
            .into()
        );
        // The tag need not come first.
        let m =
            decode(r#"{"session_id":"s","type":2,"code":0,"mod":"send_device_command"}"#).unwrap();
        assert_eq!(m.name(), "send_device_command");
        assert_eq!(m.kind(), MessageKind::Response);
    }

    #[test]
    fn unknown_messages_round_trip_and_refuse_envelope_fields() {
        let request = decode(r#"{"mod":"open_door","session_id":"s","type":1,"door":2,"code":"abc","nested":{"a":[true,null]}}"#)
            .unwrap();
        let Message::Request(Request {
            body: RequestBody::Unknown(u),
            ..
        }) = &request
        else {
            panic!("{request:?}")
        };
        // In a request `code` is not part of the envelope: it stays with the fields.
        assert_eq!(
            Value::Object(u.fields.clone()),
            json!({"door":2,"code":"abc","nested":{"a":[true,null]}})
        );
        round_trip(&request);

        let mut fields = Map::new();
        fields.insert("code".into(), json!(1));
        let response: Message = Response {
            session_id: "s".into(),
            code: Code::Success,
            message: String::new(),
            body: ResponseBody::Unknown(UnknownMessage {
                name: "open_door".into(),
                fields: fields.clone(),
            }),
        }
        .into();
        let err = response.to_json().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown message `open_door` carries the envelope field `code` among its fields"
        );
        assert!(response.to_text().is_err());
        let mut out = BytesMutSink::default();
        assert!(
            serde_json::to_writer(&mut out, &response).is_err(),
            "plain serde refuses it too"
        );
        fields.insert("session_id".into(), json!("t"));
        let request: Message = Request::new(
            "s",
            RequestBody::Unknown(UnknownMessage {
                name: "x".into(),
                fields,
            }),
        )
        .into();
        assert!(
            matches!(request.to_json(), Err(EncodeError::EnvelopeField { field, .. }) if field == "session_id")
        );
    }

    #[derive(Default)]
    struct BytesMutSink(Vec<u8>);

    impl Write for BytesMutSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn encoding_follows_the_spec_layout() {
        let get = Request::new("s", RequestBody::GetDeviceInfo);
        let mut reply = get.reply(Code::Success, "");
        reply.body = ResponseBody::GetDeviceInfo(DeviceInfoReply {
            device_info: Some(DeviceInfo {
                uuid: Some("31231412332".into()),
                device_port: Some(1545),
                address: Some("公司门口".into()),
                ..DeviceInfo::default()
            }),
        });
        let reply = Message::from(reply);
        assert_eq!(
            String::from_utf8(reply.to_json().unwrap()).unwrap(),
            r#"{"mod":"get_device_info","session_id":"s","type":2,"code":0,"message":"","device_info":{"uuid":"31231412332","device_port":1545,"address":"公司门口"}}"#
        );
        round_trip(&reply);
        let failed: Message = get.reply(Code::GeneralError, "busy").into();
        assert_eq!(
            String::from_utf8(failed.to_json().unwrap()).unwrap(),
            r#"{"mod":"get_device_info","session_id":"s","type":2,"code":-1,"message":"busy"}"#
        );
        round_trip(&failed);
    }

    #[test]
    fn replies_pair_with_their_requests() {
        let requests = [
            RequestBody::GetDeviceInfo,
            RequestBody::SetDeviceInfo(SetDeviceInfo::default()),
            RequestBody::DownloadPerson(DownloadPerson::default()),
            RequestBody::UploadAccessInfo(UploadAccessInfo {
                access_info: AccessInfo::at(
                    LocalTimestamp::from_ymd_hms(2019, 8, 23, 12, 34, 35).unwrap(),
                ),
            }),
            RequestBody::SendUserCommand(Command {
                command_type: CommandType(2),
                command_value: "test!".into(),
            }),
            RequestBody::SendDeviceCommand(Command {
                command_type: CommandType(2),
                command_value: "test!".into(),
            }),
            RequestBody::Unknown(UnknownMessage {
                name: "reboot".into(),
                fields: Map::new(),
            }),
        ];
        let names: Vec<&str> = Mod::KNOWN
            .iter()
            .map(Mod::as_str)
            .chain(["reboot"])
            .collect();
        for (body, name) in requests.into_iter().zip(names) {
            let request = Request::new(SessionId::from_random_bytes([1; 16]), body);
            let reply = request.reply(Code::DatabaseError, "db");
            assert!(reply.answers(&request));
            assert_eq!(reply.pair_key(), request.pair_key());
            assert_eq!(reply.pair_key().module, Mod::from_name(name));
            assert_eq!(
                Message::from(reply.clone()).pair_key(),
                Message::from(request.clone()).pair_key()
            );
            assert_eq!(reply.body.name(), name);
            let other = Request::new("another", request.body.clone());
            assert!(!reply.answers(&other));
            round_trip(&request.clone().into());
            round_trip(&reply.into());
        }
        let a = Request::new("s", RequestBody::GetDeviceInfo).reply(Code::Success, "");
        assert!(!a.answers(&Request::new(
            "s",
            RequestBody::SetDeviceInfo(SetDeviceInfo::default())
        )));
    }

    #[test]
    fn websocket_text_helpers_apply_the_limit() {
        let m: Message = Request::new("s", RequestBody::GetDeviceInfo).into();
        let text = m.to_text().unwrap();
        assert_eq!(
            text,
            r#"{"mod":"get_device_info","session_id":"s","type":1}"#
        );
        assert_eq!(Message::from_text(&text).unwrap(), m);
        assert_eq!(Message::from_text(&format!(" {text}\n")).unwrap(), m);
        let small = CodecConfig::default().max_message_len(text.len() - 1);
        let err = Message::from_text_with(&text, &small).unwrap_err();
        assert!(
            matches!(err, DecodeError::MessageTooLarge { len, .. } if len == text.len()),
            "{err:?}"
        );
        let err = m.to_text_with(&small).unwrap_err();
        assert!(
            matches!(err, EncodeError::MessageTooLarge { len, .. } if len == text.len()),
            "{err:?}"
        );
        assert!(Message::from_text("{").is_err());
    }
}
