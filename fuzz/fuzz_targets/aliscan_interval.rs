//! The interval grammar of the station configuration on arbitrary text and JSON.
//!
//! Invariants: no panic; the text is kept as written; a reachable period formats back to itself, its duration
//! and calendar addition never panic (overflow is `None`) and its duration grows with its count; an interval
//! read from JSON writes back the same JSON; `@every` cron entries agree with the interval grammar.
#![no_main]

use aliscan_proto::{CronSpec, Interval, Period};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let interval = Interval::new(text);
    assert_eq!(interval.as_str(), text);
    if let Some(p) = interval.period() {
        assert_eq!(Period::parse(&p.to_string()), Some(p));
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()));
        if let (Some(d), Some(next)) = (
            p.to_duration(),
            p.count
                .checked_add(1)
                .and_then(|count| Period { count, ..p }.to_duration()),
        ) {
            assert!(next > d);
        }
        let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 31)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        if let Some(end) = p.add_to(start) {
            assert!(end >= start);
        }
    } else {
        assert!(interval.is_never());
        assert_eq!(interval.to_duration(), None);
    }
    let cron = CronSpec::new(format!("@every {text}"));
    assert_eq!(cron.every(), Interval::new(text.trim()).period());
    // The same text as JSON: as a string, and as itself when it is a JSON number.
    for json in [serde_json::to_string(text).unwrap(), text.to_owned()] {
        if let Ok(parsed) = serde_json::from_str::<Interval>(&json) {
            let written = serde_json::to_string(&parsed).unwrap();
            assert_eq!(serde_json::from_str::<Interval>(&written).unwrap(), parsed);
        }
    }
});
