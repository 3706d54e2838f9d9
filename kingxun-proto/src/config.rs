//! Codec limits.

/// Default largest frame body: 16 MiB (DECISIONS.md, kingxun binary frame: "bodyLen ... default maximum 16 MiB").
pub const DEFAULT_MAX_BODY_LEN: u32 = 16 * 1024 * 1024;

/// Default largest HTTP request or response body: 64 KiB, far above the largest message the spec defines.
pub const DEFAULT_MAX_HTTP_BODY_LEN: usize = 64 * 1024;

/// Limits of the kingxun codecs.
///
/// ```
/// let config = kingxun_proto::CodecConfig::default().max_body_len(1 << 20);
/// assert_eq!(config.max_body_len, 1 << 20);
/// assert_eq!(config.max_http_body_len, kingxun_proto::DEFAULT_MAX_HTTP_BODY_LEN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Largest binary frame body (the bytes after the 19-byte header) that the decoder accepts and the encoder
    /// writes. Default [`DEFAULT_MAX_BODY_LEN`] (16 MiB). Checked on the header, before the body is buffered.
    pub max_body_len: u32,
    /// Largest HTTP JSON body that [`crate::http::HttpRequest::decode`] and [`crate::http::decode_response`]
    /// accept. Default [`DEFAULT_MAX_HTTP_BODY_LEN`] (64 KiB).
    pub max_http_body_len: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            max_body_len: DEFAULT_MAX_BODY_LEN,
            max_http_body_len: DEFAULT_MAX_HTTP_BODY_LEN,
        }
    }
}

impl CodecConfig {
    /// Sets [`CodecConfig::max_body_len`].
    #[must_use]
    pub fn max_body_len(mut self, len: u32) -> Self {
        self.max_body_len = len;
        self
    }

    /// Sets [`CodecConfig::max_http_body_len`].
    #[must_use]
    pub fn max_http_body_len(mut self, len: usize) -> Self {
        self.max_http_body_len = len;
        self
    }
}
