//! The wire timestamp: terminal-local time written `yyyyMMddHHmmss`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A local date and time to the second, written `yyyyMMddHHmmss` (`20190823123435`).
///
/// The wire carries no time zone: it is the terminal's wall clock (DECISIONS.md, access). Years are 0..=9999
/// so that the text is always 14 digits.
///
/// ```
/// use access_proto::LocalTimestamp;
///
/// let t: LocalTimestamp = "20190823123435".parse().unwrap();
/// assert_eq!(t, LocalTimestamp::from_ymd_hms(2019, 8, 23, 12, 34, 35).unwrap());
/// assert_eq!(t.to_string(), "20190823123435");
/// assert!("2019082312343".parse::<LocalTimestamp>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTimestamp(NaiveDateTime);

impl LocalTimestamp {
    /// The timestamp of `time` with its fraction of a second dropped (the wire has none), or `None` when its
    /// year is outside 0..=9999.
    #[must_use]
    pub fn new(time: NaiveDateTime) -> Option<Self> {
        if !(0..=9999).contains(&time.year()) {
            return None;
        }
        time.with_nanosecond(0).map(Self)
    }

    /// The timestamp of a calendar date and time, or `None` when it does not exist or its year is outside
    /// 0..=9999.
    #[must_use]
    pub fn from_ymd_hms(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
    ) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_opt(hour, min, sec)
            .and_then(Self::new)
    }

    /// The date and time, without a time zone.
    #[must_use]
    pub fn naive(self) -> NaiveDateTime {
        self.0
    }
}

impl fmt::Debug for LocalTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalTimestamp({self})")
    }
}

impl fmt::Display for LocalTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// A string that is not a `yyyyMMddHHmmss` timestamp.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a yyyyMMddHHmmss local time: {reason}")]
pub struct TimestampError {
    text: String,
    reason: &'static str,
}

impl FromStr for LocalTimestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| TimestampError {
            text: text.chars().take(32).collect(),
            reason,
        };
        let bytes = text.as_bytes();
        if bytes.len() != 14 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(fail("expected 14 digits"));
        }
        // Each slice is 2 or 4 ASCII digits, so the parse cannot fail or overflow.
        let num = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let year = i32::try_from(num(0..4)).map_err(|_| fail("year out of range"))?;
        let date = NaiveDate::from_ymd_opt(year, num(4..6), num(6..8))
            .ok_or_else(|| fail("no such date"))?;
        let time = date
            .and_hms_opt(num(8..10), num(10..12), num(12..14))
            .ok_or_else(|| fail("no such time of day"))?;
        Ok(Self(time))
    }
}

impl Serialize for LocalTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = LocalTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a yyyyMMddHHmmss string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LocalTimestamp, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_spec_example() {
        let t: LocalTimestamp = "20190823123435".parse().unwrap();
        let naive = t.naive();
        assert_eq!((naive.year(), naive.month(), naive.day()), (2019, 8, 23));
        assert_eq!((naive.hour(), naive.minute(), naive.second()), (12, 34, 35));
        assert_eq!(t.to_string(), "20190823123435");
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""20190823123435""#);
        let back: LocalTimestamp = serde_json::from_str(r#""20190823123435""#).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn rejects_what_is_not_14_digits_of_a_real_time() {
        for (text, reason) in [
            ("", "expected 14 digits"),
            ("2019082312343", "expected 14 digits"),
            ("201908231234350", "expected 14 digits"),
            ("2019-8-2312345", "expected 14 digits"),
            ("+019082312343", "expected 14 digits"),
            ("20190230123435", "no such date"),
            ("20191323123435", "no such date"),
            ("20190823243435", "no such time of day"),
            ("20190823126035", "no such time of day"),
        ] {
            let err = text.parse::<LocalTimestamp>().unwrap_err();
            assert_eq!(err.reason, reason, "{text}");
            assert!(err.to_string().contains(text), "{err}");
        }
        let err = serde_json::from_str::<LocalTimestamp>("20190823123435").unwrap_err();
        assert!(err.to_string().contains("yyyyMMddHHmmss string"), "{err}");
    }

    #[test]
    fn construction_keeps_the_wire_range_and_precision() {
        let t = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 999_000_000)
            .unwrap();
        assert_eq!(
            LocalTimestamp::new(t).unwrap().to_string(),
            "20240229235959"
        );
        assert_eq!(
            LocalTimestamp::from_ymd_hms(0, 1, 1, 0, 0, 0)
                .unwrap()
                .to_string(),
            "00000101000000"
        );
        assert!(LocalTimestamp::from_ymd_hms(10000, 1, 1, 0, 0, 0).is_none());
        assert!(LocalTimestamp::from_ymd_hms(-1, 1, 1, 0, 0, 0).is_none());
        assert!(LocalTimestamp::from_ymd_hms(2023, 2, 29, 0, 0, 0).is_none());
    }
}
