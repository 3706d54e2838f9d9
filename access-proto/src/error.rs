//! Decode and encode errors.
//!
//! A device-reported failure (a [`Code`](crate::Code) other than 0 in a response) is data, not an error.

use proto_common::json::JsonError;

/// Bytes that could not be split into messages, or a message that did not decode.
///
/// [`DecodeError::is_fatal`] tells framing errors from the others: after a framing error the stream is out of
/// sync and the connection must be closed; after any other error only that message is lost (its bytes were
/// consumed) and decoding can go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A byte between two JSON objects that is neither whitespace nor `{`.
    #[error(
        "unexpected byte {byte:#04x} ({shown}) at stream offset {offset}: expected whitespace or `{{` between messages",
        shown = show_byte(*byte)
    )]
    Garbage {
        /// The offending byte.
        byte: u8,
        /// Its offset from the start of the stream.
        offset: u64,
    },
    /// A message longer than the configured maximum; reported as soon as the limit is passed.
    #[error("message longer than the maximum of {max} bytes ({len} bytes buffered)")]
    MessageTooLarge {
        /// Bytes buffered from the start of the message (at least `max + 1`).
        len: usize,
        /// The configured maximum, [`CodecConfig::max_message_len`](crate::CodecConfig::max_message_len).
        max: usize,
    },
    /// The stream ended inside a JSON object.
    #[error("stream ended inside a message ({len} bytes of an unfinished JSON object)")]
    Truncated {
        /// Bytes of the unfinished object.
        len: usize,
    },
    /// A delimited message whose JSON did not parse into the message its `mod` names.
    #[error("invalid `{name}` message: {source}")]
    Json {
        /// The message's `mod`, or `?` when the JSON does not show one.
        name: String,
        /// What failed, with the JSON path of the field (`person_info.face`).
        #[source]
        source: JsonError,
    },
}

impl DecodeError {
    /// Whether the error concerns the framing itself, after which the byte stream cannot be trusted.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Garbage { .. } | Self::MessageTooLarge { .. } | Self::Truncated { .. }
        )
    }
}

/// A message that cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message is longer than the configured maximum (the peer would refuse it).
    #[error("encoded message is {len} bytes, more than the maximum of {max} bytes")]
    MessageTooLarge {
        /// Length of the encoded JSON object.
        len: usize,
        /// The configured maximum, [`CodecConfig::max_message_len`](crate::CodecConfig::max_message_len).
        max: usize,
    },
    /// The extra fields of an [`UnknownMessage`](crate::UnknownMessage) message repeat an envelope field.
    #[error("unknown message `{name}` carries the envelope field `{field}` among its fields")]
    EnvelopeField {
        /// The message's `mod`.
        name: String,
        /// The envelope field (`mod`, `session_id`, `type`, and for responses `code` and `message`).
        field: String,
    },
    /// The message could not be serialized (a value `serde_json` refuses).
    #[error("cannot serialize `{name}`: {source}")]
    Json {
        /// The `mod` of the message.
        name: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}

fn show_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("`{}`", char::from(byte))
    } else {
        "not printable".to_owned()
    }
}
