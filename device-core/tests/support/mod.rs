//! An in-memory link between two sessions, with virtual time.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use device_core::{ManualClock, RequestError, RequestId, Session};

/// Two sessions wired back to back; `now` only moves when the test says so.
pub(crate) struct Pair<A: Session, B: Session> {
    pub a: A,
    pub b: B,
    pub now: Instant,
    pub clock: ManualClock,
    /// While set, bytes from `a` to `b` are dropped (a silent peer).
    pub drop_a_to_b: bool,
    /// While set, bytes from `b` to `a` are dropped.
    pub drop_b_to_a: bool,
    pub a_events: Vec<A::Event>,
    pub b_events: Vec<B::Event>,
    pub a_replies: Vec<(RequestId, Result<A::Reply, RequestError>)>,
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::new(chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00+08:00").unwrap())
}

pub(crate) fn shared(clock: &ManualClock) -> Arc<ManualClock> {
    Arc::new(clock.clone())
}

impl<A: Session, B: Session> Pair<A, B> {
    pub(crate) fn new(a: A, b: B, clock: ManualClock) -> Self {
        Self {
            a,
            b,
            now: Instant::now(),
            clock,
            drop_a_to_b: false,
            drop_b_to_a: false,
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_replies: Vec::new(),
        }
    }

    /// Opens the connection on both sides and lets them talk until quiet.
    pub(crate) fn connect(&mut self) {
        self.b.connection_opened(self.now);
        self.a.connection_opened(self.now);
        self.pump();
    }

    /// Moves bytes both ways until neither side has anything to send; collects events and replies.
    pub(crate) fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.a.poll_transmit() {
                moved = true;
                if !self.drop_a_to_b && self.b.close_reason().is_none() {
                    self.b.handle_input(self.now, &bytes);
                }
            }
            while let Some(bytes) = self.b.poll_transmit() {
                moved = true;
                if !self.drop_b_to_a && self.a.close_reason().is_none() {
                    self.a.handle_input(self.now, &bytes);
                }
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            while let Some(r) = self.a.poll_reply() {
                self.a_replies.push(r);
            }
            if !moved {
                break;
            }
        }
    }

    /// Advances virtual time by `by`, firing every timeout on the way in order.
    pub(crate) fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= target => {
                    let step = at.saturating_duration_since(self.now);
                    self.clock.advance(step);
                    self.now = at.max(self.now);
                    if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                        self.a.handle_timeout(self.now);
                    }
                    if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                        self.b.handle_timeout(self.now);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.clock
            .advance(target.saturating_duration_since(self.now));
        self.now = target;
    }

    /// Both sides see the connection drop.
    pub(crate) fn disconnect(&mut self) {
        self.a.connection_lost(self.now);
        self.b.connection_lost(self.now);
        self.pump();
    }
}

/// A best `dev.report` of a TDB08Z terminal, with the limits the test needs.
#[cfg(feature = "best")]
pub(crate) fn best_report(
    max_pending: u32,
    max_package_kb: u32,
    func_ids: &[&str],
) -> best_proto::Report {
    serde_json::from_value(serde_json::json!({
        "fwVer": "1.1.21", "devModel": "TDB08Z", "commType": "ethernet", "ip": "192.168.1.5",
        "netmask": "255.255.255.0", "gateway": "192.168.1.1", "mac": "00:17:61:12:e5:07",
        "lockCount": "1", "userCount": "50", "maxUserCount": "30000", "transactionCount": "115",
        "maxTransactionCount": "50000", "multiBioDataSupport": "0:1:1:0:0:0:0:0:0:0",
        "multiBioVer": "0:10.0:7.0:0:0:0:0:0:0:0", "multiBioDataCount": "0:100:200:0:0:0:0:0:0:0",
        "maxMultiBioDataCount": "0:10000:2000:0:0:0:0:0:0:0", "verifyStyles": "100000000010",
        "maxPendingCmdCount": max_pending.to_string(), "maxPackageSize": max_package_kb.to_string(),
        "funcIds": func_ids
    }))
    .unwrap()
}

/// Sends the requests `request(i)` makes, one after another 2 ms apart, each bounded by 10 s ("no hang"), until
/// [`Progress::stop`]; `answered` says which outcomes count as answered. The task yields every outcome in order.
pub(crate) fn traffic<F, Fut, O>(
    mut request: F,
    answered: fn(&O) -> bool,
) -> (Arc<Progress>, tokio::task::JoinHandle<Vec<O>>)
where
    F: FnMut(u32) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = O> + Send,
    O: Send + 'static,
{
    let progress = Arc::new(Progress::default());
    let task = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..2000 {
                if progress.stopped() {
                    break;
                }
                let outcome = tokio::time::timeout(Duration::from_secs(10), request(i))
                    .await
                    .expect("no hang");
                progress.record(answered(&outcome));
                outcomes.push(outcome);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            outcomes
        })
    };
    (progress, task)
}

/// Counts the outcomes of a stream of requests running in another task, so a test can wait until "some were
/// answered" or "one failed" instead of sleeping and hoping the traffic got that far on a loaded machine.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    ok: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
    stop: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// One request ended, answered (`ok`) or not.
    pub(crate) fn record(&self, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Tells the traffic to end after its current request.
    pub(crate) fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Progress::stop`] was called.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (10 s at most) until `done(answered, failed)` holds.
    pub(crate) async fn until(&self, what: &str, done: impl Fn(usize, usize) -> bool) {
        use std::sync::atomic::Ordering::SeqCst;
        tokio::time::timeout(Duration::from_secs(10), async {
            while !done(self.ok.load(SeqCst), self.failed.load(SeqCst)) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the traffic never reached: {what}"));
    }
}
