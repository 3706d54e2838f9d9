//! Reconnect policy: exponential backoff with jitter.

use std::time::Duration;

use crate::rng::RandomSource;

/// Reconnect backoff settings.
///
/// The n-th retry (from 0) waits `min(max, initial * multiplier^n)`, less a random share of up to `jitter` of
/// it, so a fleet that lost its server does not reconnect in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// First delay. Default 1 s.
    pub initial: Duration,
    /// Longest delay. Default 60 s.
    pub max: Duration,
    /// Growth per attempt. Default 2.
    pub multiplier: f64,
    /// Largest share of a delay taken off at random, 0..=1. Default 0.5.
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.5,
        }
    }
}

impl BackoffConfig {
    /// Sets [`BackoffConfig::initial`].
    #[must_use]
    pub fn initial(mut self, d: Duration) -> Self {
        self.initial = d;
        self
    }

    /// Sets [`BackoffConfig::max`].
    #[must_use]
    pub fn max(mut self, d: Duration) -> Self {
        self.max = d;
        self
    }

    /// Sets [`BackoffConfig::multiplier`] (at least 1).
    #[must_use]
    pub fn multiplier(mut self, m: f64) -> Self {
        self.multiplier = m.max(1.0);
        self
    }

    /// Sets [`BackoffConfig::jitter`], clamped to 0..=1.
    #[must_use]
    pub fn jitter(mut self, j: f64) -> Self {
        self.jitter = j.clamp(0.0, 1.0);
        self
    }
}

/// Backoff state: how many attempts failed since the last success.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff.
    #[must_use]
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0 }
    }

    /// Failed attempts since the last [`Backoff::reset`].
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt; counts one more failed attempt.
    pub fn next_delay(&mut self, rng: &mut dyn RandomSource) -> Duration {
        let c = &self.config;
        let exp = i32::try_from(self.attempt).unwrap_or(i32::MAX);
        let base = c.initial.as_secs_f64() * c.multiplier.max(1.0).powi(exp);
        let capped = base.min(c.max.as_secs_f64());
        let jittered = capped * (1.0 - c.jitter.clamp(0.0, 1.0) * rng.next_f64());
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(jittered.max(0.0))
    }

    /// A connection succeeded (logged in): the next failure starts from `initial` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut rng = SplitMix64::seeded(1);
        let mut b = Backoff::new(BackoffConfig::default().jitter(0.0));
        let secs: Vec<u64> = (0..9).map(|_| b.next_delay(&mut rng).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(&mut rng), Duration::from_secs(1));
        // Hundreds of failures never overflow past the cap.
        let mut last = Duration::ZERO;
        for _ in 0..300 {
            last = b.next_delay(&mut rng);
            assert!(last <= Duration::from_secs(60));
        }
        assert_eq!(last, Duration::from_secs(60));
    }

    #[test]
    fn jitter_takes_off_at_most_its_share() {
        let mut rng = SplitMix64::seeded(2);
        let mut b = Backoff::new(BackoffConfig::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            b.reset();
            let d = b.next_delay(&mut rng);
            assert!(
                d <= Duration::from_secs(1) && d >= Duration::from_millis(500),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 40, "jitter spreads the delays");
    }
}
