//! Key derivation: `devKey` and user `password` digests, PBKDF2-HMAC-SHA256 with 1000 iterations and a 32-byte
//! output, lowercase hex (best.md 3.2 and 3.14, DECISIONS.md, best).

use pbkdf2::pbkdf2_hmac;
use sha2::Sha256;

/// PBKDF2 iterations of both digests.
pub const ITERATIONS: u32 = 1000;

/// Digest length in bytes.
pub const DIGEST_LEN: usize = 32;

fn pbkdf2_hex(password: &[u8], salt: &[u8]) -> String {
    let mut out = [0u8; DIGEST_LEN];
    pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut out);
    hex::encode(out)
}

/// `devKey` of `dev.register`, `dev.accredit` and `dev.login`: PBKDF2 of the device's secret key, salted with
/// `productId` as UTF-8 bytes.
///
/// ```
/// assert_eq!(
///     best_proto::crypto::dev_key("123456", "5d9b11e1a3f448ae81f9f920e976d852"),
///     "7f666475e1cea7d10964055343367701c2fb3a96f82e8b0adc25147992c8bb65"
/// );
/// ```
#[must_use]
pub fn dev_key(secret_key: &str, product_id: &str) -> String {
    pbkdf2_hex(secret_key.as_bytes(), product_id.as_bytes())
}

/// Checks a received `devKey` against the device's secret key, in constant time.
#[must_use]
pub fn verify_dev_key(secret_key: &str, product_id: &str, given: &str) -> bool {
    let expected = dev_key(secret_key, product_id);
    proto_common::crypto::ct_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes())
}

/// A `passwordSalt` that is not hex.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`passwordSalt` is not hex: {0}")]
pub struct BadSalt(pub hex::FromHexError);

/// A user's `password`: PBKDF2 of the plaintext, salted with the hex-DECODED `passwordSalt`.
///
/// ```
/// assert_eq!(
///     best_proto::crypto::user_password("123456", "5d9b11e1a3f448ae81f9f920e976d852").unwrap(),
///     "486bbe9335aca3878178a51542e4e919d1146a01bdd0f2ad5a68043e2289abf7"
/// );
/// ```
///
/// # Errors
/// [`BadSalt`] when `salt_hex` is not an even number of hex digits.
pub fn user_password(plaintext: &str, salt_hex: &str) -> Result<String, BadSalt> {
    let salt = hex::decode(salt_hex).map_err(BadSalt)?;
    Ok(pbkdf2_hex(plaintext.as_bytes(), &salt))
}

/// Checks a typed-in password against a user's `password` and `passwordSalt`, in constant time.
///
/// # Errors
/// [`BadSalt`] when `salt_hex` is not hex.
pub fn verify_user_password(
    plaintext: &str,
    salt_hex: &str,
    digest: &str,
) -> Result<bool, BadSalt> {
    let expected = user_password(plaintext, salt_hex)?;
    Ok(proto_common::crypto::ct_eq(
        expected.as_bytes(),
        digest.to_ascii_lowercase().as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_key_vector() {
        // DECISIONS.md, best: secret `123456`, productId `5d9b11e1a3f448ae81f9f920e976d852` used as UTF-8 bytes.
        let key = dev_key("123456", "5d9b11e1a3f448ae81f9f920e976d852");
        assert_eq!(
            key,
            "7f666475e1cea7d10964055343367701c2fb3a96f82e8b0adc25147992c8bb65"
        );
        assert!(verify_dev_key(
            "123456",
            "5d9b11e1a3f448ae81f9f920e976d852",
            &key.to_uppercase()
        ));
        assert!(!verify_dev_key(
            "123457",
            "5d9b11e1a3f448ae81f9f920e976d852",
            &key
        ));
    }

    #[test]
    fn user_password_vector() {
        // DECISIONS.md, best: the same salt text, hex-decoded to 16 bytes this time.
        let digest = user_password("123456", "5d9b11e1a3f448ae81f9f920e976d852").unwrap();
        assert_eq!(
            digest,
            "486bbe9335aca3878178a51542e4e919d1146a01bdd0f2ad5a68043e2289abf7"
        );
        assert_ne!(
            digest,
            dev_key("123456", "5d9b11e1a3f448ae81f9f920e976d852")
        );
        assert_eq!(
            verify_user_password("123456", "5d9b11e1a3f448ae81f9f920e976d852", &digest),
            Ok(true)
        );
        assert_eq!(
            verify_user_password("654321", "5d9b11e1a3f448ae81f9f920e976d852", &digest),
            Ok(false)
        );
        assert!(user_password("123456", "xyz").is_err());
    }
}
