//! Decode and encode errors.
//!
//! A platform's error reply (a non-success [`Code`](crate::Code)) is data, not an error: it decodes to a
//! [`Response`](crate::Response) like any other reply.

use proto_common::json::JsonError;

/// Why bytes could not be decoded into a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is longer than the configured maximum.
    #[error("message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Length of the message in bytes.
        len: usize,
        /// Configured maximum ([`CodecConfig::max_message_len`](crate::CodecConfig::max_message_len)).
        max: usize,
    },
    /// The message is not a JSON object of the named `funcId`, or one of its fields is wrong.
    #[error("invalid `{name}` message: {source}")]
    Json {
        /// The `funcId`, `cmd.dev.response` for a reply without one, or `?` when it cannot be read.
        name: String,
        /// What was wrong, with the JSON path of the failing field (`payload.params.users[0].startTime`).
        #[source]
        source: JsonError,
    },
    /// `mid` is longer than allowed (the spec: at most 32 characters).
    #[error("`{name}` message: `mid` of {len} characters exceeds the maximum of {max}")]
    MidTooLong {
        /// The `funcId`.
        name: String,
        /// Length of `mid` in characters.
        len: usize,
        /// Configured maximum ([`CodecConfig::max_mid_len`](crate::CodecConfig::max_mid_len)).
        max: usize,
    },
    /// A message of the other direction was given to a one-direction decoder.
    #[error("`{name}` is not a {expected} message")]
    WrongDirection {
        /// The `funcId`.
        name: String,
        /// The direction the caller asked for: `device -> platform` or `platform -> device`.
        expected: &'static str,
    },
    /// A line of a newline-delimited stream ([`Codec::lines`](crate::Codec::lines)) is longer than the
    /// configured maximum.
    #[error("line of at least {len} bytes exceeds the maximum of {max} bytes")]
    LineTooLong {
        /// Bytes buffered without finding the end of the line.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A broker lookup query lacks a parameter.
    #[error("broker lookup query has no `{name}` parameter")]
    MissingQueryParam {
        /// The parameter name (`sn`, `type`, `nonce`, `timestamp`, `sign`).
        name: &'static str,
    },
    /// A broker lookup query parameter has a bad value.
    #[error("broker lookup query parameter `{name}` is invalid: {value:?}")]
    BadQueryParam {
        /// The parameter name.
        name: &'static str,
        /// The value seen (percent-decoding undone where possible, cut to 64 characters).
        value: String,
    },
}

impl From<proto_common::codec::LineTooLong> for DecodeError {
    fn from(e: proto_common::codec::LineTooLong) -> Self {
        Self::LineTooLong {
            len: e.len,
            max: e.max,
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message would exceed the configured maximum.
    #[error("`{name}` message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// The `funcId`.
        name: String,
        /// Encoded length in bytes.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// `mid` is longer than allowed.
    #[error("`{name}` message: `mid` of {len} characters exceeds the maximum of {max}")]
    MidTooLong {
        /// The `funcId`.
        name: String,
        /// Length of `mid` in characters.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The message could not be serialized.
    #[error("cannot serialize `{name}`: {source}")]
    Json {
        /// The `funcId`.
        name: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A wire string that does not parse as the expected value (`"0:x".parse::<BioVector<u32>>()`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?}: expected {expected}")]
pub struct ValueError {
    /// The value seen (cut to 64 characters).
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}
