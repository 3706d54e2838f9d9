//! Constant-time comparison and the MD5 digests the vendor signatures are built from.

use md5::{Digest, Md5};

/// Compares two byte strings in time that depends only on their lengths, never on where they differ.
///
/// Use it for every signature, hash or MAC check so that a peer cannot learn a correct value byte by byte.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // `black_box` keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

/// Lowercase hex MD5 of the concatenation of `parts`, without building the concatenation.
#[must_use]
pub fn md5_hex<I, P>(parts: I) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_ref());
    }
    hex::encode(hasher.finalize())
}

/// Checks `given` (hex, either case) against the lowercase hex MD5 of `parts`, in constant time.
#[must_use]
pub fn md5_hex_verify<I, P>(parts: I, given: &str) -> bool
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let expected = md5_hex(parts);
    ct_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn md5_hex_matches_rfc1321_vectors() {
        assert_eq!(md5_hex([b""]), "d41d8cd98f00b204e9800998ecf8427e");
        // RFC 1321 "abc", fed in two parts.
        assert_eq!(md5_hex(["a", "bc"]), "900150983cd24fb0d6963f7d28e17f72");
        assert!(md5_hex_verify(["abc"], "900150983CD24FB0D6963F7D28E17F72"));
        assert!(!md5_hex_verify(["abd"], "900150983cd24fb0d6963f7d28e17f72"));
    }
}
