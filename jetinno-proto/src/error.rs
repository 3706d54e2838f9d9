//! Decode and encode errors.

use proto_common::json::JsonError;

/// Why bytes could not be decoded into a frame or a message.
///
/// Framing errors ([`DecodeError::is_fatal`]) leave the stream at an unknown position: the connection must be
/// closed. Errors in a frame's body are reported after the whole frame was consumed, so decoding can go on with
/// the next frame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The 4-byte length head is not a zero- or space-padded decimal number.
    #[error("bad length head {found:?} (expected 4 ASCII digits, zero- or space-padded)", found = String::from_utf8_lossy(.found))]
    BadLengthHead {
        /// The four bytes seen.
        found: [u8; 4],
    },
    /// The length head announces fewer bytes than the 12-byte head itself.
    #[error("packet length {len} is shorter than the {min}-byte head")]
    PacketTooShort {
        /// Announced packet length.
        len: usize,
        /// The head length.
        min: usize,
    },
    /// The length head announces more bytes than the configured maximum.
    #[error("packet length {len} exceeds the maximum of {max} bytes")]
    PacketTooLarge {
        /// Announced packet length.
        len: usize,
        /// Configured maximum packet length.
        max: usize,
    },
    /// The body is not valid UTF-8.
    #[error("body is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte within the body.
        offset: usize,
    },
    /// The body is not a JSON object of the named message.
    #[error("invalid `{name}` message: {source}")]
    Json {
        /// The `cmd` of the message, or `?` when the body has none.
        name: String,
        /// What was wrong, with the path of the failing field.
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
            Self::BadLengthHead { .. } | Self::PacketTooShort { .. } | Self::PacketTooLarge { .. }
        )
    }
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The JSON body would make the packet longer than the length head or the configured maximum allows.
    #[error("body of {len} bytes exceeds the maximum of {max} bytes")]
    BodyTooLarge {
        /// Body length in bytes.
        len: usize,
        /// Largest body that fits the configured maximum packet length.
        max: usize,
    },
    /// An unknown message's raw JSON is not an object with a string `cmd`.
    #[error("raw message is not a JSON object with a string `cmd`")]
    NotAMessage,
    /// The message could not be serialized (a value `serde_json` refuses).
    #[error("cannot serialize `{name}`: {source}")]
    Json {
        /// The `cmd` of the message.
        name: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}
