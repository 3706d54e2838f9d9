//! Value types shared by the messages: closed value sets, the error object, `sex`, station timestamps.

use std::fmt;

use base64::Engine;
use bytes::Bytes;
use chrono::{NaiveDate, NaiveDateTime, Timelike};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error_code::ErrorCode;

pub(crate) use proto_common::string_enum;

string_enum! {
    /// `status` of a command's result (`success` or `fail`).
    ///
    /// Used by every `...result` message; the spec's note on these lines ("设备未就绪") is a copy error.
    OutcomeStatus {
        /// `success`.
        Success = "success",
        /// `fail`.
        Fail = "fail",
    }
}

/// `data` of a message whose payload the spec prints as `{}`: any object, contents ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Empty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Empty, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Empty)
            }
        }
        d.deserialize_map(V)
    }
}

/// The error object: `{"code": 0, "message": {"msg_cn": "...", "msg_en": "..."}}`.
///
/// `code` 0 means success. The station fills in the texts; [`ErrorCode::info`] gives the catalogue's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// `code` - the error code; 0 = no error.
    pub code: ErrorCode,
    /// `message` - the station's bilingual text.
    pub message: ErrorText,
}

impl ErrorInfo {
    /// Code 0 with empty texts.
    #[must_use]
    pub fn ok() -> Self {
        Self::default()
    }

    /// `code` with the catalogue's texts (empty texts for a code outside the catalogue).
    #[must_use]
    pub fn from_code(code: ErrorCode) -> Self {
        let info = code.info();
        Self {
            code,
            message: ErrorText {
                msg_cn: info
                    .map(|i| i.description_cn.to_owned())
                    .unwrap_or_default(),
                msg_en: info
                    .map(|i| i.description_en.to_owned())
                    .unwrap_or_default(),
            },
        }
    }

    /// Whether `code` is 0.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.code.is_ok()
    }
}

/// `message` of the error object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorText {
    /// `msg_cn` - Chinese text.
    pub msg_cn: String,
    /// `msg_en` - English text.
    pub msg_en: String,
}

/// `sex`: `0` female, `1` male.
///
/// DECISIONS.md: `equipment/scan/new` carries a number and scan records a string (`"0"`/`"1"`); decoders accept
/// either form in both places, encoders write the form the spec shows there. Any other integer or string is
/// kept in [`Sex::Other`] as its decimal or literal text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sex {
    /// `0`.
    Female,
    /// `1`.
    Male,
    /// Any other value, as text (`"2"`, `"x"`).
    Other(String),
}

impl Sex {
    /// The value as text: `"0"`, `"1"` or the kept text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Female => "0",
            Self::Male => "1",
            Self::Other(s) => s,
        }
    }

    fn from_text(s: &str) -> Self {
        match s {
            "0" => Self::Female,
            "1" => Self::Male,
            other => Self::Other(other.to_owned()),
        }
    }

    fn from_int<T: Into<i128> + fmt::Display + Copy>(n: T) -> Self {
        match n.into() {
            0 => Self::Female,
            1 => Self::Male,
            _ => Self::Other(n.to_string()),
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes the string form (`"0"`), as scan records show it.
impl Serialize for Sex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Sex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0 or 1, as a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Sex, E> {
                Ok(Sex::from_int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Sex, E> {
                Ok(Sex::from_int(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Sex, E> {
                Ok(Sex::from_text(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `#[serde(with)]` helpers writing [`Sex`] as a number (`0`), as `equipment/scan/new` shows it.
///
/// A [`Sex::Other`] text that is not an integer is written as a string, so nothing is lost.
pub(crate) mod sex_number {
    use super::{Serializer, Sex};
    use serde::{Deserialize, Deserializer};

    pub(crate) fn serialize<S: Serializer>(sex: &Sex, s: S) -> Result<S::Ok, S::Error> {
        match sex {
            Sex::Female => s.serialize_u8(0),
            Sex::Male => s.serialize_u8(1),
            Sex::Other(text) => match text.parse::<i64>() {
                Ok(n) if n.to_string() == *text => s.serialize_i64(n),
                _ => s.serialize_str(text),
            },
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sex, D::Error> {
        Sex::deserialize(d)
    }
}

/// A station timestamp, `YYYY-MM-DD HH:mm:ss` in the station's local time (`createTime`, `lastUploadTime`).
///
/// Years 0..=9999 only, so every value formats back to the 19-character layout.
///
/// ```
/// use aliscan_proto::StationTime;
/// let t: StationTime = "2018-10-10 22:00:01".parse().unwrap();
/// assert_eq!(t.to_string(), "2018-10-10 22:00:01");
/// assert!("2018-10-10T22:00:01".parse::<StationTime>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StationTime(NaiveDateTime);

/// A timestamp that is not `YYYY-MM-DD HH:mm:ss` or not a real date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a time as `YYYY-MM-DD HH:mm:ss`, found `{found}`")]
pub struct StationTimeError {
    /// The text seen.
    pub found: String,
}

impl StationTime {
    /// Wraps `t`, or `None` when its year is outside 0..=9999 or it has a fraction of a second.
    #[must_use]
    pub fn new(t: NaiveDateTime) -> Option<Self> {
        use chrono::Datelike;
        ((0..=9999).contains(&t.year()) && t.nanosecond() == 0).then_some(Self(t))
    }

    /// The date and time.
    #[must_use]
    pub fn get(self) -> NaiveDateTime {
        self.0
    }

    fn format(self) -> [u8; 19] {
        use chrono::Datelike;
        let t = self.0;
        let mut out = *b"0000-00-00 00:00:00";
        // Every field is in range by construction (year 0..=9999), so each fits its digits.
        let fields = [
            (0, 4, t.year().unsigned_abs()),
            (5, 2, t.month()),
            (8, 2, t.day()),
            (11, 2, t.hour()),
            (14, 2, t.minute()),
            (17, 2, t.second()),
        ];
        for (start, width, mut value) in fields {
            for i in (start..start + width).rev() {
                out[i] = u8::try_from(value % 10).map_or(b'0', |d| b'0' + d);
                value /= 10;
            }
        }
        out
    }
}

impl std::str::FromStr for StationTime {
    type Err = StationTimeError;

    fn from_str(s: &str) -> Result<Self, StationTimeError> {
        let err = || StationTimeError {
            found: s.to_owned(),
        };
        let b = s.as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b' '
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, StationTimeError> {
            b[range].iter().try_fold(0u32, |n, &d| {
                if d.is_ascii_digit() {
                    Ok(n * 10 + u32::from(d - b'0'))
                } else {
                    Err(err())
                }
            })
        };
        let year = i32::try_from(num(0..4)?).map_err(|_| err())?;
        let date = NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?).ok_or_else(err)?;
        let time = date
            .and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
            .ok_or_else(err)?;
        Ok(Self(time))
    }
}

impl fmt::Display for StationTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.format();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for StationTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.format();
        s.serialize_str(std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for StationTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StationTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time as `YYYY-MM-DD HH:mm:ss`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StationTime, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A blob carried as standard base64 with padding (Go's `[]byte` in JSON), such as `qrData`.
///
/// `Debug` prints the length, not the bytes.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Blob(pub Bytes);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob(<{} bytes>)", self.0.len())
    }
}

impl From<Bytes> for Blob {
    fn from(b: Bytes) -> Self {
        Self(b)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("standard base64 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map(|b| Blob(Bytes::from(b)))
                    .map_err(|e| E::custom(format_args!("not standard base64: {e}")))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sex_accepts_both_forms_and_writes_each_form() {
        for (json, sex) in [
            ("0", Sex::Female),
            ("\"0\"", Sex::Female),
            ("1", Sex::Male),
            ("\"1\"", Sex::Male),
        ] {
            assert_eq!(serde_json::from_str::<Sex>(json).unwrap(), sex, "{json}");
        }
        assert_eq!(
            serde_json::from_str::<Sex>("2").unwrap(),
            Sex::Other("2".into())
        );
        assert_eq!(
            serde_json::from_str::<Sex>("-1").unwrap(),
            Sex::Other("-1".into())
        );
        assert_eq!(
            serde_json::from_str::<Sex>("\"m\"").unwrap(),
            Sex::Other("m".into())
        );
        let e = serde_json::from_str::<Sex>("1.5").unwrap_err();
        assert!(e.to_string().contains("0 or 1"), "{e}");
        assert_eq!(serde_json::to_string(&Sex::Male).unwrap(), "\"1\"");

        #[derive(Serialize)]
        struct N(#[serde(with = "sex_number")] Sex);
        assert_eq!(serde_json::to_string(&N(Sex::Female)).unwrap(), "0");
        assert_eq!(
            serde_json::to_string(&N(Sex::Other("7".into()))).unwrap(),
            "7"
        );
        assert_eq!(
            serde_json::to_string(&N(Sex::Other("07".into()))).unwrap(),
            "\"07\""
        );
        assert_eq!(
            serde_json::to_string(&N(Sex::Other("m".into()))).unwrap(),
            "\"m\""
        );
    }

    #[test]
    fn station_time_parses_only_the_exact_layout() {
        let t: StationTime = "0001-01-01 00:00:00".parse().unwrap();
        assert_eq!(t.to_string(), "0001-01-01 00:00:00");
        for bad in [
            "2018-13-10 22:00:01",
            "2018-02-30 22:00:01",
            "2018-10-10 24:00:01",
            "2018-10-10 22:00",
            "2018/10/10 22:00:01",
            "+018-10-10 22:00:01",
            "2018-10-10 22:00:01 ",
        ] {
            let e = bad.parse::<StationTime>().unwrap_err();
            assert_eq!(e.found, bad);
        }
        let e = serde_json::from_str::<StationTime>("\"x\"").unwrap_err();
        assert!(
            e.to_string().contains("`YYYY-MM-DD HH:mm:ss`, found `x`"),
            "{e}"
        );
        let dt = NaiveDate::from_ymd_opt(10000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(StationTime::new(dt), None);
    }

    #[test]
    fn string_enums_keep_unknown_values() {
        assert_eq!(
            serde_json::from_str::<OutcomeStatus>("\"fail\"").unwrap(),
            OutcomeStatus::Fail
        );
        let other: OutcomeStatus = serde_json::from_str("\"partial\"").unwrap();
        assert_eq!(other, OutcomeStatus::Other("partial".into()));
        assert_eq!(serde_json::to_string(&other).unwrap(), "\"partial\"");
        assert!(serde_json::from_str::<OutcomeStatus>("3").is_err());
    }

    #[test]
    fn blob_is_base64_and_debug_prints_its_length() {
        let b: Blob = serde_json::from_str("\"iVBORw0KGgo=\"").unwrap();
        assert_eq!(&b.0[..], b"\x89PNG\r\n\x1a\n");
        assert_eq!(format!("{b:?}"), "Blob(<8 bytes>)");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"iVBORw0KGgo=\"");
        let e = serde_json::from_str::<Blob>("\"XXX\"").unwrap_err();
        assert!(e.to_string().contains("not standard base64"), "{e}");
    }

    #[test]
    fn empty_accepts_any_object_only() {
        assert_eq!(
            serde_json::from_str::<Empty>(r#"{"x":[1,{"y":2}]}"#).unwrap(),
            Empty
        );
        assert!(serde_json::from_str::<Empty>("[]").is_err());
        assert_eq!(serde_json::to_string(&Empty).unwrap(), "{}");
    }
}
