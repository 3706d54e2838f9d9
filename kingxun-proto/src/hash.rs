//! The `hash` of the HTTP API (DECISIONS.md, kingxun HTTP API).
//!
//! `hash` = lowercase hex MD5 of the concatenated values of the request's hashed fields, in the order the spec
//! lists them, followed by `usrSessionId`. `type`, `hash` and the fields the spec marks as not hashed are left
//! out; `timestamp` (Unix ms) is hashed after the other hashed fields. Numbers are written in decimal,
//! booleans as `true`/`false`, strings as they are.
//!
//! Each request type declares its hashed fields once, in the same declaration as the struct
//! ([`crate::http`]), and [`HashedRequest::write_hash_input`] is generated from that list: a field is either
//! hashed or listed as not hashed, so a new endpoint cannot forget one.
//!
//! ```
//! use kingxun_proto::http::{ClientType, DevOpenLockRequest};
//! use kingxun_proto::HashedRequest;
//!
//! // DECISIONS.md vector.
//! let mut req = DevOpenLockRequest {
//!     client_type: ClientType::WxMiniProgram,
//!     usr_id: 42, dev_id: 1001, dev_type: 1, timestamp: 1_700_000_000_000,
//!     allow_time: 30, lowest_soc_p: 20, farthest_dist: 5000,
//!     hash: String::new(),
//! };
//! req.sign("0123456789abcdef0123456789abcdef");
//! assert_eq!(req.hash, "0385d1d61197831ea8dc89262d474bb3");
//! assert!(req.verify_hash("0123456789abcdef0123456789abcdef"));
//! assert!(!req.verify_hash("0123456789abcdef0123456789abcdee"));
//! ```

use std::fmt::Write as _;

/// A value that takes part in a `hash`: how it is written into the hashed string.
pub trait HashValue {
    /// Appends the value's text.
    fn write_hash_value(&self, out: &mut String);
}

macro_rules! hash_decimal {
    ($($t:ty),*) => {$(
        impl HashValue for $t {
            fn write_hash_value(&self, out: &mut String) {
                // Writing into a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
hash_decimal!(u8, u16, u32, u64, i32, i64);

impl HashValue for bool {
    fn write_hash_value(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl HashValue for str {
    fn write_hash_value(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl HashValue for String {
    fn write_hash_value(&self, out: &mut String) {
        out.push_str(self);
    }
}

/// Shortest decimal that reads back as the same number, never in exponent form (`113.5`, `22`, `0.001`); the
/// same text as JavaScript's `String(x)` for magnitudes in `[1e-6, 1e21)`.
impl HashValue for f64 {
    fn write_hash_value(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

/// A request whose `hash` authenticates it with the user's `usrSessionId`.
pub trait HashedRequest {
    /// The wire names of the hashed fields, in hashing order (`timestamp` last).
    fn hashed_fields(&self) -> &'static [&'static str];

    /// Appends the hashed fields' values, in order, to `out`.
    fn write_hash_input(&self, out: &mut String);

    /// The request's `hash` as received or set.
    fn hash(&self) -> &str;

    /// Sets the request's `hash`.
    fn set_hash(&mut self, hash: String);

    /// The lowercase hex MD5 of the hashed values followed by `usr_session_id`.
    fn compute_hash(&self, usr_session_id: &str) -> String {
        let mut input = String::with_capacity(64);
        self.write_hash_input(&mut input);
        proto_common::crypto::md5_hex([input.as_bytes(), usr_session_id.as_bytes()])
    }

    /// Computes and sets the `hash`.
    fn sign(&mut self, usr_session_id: &str) {
        let hash = self.compute_hash(usr_session_id);
        self.set_hash(hash);
    }

    /// Whether the `hash` is right for `usr_session_id`, compared in constant time.
    fn verify_hash(&self, usr_session_id: &str) -> bool {
        let mut input = String::with_capacity(64);
        self.write_hash_input(&mut input);
        proto_common::crypto::md5_hex_verify(
            [input.as_bytes(), usr_session_id.as_bytes()],
            self.hash(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<T: HashValue + ?Sized>(v: &T) -> String {
        let mut s = String::new();
        v.write_hash_value(&mut s);
        s
    }

    #[test]
    fn values_are_written_as_decisions_says() {
        assert_eq!(text(&42u32), "42");
        assert_eq!(text(&1_700_000_000_000u64), "1700000000000");
        assert_eq!(text(&true), "true");
        assert_eq!(text(&false), "false");
        assert_eq!(text("13800000000"), "13800000000");
        assert_eq!(text(&113.5f64), "113.5");
        assert_eq!(text(&22.0f64), "22");
        assert_eq!(text(&-0.001f64), "-0.001");
    }
}
