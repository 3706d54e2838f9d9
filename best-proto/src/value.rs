//! Value typing of spec rule 4.1: every value is written as a JSON string; decoders read a string or a number.
//!
//! [`WireValue`] is the one conversion every typed scalar goes through (integers, on/off switches, code enums,
//! times, base64 blobs, the `0:1:1:0...` bio vectors, bit strings). Optional fields read an absent field, `null`
//! and `""` as `None` (the spec: "参数不存在/参数值为空" means the default) and are left out when `None`.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::ser::Serializer;

/// A value carried as a JSON string on the wire.
pub trait WireValue: Sized {
    /// What the decoder expects, for error messages (`an integer`, `an ISO-8601 time`, ...).
    const EXPECTING: &'static str;

    /// Parses the wire string.
    fn from_wire(s: &str) -> Option<Self>;

    /// Converts a JSON number (decoders accept numbers for numeric fields). Default: not accepted.
    fn from_u64(n: u64) -> Option<Self> {
        let _ = n;
        None
    }

    /// Converts a negative JSON number. Default: not accepted.
    fn from_i64(n: i64) -> Option<Self> {
        let _ = n;
        None
    }

    /// Converts a JSON number with a fraction. Default: not accepted.
    fn from_f64(n: f64) -> Option<Self> {
        let _ = n;
        None
    }

    /// Converts a JSON boolean. Default: not accepted.
    fn from_bool(b: bool) -> Option<Self> {
        let _ = b;
        None
    }

    /// Writes the wire string.
    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// Displays a [`WireValue`] as its wire string.
pub(crate) struct Wire<'a, T>(pub(crate) &'a T);

impl<T: WireValue> fmt::Display for Wire<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_wire(f)
    }
}

/// The wire string of a value.
pub(crate) fn to_wire_string<T: WireValue>(value: &T) -> String {
    Wire(value).to_string()
}

/// Longest string quoted back in an error message; longer ones (base64 blobs) are described by length.
const MAX_QUOTED: usize = 64;

struct WireVisitor<T>(PhantomData<T>);

fn invalid_str<T: WireValue, E: de::Error>(v: &str) -> E {
    if v.len() > MAX_QUOTED {
        let what = format!("a string of {} bytes", v.len());
        E::invalid_value(Unexpected::Other(&what), &T::EXPECTING)
    } else {
        E::invalid_value(Unexpected::Str(v), &T::EXPECTING)
    }
}

impl<'de, T: WireValue> Visitor<'de> for WireVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_wire(v).ok_or_else(|| invalid_str::<T, E>(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_u64(v).ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_i64(v).ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        T::from_f64(v).ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        T::from_bool(v).ok_or_else(|| E::invalid_value(Unexpected::Bool(v), &self))
    }
}

struct OptVisitor<T>(PhantomData<T>);

impl<'de, T: WireValue> Visitor<'de> for OptVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, an empty string or null", T::EXPECTING)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
        if v.is_empty() {
            return Ok(None);
        }
        WireVisitor::<T>(PhantomData).visit_str(v).map(Some)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<T>, E> {
        WireVisitor::<T>(PhantomData).visit_u64(v).map(Some)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<T>, E> {
        WireVisitor::<T>(PhantomData).visit_i64(v).map(Some)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<T>, E> {
        WireVisitor::<T>(PhantomData).visit_f64(v).map(Some)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<T>, E> {
        WireVisitor::<T>(PhantomData).visit_bool(v).map(Some)
    }
}

/// `#[serde(with = "wire")]` for a required [`WireValue`] field.
pub(crate) mod wire {
    use super::*;

    pub(crate) fn serialize<T: WireValue, S: Serializer>(
        value: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_str(&Wire(value))
    }

    pub(crate) fn deserialize<'de, T: WireValue, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        d.deserialize_any(WireVisitor(PhantomData))
    }
}

/// `#[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]` for an optional field.
pub(crate) mod opt {
    use super::*;

    #[allow(clippy::ref_option)] // the signature serde's `with` requires
    pub(crate) fn serialize<T: WireValue, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(&Wire(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: WireValue, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        d.deserialize_option(OptVisitor(PhantomData))
    }
}

/// Implements `Serialize`/`Deserialize` of a crate type through its [`WireValue`] impl.
macro_rules! serde_via_wire {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::value::wire::serialize(self, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::value::wire::deserialize(d)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::value::WireValue::fmt_wire(self, f)
            }
        }
    };
}
pub(crate) use serde_via_wire;

/// Declares a numeric code enum with a catch-all `Other(u32)` that keeps unknown codes.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code the spec does not list, kept as sent.
            Other(u32),
        }

        impl $name {
            /// The numeric code.
            #[must_use]
            pub fn code(self) -> u32 {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(n) => n,
                }
            }
        }

        impl From<u32> for $name {
            fn from(n: u32) -> Self {
                match n {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other),
                }
            }
        }

        impl $crate::value::WireValue for $name {
            const EXPECTING: &'static str = concat!("a `", stringify!($name), "` code (a decimal integer)");

            fn from_wire(s: &str) -> Option<Self> {
                s.parse::<u32>().ok().map(Self::from)
            }

            fn from_u64(n: u64) -> Option<Self> {
                u32::try_from(n).ok().map(Self::from)
            }

            fn fmt_wire(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.code())
            }
        }

        $crate::value::serde_via_wire!($name);
    };
}
pub(crate) use code_enum;

/// Declares a string enum with a catch-all `Other(String)` that keeps unknown values as sent
/// ([`proto_common::string_enum!`]), (de)serialized through [`WireValue`].
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        proto_common::string_enum! {
            without_serde;
            $(#[$meta])*
            $name { $($(#[$vmeta])* $variant = $wire,)* }
        }

        impl $crate::value::WireValue for $name {
            const EXPECTING: &'static str = concat!("a `", stringify!($name), "` string");

            fn from_wire(s: &str) -> Option<Self> {
                Some(Self::from(s))
            }

            fn fmt_wire(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // `serde_via_wire!` less its `Display`, which the shared macro already writes.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::value::wire::serialize(self, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::value::wire::deserialize(d)
            }
        }
    };
}
pub(crate) use string_enum;

macro_rules! wire_int {
    ($($ty:ty),*) => {$(
        impl WireValue for $ty {
            const EXPECTING: &'static str =
                concat!("an integer in the range of ", stringify!($ty), " (a string or a number)");

            fn from_wire(s: &str) -> Option<Self> {
                s.parse().ok()
            }

            fn from_u64(n: u64) -> Option<Self> {
                Self::try_from(n).ok()
            }

            fn from_i64(n: i64) -> Option<Self> {
                Self::try_from(n).ok()
            }

            fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{self}")
            }
        }
    )*};
}
wire_int!(u8, u16, u32, u64);

/// An on/off switch: `"0"` off, `"1"` on (numbers and JSON booleans accepted on decode).
impl WireValue for bool {
    const EXPECTING: &'static str = "a switch, \"0\" or \"1\"";

    fn from_wire(s: &str) -> Option<Self> {
        match s {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        }
    }

    fn from_u64(n: u64) -> Option<Self> {
        match n {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn from_bool(b: bool) -> Option<Self> {
        Some(b)
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self { "1" } else { "0" })
    }
}

/// A finite decimal number (temperatures), written in Rust's shortest round-trip form (`"37.00"` -> `"37"`).
impl WireValue for f64 {
    const EXPECTING: &'static str = "a finite decimal number";

    fn from_wire(s: &str) -> Option<Self> {
        s.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn from_u64(n: u64) -> Option<Self> {
        // Temperatures are small; a value past 2^53 losing precision is still that value's nearest f64.
        #[allow(clippy::cast_precision_loss)]
        Some(n as f64)
    }

    fn from_i64(n: i64) -> Option<Self> {
        #[allow(clippy::cast_precision_loss)]
        Some(n as f64)
    }

    fn from_f64(n: f64) -> Option<Self> {
        Some(n).filter(|v| v.is_finite())
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// A plain string (used inside bio vectors, where it must not contain `:`).
impl WireValue for String {
    const EXPECTING: &'static str = "a string";

    fn from_wire(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// An ISO-8601 time with its offset, `yyyy-MM-ddTHH:mm:ss±HH:mm` (fractional seconds and `Z` accepted).
impl WireValue for DateTime<FixedOffset> {
    const EXPECTING: &'static str = "an ISO-8601 time with offset (yyyy-MM-ddTHH:mm:ss+HH:mm)";

    fn from_wire(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s).ok()
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_opts(SecondsFormat::AutoSi, false))
    }
}

/// A time-zone offset `±HH:mm` (`timezone` of the `dev.report` reply).
impl WireValue for FixedOffset {
    const EXPECTING: &'static str = "a time-zone offset (+HH:mm or -HH:mm)";

    fn from_wire(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 6 || b[3] != b':' {
            return None;
        }
        let digits = |i: usize| -> Option<i32> {
            let (h, l) = (b[i], b[i + 1]);
            (h.is_ascii_digit() && l.is_ascii_digit())
                .then(|| i32::from(h - b'0') * 10 + i32::from(l - b'0'))
        };
        let (hours, minutes) = (digits(1)?, digits(4)?);
        if minutes > 59 {
            return None;
        }
        let secs = hours * 3600 + minutes * 60;
        match b[0] {
            b'+' => FixedOffset::east_opt(secs),
            b'-' => FixedOffset::west_opt(secs),
            _ => None,
        }
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.local_minus_utc();
        let sign = if secs < 0 { '-' } else { '+' };
        let abs = secs.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    }
}

/// Standard base64 with padding (`content` of uploads and photos).
impl WireValue for Bytes {
    const EXPECTING: &'static str = "standard base64 text";

    fn from_wire(s: &str) -> Option<Self> {
        // Strict RFC 4648 with padding, non-zero trailing bits refused, as the `base64` crate's STANDARD engine;
        // vectorised, which matters for 64 KiB upload chunks.
        base64_simd::STANDARD.decode_to_vec(s).ok().map(Bytes::from)
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64_simd::STANDARD.encode_to_string(self))
    }
}

/// Most positions a bio vector may have (the spec defines 10, positions 0..=9).
pub const MAX_BIO_POSITIONS: usize = 64;

/// Longest bit string accepted (`verifyStyles`, `qrCodeDecryptFunList`).
pub const MAX_BIT_STRING_LEN: usize = 256;

/// A colon-separated vector indexed by [`BioType`](crate::BioType) position: `0:1:1:0:0:0:0:0:0:0`.
///
/// `T` is `bool` for support vectors (`multiBioDataSupport`), `u32` for counts and `String` for algorithm
/// versions (`0:10.0:7.0:0...`). At most [`MAX_BIO_POSITIONS`] positions are accepted.
///
/// ```
/// use best_proto::{BioType, BioVector};
/// let support: BioVector<bool> = "0:1:1:0:0:0:0:0:0:0".parse().unwrap();
/// assert_eq!(support.get(BioType::Fingerprint), Some(&true));
/// assert_eq!(support.get(BioType::Iris), Some(&false));
/// assert_eq!(support.to_string(), "0:1:1:0:0:0:0:0:0:0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BioVector<T>(pub Vec<T>);

impl<T> BioVector<T> {
    /// The value at `bio_type`'s position, if the vector is that long.
    #[must_use]
    pub fn get(&self, bio_type: crate::BioType) -> Option<&T> {
        usize::try_from(bio_type.code())
            .ok()
            .and_then(|i| self.0.get(i))
    }
}

impl<T: WireValue> WireValue for BioVector<T> {
    const EXPECTING: &'static str = "a colon-separated bio vector (0:1:1:0...)";

    fn from_wire(s: &str) -> Option<Self> {
        let mut out = Vec::new();
        for part in s.split(':') {
            if out.len() == MAX_BIO_POSITIONS {
                return None;
            }
            out.push(T::from_wire(part)?);
        }
        Some(Self(out))
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            v.fmt_wire(f)?;
        }
        Ok(())
    }
}

impl<T: WireValue> std::str::FromStr for BioVector<T> {
    type Err = crate::error::ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_wire(s)
    }
}

impl<T: WireValue> fmt::Display for BioVector<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_wire(f)
    }
}

impl<T: WireValue> serde::Serialize for BioVector<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::serialize(self, s)
    }
}

impl<'de, T: WireValue> serde::Deserialize<'de> for BioVector<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::deserialize(d)
    }
}

/// A string of `0`/`1` characters, read from the left: character `i` is flag `i`.
///
/// `verifyStyles` (`100000000010`: character `i` says whether verify style code `i` is supported, see
/// [`VerifyStyle`](crate::VerifyStyle)) and `qrCodeDecryptFunList` (`01`: scheme 1 no, scheme 2 yes).
/// At most [`MAX_BIT_STRING_LEN`] characters.
///
/// ```
/// use best_proto::BitString;
/// let styles: BitString = "100000000010".parse().unwrap();
/// assert!(styles.get(0) && styles.get(10) && !styles.get(1) && !styles.get(99));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitString(pub Vec<bool>);

impl BitString {
    /// Whether flag `index` is set (`false` past the end).
    #[must_use]
    pub fn get(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }
}

impl WireValue for BitString {
    const EXPECTING: &'static str = "a string of 0 and 1 characters";

    fn from_wire(s: &str) -> Option<Self> {
        if s.len() > MAX_BIT_STRING_LEN {
            return None;
        }
        s.bytes()
            .map(|b| match b {
                b'0' => Some(false),
                b'1' => Some(true),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    fn fmt_wire(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &bit in &self.0 {
            f.write_str(if bit { "1" } else { "0" })?;
        }
        Ok(())
    }
}

impl std::str::FromStr for BitString {
    type Err = crate::error::ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_wire(s)
    }
}

serde_via_wire!(BitString);

/// Parses a wire string outside serde, with an error naming what was expected.
pub(crate) fn parse_wire<T: WireValue>(s: &str) -> Result<T, crate::error::ValueError> {
    T::from_wire(s).ok_or_else(|| crate::error::ValueError {
        value: s.chars().take(MAX_QUOTED).collect(),
        expected: T::EXPECTING,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Probe {
        #[serde(with = "wire")]
        n: u16,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
        on: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt")]
        at: Option<DateTime<FixedOffset>>,
    }

    #[test]
    fn numbers_read_from_strings_or_numbers_and_write_strings() {
        let a: Probe = serde_json::from_str(r#"{"n":"42","on":1}"#).unwrap();
        let b: Probe = serde_json::from_str(r#"{"n":42,"on":"1","at":""}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.on, Some(true));
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"n":"42","on":"1"}"#);
        let none: Probe = serde_json::from_str(r#"{"n":"1","on":null}"#).unwrap();
        assert_eq!(none.on, None);
    }

    #[test]
    fn bad_values_name_what_was_expected() {
        let e = serde_json::from_str::<Probe>(r#"{"n":"70000"}"#).unwrap_err();
        assert!(e.to_string().contains("range of u16"), "{e}");
        let e = serde_json::from_str::<Probe>(r#"{"n":-1}"#).unwrap_err();
        assert!(e.to_string().contains("integer `-1`"), "{e}");
        let e = serde_json::from_str::<Probe>(r#"{"n":1,"on":"2"}"#).unwrap_err();
        assert!(e.to_string().contains("\"0\" or \"1\""), "{e}");
        let e = serde_json::from_str::<Probe>(r#"{"n":1,"at":"2020-01-01"}"#).unwrap_err();
        assert!(e.to_string().contains("ISO-8601"), "{e}");
        let long = "x".repeat(100);
        let e = serde_json::from_str::<Probe>(&format!(r#"{{"n":"{long}"}}"#)).unwrap_err();
        assert!(e.to_string().contains("a string of 100 bytes"), "{e}");
    }

    #[test]
    fn times_keep_their_offset() {
        let t: DateTime<FixedOffset> = parse_wire("2020-12-31T23:59:59+08:00").unwrap();
        assert_eq!(t.offset().local_minus_utc(), 8 * 3600);
        assert_eq!(to_wire_string(&t), "2020-12-31T23:59:59+08:00");
        let z: DateTime<FixedOffset> = parse_wire("2020-12-31T23:59:59.5Z").unwrap();
        assert_eq!(to_wire_string(&z), "2020-12-31T23:59:59.500+00:00");
    }

    #[test]
    fn offsets_parse_both_signs() {
        let east: FixedOffset = parse_wire("+08:00").unwrap();
        assert_eq!(east.local_minus_utc(), 8 * 3600);
        let west: FixedOffset = parse_wire("-03:30").unwrap();
        assert_eq!(west.local_minus_utc(), -(3 * 3600 + 1800));
        assert_eq!(to_wire_string(&west), "-03:30");
        for bad in ["08:00", "+8:00", "+08:60", "+08-00", "+24:00", ""] {
            assert!(parse_wire::<FixedOffset>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn floats_reject_non_finite() {
        assert_eq!(parse_wire::<f64>("37.00").unwrap(), 37.0);
        assert!(parse_wire::<f64>("NaN").is_err());
        assert!(parse_wire::<f64>("inf").is_err());
    }

    #[test]
    fn bio_vectors_and_bit_strings_have_limits() {
        let v: BioVector<String> = "0:10.0:7.0".parse().unwrap();
        assert_eq!(v.0, ["0", "10.0", "7.0"]);
        let too_long = vec!["0"; MAX_BIO_POSITIONS + 1].join(":");
        assert!(too_long.parse::<BioVector<u32>>().is_err());
        assert!("0:x".parse::<BioVector<u32>>().is_err());
        assert!("012".parse::<BitString>().is_err());
        assert!("1"
            .repeat(MAX_BIT_STRING_LEN + 1)
            .parse::<BitString>()
            .is_err());
    }
}
