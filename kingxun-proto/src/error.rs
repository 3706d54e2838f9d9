//! Decode and encode errors.

use proto_common::json::JsonError;

use crate::frame::{CryptFlag, MsgId};

/// Why bytes could not be decoded into a frame or a message.
///
/// Framing errors ([`DecodeError::is_fatal`]) mean the byte stream cannot be trusted any more: the kingxun
/// frame has no resynchronisation point, so the connection must be closed. The other errors concern one whole,
/// already consumed frame (or one HTTP body).
///
/// A sealed body that fails its length or CRC check always yields [`DecodeError::Unseal`], whichever check
/// failed, so a peer learns nothing about the plaintext from the error (DECISIONS.md: no padding/CRC oracle).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame does not start with the magic `KX` (4b 58).
    #[error("bad magic {found:02x?}: expected [4b, 58] (\"KX\")")]
    BadMagic {
        /// The two bytes seen.
        found: [u8; 2],
    },
    /// The header's version byte is not 1.
    #[error("unsupported frame version {found}: expected 1")]
    BadVersion {
        /// The version byte seen.
        found: u8,
    },
    /// The header's flags byte has bits other than bit 0 (reply) set.
    #[error("reserved bits set in flags byte {found:#04x}: only bit 0 (reply) is defined")]
    BadFlags {
        /// The flags byte seen.
        found: u8,
    },
    /// The header's CryptFlag is neither 0 (plain) nor 1 (AES-128-CBC).
    #[error("unknown CryptFlag {found}: expected 0 (plain) or 1 (AES-128-CBC)")]
    BadCryptFlag {
        /// The CryptFlag byte seen.
        found: u8,
    },
    /// The header announces a body larger than the configured maximum.
    #[error("frame body of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced body length.
        len: u32,
        /// The configured maximum ([`crate::CodecConfig::max_body_len`]).
        max: u32,
    },
    /// A sealed body failed its length or CRC check (deliberately not saying which).
    #[error("sealed body of MsgId {msg_id} failed to open (length or crc check)")]
    Unseal {
        /// The frame's MsgId.
        msg_id: MsgId,
    },
    /// A sealed body arrived but no link cipher (KEY and IV) was given to open it.
    #[error("MsgId {msg_id} is sealed: a KEY and IV are needed to open it")]
    NoCipher {
        /// The frame's MsgId.
        msg_id: MsgId,
    },
    /// A known MsgId arrived with the other CryptFlag (for example a plain 4001 unlock).
    #[error("MsgId {msg_id} must carry CryptFlag {expected}, found {found}")]
    WrongCryptFlag {
        /// The frame's MsgId.
        msg_id: MsgId,
        /// The CryptFlag DECISIONS.md prescribes for it.
        expected: CryptFlag,
        /// The CryptFlag in the header.
        found: CryptFlag,
    },
    /// A (plaintext) body or one of its parts has the wrong length.
    #[error("{part} of MsgId {msg_id} has {found} bytes, expected {expected}")]
    BodyLength {
        /// The frame's MsgId.
        msg_id: MsgId,
        /// Which part: `request body`, `reply body`, `sealed fields`, ...
        part: &'static str,
        /// The length the message defines (the minimum, for 4020 with its variable file data).
        expected: usize,
        /// The length seen.
        found: usize,
    },
    /// The header's devId does not match what the message requires (its body's devId, or 0 for 9001/9002).
    #[error(
        "header devId {header} of MsgId {msg_id} does not match the expected devId {expected}"
    )]
    DevIdMismatch {
        /// The frame's MsgId.
        msg_id: MsgId,
        /// devId in the header.
        header: u32,
        /// devId the body carries (or 0 for 9001/9002).
        expected: u32,
    },
    /// A fixed-size string field is not UTF-8.
    #[error("field `{field}` is not UTF-8: {bytes:02x?}")]
    FieldNotUtf8 {
        /// The field's wire name.
        field: &'static str,
        /// The field's bytes up to the first NUL.
        bytes: Vec<u8>,
    },
    /// A fixed-size string field has non-NUL bytes after its first NUL.
    #[error("field `{field}` has non-NUL bytes after its NUL padding: {bytes:02x?}")]
    FieldPadding {
        /// The field's wire name.
        field: &'static str,
        /// The whole field.
        bytes: Vec<u8>,
    },
    /// 4020: `FileDataLen` differs from the number of `FileData` bytes in the body.
    #[error("FileDataLen {declared} does not match the {actual} bytes of FileData")]
    FileLength {
        /// `FileDataLen` as sent.
        declared: u32,
        /// Bytes of file data in the body.
        actual: usize,
    },
    /// 4020: `FileMD5` is not the MD5 of `FileData` (the receiver answers RespCode 0xFF).
    #[error("FileMD5 {expected} does not match the MD5 {computed} of FileData")]
    FileMd5Mismatch {
        /// `FileMD5` as sent, lowercase hex.
        expected: String,
        /// MD5 of the received data, lowercase hex.
        computed: String,
    },
    /// An HTTP body is larger than the configured maximum.
    #[error("HTTP body of {len} bytes exceeds the maximum of {max} bytes")]
    HttpBodyTooLarge {
        /// Body length.
        len: usize,
        /// The configured maximum ([`crate::CodecConfig::max_http_body_len`]).
        max: usize,
    },
    /// An HTTP JSON body does not fit the endpoint's request or response type.
    #[error("invalid `{endpoint}` body: {source}")]
    Json {
        /// The endpoint path, e.g. `/devOpenLock`.
        endpoint: String,
        /// What was wrong, with the path of the failing field.
        #[source]
        source: JsonError,
    },
}

impl DecodeError {
    /// Whether the error concerns the framing itself (bad header or over-limit length), after which the byte
    /// stream cannot be trusted and the connection must be closed.
    ///
    /// DECISIONS.md also closes the connection, without an answer, on [`DecodeError::Unseal`]; that policy
    /// belongs to the session layer, since the frame itself was delimited correctly.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::BadMagic { .. }
                | Self::BadVersion { .. }
                | Self::BadFlags { .. }
                | Self::BadCryptFlag { .. }
                | Self::FrameTooLarge { .. }
        )
    }
}

/// Why a message could not be encoded. The output buffer is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The body would exceed the configured maximum.
    #[error("frame body of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The body length the frame would have.
        len: usize,
        /// The configured maximum ([`crate::CodecConfig::max_body_len`]).
        max: u32,
    },
    /// A fixed-size string (`svrHost`, `FileName`) is longer than its field.
    #[error("field `{field}` is {len} bytes long, the maximum is {max}")]
    FieldTooLong {
        /// The field's wire name.
        field: &'static str,
        /// The string's UTF-8 length.
        len: usize,
        /// The field's size.
        max: usize,
    },
    /// A fixed-size string contains NUL, which the receiver would read as the end of the string.
    #[error("field `{field}` contains a NUL byte")]
    FieldHasNul {
        /// The field's wire name.
        field: &'static str,
    },
    /// A plaintext to seal is longer than `nDataLen` (u32) can say.
    #[error("plaintext of {len} bytes does not fit the u32 nDataLen")]
    PlaintextTooLarge {
        /// The plaintext's length.
        len: usize,
    },
    /// The message must be sealed but no link cipher was given.
    #[error("MsgId {msg_id} is sealed: a KEY and IV are needed to encode it")]
    NoCipher {
        /// The message's MsgId.
        msg_id: MsgId,
    },
    /// The packet's devId does not match what the message requires.
    #[error(
        "packet devId {header} of MsgId {msg_id} does not match the expected devId {expected}"
    )]
    DevIdMismatch {
        /// The message's MsgId.
        msg_id: MsgId,
        /// [`crate::Packet::dev_id`].
        header: u32,
        /// devId the body carries (or 0 for 9001/9002).
        expected: u32,
    },
    /// 4020: the file is larger than `FileDataLen` (u32) can say.
    #[error("FileData of {len} bytes does not fit the u32 FileDataLen")]
    FileTooLarge {
        /// The file's length.
        len: usize,
    },
    /// 4020: `FileMD5` is not the MD5 of `FileData`.
    #[error("FileMD5 {expected} does not match the MD5 {computed} of FileData")]
    FileMd5Mismatch {
        /// `FileMD5` as set, lowercase hex.
        expected: String,
        /// MD5 of the data, lowercase hex.
        computed: String,
    },
}
