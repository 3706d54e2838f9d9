//! Replay defence: the timestamp window that the session layer checks on every request.
//!
//! DECISIONS.md: svrInstance refuses a 9001 whose timestamp is more than 300 s off (RespCode 1), and WebSvr
//! refuses an HTTP request whose timestamp is more than 300 s off (errCode 401). This module never reads the
//! clock: the caller passes "now".

use std::time::Duration;

/// Default window: 300 s either side of the receiver's clock.
pub const DEFAULT_TIMESTAMP_WINDOW: Duration = Duration::from_secs(300);

/// How far a peer's timestamp may be from the receiver's clock, either way (inclusive).
///
/// ```
/// use kingxun_proto::TimestampWindow;
///
/// let window = TimestampWindow::default(); // 300 s
/// let now = 1_700_000_000_000;
/// assert!(window.check(now - 300_000, now).is_ok());
/// let err = window.check(now + 300_001, now).unwrap_err();
/// assert_eq!(err.to_string(),
///     "timestamp 1700000300001 is 300001 ms ahead of the clock 1700000000000 (window 300000 ms)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampWindow {
    window_ms: u64,
}

impl Default for TimestampWindow {
    fn default() -> Self {
        Self::new(DEFAULT_TIMESTAMP_WINDOW)
    }
}

impl TimestampWindow {
    /// A window of `window` either side (saturating at `u64::MAX` milliseconds).
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The window, in milliseconds.
    #[must_use]
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// Checks a Unix-millisecond `timestamp_ms` against the receiver's clock `now_ms`.
    ///
    /// # Errors
    /// [`TimestampError`] when the timestamp is more than the window away, either way.
    pub fn check(&self, timestamp_ms: u64, now_ms: u64) -> Result<(), TimestampError> {
        if timestamp_ms.abs_diff(now_ms) <= self.window_ms {
            Ok(())
        } else {
            Err(TimestampError {
                timestamp_ms,
                now_ms,
                window_ms: self.window_ms,
            })
        }
    }
}

/// A timestamp outside the replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "timestamp {timestamp_ms} is {} ms {} the clock {now_ms} (window {window_ms} ms)",
    timestamp_ms.abs_diff(*now_ms),
    if timestamp_ms > now_ms { "ahead of" } else { "behind" }
)]
#[non_exhaustive]
pub struct TimestampError {
    /// The peer's timestamp, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The receiver's clock, Unix milliseconds.
    pub now_ms: u64,
    /// The window, milliseconds.
    pub window_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_inclusive_both_ways_and_never_overflows() {
        let w = TimestampWindow::default();
        assert_eq!(w.window_ms(), 300_000);
        let now = 1_700_000_000_000u64;
        assert!(w.check(now, now).is_ok());
        assert!(w.check(now + 300_000, now).is_ok());
        assert!(w.check(now - 300_000, now).is_ok());
        let e = w.check(now - 300_001, now).unwrap_err();
        assert_eq!(e.to_string(), "timestamp 1699999699999 is 300001 ms behind the clock 1700000000000 (window 300000 ms)");
        assert!(w.check(0, u64::MAX).is_err());
        assert!(w.check(u64::MAX, 0).is_err());
        let narrow = TimestampWindow::new(Duration::from_millis(10));
        assert!(narrow.check(now + 11, now).is_err());
        assert_eq!(TimestampWindow::new(Duration::MAX).window_ms(), u64::MAX);
    }
}
