//! Liveness: when a heartbeat is due, and when the peer has been silent too long.

use std::time::{Duration, Instant};

/// Heartbeat schedule and peer-silence detection for one connection.
#[derive(Debug, Clone)]
pub struct Liveness {
    heartbeat: Option<Duration>,
    peer_timeout: Duration,
    last_rx: Instant,
    next_heartbeat: Option<Instant>,
}

impl Liveness {
    /// Starts at `now`: the first heartbeat (if this side sends them) is due one interval from now.
    #[must_use]
    pub fn new(now: Instant, heartbeat: Option<Duration>, peer_timeout: Duration) -> Self {
        Self {
            heartbeat,
            peer_timeout,
            last_rx: now,
            next_heartbeat: heartbeat.map(|h| now + h),
        }
    }

    /// Something arrived from the peer.
    pub fn on_receive(&mut self, now: Instant) {
        self.last_rx = now;
    }

    /// Changes the heartbeat interval (a platform may dictate it), counting from `now`.
    pub fn set_heartbeat(&mut self, now: Instant, heartbeat: Option<Duration>) {
        self.heartbeat = heartbeat;
        self.next_heartbeat = heartbeat.map(|h| now + h);
    }

    /// Whether a heartbeat is due at `now`; if so, the next one is scheduled one interval later.
    pub fn heartbeat_due(&mut self, now: Instant) -> bool {
        match (self.heartbeat, self.next_heartbeat) {
            (Some(interval), Some(at)) if at <= now => {
                self.next_heartbeat = Some(now + interval);
                true
            }
            _ => false,
        }
    }

    /// Whether the peer has been silent for the whole timeout at `now`.
    #[must_use]
    pub fn peer_dead(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_rx) >= self.peer_timeout
    }

    /// The peer timeout.
    #[must_use]
    pub fn peer_timeout(&self) -> Duration {
        self.peer_timeout
    }

    /// The next instant at which [`Liveness::heartbeat_due`] or [`Liveness::peer_dead`] may change.
    #[must_use]
    pub fn next_deadline(&self) -> Instant {
        let dead_at = self.last_rx + self.peer_timeout;
        match self.next_heartbeat {
            Some(h) => h.min(dead_at),
            None => dead_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_and_silence() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut l = Liveness::new(t0, Some(s(20)), s(120));
        assert_eq!(l.next_deadline(), t0 + s(20));
        assert!(!l.heartbeat_due(t0 + s(19)));
        assert!(l.heartbeat_due(t0 + s(20)));
        assert!(!l.heartbeat_due(t0 + s(20)));
        assert_eq!(l.next_deadline(), t0 + s(40));
        l.on_receive(t0 + s(30));
        assert!(!l.peer_dead(t0 + s(149)));
        assert!(l.peer_dead(t0 + s(150)));
        let silent = Liveness::new(t0, None, s(90));
        assert_eq!(silent.next_deadline(), t0 + s(90));
    }
}
