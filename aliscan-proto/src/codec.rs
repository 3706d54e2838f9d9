//! Text frames <-> typed messages, with the size limit of [`CodecConfig`].
//!
//! ```text
//!  one WebSocket text frame at ws://HOST:PORT/aliscan = one UTF-8 JSON object
//!  {"topic": "<family>/<object>/<verb>", "padId": "<pad>", ["scanId" | "source": ...,] "data": <payload>}
//! ```
//!
//! The WebSocket layer delimits messages, so there is no framing of its own here: [`Codec`] is a message codec
//! of the [`proto_common::codec`] contract. [`Decoder::decode`] takes one frame's payload as its whole buffer,
//! checks its length against the limit before parsing, and returns one message (or an error, never `Ok(None)`).
//! [`Codec::lines`] carries the same messages over a byte stream, one per line.

use std::marker::PhantomData;

use bytes::BytesMut;
use proto_common::codec::{Decoder, Encoder, Lines};

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::{PadMessage, StationMessage, WireMessage};

/// A typed codec: decodes `In` messages and encodes `Out` messages.
///
/// Use [`StationCodec`] in the station program and [`PadCodec`] on the pad. For a tokio-util `Framed` stream
/// of newline-delimited messages, wrap [`Codec::lines`] in `proto_common::tokio_codec::TokioCodec` (feature
/// `tokio-util`).
///
/// ```
/// use aliscan_proto::{Decoder, Encoder, Envelope, PadCodec, PadMessage, ScanNew, Sex, StationCodec};
/// use bytes::BytesMut;
///
/// let scan = PadMessage::ScanNew(Envelope::new("pad-1", ScanNew { sex: Sex::Male, request_id: "r-9".into() }));
/// let text = PadCodec::default().encode_text(&scan).unwrap();
/// assert_eq!(text, r#"{"topic":"equipment/scan/new","padId":"pad-1","data":{"sex":1,"requestId":"r-9"}}"#);
/// assert_eq!(StationCodec::default().decode_text(text.as_bytes()).unwrap(), scan);
///
/// // The same through the codec contract: the whole buffer is one frame.
/// let mut frame = BytesMut::new();
/// PadCodec::default().encode(&scan, &mut frame).unwrap();
/// assert_eq!(&frame[..], text.as_bytes());
/// assert_eq!(StationCodec::default().decode(&mut frame).unwrap(), Some(scan));
/// assert!(frame.is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Codec<In, Out> {
    config: CodecConfig,
    _messages: PhantomData<fn(Out) -> In>,
}

/// The station side: decodes [`PadMessage`], encodes [`StationMessage`].
pub type StationCodec = Codec<PadMessage, StationMessage>;

/// The pad side: decodes [`StationMessage`], encodes [`PadMessage`].
pub type PadCodec = Codec<StationMessage, PadMessage>;

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
}

impl<In: WireMessage, Out: WireMessage> Codec<In, Out> {
    /// Decodes one message from one text frame's payload, without copying it into a buffer: what
    /// [`Decoder::decode`] does with a buffer holding `text`.
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`] before any parsing, or an error naming the topic and field.
    pub fn decode_text(&self, text: &[u8]) -> Result<In, DecodeError> {
        check_len(&self.config, text.len())?;
        In::from_json(text)
    }

    /// Encodes one message as the payload of a text frame: what [`Encoder::encode`] appends to its buffer.
    ///
    /// # Errors
    /// [`EncodeError::MessageTooLarge`] (never truncates), or an unknown message that is not a valid one.
    pub fn encode_text(&self, msg: &Out) -> Result<String, EncodeError> {
        let text = msg.to_json()?;
        if text.len() > self.config.max_message_len {
            return Err(EncodeError::MessageTooLarge {
                len: text.len(),
                max: self.config.max_message_len,
            });
        }
        Ok(text)
    }

    /// This codec over a byte stream carrying one message per line (captures, line bridges), lines limited
    /// to [`CodecConfig::max_message_len`]; see [`Lines`].
    #[must_use]
    pub fn lines(self) -> Lines<Self> {
        let max = self.config.max_message_len;
        Lines::new(self, max)
    }
}

/// One message per buffer: the whole of `src` is one text frame's payload, consumed whether it decodes or not.
impl<In: WireMessage, Out: WireMessage> Decoder for Codec<In, Out> {
    type Item = In;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, DecodeError> {
        let message = self.decode_text(src);
        src.clear();
        message.map(Some)
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<&Out> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, msg: &Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let text = self.encode_text(msg)?;
        dst.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl<In: WireMessage, Out: WireMessage> Encoder<Out> for Codec<In, Out> {
    type Error = EncodeError;

    fn encode(&mut self, msg: Out, dst: &mut BytesMut) -> Result<(), EncodeError> {
        Encoder::<&Out>::encode(self, &msg, dst)
    }
}

/// Checks a message length against the configured maximum.
fn check_len(config: &CodecConfig, len: usize) -> Result<(), DecodeError> {
    if len > config.max_message_len {
        return Err(DecodeError::MessageTooLarge {
            len,
            max: config.max_message_len,
        });
    }
    Ok(())
}
