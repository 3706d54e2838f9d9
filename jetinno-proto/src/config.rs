//! Codec limits.

/// Length of the packet head: 4 ASCII length digits and 8 padding bytes (DECISIONS.md, jetinno).
pub const HEAD_LEN: usize = 12;

/// Largest packet the 4-digit decimal length head can announce (DECISIONS.md, jetinno: 12..=9999 bytes).
pub const MAX_PACKET_LEN: usize = 9999;

/// Limits of the jetinno codec.
///
/// ```
/// let config = jetinno_proto::CodecConfig::default().max_packet_len(4096);
/// assert_eq!(config.max_packet_len, 4096);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Largest packet, head included, that the decoder accepts and the encoder writes.
    ///
    /// Default and ceiling: [`MAX_PACKET_LEN`] (9999), the most a 4-digit head can say. Values above the ceiling
    /// and below [`HEAD_LEN`] are clamped into range.
    pub max_packet_len: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            max_packet_len: MAX_PACKET_LEN,
        }
    }
}

impl CodecConfig {
    /// Sets [`CodecConfig::max_packet_len`], clamped to `HEAD_LEN..=MAX_PACKET_LEN`.
    #[must_use]
    pub fn max_packet_len(mut self, len: usize) -> Self {
        self.max_packet_len = len.clamp(HEAD_LEN, MAX_PACKET_LEN);
        self
    }

    /// The effective maximum, in range even if the public field was set out of range directly.
    #[inline]
    pub(crate) fn effective_max(&self) -> usize {
        self.max_packet_len.clamp(HEAD_LEN, MAX_PACKET_LEN)
    }
}
