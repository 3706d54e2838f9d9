//! Decode and encode errors.
//!
//! A station-reported failure (an [`ErrorInfo`](crate::ErrorInfo) with a non-zero code) is data inside a
//! message, never one of these errors.

use proto_common::json::JsonError;

/// Why a text frame could not be decoded into a message.
///
/// Every variant concerns one message only: the WebSocket frame around it is already delimited, so the
/// connection can go on with the next frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is longer than the configured maximum; it was not parsed.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Message length in bytes.
        len: usize,
        /// Configured maximum ([`CodecConfig::max_message_len`](crate::CodecConfig::max_message_len)).
        max: usize,
    },
    /// The message is not UTF-8 text.
    #[error("message is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The message is not a JSON object of the named topic.
    #[error("invalid `{topic}` message: {source}")]
    Json {
        /// The `topic` of the message, or `?` when it has none.
        topic: String,
        /// What was wrong, with the path of the failing field (`data.list[0].sex`).
        #[source]
        source: JsonError,
    },
    /// A `.server.json` station configuration did not parse.
    #[error("invalid .server.json: {source}")]
    ServerConfig {
        /// What was wrong, with the key path (`localFile.deleteLife`).
        #[source]
        source: JsonError,
    },
}

/// A line of a line-delimited stream ([`Codec::lines`](crate::Codec::lines)) longer than the maximum message
/// length is a message over the limit.
impl From<proto_common::codec::LineTooLong> for DecodeError {
    fn from(e: proto_common::codec::LineTooLong) -> Self {
        Self::MessageTooLarge {
            len: e.len,
            max: e.max,
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message would be longer than the configured maximum.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Encoded length in bytes.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// An unknown message's raw JSON is not an object whose string `topic` equals [`UnknownMessage::topic`].
    ///
    /// [`UnknownMessage::topic`]: crate::UnknownMessage::topic
    #[error("raw message is not a JSON object with the string `topic` `{topic}`")]
    NotAMessage {
        /// The topic the unknown message claims.
        topic: String,
    },
    /// An unknown message carries a topic this crate knows for that direction: it would not decode back as
    /// the same value, so build the typed variant instead.
    #[error("topic `{topic}` is known: use its typed variant instead of an unknown message")]
    KnownTopic {
        /// The topic.
        topic: String,
    },
    /// The message could not be serialized (a value `serde_json` refuses).
    #[error("cannot serialize `{topic}`: {source}")]
    Json {
        /// The `topic` of the message.
        topic: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}
