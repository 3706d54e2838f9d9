//! Codec limits.

/// Default maximum length of one message: 16 MiB (DECISIONS.md, access: persons carry base64 images).
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;

/// Limits of the stream [`Codec`](crate::Codec) and the WebSocket text helpers.
///
/// ```
/// use access_proto::CodecConfig;
///
/// let config = CodecConfig::default().max_message_len(1024 * 1024);
/// assert_eq!(config.max_message_len, 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Longest JSON object accepted or written, in bytes, whitespace around it not counted.
    /// Default [`DEFAULT_MAX_MESSAGE_LEN`] (16 MiB).
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
    pub fn max_message_len(mut self, max: usize) -> Self {
        self.max_message_len = max;
        self
    }
}
