//! The interval grammar of the station configuration (`retryUploadInterval`, `deleteLife`, `@every ...`).
//!
//! DECISIONS.md and the spec's `.server.json` notes: a non-negative whole number with an optional unit suffix,
//! `y` years, `M` months, `w` weeks, `h` hours, `m` minutes, `s` seconds; a bare number means hours; anything
//! else means "never" (the interval is never reached). Examples: `30` (30 h), `5h`, `3M`, `1y`, `2w`, `30m`,
//! `45s`. There is no day unit: `5d` is "never".

use std::fmt;
use std::time::Duration;

use chrono::{Months, NaiveDateTime, TimeDelta};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// The unit of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntervalUnit {
    /// `y` - calendar years; [`Period::to_duration`] counts 365 days.
    Year,
    /// `M` - calendar months; [`Period::to_duration`] counts 30 days.
    Month,
    /// `w` - weeks.
    Week,
    /// `h`, or no suffix - hours.
    Hour,
    /// `m` - minutes.
    Minute,
    /// `s` - seconds.
    Second,
}

impl IntervalUnit {
    /// The suffix letter.
    #[must_use]
    pub fn suffix(self) -> char {
        match self {
            Self::Year => 'y',
            Self::Month => 'M',
            Self::Week => 'w',
            Self::Hour => 'h',
            Self::Minute => 'm',
            Self::Second => 's',
        }
    }

    fn from_suffix(c: u8) -> Option<Self> {
        Some(match c {
            b'y' => Self::Year,
            b'M' => Self::Month,
            b'w' => Self::Week,
            b'h' => Self::Hour,
            b'm' => Self::Minute,
            b's' => Self::Second,
            _ => return None,
        })
    }

    /// Seconds in one unit, with 365-day years and 30-day months.
    fn seconds(self) -> u64 {
        match self {
            Self::Year => 365 * DAY,
            Self::Month => 30 * DAY,
            Self::Week => 7 * DAY,
            Self::Hour => HOUR,
            Self::Minute => 60,
            Self::Second => 1,
        }
    }
}

/// A reachable interval: `count` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// How many units.
    pub count: u64,
    /// The unit.
    pub unit: IntervalUnit,
}

impl Period {
    /// Parses the grammar; `None` for anything that means "never".
    ///
    /// ```
    /// use aliscan_proto::{IntervalUnit, Period};
    /// assert_eq!(Period::parse("30"), Some(Period { count: 30, unit: IntervalUnit::Hour }));
    /// assert_eq!(Period::parse("3M"), Some(Period { count: 3, unit: IntervalUnit::Month }));
    /// assert_eq!(Period::parse("5d"), None);
    /// assert_eq!(Period::parse("1.5h"), None);
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let (digits, unit) = match bytes.split_last() {
            Some((&last, rest)) if !last.is_ascii_digit() => {
                (rest, IntervalUnit::from_suffix(last)?)
            }
            _ => (bytes, IntervalUnit::Hour),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Too many digits for a u64 is not a number the grammar can mean: "never".
        let count = digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        Some(Self { count, unit })
    }

    /// The length as a [`Duration`], with 365-day years and 30-day months; `None` if it overflows.
    #[must_use]
    pub fn to_duration(self) -> Option<Duration> {
        self.count
            .checked_mul(self.unit.seconds())
            .map(Duration::from_secs)
    }

    /// `start` plus this period, calendar-aware for years and months (`2020-01-31` + `1M` = `2020-02-29`);
    /// `None` if the result is out of range.
    #[must_use]
    pub fn add_to(self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        match self.unit {
            IntervalUnit::Year | IntervalUnit::Month => {
                let per = if self.unit == IntervalUnit::Year {
                    12
                } else {
                    1
                };
                let months = u32::try_from(self.count.checked_mul(per)?).ok()?;
                start.checked_add_months(Months::new(months))
            }
            _ => {
                let secs = i64::try_from(self.count.checked_mul(self.unit.seconds())?).ok()?;
                start.checked_add_signed(TimeDelta::try_seconds(secs)?)
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

/// An interval setting as written in the configuration: a JSON number (`30`) or string (`"5h"`), kept as
/// written so it encodes back unchanged; [`Interval::period`] interprets it.
///
/// ```
/// use std::time::Duration;
/// use aliscan_proto::Interval;
/// let i: Interval = serde_json::from_str("30").unwrap();
/// assert_eq!(i.to_duration(), Some(Duration::from_secs(30 * 3600)));
/// let never: Interval = serde_json::from_str("\"soon\"").unwrap();
/// assert!(never.is_never());
/// assert_eq!(serde_json::to_string(&never).unwrap(), "\"soon\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interval {
    text: String,
    number: bool,
}

impl Interval {
    /// An interval written as a string.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            number: false,
        }
    }

    /// An interval written as a bare JSON number of hours.
    #[must_use]
    pub fn hours(count: u64) -> Self {
        Self {
            text: count.to_string(),
            number: true,
        }
    }

    /// The text as written (a number's decimal text for the number form).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it was written as a JSON number.
    #[must_use]
    pub fn is_number(&self) -> bool {
        self.number
    }

    /// The period, or `None` for "never".
    #[must_use]
    pub fn period(&self) -> Option<Period> {
        Period::parse(&self.text)
    }

    /// Whether the interval is never reached.
    #[must_use]
    pub fn is_never(&self) -> bool {
        self.period().is_none()
    }

    /// The length as a [`Duration`] (365-day years, 30-day months); `None` for "never" or on overflow.
    #[must_use]
    pub fn to_duration(&self) -> Option<Duration> {
        self.period()?.to_duration()
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.number {
            // Keep the number form: re-parse the kept text as a JSON number (always valid for the number form).
            match self.text.parse::<serde_json::Number>() {
                Ok(n) => n.serialize(s),
                Err(_) => s.serialize_str(&self.text),
            }
        } else {
            s.serialize_str(&self.text)
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Interval;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an interval: a number of hours, or a string such as \"5h\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Interval, E> {
                Ok(Interval::hours(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Interval, E> {
                Ok(Interval {
                    text: v.to_string(),
                    number: true,
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Interval, E> {
                // Not a whole number of hours: "never", kept as a number (floats round-trip exactly with
                // serde_json's `float_roundtrip`, which this crate enables).
                let text = serde_json::Number::from_f64(v)
                    .map_or_else(|| v.to_string(), |n| n.to_string());
                Ok(Interval { text, number: true })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Interval, E> {
                Ok(Interval::new(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `cron` entry of the configuration, such as `@every 5h`, kept as written.
///
/// `@every <interval>` is read with the interval grammar above (`@every 5m` = 5 minutes); other schedules
/// (cron expressions, `@daily`, ...) are kept but not interpreted.
///
/// ```
/// use std::time::Duration;
/// use aliscan_proto::CronSpec;
/// let c = CronSpec::new("@every 10m");
/// assert_eq!(c.every_duration(), Some(Duration::from_secs(600)));
/// assert_eq!(CronSpec::new("0 0 * * *").every(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CronSpec(String);

impl CronSpec {
    /// The prefix of a fixed-interval schedule.
    pub const EVERY: &'static str = "@every ";

    /// Wraps a schedule.
    #[must_use]
    pub fn new(spec: impl Into<String>) -> Self {
        Self(spec.into())
    }

    /// A fixed-interval schedule, `@every <period>`.
    #[must_use]
    pub fn from_period(period: Period) -> Self {
        Self(format!("{}{period}", Self::EVERY))
    }

    /// The schedule as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The interval of an `@every` schedule (which may itself mean "never"); `None` for other schedules.
    #[must_use]
    pub fn every_interval(&self) -> Option<Interval> {
        self.0
            .strip_prefix(Self::EVERY)
            .map(|rest| Interval::new(rest.trim()))
    }

    /// The period of an `@every` schedule; `None` for other schedules and for "never".
    #[must_use]
    pub fn every(&self) -> Option<Period> {
        self.every_interval()?.period()
    }

    /// The duration of an `@every` schedule; `None` for other schedules, "never", or on overflow.
    #[must_use]
    pub fn every_duration(&self) -> Option<Duration> {
        self.every()?.to_duration()
    }
}

impl fmt::Display for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn p(count: u64, unit: IntervalUnit) -> Option<Period> {
        Some(Period { count, unit })
    }

    #[test]
    fn grammar_of_decisions_md() {
        use IntervalUnit::*;
        let cases = [
            ("30", p(30, Hour)),
            ("5h", p(5, Hour)),
            ("3M", p(3, Month)),
            ("1y", p(1, Year)),
            ("2w", p(2, Week)),
            ("30m", p(30, Minute)),
            ("45s", p(45, Second)),
            ("0", p(0, Hour)),
            ("007m", p(7, Minute)),
            ("18446744073709551615s", p(u64::MAX, Second)),
            ("18446744073709551616s", None),
            ("", None),
            ("h", None),
            ("5d", None),
            ("5H", None),
            ("-5h", None),
            ("+5h", None),
            ("1.5h", None),
            (" 5h", None),
            ("5h ", None),
            ("5hm", None),
            ("1h30m", None),
            ("never", None),
            ("５h", None),
        ];
        for (text, want) in cases {
            assert_eq!(Period::parse(text), want, "{text:?}");
        }
    }

    #[test]
    fn durations_and_calendar_addition() {
        let d = |t: &str| Period::parse(t).unwrap().to_duration();
        assert_eq!(d("30"), Some(Duration::from_secs(30 * 3600)));
        assert_eq!(d("2w"), Some(Duration::from_secs(14 * 86400)));
        assert_eq!(d("1y"), Some(Duration::from_secs(365 * 86400)));
        assert_eq!(d("3M"), Some(Duration::from_secs(90 * 86400)));
        assert_eq!(d("18446744073709551615h"), None);
        let start = NaiveDate::from_ymd_opt(2020, 1, 31)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let add = |t: &str| {
            Period::parse(t)
                .unwrap()
                .add_to(start)
                .map(|t| t.to_string())
        };
        assert_eq!(add("1M").as_deref(), Some("2020-02-29 12:00:00"));
        assert_eq!(add("1y").as_deref(), Some("2021-01-31 12:00:00"));
        assert_eq!(add("45s").as_deref(), Some("2020-01-31 12:00:45"));
        assert_eq!(add("18446744073709551615y"), None);
        assert_eq!(add("9223372036854775807s"), None);
    }

    #[test]
    fn intervals_keep_their_json_form() {
        for json in [
            "30",
            "\"30\"",
            "\"5h\"",
            "\"x\"",
            "-3",
            "1.5",
            "1.8167140467407306e+24",
        ] {
            let i: Interval = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&i).unwrap(), json);
        }
        let i: Interval = serde_json::from_str("1.5").unwrap();
        assert!(i.is_never() && i.is_number());
        let i: Interval = serde_json::from_str("-3").unwrap();
        assert!(i.is_never());
        let e = serde_json::from_str::<Interval>("true").unwrap_err();
        assert!(e.to_string().contains("an interval"), "{e}");
    }

    #[test]
    fn cron_every_entries() {
        assert_eq!(
            CronSpec::new("@every 5h").every_duration(),
            Some(Duration::from_secs(5 * 3600))
        );
        assert_eq!(
            CronSpec::new("@every 1m").every_duration(),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            CronSpec::new("@every 10").every_duration(),
            Some(Duration::from_secs(36000))
        );
        assert!(CronSpec::new("@every 1h30m")
            .every_interval()
            .unwrap()
            .is_never());
        assert_eq!(CronSpec::new("@every").every(), None);
        assert_eq!(CronSpec::new("@hourly").every(), None);
        let c = CronSpec::from_period(Period {
            count: 2,
            unit: IntervalUnit::Week,
        });
        assert_eq!(c.as_str(), "@every 2w");
    }
}
