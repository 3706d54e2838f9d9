//! Large file upload messages (best.md 3.7): `dev.file.upload.start`, `.package`, `.end`.
//!
//! See [`crate::upload`] for the sender that produces them and the receiver that reassembles the file.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::types::FileId;
use crate::value::{opt, serde_via_wire, wire, WireValue};

/// An MD5 digest, lowercase hex on the wire (either case accepted on decode).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 16]);

impl Checksum {
    /// The MD5 digest of `data`.
    #[must_use]
    pub fn of(data: &[u8]) -> Self {
        use md5::Digest as _;
        Self(md5::Md5::digest(data).into())
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({})", hex::encode(self.0))
    }
}

impl WireValue for Checksum {
    const EXPECTING: &'static str = "an MD5 digest (32 hex digits)";

    fn from_wire(s: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s, &mut out).ok().map(|()| Self(out))
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

serde_via_wire!(Checksum);

/// `dev.file.upload.start` params: announces a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUploadStart {
    /// `fileId` - the device's id for the file.
    #[serde(rename = "fileId")]
    pub file_id: FileId,
    /// `size` - the whole file's length in bytes.
    #[serde(with = "wire")]
    pub size: u64,
    /// `checksum` - MD5 of the whole file; absent or empty means the platform does not check it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
    pub checksum: Option<Checksum>,
}

/// `dev.file.upload.package` params: one chunk.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUploadPackage {
    /// `fileId`.
    #[serde(rename = "fileId")]
    pub file_id: FileId,
    /// `offset` - byte offset of this chunk in the file, which is the number of bytes accepted so far.
    #[serde(with = "wire")]
    pub offset: u64,
    /// `content` - the chunk (base64 on the wire), at most `maxPackageSize` KB.
    #[serde(with = "wire")]
    pub content: Bytes,
}

impl fmt::Debug for FileUploadPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUploadPackage")
            .field("file_id", &self.file_id)
            .field("offset", &self.offset)
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .finish()
    }
}

/// `dev.file.upload.end` params: the last chunk was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUploadEnd {
    /// `fileId`.
    #[serde(rename = "fileId")]
    pub file_id: FileId,
}
