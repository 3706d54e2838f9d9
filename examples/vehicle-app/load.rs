//! `vehicle-app load`: the load tool of the measurements. Registers one user per vehicle, binds it, then
//! toggles each vehicle (unlock, lock, unlock, ...) with signed requests at a fixed total rate, and reports
//! the round trip from sending the HTTP request to the vehicle's RespCode: p50, p99, max, and the answers by
//! errCode.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{AppClient, CallError};

/// Parses `1001-1200,20001-20200` into devIds.
///
/// # Errors
/// A part is not `N` or `N-M` with `N <= M`.
pub fn parse_ids(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a
            .trim()
            .parse()
            .map_err(|e| format!("--dev-ids `{part}`: {e}"))?;
        let b: u32 = b
            .trim()
            .parse()
            .map_err(|e| format!("--dev-ids `{part}`: {e}"))?;
        if a > b {
            return Err(format!("--dev-ids `{part}`: {a} > {b}"));
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err("--dev-ids: no vehicle".into());
    }
    Ok(out)
}

/// The p-th percentile (0..=100) of sorted samples.
#[must_use]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the load; returns the report. With `baseline`, a first phase of `devStatus` requests at the same
/// rate (same signing, session, replay and store checks, no link) gives the figure the control round trip
/// is compared with.
///
/// # Errors
/// Registration or binding failed.
pub async fn run(
    server: SocketAddr,
    dev_type: u8,
    ids: Vec<u32>,
    rate: u32,
    duration: Duration,
    baseline: bool,
) -> Result<String, String> {
    let run = super::client::now_ms() % 1_000_000;
    let mut users = Vec::with_capacity(ids.len());
    for (i, dev) in ids.iter().enumerate() {
        let mut app = AppClient::new(server);
        let phone = format!("16{run:06}{i:05}");
        app.register(&phone, "load-secret", "load")
            .await
            .map_err(|e| format!("register {phone}: {e}"))?;
        app.bind(*dev, dev_type)
            .await
            .map_err(|e| format!("bind {dev}: {e}"))?;
        users.push((app, *dev, AtomicBool::new(false)));
    }
    let users = Arc::new(users);
    let mut report = String::new();
    if baseline {
        let (line, p50, p99) = phase(&users, dev_type, rate, duration, true).await;
        report.push_str(&format!("baseline devStatus: {line}\n"));
        let (line, c50, c99) = phase(&users, dev_type, rate, duration, false).await;
        report.push_str(&format!("unlock/lock: {line}\n"));
        report.push_str(&format!(
            "control / baseline: p50 x{:.2}, p99 x{:.2}",
            c50 / p50.max(1e-9),
            c99 / p99.max(1e-9)
        ));
    } else {
        report = phase(&users, dev_type, rate, duration, false).await.0;
    }
    Ok(report)
}

type Users = Arc<Vec<(AppClient, u32, AtomicBool)>>;

/// One phase of load; the report line and p50/p99 in ms.
async fn phase(
    users: &Users,
    dev_type: u8,
    rate: u32,
    duration: Duration,
    status: bool,
) -> (String, f64, f64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, i64, Duration)>();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = 0usize;
    while started.elapsed() < duration {
        tick.tick().await;
        let (users, tx) = (users.clone(), tx.clone());
        let k = sent % users.len();
        sent += 1;
        tokio::spawn(async move {
            let (app, dev, unlocked) = &users[k];
            let unlocking = !unlocked.load(Ordering::SeqCst);
            let t = Instant::now();
            let r = if status {
                app.status(*dev, dev_type).await
            } else if unlocking {
                app.unlock(*dev, dev_type, (0, 0, 0)).await
            } else {
                app.lock(*dev, dev_type).await
            };
            let took = t.elapsed();
            let code = match r {
                Ok(_) => {
                    if !status {
                        unlocked.store(unlocking, Ordering::SeqCst);
                    }
                    0
                }
                Err(CallError::Refused { code, .. }) => code,
                Err(CallError::Transport(_)) => -1,
            };
            let _ = tx.send((unlocking, code, took));
        });
    }
    drop(tx);
    let mut samples = Vec::with_capacity(sent);
    let mut codes: BTreeMap<i64, usize> = BTreeMap::new();
    while let Some((_, code, took)) = rx.recv().await {
        *codes.entry(code).or_default() += 1;
        if code == 0 || code == 1 {
            samples.push(took);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    #[allow(clippy::cast_precision_loss)]
    let achieved = sent as f64 / wall;
    let (p50, p99) = (
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
    );
    let line = format!(
        "{sent} requests in {wall:.1} s ({achieved:.0}/s) over {} vehicles; errCodes {codes:?}; \
         round trip p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms",
        users.len(),
        ms(samples.last().copied().unwrap_or_default()),
    );
    (line, p50, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_percentiles() {
        assert_eq!(parse_ids("1-3,7").unwrap(), vec![1, 2, 3, 7]);
        assert!(parse_ids("3-1").is_err());
        assert!(parse_ids("x").is_err());
        assert!(parse_ids("").is_err());
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&s, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
