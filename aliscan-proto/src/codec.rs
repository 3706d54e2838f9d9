//! Text frames <-> typed messages, with the size limit of [`CodecConfig`].
//!
//! ```text
//!  one WebSocket text frame at ws://HOST:PORT/aliscan = one UTF-8 JSON object
//!  {"topic": "<family>/<object>/<verb>", "padId": "<pad>", ["scanId" | "source": ...,] "data": <payload>}
//! ```
//!
//! The WebSocket layer delimits messages, so there is no framing of its own here: [`Codec::decode`] takes one
//! frame's payload, checks its length against the limit before parsing, and returns one message.

use std::marker::PhantomData;

use crate::config::CodecConfig;
use crate::error::{DecodeError, EncodeError};
use crate::message::{PadMessage, StationMessage, WireMessage};

/// A typed codec: decodes `In` messages and encodes `Out` messages.
///
/// Use [`StationCodec`] in the station program and [`PadCodec`] on the pad. With the `tokio-util` feature it
/// is also a `tokio_util::codec::{Decoder, Encoder}` for newline-delimited streams of messages.
///
/// ```
/// use aliscan_proto::{Envelope, PadCodec, PadMessage, ScanNew, Sex, StationCodec};
///
/// let scan = PadMessage::ScanNew(Envelope::new("pad-1", ScanNew { sex: Sex::Male, request_id: "r-9".into() }));
/// let text = PadCodec::default().encode(&scan).unwrap();
/// assert_eq!(text, r#"{"topic":"equipment/scan/new","padId":"pad-1","data":{"sex":1,"requestId":"r-9"}}"#);
/// assert_eq!(StationCodec::default().decode(text.as_bytes()).unwrap(), scan);
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
    /// Decodes one message (one text frame's payload).
    ///
    /// # Errors
    /// [`DecodeError::MessageTooLarge`] before any parsing, or an error naming the topic and field.
    pub fn decode(&self, text: &[u8]) -> Result<In, DecodeError> {
        check_len(&self.config, text.len())?;
        In::from_json(text)
    }

    /// Encodes one message as the payload of a text frame.
    ///
    /// # Errors
    /// [`EncodeError::MessageTooLarge`] (never truncates), or an unknown message that is not a valid one.
    pub fn encode(&self, msg: &Out) -> Result<String, EncodeError> {
        let text = msg.to_json()?;
        if text.len() > self.config.max_message_len {
            return Err(EncodeError::MessageTooLarge {
                len: text.len(),
                max: self.config.max_message_len,
            });
        }
        Ok(text)
    }
}

/// Checks a message length against the configured maximum.
pub(crate) fn check_len(config: &CodecConfig, len: usize) -> Result<(), DecodeError> {
    if len > config.max_message_len {
        return Err(DecodeError::MessageTooLarge {
            len,
            max: config.max_message_len,
        });
    }
    Ok(())
}
