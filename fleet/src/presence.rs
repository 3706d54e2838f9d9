//! Which devices are connected and logged in now, and when each was last heard from.
//!
//! Kept in memory (a restart starts with every device offline); last-seen times are written to the store in
//! batches by [`crate::Fleet`], each device's at most once per `fleet.last_seen_write_secs` besides its connects
//! and disconnects, so a heartbeat costs no write of its own.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::store::now_ms;

#[derive(Debug, Default)]
struct Live {
    /// Logged-in connections (a reconnect may overlap the old connection's end).
    conns: Vec<u64>,
    /// Online since (Unix ms).
    since: i64,
    last_seen: i64,
    /// The last-seen time last handed to the store.
    written: i64,
    dirty: bool,
    /// A connect or disconnect not yet written: written at the next flush whatever the step.
    force: bool,
}

/// Online state of every device.
#[derive(Debug, Default)]
pub struct Presence {
    devices: Mutex<Devices>,
}

#[derive(Debug, Default)]
struct Devices {
    map: HashMap<String, Live>,
    /// Devices with at least one logged-in connection (kept, so counting is not a scan of every device).
    online: usize,
}

/// One device's live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveState {
    /// Whether a logged-in connection is up.
    pub online: bool,
    /// Online since (Unix ms), when online.
    pub since: Option<i64>,
    /// Last frame received (Unix ms) in this run of the server.
    pub last_seen: Option<i64>,
}

const OFFLINE: LiveState = LiveState {
    online: false,
    since: None,
    last_seen: None,
};

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Devices> {
        self.devices.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connection `conn` of `device` logged in; returns whether the device just came online.
    pub fn connected(&self, device: &str, conn: u64) -> bool {
        let now = now_ms();
        let mut guard = self.lock();
        let devices = &mut *guard;
        let live = devices.map.entry(device.to_owned()).or_default();
        let came_online = live.conns.is_empty();
        if !live.conns.contains(&conn) {
            live.conns.push(conn);
        }
        if came_online {
            live.since = now;
        }
        live.last_seen = now;
        live.dirty = true;
        live.force = true;
        if came_online {
            devices.online += 1;
        }
        came_online
    }

    /// Connection `conn` of `device` ended; returns whether the device just went offline.
    pub fn disconnected(&self, device: &str, conn: u64) -> bool {
        let now = now_ms();
        let mut guard = self.lock();
        let devices = &mut *guard;
        let Some(live) = devices.map.get_mut(device) else {
            return false;
        };
        let before = live.conns.len();
        live.conns.retain(|c| *c != conn);
        live.last_seen = now;
        live.dirty = true;
        live.force = true;
        let went_offline = before > 0 && live.conns.is_empty();
        if went_offline {
            devices.online -= 1;
        }
        went_offline
    }

    /// A frame arrived from `device`.
    pub fn seen(&self, device: &str) {
        let now = now_ms();
        if let Some(live) = self.lock().map.get_mut(device) {
            live.last_seen = now;
            live.dirty = true;
        }
    }

    /// Whether `device` has a logged-in connection.
    #[must_use]
    pub fn is_online(&self, device: &str) -> bool {
        self.lock()
            .map
            .get(device)
            .is_some_and(|l| !l.conns.is_empty())
    }

    /// The live state of `device`.
    #[must_use]
    pub fn state(&self, device: &str) -> LiveState {
        self.lock().map.get(device).map_or(OFFLINE, |l| LiveState {
            online: !l.conns.is_empty(),
            since: (!l.conns.is_empty()).then_some(l.since),
            last_seen: Some(l.last_seen),
        })
    }

    /// How many devices are online.
    #[must_use]
    pub fn online_count(&self) -> usize {
        self.lock().online
    }

    /// The live states of many devices under one lock (a page of the device list).
    #[must_use]
    pub fn states<'a>(&self, devices: impl IntoIterator<Item = &'a str>) -> Vec<LiveState> {
        let map = &self.lock().map;
        devices
            .into_iter()
            .map(|d| {
                map.get(d).map_or(OFFLINE, |l| LiveState {
                    online: !l.conns.is_empty(),
                    since: (!l.conns.is_empty()).then_some(l.since),
                    last_seen: Some(l.last_seen),
                })
            })
            .collect()
    }

    /// Last-seen times to write: those of devices that connected or disconnected since the previous call, and
    /// those that moved by at least `min_step_ms` since they were last taken (0: every change).
    #[must_use]
    pub fn take_dirty(&self, min_step_ms: i64) -> Vec<(String, i64)> {
        let mut devices = self.lock();
        let mut out = Vec::new();
        for (id, live) in &mut devices.map {
            if live.dirty && (live.force || live.last_seen - live.written >= min_step_ms) {
                live.dirty = false;
                live.force = false;
                live.written = live.last_seen;
                out.push((id.clone(), live.last_seen));
            }
        }
        out
    }

    /// Forgets a removed device.
    pub fn forget(&self, device: &str) {
        let mut devices = self.lock();
        if let Some(live) = devices.map.remove(device) {
            if !live.conns.is_empty() {
                devices.online -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_connections_keep_the_device_online() {
        let p = Presence::default();
        assert!(p.connected("7", 1));
        // A reconnect logs in before the old connection's end is noticed.
        assert!(!p.connected("7", 2));
        assert!(!p.disconnected("7", 1));
        assert!(p.is_online("7"));
        assert!(p.disconnected("7", 2));
        assert!(!p.is_online("7"));
        assert!(!p.disconnected("7", 2));
        assert_eq!(p.online_count(), 0);
        assert_eq!(p.take_dirty(0).len(), 1);
        assert!(p.take_dirty(0).is_empty());
    }

    #[test]
    fn steady_traffic_is_written_once_per_step_and_connects_always() {
        let p = Presence::default();
        assert!(p.connected("7", 1));
        assert!(p.connected("8", 2));
        assert_eq!(p.online_count(), 2);
        // The connects are written whatever the step.
        assert_eq!(p.take_dirty(60_000).len(), 2);
        // Heartbeats right after: not yet a step's worth of movement.
        p.seen("7");
        p.seen("8");
        assert!(p.take_dirty(60_000).is_empty());
        // Still dirty: the shutdown flush (step 0) writes them.
        assert_eq!(p.take_dirty(0).len(), 2);
        assert!(p.disconnected("8", 2));
        assert_eq!(
            p.take_dirty(60_000),
            vec![("8".to_owned(), p.state("8").last_seen.unwrap())]
        );
        assert_eq!(p.online_count(), 1);
        p.forget("7");
        assert_eq!(p.online_count(), 0);
        let states = p.states(["7", "8"]);
        assert!(!states[0].online && states[0].last_seen.is_none());
        assert!(!states[1].online && states[1].last_seen.is_some());
    }
}
