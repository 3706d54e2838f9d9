//! Limits of the codec, the upload receiver and the broker lookup verifier.

use std::time::Duration;

/// Longest `mid` (best.md 4.2: "消息id ... 最长为32位").
pub const MAX_MID_LEN: usize = 32;

/// Default largest message: 16 MiB (photos travel inline as base64 in `content`).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;

/// Default `maxPackageSize` in KB (best.md 3.5 `maxPackageSize`: "默认值为 64, 单位 KB").
pub const DEFAULT_MAX_PACKAGE_KB: u32 = 64;

/// Longest `fileId` (best.md 3.7: "最高不能超过64位").
pub const MAX_FILE_ID_LEN: usize = 64;

/// Longest broker lookup `nonce` (best.md 3.1: "不得超过32位").
pub const MAX_NONCE_LEN: usize = 32;

/// Broker lookup time window (DECISIONS.md, best: 300 s).
pub const LOOKUP_WINDOW: Duration = Duration::from_secs(300);

/// Limits of message decoding and encoding.
///
/// ```
/// let config = best_proto::CodecConfig::default().max_message_len(1 << 20);
/// assert_eq!(config.max_message_len, 1 << 20);
/// assert_eq!(config.max_mid_len, 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Largest message, in bytes, that decoders accept and encoders write. Default
    /// [`DEFAULT_MAX_MESSAGE_LEN`] (16 MiB).
    pub max_message_len: usize,
    /// Longest `mid`, in characters. Default [`MAX_MID_LEN`] (32).
    pub max_mid_len: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            max_mid_len: MAX_MID_LEN,
        }
    }
}

impl CodecConfig {
    /// Sets [`CodecConfig::max_message_len`].
    #[must_use]
    pub fn max_message_len(mut self, len: usize) -> Self {
        self.max_message_len = len;
        self
    }

    /// Sets [`CodecConfig::max_mid_len`].
    #[must_use]
    pub fn max_mid_len(mut self, len: usize) -> Self {
        self.max_mid_len = len;
        self
    }
}

/// Limits of the [`UploadReceiver`](crate::upload::UploadReceiver), per device.
///
/// Memory held by one receiver is at most `max_concurrent * max_file_size` bytes; nothing is allocated ahead of
/// the data actually received, whatever `size` a device announces.
///
/// ```
/// let config = best_proto::UploadConfig::default().max_file_size(1 << 20).max_concurrent(2);
/// assert_eq!((config.max_file_size, config.max_concurrent), (1 << 20, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadConfig {
    /// Largest file accepted, in bytes. Default 16 MiB.
    pub max_file_size: u64,
    /// Most uploads in progress at once for one device. Default 4.
    pub max_concurrent: usize,
    /// Largest raw chunk, in KB (1024 bytes), as the device's `maxPackageSize`. Default
    /// [`DEFAULT_MAX_PACKAGE_KB`] (64).
    pub max_package_kb: u32,
    /// An upload without any message for this long is dropped by
    /// [`UploadReceiver::expire`](crate::upload::UploadReceiver::expire). Default 5 minutes.
    pub idle_timeout: Duration,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_file_size: 16 * 1024 * 1024,
            max_concurrent: 4,
            max_package_kb: DEFAULT_MAX_PACKAGE_KB,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl UploadConfig {
    /// Sets [`UploadConfig::max_file_size`].
    #[must_use]
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Sets [`UploadConfig::max_concurrent`].
    #[must_use]
    pub fn max_concurrent(mut self, uploads: usize) -> Self {
        self.max_concurrent = uploads;
        self
    }

    /// Sets [`UploadConfig::max_package_kb`] (the device's `maxPackageSize`).
    #[must_use]
    pub fn max_package_kb(mut self, kb: u32) -> Self {
        self.max_package_kb = kb;
        self
    }

    /// Sets [`UploadConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Largest raw chunk in bytes.
    #[must_use]
    pub fn max_chunk_len(&self) -> u64 {
        u64::from(self.max_package_kb) * 1024
    }
}

/// Limits of the [`LookupVerifier`](crate::broker::LookupVerifier).
///
/// ```
/// let config = best_proto::LookupConfig::default().max_tracked_nonces(1000);
/// assert_eq!(config.window.as_secs(), 300);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookupConfig {
    /// Largest accepted difference between a lookup's `timestamp` and the server clock, either way. Default
    /// [`LOOKUP_WINDOW`] (300 s).
    pub window: Duration,
    /// Longest accepted `nonce`, in characters. Default [`MAX_NONCE_LEN`] (32).
    pub max_nonce_len: usize,
    /// Most nonces remembered at once, over all devices. When full (after dropping expired ones) further
    /// lookups are refused until entries expire: the verifier fails closed rather than forgetting a nonce that
    /// could then be replayed. Default 100 000 (a few MiB).
    pub max_tracked_nonces: usize,
}

impl Default for LookupConfig {
    fn default() -> Self {
        Self {
            window: LOOKUP_WINDOW,
            max_nonce_len: MAX_NONCE_LEN,
            max_tracked_nonces: 100_000,
        }
    }
}

impl LookupConfig {
    /// Sets [`LookupConfig::window`].
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets [`LookupConfig::max_nonce_len`].
    #[must_use]
    pub fn max_nonce_len(mut self, len: usize) -> Self {
        self.max_nonce_len = len;
        self
    }

    /// Sets [`LookupConfig::max_tracked_nonces`].
    #[must_use]
    pub fn max_tracked_nonces(mut self, n: usize) -> Self {
        self.max_tracked_nonces = n;
        self
    }
}
