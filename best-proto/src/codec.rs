//! Messages <-> bytes. A BEST message is one JSON object: one WebSocket text frame (best-w), one MQTT publish
//! (best-m) or one line of a log.
//!
//! Decoding checks the length limit first, parses under the strict-then-lenient rule (one retry with trailing
//! commas removed), then checks `mid`. Errors name the `funcId` and the JSON path of the failing field.

mod package;

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Body, Direction, Envelope, Message};

/// Decodes one message of the direction `M` accepts ([`Message`] for either).
///
/// ```
/// use best_proto::{codec, CodecConfig, DeviceMessage, Envelope};
/// let wire = br#"{"funcId":"dev.heartbeat","mid":"7","payload":{"params":{"isFree":0}}}"#;
/// let hb: Envelope<DeviceMessage> = codec::decode(wire, &CodecConfig::default()).unwrap();
/// let DeviceMessage::Heartbeat(params) = hb.message else { unreachable!() };
/// assert_eq!(params.is_free, Some(false));
/// ```
///
/// # Errors
/// [`DecodeError::MessageTooLarge`], [`DecodeError::Json`] (naming the `funcId` and the field),
/// [`DecodeError::WrongDirection`] or [`DecodeError::MidTooLong`].
pub fn decode<M: Body>(input: &[u8], config: &CodecConfig) -> Result<Envelope<M>, DecodeError> {
    if input.len() > config.max_message_len {
        return Err(DecodeError::MessageTooLarge {
            len: input.len(),
            max: config.max_message_len,
        });
    }
    // Upload chunks take a fast path that yields the same message; anything it is unsure of comes here.
    let envelope: Envelope<Message> = match package::decode(input) {
        Some(envelope) => envelope,
        None => {
            proto_common::json::from_slice_lenient(input).map_err(|source| DecodeError::Json {
                name: error_name(input),
                source,
            })?
        }
    };
    let mid_len = envelope.mid.chars().count();
    if mid_len > config.max_mid_len {
        return Err(DecodeError::MidTooLong {
            name: envelope.message.name().to_owned(),
            len: mid_len,
            max: config.max_mid_len,
        });
    }
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
        Err(other) => Err(DecodeError::WrongDirection {
            name: other.name().to_owned(),
            expected: M::DIRECTION.map_or("", Direction::as_str),
        }),
    }
}

/// The `funcId` to name in an error: read leniently from the raw JSON (error path only).
fn error_name(input: &[u8]) -> String {
    let value: Option<serde_json::Value> = proto_common::json::from_slice_lenient(input).ok();
    match value.as_ref().and_then(serde_json::Value::as_object) {
        Some(o) => match o.get("funcId") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None if o.contains_key("code") => "cmd.dev.response".into(),
            None => "?".into(),
        },
        None => "?".into(),
    }
}

/// Encodes one message as strict JSON.
///
/// # Errors
/// [`EncodeError::MidTooLong`], [`EncodeError::MessageTooLarge`], or [`EncodeError::Json`] when a value cannot
/// be serialized.
pub fn encode<M: Body>(
    envelope: &Envelope<M>,
    config: &CodecConfig,
) -> Result<Vec<u8>, EncodeError> {
    let name = envelope.message.name();
    let mid_len = envelope.mid.chars().count();
    if mid_len > config.max_mid_len {
        return Err(EncodeError::MidTooLong {
            name: name.to_owned(),
            len: mid_len,
            max: config.max_mid_len,
        });
    }
    let out = serde_json::to_vec(envelope).map_err(|source| EncodeError::Json {
        name: name.to_owned(),
        source,
    })?;
    if out.len() > config.max_message_len {
        return Err(EncodeError::MessageTooLarge {
            name: name.to_owned(),
            len: out.len(),
            max: config.max_message_len,
        });
    }
    Ok(out)
}

impl<M: Body> Envelope<M> {
    /// [`decode`] with the default [`CodecConfig`].
    ///
    /// # Errors
    /// As [`decode`].
    pub fn from_json(input: &[u8]) -> Result<Self, DecodeError> {
        decode(input, &CodecConfig::default())
    }

    /// [`encode`] with the default [`CodecConfig`].
    ///
    /// # Errors
    /// As [`encode`].
    pub fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self, &CodecConfig::default())
    }
}
