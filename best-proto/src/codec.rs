//! Messages <-> bytes. A BEST message is one JSON object: one WebSocket text frame (best-w), one MQTT publish
//! (best-m) or one line of a log.
//!
//! [`Codec`] is a message codec of the [`proto_common::codec`] contract: [`Decoder::decode`] takes one frame's
//! payload as its whole buffer and returns one message or an error, never `Ok(None)`. [`Codec::lines`] carries
//! the same messages over a byte stream, one per line (logs, pipes, test harnesses).
//!
//! Decoding checks the length limit first, parses under the strict-then-lenient rule (one retry with trailing
//! commas removed), then checks `mid`. Errors name the `funcId` and the JSON path of the failing field.

mod package;

use std::marker::PhantomData;

use bytes::BytesMut;
use proto_common::codec::{Decoder, Encoder, Lines};

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::{Body, DeviceMessage, Direction, Envelope, Message, PlatformMessage};

/// A typed codec: decodes envelopes of `In` messages and encodes envelopes of `Out` messages.
///
/// Use [`PlatformCodec`] on the platform and [`DeviceCodec`] on the device; `Codec` with the default
/// parameters reads and writes messages of either direction (tools, captures). For a tokio-util `Framed`
/// stream of newline-delimited messages, wrap [`Codec::lines`] in `proto_common::tokio_codec::TokioCodec`
/// (feature `tokio-util`).
///
/// ```
/// use best_proto::{CodecConfig, Decoder, DeviceMessage, Envelope, PlatformCodec};
/// use bytes::BytesMut;
///
/// let wire = br#"{"funcId":"dev.heartbeat","mid":"7","payload":{"params":{"isFree":0}}}"#;
/// let codec = PlatformCodec::new(CodecConfig::default());
/// let hb: Envelope<DeviceMessage> = codec.decode_text(wire).unwrap();
/// let DeviceMessage::Heartbeat(params) = &hb.message else { unreachable!() };
/// assert_eq!(params.is_free, Some(false));
///
/// // The same through the codec contract: the whole buffer is one frame.
/// let mut frame = BytesMut::from(&wire[..]);
/// assert_eq!(PlatformCodec::default().decode(&mut frame).unwrap(), Some(hb));
/// assert!(frame.is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Codec<In = Message, Out = Message> {
    config: CodecConfig,
    _messages: PhantomData<fn(Out) -> In>,
}

/// The platform side: decodes [`DeviceMessage`]s, encodes [`PlatformMessage`]s.
pub type PlatformCodec = Codec<DeviceMessage, PlatformMessage>;

/// The device side: decodes [`PlatformMessage`]s, encodes [`DeviceMessage`]s.
pub type DeviceCodec = Codec<PlatformMessage, DeviceMessage>;

impl<In, Out> Default for Codec<In, Out> {
    fn default() -> Self {
        Self::new(CodecConfig::default())
    }
}

impl<In, Out> Codec<In, Out> {
    /// A codec with the given limits.
    #[must_use]
    pub fn new(config: CodecConfig) -> Self {
        Self {
            config,
            _messages: PhantomData,
        }
    }

    /// The codec's limits.
    #[must_use]
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// This codec over a byte stream carrying one message per line, lines limited to
    /// [`CodecConfig::max_message_len`]; see [`Lines`]. An overlong line is a fatal
    /// [`DecodeError::LineTooLong`].
    #[must_use]
    pub fn lines(self) -> Lines<Self> {
        let max = self.config.max_message_len;
        Lines::new(self, max)
    }
}

impl<In: Body, Out: Body> Codec<In, Out> {
    /// Decodes one message from one frame's payload, without copying it into a buffer: what
    /// [`Decoder::decode`] does with a buffer holding `input`.
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`], [`DecodeError::Json`] (naming the `funcId` and the field),
    /// [`DecodeError::WrongDirection`] or [`DecodeError::MidTooLong`].
    pub fn decode_text(&self, input: &[u8]) -> Result<Envelope<In>, DecodeError> {
        decode(input, &self.config)
    }

    /// Encodes one message as strict JSON: what [`Encoder::encode`] appends to its buffer.
    ///
    /// # Errors
    /// [`EncodeError::MidTooLong`], [`EncodeError::MessageTooLarge`], or [`EncodeError::Json`] when a value
    /// cannot be serialized.
    pub fn encode_text(&self, envelope: &Envelope<Out>) -> Result<Vec<u8>, EncodeError> {
        encode(envelope, &self.config)
    }
}

/// One message per buffer: the whole of `src` is one frame's payload, consumed whether it decodes or not.
impl<In: Body, Out: Body> Decoder for Codec<In, Out> {
    type Item = Envelope<In>;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope<In>>, DecodeError> {
        let envelope = self.decode_text(src);
        src.clear();
        envelope.map(Some)
    }
}

impl<In: Body, Out: Body> Encoder<&Envelope<Out>> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, envelope: &Envelope<Out>, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let json = self.encode_text(envelope)?;
        dst.extend_from_slice(&json);
        Ok(())
    }
}

impl<In: Body, Out: Body> Encoder<Envelope<Out>> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, envelope: Envelope<Out>, dst: &mut BytesMut) -> Result<(), EncodeError> {
        Encoder::<&Envelope<Out>>::encode(self, &envelope, dst)
    }
}

/// Decodes one message of the direction `M` accepts ([`Message`] for either).
fn decode<M: Body>(input: &[u8], config: &CodecConfig) -> Result<Envelope<M>, DecodeError> {
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
fn encode<M: Body>(envelope: &Envelope<M>, config: &CodecConfig) -> Result<Vec<u8>, EncodeError> {
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
    /// [`Codec::decode_text`] with the default [`CodecConfig`].
    ///
    /// # Errors
    /// As [`Codec::decode_text`].
    pub fn from_json(input: &[u8]) -> Result<Self, DecodeError> {
        decode(input, &CodecConfig::default())
    }

    /// [`Codec::encode_text`] with the default [`CodecConfig`].
    ///
    /// # Errors
    /// As [`Codec::encode_text`].
    pub fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self, &CodecConfig::default())
    }
}
