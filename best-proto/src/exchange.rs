//! The optional key exchange of best.md 2 (`device.exchange.publicKey`, then `device.exchange.factor`).
//!
//! The spec names no algorithm; DECISIONS.md fixes the reference peers: X25519 public keys written in standard
//! base64 (32 bytes, 44 characters with padding) and encryption factors of 16 random bytes written in hex. The
//! result is exposed to the application as a [`SharedSecret`]: the X25519 shared secret and both factors. No
//! payload encryption is defined on top of it, so this module derives nothing further.
//!
//! Both peers run the same steps:
//!
//! ```
//! use best_proto::exchange::{KeyPair, SharedSecret};
//!
//! // Each side draws 32 secret bytes from a cryptographic random source (fixed here for the example).
//! let device = KeyPair::from_secret_bytes([1; 32]);
//! let platform = KeyPair::from_secret_bytes([2; 32]);
//! // `device.exchange.publicKey`: each side parses the other's key and agrees on the shared secret.
//! let on_device = device.agree(&platform.public_key_message().public_key).unwrap();
//! let on_platform = platform.agree(&device.public_key_message().public_key).unwrap();
//! assert_eq!(on_device, on_platform);
//! // `device.exchange.factor`: 16 bytes each way, in hex.
//! let (dev_factor, plat_factor) = ([3; 16], [4; 16]);
//! let a = SharedSecret::new(on_device, dev_factor, plat_factor);
//! let b = SharedSecret::new(on_platform, dev_factor, plat_factor);
//! assert_eq!(a, b);
//! ```

use std::fmt;

use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::message::{Factor, PublicKey};

/// Bytes of an X25519 key (public or secret) and of the shared secret.
pub const KEY_LEN: usize = 32;

/// Bytes of an encryption factor (DECISIONS.md, best: 16 random bytes, written in hex).
pub const FACTOR_LEN: usize = 16;

/// Why a key exchange value from the peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// `publicKey` is not standard base64 (the value seen, cut to 64 characters).
    #[error("`publicKey` is not standard base64: {0:?}")]
    PublicKeyNotBase64(String),
    /// `publicKey` decodes to the wrong number of bytes.
    #[error("`publicKey` holds {0} bytes, an X25519 key has 32")]
    PublicKeyLength(usize),
    /// `publicKey` is a low-order point: the agreement would not depend on our secret.
    #[error("`publicKey` is a low-order point (the shared secret would be all zero)")]
    WeakPublicKey,
    /// `factor` is not hex.
    #[error("`factor` is not hex: {0:?}")]
    FactorNotHex(String),
    /// `factor` has the wrong number of bytes.
    #[error("`factor` holds {0} bytes, the reference peers use 16")]
    FactorLength(usize),
}

/// An X25519 key pair for one exchange. `Debug` never prints the secret half.
#[derive(Clone)]
pub struct KeyPair {
    secret: StaticSecret,
    public: X25519Public,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public_key_message().public_key)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// The key pair of 32 secret bytes, which must come from a cryptographic random source (X25519 clamps them).
    #[must_use]
    pub fn from_secret_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = X25519Public::from(&secret);
        Self { secret, public }
    }

    /// The public key's 32 bytes.
    #[must_use]
    pub fn public_key_bytes(&self) -> [u8; KEY_LEN] {
        self.public.to_bytes()
    }

    /// The `publicKey` params (device) or results (platform): the public key in standard base64.
    #[must_use]
    pub fn public_key_message(&self) -> PublicKey {
        PublicKey {
            public_key: base64_simd::STANDARD.encode_to_string(self.public.as_bytes()),
        }
    }

    /// The X25519 shared secret with the peer's `publicKey` (base64).
    ///
    /// # Errors
    /// The key is not base64 of 32 bytes, or it is a low-order point.
    pub fn agree(&self, peer_public_key: &str) -> Result<[u8; KEY_LEN], ExchangeError> {
        let peer = parse_public_key(peer_public_key)?;
        let shared = self.secret.diffie_hellman(&X25519Public::from(peer));
        if !shared.was_contributory() {
            return Err(ExchangeError::WeakPublicKey);
        }
        Ok(shared.to_bytes())
    }
}

/// The 32 bytes of a `publicKey` (standard base64, padding required; surrounding whitespace ignored).
///
/// # Errors
/// Not base64, or not 32 bytes.
pub fn parse_public_key(text: &str) -> Result<[u8; KEY_LEN], ExchangeError> {
    let bytes = base64_simd::STANDARD
        .decode_to_vec(text.trim())
        .map_err(|_| ExchangeError::PublicKeyNotBase64(cut(text.trim())))?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| ExchangeError::PublicKeyLength(bytes.len()))
}

/// The `factor` params (device) or results (platform): the factor's bytes in lowercase hex.
#[must_use]
pub fn factor_message(factor: [u8; FACTOR_LEN]) -> Factor {
    Factor {
        factor: hex::encode(factor),
    }
}

/// The 16 bytes of a `factor` (hex, either case; surrounding whitespace ignored).
///
/// # Errors
/// Not hex, or not 16 bytes.
pub fn parse_factor(text: &str) -> Result<[u8; FACTOR_LEN], ExchangeError> {
    let text = text.trim();
    let bytes = hex::decode(text).map_err(|_| ExchangeError::FactorNotHex(cut(text)))?;
    <[u8; FACTOR_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| ExchangeError::FactorLength(bytes.len()))
}

/// At most 64 characters of a peer's value, for an error message.
fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

/// What a completed exchange gives the application: the X25519 shared secret and both factors, as the spec
/// leaves their use to the deployment. Equality is checked in constant time, `Debug` prints nothing secret, and
/// the bytes are zeroed when the value is dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret {
    shared: [u8; KEY_LEN],
    device_factor: [u8; FACTOR_LEN],
    platform_factor: [u8; FACTOR_LEN],
}

impl SharedSecret {
    /// The result of an exchange.
    #[must_use]
    pub fn new(
        shared: [u8; KEY_LEN],
        device_factor: [u8; FACTOR_LEN],
        platform_factor: [u8; FACTOR_LEN],
    ) -> Self {
        Self {
            shared,
            device_factor,
            platform_factor,
        }
    }

    /// The X25519 shared secret.
    #[must_use]
    pub fn shared(&self) -> &[u8; KEY_LEN] {
        &self.shared
    }

    /// The device's factor (`device.exchange.factor` params).
    #[must_use]
    pub fn device_factor(&self) -> &[u8; FACTOR_LEN] {
        &self.device_factor
    }

    /// The platform's factor (`device.exchange.factor` results).
    #[must_use]
    pub fn platform_factor(&self) -> &[u8; FACTOR_LEN] {
        &self.platform_factor
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        use proto_common::crypto::ct_eq;
        // `&`, not `&&`: all three comparisons run whatever the first finds.
        ct_eq(&self.shared, &other.shared)
            & ct_eq(&self.device_factor, &other.device_factor)
            & ct_eq(&self.platform_factor, &other.platform_factor)
    }
}

impl Eq for SharedSecret {}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7748 section 6.1: Alice's and Bob's private keys, public keys and shared secret.
    const ALICE_SECRET: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const BOB_SECRET: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    fn arr<const N: usize>(h: &str) -> [u8; N] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn shared_secrets_compare_every_part_and_are_wiped() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let a = SharedSecret::new([7; KEY_LEN], [1; FACTOR_LEN], [2; FACTOR_LEN]);
        zeroed_on_drop(&a);
        assert_eq!(a, a.clone());
        assert_ne!(
            a,
            SharedSecret::new([8; KEY_LEN], [1; FACTOR_LEN], [2; FACTOR_LEN])
        );
        assert_ne!(
            a,
            SharedSecret::new([7; KEY_LEN], [3; FACTOR_LEN], [2; FACTOR_LEN])
        );
        assert_ne!(
            a,
            SharedSecret::new([7; KEY_LEN], [1; FACTOR_LEN], [3; FACTOR_LEN])
        );
        let mut b = a.clone();
        b.zeroize();
        assert_eq!(b.shared(), &[0; KEY_LEN]);
        assert_eq!(b.device_factor(), &[0; FACTOR_LEN]);
        assert_eq!(b.platform_factor(), &[0; FACTOR_LEN]);
    }

    #[test]
    fn rfc7748_vector_through_the_wire_form() {
        let alice = KeyPair::from_secret_bytes(arr(ALICE_SECRET));
        let bob = KeyPair::from_secret_bytes(arr(BOB_SECRET));
        assert_eq!(alice.public_key_bytes(), arr::<32>(ALICE_PUBLIC));
        assert_eq!(bob.public_key_bytes(), arr::<32>(BOB_PUBLIC));
        let a_wire = alice.public_key_message().public_key;
        assert_eq!(a_wire.len(), 44);
        assert_eq!(parse_public_key(&a_wire).unwrap(), arr::<32>(ALICE_PUBLIC));
        let shared = arr::<32>(SHARED);
        assert_eq!(
            alice.agree(&bob.public_key_message().public_key).unwrap(),
            shared
        );
        assert_eq!(bob.agree(&a_wire).unwrap(), shared);
    }

    #[test]
    fn bad_public_keys_are_named() {
        let me = KeyPair::from_secret_bytes([9; 32]);
        assert!(matches!(
            me.agree("not base64!"),
            Err(ExchangeError::PublicKeyNotBase64(_))
        ));
        assert_eq!(
            me.agree("AAAA"),
            Err(ExchangeError::PublicKeyLength(3)),
            "3 bytes"
        );
        // The identity point (all zero) is of low order: refused.
        let zero = base64_simd::STANDARD.encode_to_string([0u8; 32]);
        assert_eq!(me.agree(&zero), Err(ExchangeError::WeakPublicKey));
    }

    #[test]
    fn factors_round_trip_and_bad_ones_are_named() {
        let f: [u8; 16] = arr("00112233445566778899aabbccddeeff");
        let msg = factor_message(f);
        assert_eq!(msg.factor, "00112233445566778899aabbccddeeff");
        assert_eq!(parse_factor(&msg.factor).unwrap(), f);
        assert_eq!(parse_factor("00112233445566778899AABBCCDDEEFF").unwrap(), f);
        assert_eq!(parse_factor("0011"), Err(ExchangeError::FactorLength(2)));
        assert_eq!(
            parse_factor("xyz"),
            Err(ExchangeError::FactorNotHex("xyz".into()))
        );
    }

    #[test]
    fn secrets_compare_by_every_part_and_never_print() {
        let s = SharedSecret::new([1; 32], [2; 16], [3; 16]);
        assert_eq!(s, SharedSecret::new([1; 32], [2; 16], [3; 16]));
        assert_ne!(s, SharedSecret::new([1; 32], [2; 16], [4; 16]));
        assert_ne!(s, SharedSecret::new([0; 32], [2; 16], [3; 16]));
        assert_eq!(format!("{s:?}"), "SharedSecret(..)");
        let pair = KeyPair::from_secret_bytes([7; 32]);
        let shown = format!("{pair:?}");
        assert!(shown.contains(&pair.public_key_message().public_key));
        assert!(!shown.contains("secret:"), "{shown}");
        assert_eq!(s.shared(), &[1; 32]);
        assert_eq!(s.device_factor(), &[2; 16]);
        assert_eq!(s.platform_factor(), &[3; 16]);
    }
}
