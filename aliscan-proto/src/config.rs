//! Codec limits.

/// Default largest message: 4 MiB.
///
/// The spec sets no limit. The largest message it defines is a `files/scan/status` page: each record carries
/// the PNG of its QR code (`qrData`, a few KiB as base64) and about 80 measurements, so a page of 100 records
/// stays well under 1 MiB; 4 MiB leaves room for long advice texts and larger pages.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 4 * 1024 * 1024;

/// Limits of the aliscan codec.
///
/// ```
/// let config = aliscan_proto::CodecConfig::default().max_message_len(64 * 1024);
/// assert_eq!(config.max_message_len, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Largest message, in bytes of JSON text, that the decoder parses and the encoder writes.
    ///
    /// Default: [`DEFAULT_MAX_MESSAGE_LEN`] (4 MiB). A WebSocket server should set its own frame limit to the
    /// same value so oversized frames are refused before they are buffered.
    pub max_message_len: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
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
}
