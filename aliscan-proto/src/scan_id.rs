//! [`ScanId`]: `DEVICEID-YYYYMMDD-HHmmss`, the id of one scan.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of one scan: the station's device id, then the local date and time the scan started, to the second
/// (spec "params约定"; DECISIONS.md: the station's local time).
///
/// The device id is assigned by the back end at activation; it may itself contain `-`, so the date and time
/// are taken from the end.
///
/// ```
/// use aliscan_proto::ScanId;
/// let id: ScanId = "FS-0042-20191105-093007".parse().unwrap();
/// assert_eq!(id.device_id(), "FS-0042");
/// assert_eq!(id.time().to_string(), "2019-11-05 09:30:07");
/// assert_eq!(id.to_string(), "FS-0042-20191105-093007");
/// assert!("FS0042-2019115-093007".parse::<ScanId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScanId {
    device_id: String,
    time: NaiveDateTime,
}

/// Why a text is not a [`ScanId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanIdError {
    /// Not three parts `DEVICEID-YYYYMMDD-HHmmss` with 8 and 6 digits.
    #[error("scan id `{found}` is not DEVICEID-YYYYMMDD-HHmmss")]
    Layout {
        /// The text seen.
        found: String,
    },
    /// The device id is empty or holds whitespace or control characters.
    #[error("scan id `{found}` has an invalid device id `{device_id}` (empty, or whitespace/control characters)")]
    DeviceId {
        /// The text seen.
        found: String,
        /// The device id part.
        device_id: String,
    },
    /// The date part is not a real date.
    #[error("scan id `{found}`: `{date}` is not a real date (YYYYMMDD)")]
    Date {
        /// The text seen.
        found: String,
        /// The date part.
        date: String,
    },
    /// The time part is not a real time of day.
    #[error("scan id `{found}`: `{time}` is not a real time of day (HHmmss)")]
    Time {
        /// The text seen.
        found: String,
        /// The time part.
        time: String,
    },
    /// [`ScanId::new`] was given a year outside 0..=9999, which has no 4-digit form.
    #[error("year {year} has no 4-digit form")]
    Year {
        /// The year given.
        year: i32,
    },
}

fn valid_device_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn digits<const N: usize>(s: &str) -> Option<[u32; N]> {
    let b = s.as_bytes();
    if b.len() != N || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0u32; N];
    for (o, d) in out.iter_mut().zip(b) {
        *o = u32::from(d - b'0');
    }
    Some(out)
}

impl ScanId {
    /// A scan id for `device_id` at `time` (truncated to the second).
    ///
    /// # Errors
    /// [`ScanIdError::DeviceId`] for an empty device id or one with whitespace or control characters;
    /// [`ScanIdError::Year`] for a year outside 0..=9999.
    pub fn new(device_id: impl Into<String>, time: NaiveDateTime) -> Result<Self, ScanIdError> {
        let device_id = device_id.into();
        if !valid_device_id(&device_id) {
            return Err(ScanIdError::DeviceId {
                found: device_id.clone(),
                device_id,
            });
        }
        if !(0..=9999).contains(&time.year()) {
            return Err(ScanIdError::Year { year: time.year() });
        }
        let time = time.with_nanosecond(0).unwrap_or(time);
        Ok(Self { device_id, time })
    }

    /// The station's device id.
    #[must_use]
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The station's local date and time of the scan.
    #[must_use]
    pub fn time(&self) -> NaiveDateTime {
        self.time
    }
}

impl FromStr for ScanId {
    type Err = ScanIdError;

    fn from_str(s: &str) -> Result<Self, ScanIdError> {
        let layout = || ScanIdError::Layout {
            found: s.to_owned(),
        };
        let mut parts = s.rsplitn(3, '-');
        let (Some(time), Some(date), Some(device_id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(layout());
        };
        let (Some(d), Some(t)) = (digits::<8>(date), digits::<6>(time)) else {
            return Err(layout());
        };
        if !valid_device_id(device_id) {
            return Err(ScanIdError::DeviceId {
                found: s.to_owned(),
                device_id: device_id.to_owned(),
            });
        }
        let year = d[..4].iter().fold(0u32, |n, x| n * 10 + x);
        let date_value = i32::try_from(year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, d[4] * 10 + d[5], d[6] * 10 + d[7]))
            .ok_or_else(|| ScanIdError::Date {
                found: s.to_owned(),
                date: date.to_owned(),
            })?;
        let time_value =
            NaiveTime::from_hms_opt(t[0] * 10 + t[1], t[2] * 10 + t[3], t[4] * 10 + t[5])
                .ok_or_else(|| ScanIdError::Time {
                    found: s.to_owned(),
                    time: time.to_owned(),
                })?;
        Ok(Self {
            device_id: device_id.to_owned(),
            time: date_value.and_time(time_value),
        })
    }
}

impl fmt::Display for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time;
        write!(
            f,
            "{}-{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.device_id,
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl Serialize for ScanId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScanId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_part_that_is_wrong() {
        type Check = fn(&ScanIdError) -> bool;
        let cases: [(&str, Check); 8] = [
            ("", |e| matches!(e, ScanIdError::Layout { .. })),
            ("abc", |e| matches!(e, ScanIdError::Layout { .. })),
            ("D-2019110-093007", |e| {
                matches!(e, ScanIdError::Layout { .. })
            }),
            ("D-20191105-0930070", |e| {
                matches!(e, ScanIdError::Layout { .. })
            }),
            ("-20191105-093007", |e| {
                matches!(e, ScanIdError::DeviceId { .. })
            }),
            ("D X-20191105-093007", |e| {
                matches!(e, ScanIdError::DeviceId { .. })
            }),
            (
                "D-20190230-093007",
                |e| matches!(e, ScanIdError::Date { date, .. } if date == "20190230"),
            ),
            (
                "D-20191105-246007",
                |e| matches!(e, ScanIdError::Time { time, .. } if time == "246007"),
            ),
        ];
        for (text, check) in cases {
            let e = text.parse::<ScanId>().unwrap_err();
            assert!(check(&e), "{text}: {e:?}");
            assert!(e.to_string().contains(&format!("`{text}`")), "{e}");
        }
    }

    #[test]
    fn new_checks_and_round_trips() {
        let t = NaiveDate::from_ymd_opt(2019, 1, 2)
            .unwrap()
            .and_hms_milli_opt(3, 4, 5, 600)
            .unwrap();
        let id = ScanId::new("A-1", t).unwrap();
        assert_eq!(id.to_string(), "A-1-20190102-030405");
        assert_eq!(id.to_string().parse::<ScanId>().unwrap(), id);
        assert!(matches!(
            ScanId::new("", t),
            Err(ScanIdError::DeviceId { .. })
        ));
        let far = NaiveDate::from_ymd_opt(12000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            ScanId::new("A", far),
            Err(ScanIdError::Year { year: 12000 })
        );
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"A-1-20190102-030405\"");
        assert_eq!(serde_json::from_str::<ScanId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ScanId>("\"xxx\"").is_err());
    }
}
