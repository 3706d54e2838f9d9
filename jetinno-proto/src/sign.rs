//! The login signature: lowercase hex MD5 of the 8-digit date `yyyyMMdd` followed by the machine's 8-character code.
//!
//! ```
//! use jetinno_proto::sign::{login_sign, verify_login_sign, MachineCode};
//! let code = MachineCode::new("12345678").unwrap();
//! // The vector of DECISIONS.md.
//! assert_eq!(login_sign(20150624, &code), "d3c1e46a62b0b93bfe63b413b226aa72");
//! assert!(verify_login_sign(20150624, &code, "D3C1E46A62B0B93BFE63B413B226AA72"));
//! ```

use std::fmt;

use proto_common::crypto::{md5_hex, md5_hex_verify};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a machine code (jetinno.md 3.2: "验证码 ... 8 位").
pub const MACHINE_CODE_LEN: usize = 8;

/// The machine's secret 8-character code, configured on the machine and the server. `Debug` hides it, and the
/// characters are zeroed when the value is dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MachineCode(String);

/// A machine code that is not 8 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("machine code must be {MACHINE_CODE_LEN} printable ASCII characters, got {len} bytes")]
pub struct MachineCodeError {
    len: usize,
}

impl MachineCode {
    /// Validates and wraps a code.
    ///
    /// # Errors
    /// The code is not exactly 8 printable ASCII characters.
    pub fn new(code: impl Into<String>) -> Result<Self, MachineCodeError> {
        let code = code.into();
        if code.len() == MACHINE_CODE_LEN && code.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(code))
        } else {
            Err(MachineCodeError { len: code.len() })
        }
    }

    /// The code itself.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MachineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MachineCode(<redacted>)")
    }
}

/// The 8 digits of a `yyyyMMdd` date, or `None` when it has more than 8.
fn date_digits(timestamp: u32) -> Option<String> {
    (timestamp <= 99_999_999).then(|| format!("{timestamp:08}"))
}

/// The login `sign` for a date (`yyyyMMdd` as a number) and a machine code.
///
/// A date above `99999999` has no 8-digit form; its sign is computed over all its digits and never verifies.
#[must_use]
pub fn login_sign(timestamp: u32, code: &MachineCode) -> String {
    let digits = date_digits(timestamp).unwrap_or_else(|| timestamp.to_string());
    md5_hex([digits.as_bytes(), code.0.as_bytes()])
}

/// Checks a login `sign` (hex, either case) in constant time.
#[must_use]
pub fn verify_login_sign(timestamp: u32, code: &MachineCode, sign: &str) -> bool {
    match date_digits(timestamp) {
        Some(digits) => md5_hex_verify([digits.as_bytes(), code.0.as_bytes()], sign),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_wiped_by_zeroize_and_on_drop() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let mut code = MachineCode::new("12345678").unwrap();
        zeroed_on_drop(&code);
        code.zeroize();
        assert_eq!(code.expose(), "");
        assert_eq!(format!("{code:?}"), "MachineCode(<redacted>)");
    }

    #[test]
    fn decisions_vector() {
        let code = MachineCode::new("12345678").unwrap();
        assert_eq!(
            login_sign(20150624, &code),
            "d3c1e46a62b0b93bfe63b413b226aa72"
        );
        assert!(verify_login_sign(
            20150624,
            &code,
            "d3c1e46a62b0b93bfe63b413b226aa72"
        ));
        assert!(!verify_login_sign(
            20150625,
            &code,
            "d3c1e46a62b0b93bfe63b413b226aa72"
        ));
        let other = MachineCode::new("12345679").unwrap();
        assert!(!verify_login_sign(
            20150624,
            &other,
            "d3c1e46a62b0b93bfe63b413b226aa72"
        ));
        assert!(!verify_login_sign(20150624, &code, "d3c1e46a"));
    }

    #[test]
    fn short_dates_are_zero_padded_and_long_ones_never_verify() {
        let code = MachineCode::new("abcdefgh").unwrap();
        assert_eq!(login_sign(1231, &code), md5_hex(["00001231abcdefgh"]));
        let sign = login_sign(100_000_000, &code);
        assert!(!verify_login_sign(100_000_000, &code, &sign));
    }

    #[test]
    fn machine_codes_are_validated_and_redacted() {
        assert!(MachineCode::new("1234567").is_err());
        assert!(MachineCode::new("123456789").is_err());
        assert!(MachineCode::new("1234 678").is_err());
        let code = MachineCode::new("s3cr3t!!").unwrap();
        assert_eq!(format!("{code:?}"), "MachineCode(<redacted>)");
        assert_eq!(code.expose(), "s3cr3t!!");
    }
}
