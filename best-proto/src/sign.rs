//! The broker lookup `sign`: lowercase hex MD5 of `sn + nonce + timestamp + secretKey` (best.md 3.1).

/// Builds the `sign` of a broker lookup.
///
/// ```
/// assert_eq!(
///     best_proto::sign::lookup_sign("abcd", "123456", 1646102871000, "aabbcc"),
///     "bdd58420c142a11569ff3eb8a9ec535c"
/// );
/// ```
#[must_use]
pub fn lookup_sign(sn: &str, nonce: &str, timestamp_ms: u64, secret_key: &str) -> String {
    proto_common::crypto::md5_hex([
        sn.as_bytes(),
        nonce.as_bytes(),
        timestamp_ms.to_string().as_bytes(),
        secret_key.as_bytes(),
    ])
}

/// Checks a broker lookup `sign` (hex, either case) in constant time.
#[must_use]
pub fn verify_lookup_sign(
    sn: &str,
    nonce: &str,
    timestamp_ms: u64,
    secret_key: &str,
    sign: &str,
) -> bool {
    proto_common::crypto::md5_hex_verify(
        [
            sn.as_bytes(),
            nonce.as_bytes(),
            timestamp_ms.to_string().as_bytes(),
            secret_key.as_bytes(),
        ],
        sign,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_sign_vector() {
        // best.md 3.1 / DECISIONS.md: MD5("abcd" + "123456" + "1646102871000" + "aabbcc").
        let sign = lookup_sign("abcd", "123456", 1_646_102_871_000, "aabbcc");
        assert_eq!(sign, "bdd58420c142a11569ff3eb8a9ec535c");
        assert!(verify_lookup_sign(
            "abcd",
            "123456",
            1_646_102_871_000,
            "aabbcc",
            &sign
        ));
        assert!(verify_lookup_sign(
            "abcd",
            "123456",
            1_646_102_871_000,
            "aabbcc",
            "BDD58420C142A11569FF3EB8A9EC535C"
        ));
        assert!(!verify_lookup_sign(
            "abcd",
            "123456",
            1_646_102_871_001,
            "aabbcc",
            &sign
        ));
        assert!(!verify_lookup_sign(
            "abcd",
            "123456",
            1_646_102_871_000,
            "aabbcd",
            &sign
        ));
    }
}
