//! Injectable randomness: backoff jitter and generated ids, and the secrets some sessions issue.
//!
//! Sessions take a [`RandomSource`] so tests can make them deterministic ([`SplitMix64`]). Sessions that draw
//! secrets from it (the BEST platform's `authCode` and `secret`, X25519 keys and factors of the BEST key
//! exchange, the kingxun `newIV`) must be given [`OsRandom`] in production: `SplitMix64` is predictable.

use std::hash::{BuildHasher, Hasher};

/// A source of random numbers. Sessions take one so tests can make them deterministic.
pub trait RandomSource: Send {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A uniform float in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        // 53 random mantissa bits.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Fills `out` from `rng`, eight bytes per draw.
#[cfg_attr(not(any(feature = "access", feature = "best")), allow(dead_code))] // their sessions draw ids and keys
pub(crate) fn fill_bytes(rng: &mut dyn RandomSource, out: &mut [u8]) {
    for chunk in out.chunks_mut(8) {
        let bytes = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// The operating system's cryptographic random source (`getrandom`): for sessions that issue secrets.
///
/// The OS source does not fail once the system has booted; if it ever does, the draw panics rather than hand
/// out a predictable secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u64(&mut self) -> u64 {
        getrandom::u64()
            .unwrap_or_else(|e| panic!("the operating system's random source failed: {e}"))
    }
}

/// SplitMix64: small, fast and good enough for jitter and ids (not for keys).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with a fixed seed, for tests.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator seeded from the process's hash randomness.
    #[must_use]
    pub fn from_entropy() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Self::seeded(hasher.finish())
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_floats_stay_in_range() {
        let mut a = SplitMix64::seeded(7);
        let mut b = SplitMix64::seeded(7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        let mut os = OsRandom;
        let mut bytes = [0u8; 20];
        fill_bytes(&mut os, &mut bytes);
        assert_ne!(bytes, [0u8; 20]);
        assert_ne!(os.next_u64(), os.next_u64());
        let mut again = SplitMix64::seeded(7);
        let mut filled = [0u8; 12];
        fill_bytes(&mut again, &mut filled);
        assert_eq!(filled[..8], xs[0].to_le_bytes());
        assert_eq!(filled[8..], xs[1].to_le_bytes()[..4]);
        let mut r = SplitMix64::from_entropy();
        for _ in 0..1000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
