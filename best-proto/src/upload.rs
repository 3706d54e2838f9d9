//! Large file upload (best.md 3.7, DECISIONS.md, best): the device splits a file into `dev.file.upload.start`,
//! `.package` and `.end` messages; the platform reassembles it per `fileId`.
//!
//! - `content` is standard base64 of one raw chunk of at most `maxPackageSize` KB (default 64).
//! - `offset` is the byte offset of the chunk, which equals the bytes accepted so far. A wrong offset is
//!   answered `30000002` with the expected offset at the end of `message`, so the device resumes from there
//!   ([`Response::expected_offset`](crate::Response::expected_offset)).
//! - `checksum` (optional) is the lowercase hex MD5 of the whole file; `end` checks size and checksum.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use best_proto::upload::{UploadEvent, UploadReceiver, UploadSender};
//! use best_proto::{FileId, UploadConfig};
//!
//! let file = Bytes::from(vec![7u8; 150 * 1024]);
//! let sender = UploadSender::new(FileId::new("f1").unwrap(), file.clone(), 64);
//! let mut receiver = UploadReceiver::new(UploadConfig::default());
//! let now = Instant::now();
//! let mut done = None;
//! for message in sender.messages() {
//!     match receiver.handle(now, &message).unwrap() {
//!         Ok(UploadEvent::Completed(f)) => done = Some(f),
//!         Ok(_) => {}
//!         Err(e) => panic!("{e}"),
//!     }
//! }
//! assert_eq!(done.unwrap().data, file);
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;

use crate::config::UploadConfig;
use crate::message::{
    Checksum, Code, DeviceMessage, FileId, FileUploadEnd, FileUploadPackage, FileUploadStart,
    Response,
};

/// Splits a file into upload messages.
#[derive(Debug, Clone)]
pub struct UploadSender {
    file_id: FileId,
    data: Bytes,
    chunk_len: usize,
    checksum: Checksum,
}

impl UploadSender {
    /// A sender of `data` in chunks of `max_package_kb` KB (the platform's `maxPackageSize`; 0 is read as 1).
    #[must_use]
    pub fn new(file_id: FileId, data: Bytes, max_package_kb: u32) -> Self {
        let kb = usize::try_from(max_package_kb.max(1)).unwrap_or(usize::MAX);
        Self {
            checksum: Checksum::of(&data),
            file_id,
            data,
            chunk_len: kb.saturating_mul(1024),
        }
    }

    /// The MD5 of the whole file.
    #[must_use]
    pub fn checksum(&self) -> Checksum {
        self.checksum
    }

    /// `dev.file.upload.start` params, with size and checksum.
    #[must_use]
    pub fn start(&self) -> FileUploadStart {
        FileUploadStart {
            file_id: self.file_id.clone(),
            size: self.data.len() as u64,
            checksum: Some(self.checksum),
        }
    }

    /// The chunk starting at `offset`, `None` at or past the end.
    #[must_use]
    pub fn package_at(&self, offset: u64) -> Option<FileUploadPackage> {
        let start = usize::try_from(offset).ok()?;
        if start >= self.data.len() {
            return None;
        }
        let end = start.saturating_add(self.chunk_len).min(self.data.len());
        Some(FileUploadPackage {
            file_id: self.file_id.clone(),
            offset,
            content: self.data.slice(start..end),
        })
    }

    /// Every chunk from `offset` on (to resume after a `30000002` reply).
    pub fn packages_from(&self, offset: u64) -> impl Iterator<Item = FileUploadPackage> + '_ {
        let mut next = Some(offset);
        std::iter::from_fn(move || {
            let package = self.package_at(next?)?;
            next = package.offset.checked_add(package.content.len() as u64);
            Some(package)
        })
    }

    /// `dev.file.upload.end` params.
    #[must_use]
    pub fn end(&self) -> FileUploadEnd {
        FileUploadEnd {
            file_id: self.file_id.clone(),
        }
    }

    /// Start, every chunk, end.
    pub fn messages(&self) -> impl Iterator<Item = DeviceMessage> + '_ {
        std::iter::once(DeviceMessage::FileUploadStart(self.start()))
            .chain(self.packages_from(0).map(DeviceMessage::FileUploadPackage))
            .chain(std::iter::once(DeviceMessage::FileUploadEnd(self.end())))
    }
}

/// Why the receiver refused an upload message. [`UploadError::code`] is the reply code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The announced size exceeds [`UploadConfig::max_file_size`].
    #[error("file `{file_id}` of {size} bytes exceeds the maximum of {max} bytes")]
    FileTooLarge {
        /// The file.
        file_id: FileId,
        /// Announced size.
        size: u64,
        /// The maximum.
        max: u64,
    },
    /// The device already has [`UploadConfig::max_concurrent`] uploads in progress.
    #[error("{max} uploads already in progress for this device")]
    TooManyUploads {
        /// The maximum.
        max: usize,
    },
    /// No upload in progress has this `fileId`.
    #[error("unknown file `{file_id}`")]
    UnknownFileId {
        /// The file.
        file_id: FileId,
    },
    /// A chunk's `offset` is not the number of bytes received so far.
    #[error("file `{file_id}`: offset {found} does not match the bytes received; expected offset {expected}")]
    OffsetMismatch {
        /// The file.
        file_id: FileId,
        /// Bytes received so far: where the next chunk must start.
        expected: u64,
        /// The offset sent.
        found: u64,
    },
    /// A chunk is larger than `maxPackageSize` KB.
    #[error("file `{file_id}`: chunk of {len} bytes exceeds the maximum of {max} bytes")]
    ChunkTooLarge {
        /// The file.
        file_id: FileId,
        /// Chunk length.
        len: u64,
        /// The maximum.
        max: u64,
    },
    /// A chunk would run past the announced size.
    #[error(
        "file `{file_id}`: chunk ending at byte {end} runs past the announced size of {size} bytes"
    )]
    BeyondSize {
        /// The file.
        file_id: FileId,
        /// Where the chunk would end.
        end: u64,
        /// Announced size.
        size: u64,
    },
    /// `end` came before all bytes were received; the upload is kept so the device can resume.
    #[error("file `{file_id}` ended after {received} of {size} bytes; expected offset {received}")]
    Incomplete {
        /// The file.
        file_id: FileId,
        /// Bytes received.
        received: u64,
        /// Announced size.
        size: u64,
    },
    /// The whole file's MD5 does not match `checksum`; the upload is dropped.
    #[error(
        "file `{file_id}`: checksum {expected:?} does not match the received data's {computed:?}"
    )]
    ChecksumMismatch {
        /// The file.
        file_id: FileId,
        /// Announced checksum.
        expected: Checksum,
        /// MD5 of the received bytes.
        computed: Checksum,
    },
}

impl UploadError {
    /// The reply code (DECISIONS.md, best): `30000001` checksum, `30000002` offset (also for an early `end`),
    /// `30000003` unknown fileId, `20000001` for limits and sizes.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            Self::ChecksumMismatch { .. } => Code::FileChecksumMismatch,
            Self::OffsetMismatch { .. } | Self::Incomplete { .. } => Code::FileOffsetMismatch,
            Self::UnknownFileId { .. } => Code::UnknownFileId,
            Self::FileTooLarge { .. }
            | Self::TooManyUploads { .. }
            | Self::ChunkTooLarge { .. }
            | Self::BeyondSize { .. } => Code::MalformedParams,
        }
    }

    /// Where the device must resume, for `30000002`.
    #[must_use]
    pub fn expected_offset(&self) -> Option<u64> {
        match self {
            Self::OffsetMismatch { expected, .. } => Some(*expected),
            Self::Incomplete { received, .. } => Some(*received),
            _ => None,
        }
    }

    /// The reply `message`: the error text; for `30000002` it ends with `expected offset N`.
    #[must_use]
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The `cmd.dev.response` for this error.
    #[must_use]
    pub fn to_response(&self) -> Response {
        Response::error(self.code(), self.message())
    }
}

/// A reassembled, verified file.
#[derive(Clone, PartialEq, Eq)]
pub struct CompletedFile {
    /// The file.
    pub file_id: FileId,
    /// Its bytes.
    pub data: Bytes,
    /// Its MD5.
    pub checksum: Checksum,
}

impl std::fmt::Debug for CompletedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletedFile")
            .field("file_id", &self.file_id)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .field("checksum", &self.checksum)
            .finish()
    }
}

/// What an accepted upload message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEvent {
    /// An upload began (or was announced again with the same size and checksum; progress is kept).
    Started {
        /// The file.
        file_id: FileId,
        /// Bytes already received (non-zero when an upload is announced again).
        received: u64,
    },
    /// A chunk was accepted.
    Progress {
        /// The file.
        file_id: FileId,
        /// Bytes received so far, the next expected offset.
        received: u64,
    },
    /// The file is complete and verified.
    Completed(CompletedFile),
}

#[derive(Debug)]
struct Transfer {
    size: u64,
    checksum: Option<Checksum>,
    data: Vec<u8>,
    last_activity: Instant,
}

/// Reassembles the uploads of one device.
///
/// Feed it the device's upload messages ([`UploadReceiver::handle`], or `start`/`package`/`end`) and answer each
/// with [`UploadReceiver::reply`]. Call [`UploadReceiver::expire`] now and then to drop uploads whose `end` never
/// came. It never reads the clock: pass `now`.
#[derive(Debug)]
pub struct UploadReceiver {
    config: UploadConfig,
    uploads: BTreeMap<FileId, Transfer>,
}

impl UploadReceiver {
    /// A receiver with no uploads in progress.
    #[must_use]
    pub fn new(config: UploadConfig) -> Self {
        Self {
            config,
            uploads: BTreeMap::new(),
        }
    }

    /// Uploads in progress.
    #[must_use]
    pub fn in_progress(&self) -> usize {
        self.uploads.len()
    }

    /// Bytes received so far for `file_id`.
    #[must_use]
    pub fn received(&self, file_id: &FileId) -> Option<u64> {
        self.uploads.get(file_id).map(|t| t.data.len() as u64)
    }

    /// Handles an upload message; `None` for any other message.
    pub fn handle(
        &mut self,
        now: Instant,
        message: &DeviceMessage,
    ) -> Option<Result<UploadEvent, UploadError>> {
        Some(match message {
            DeviceMessage::FileUploadStart(m) => self.start(now, m),
            DeviceMessage::FileUploadPackage(m) => self.package(now, m),
            DeviceMessage::FileUploadEnd(m) => self.end(now, m).map(UploadEvent::Completed),
            _ => return None,
        })
    }

    /// The `cmd.dev.response` answering an upload message's outcome.
    #[must_use]
    pub fn reply(outcome: &Result<UploadEvent, UploadError>) -> Response {
        match outcome {
            Ok(_) => Response::ok(None),
            Err(e) => e.to_response(),
        }
    }

    /// `dev.file.upload.start`: begins an upload. Announcing a file in progress again with the same size and
    /// checksum keeps what was received (the device resumes at the offset a package reply tells it);
    /// otherwise the upload starts over.
    ///
    /// # Errors
    /// [`UploadError::FileTooLarge`], [`UploadError::TooManyUploads`].
    pub fn start(&mut self, now: Instant, m: &FileUploadStart) -> Result<UploadEvent, UploadError> {
        if m.size > self.config.max_file_size {
            return Err(UploadError::FileTooLarge {
                file_id: m.file_id.clone(),
                size: m.size,
                max: self.config.max_file_size,
            });
        }
        if let Some(t) = self.uploads.get_mut(&m.file_id) {
            if t.size == m.size && t.checksum == m.checksum {
                t.last_activity = now;
                return Ok(UploadEvent::Started {
                    file_id: m.file_id.clone(),
                    received: t.data.len() as u64,
                });
            }
        } else if self.uploads.len() >= self.config.max_concurrent {
            return Err(UploadError::TooManyUploads {
                max: self.config.max_concurrent,
            });
        }
        self.uploads.insert(
            m.file_id.clone(),
            Transfer {
                size: m.size,
                checksum: m.checksum,
                data: Vec::new(),
                last_activity: now,
            },
        );
        Ok(UploadEvent::Started {
            file_id: m.file_id.clone(),
            received: 0,
        })
    }

    /// `dev.file.upload.package`: appends a chunk at the expected offset.
    ///
    /// # Errors
    /// [`UploadError::UnknownFileId`], [`UploadError::OffsetMismatch`] (with the expected offset),
    /// [`UploadError::ChunkTooLarge`], [`UploadError::BeyondSize`]. The upload is kept in every case.
    pub fn package(
        &mut self,
        now: Instant,
        m: &FileUploadPackage,
    ) -> Result<UploadEvent, UploadError> {
        let max_chunk = self.config.max_chunk_len();
        let t = self
            .uploads
            .get_mut(&m.file_id)
            .ok_or_else(|| UploadError::UnknownFileId {
                file_id: m.file_id.clone(),
            })?;
        t.last_activity = now;
        let received = t.data.len() as u64;
        if m.offset != received {
            return Err(UploadError::OffsetMismatch {
                file_id: m.file_id.clone(),
                expected: received,
                found: m.offset,
            });
        }
        let len = m.content.len() as u64;
        if len > max_chunk {
            return Err(UploadError::ChunkTooLarge {
                file_id: m.file_id.clone(),
                len,
                max: max_chunk,
            });
        }
        let end = received.saturating_add(len);
        if end > t.size {
            return Err(UploadError::BeyondSize {
                file_id: m.file_id.clone(),
                end,
                size: t.size,
            });
        }
        // Grow geometrically, but never past the announced size (which is within the configured maximum).
        let end_usize = usize::try_from(end).unwrap_or(usize::MAX);
        if t.data.capacity() < end_usize {
            let cap = usize::try_from(t.size).unwrap_or(usize::MAX);
            let target = t.data.capacity().saturating_mul(2).max(end_usize).min(cap);
            t.data.reserve_exact(target - t.data.len());
        }
        t.data.extend_from_slice(&m.content);
        Ok(UploadEvent::Progress {
            file_id: m.file_id.clone(),
            received: end,
        })
    }

    /// `dev.file.upload.end`: checks size and checksum and hands over the file.
    ///
    /// # Errors
    /// [`UploadError::UnknownFileId`]; [`UploadError::Incomplete`] (upload kept, so the device can resume);
    /// [`UploadError::ChecksumMismatch`] (upload dropped).
    pub fn end(&mut self, now: Instant, m: &FileUploadEnd) -> Result<CompletedFile, UploadError> {
        let t = self
            .uploads
            .get_mut(&m.file_id)
            .ok_or_else(|| UploadError::UnknownFileId {
                file_id: m.file_id.clone(),
            })?;
        t.last_activity = now;
        let received = t.data.len() as u64;
        if received != t.size {
            return Err(UploadError::Incomplete {
                file_id: m.file_id.clone(),
                received,
                size: t.size,
            });
        }
        let t = self
            .uploads
            .remove(&m.file_id)
            .ok_or_else(|| UploadError::UnknownFileId {
                file_id: m.file_id.clone(),
            })?;
        let computed = Checksum::of(&t.data);
        if let Some(expected) = t.checksum {
            if !proto_common::crypto::ct_eq(&expected.0, &computed.0) {
                return Err(UploadError::ChecksumMismatch {
                    file_id: m.file_id.clone(),
                    expected,
                    computed,
                });
            }
        }
        Ok(CompletedFile {
            file_id: m.file_id.clone(),
            data: Bytes::from(t.data),
            checksum: computed,
        })
    }

    /// Drops an upload in progress; whether there was one.
    pub fn abort(&mut self, file_id: &FileId) -> bool {
        self.uploads.remove(file_id).is_some()
    }

    /// Drops the uploads idle for [`UploadConfig::idle_timeout`] or longer at `now`, returning their ids.
    pub fn expire(&mut self, now: Instant) -> Vec<FileId> {
        let timeout = self.config.idle_timeout;
        let stale: Vec<FileId> = self
            .uploads
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.last_activity) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &stale {
            self.uploads.remove(id);
        }
        stale
    }
}
