//! Which devices are connected and logged in now, and when each was last heard from.
//!
//! Kept in memory (a restart starts with every device offline); last-seen times are written to the store in
//! batches by [`crate::Fleet`], so a heartbeat costs no write of its own.

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
    dirty: bool,
}

/// Online state of every device.
#[derive(Debug, Default)]
pub struct Presence {
    devices: Mutex<HashMap<String, Live>>,
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

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.devices.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connection `conn` of `device` logged in; returns whether the device just came online.
    pub fn connected(&self, device: &str, conn: u64) -> bool {
        let now = now_ms();
        let mut map = self.lock();
        let live = map.entry(device.to_owned()).or_default();
        let came_online = live.conns.is_empty();
        if !live.conns.contains(&conn) {
            live.conns.push(conn);
        }
        if came_online {
            live.since = now;
        }
        live.last_seen = now;
        live.dirty = true;
        came_online
    }

    /// Connection `conn` of `device` ended; returns whether the device just went offline.
    pub fn disconnected(&self, device: &str, conn: u64) -> bool {
        let now = now_ms();
        let mut map = self.lock();
        let Some(live) = map.get_mut(device) else {
            return false;
        };
        let before = live.conns.len();
        live.conns.retain(|c| *c != conn);
        live.last_seen = now;
        live.dirty = true;
        before > 0 && live.conns.is_empty()
    }

    /// A frame arrived from `device`.
    pub fn seen(&self, device: &str) {
        let now = now_ms();
        let mut map = self.lock();
        if let Some(live) = map.get_mut(device) {
            live.last_seen = now;
            live.dirty = true;
        }
    }

    /// Whether `device` has a logged-in connection.
    #[must_use]
    pub fn is_online(&self, device: &str) -> bool {
        self.lock().get(device).is_some_and(|l| !l.conns.is_empty())
    }

    /// The live state of `device`.
    #[must_use]
    pub fn state(&self, device: &str) -> LiveState {
        self.lock().get(device).map_or(
            LiveState {
                online: false,
                since: None,
                last_seen: None,
            },
            |l| LiveState {
                online: !l.conns.is_empty(),
                since: (!l.conns.is_empty()).then_some(l.since),
                last_seen: Some(l.last_seen),
            },
        )
    }

    /// How many devices are online.
    #[must_use]
    pub fn online_count(&self) -> usize {
        self.lock().values().filter(|l| !l.conns.is_empty()).count()
    }

    /// Last-seen times changed since the previous call.
    #[must_use]
    pub fn take_dirty(&self) -> Vec<(String, i64)> {
        let mut map = self.lock();
        let mut out = Vec::new();
        for (id, live) in map.iter_mut() {
            if live.dirty {
                live.dirty = false;
                out.push((id.clone(), live.last_seen));
            }
        }
        out
    }

    /// Forgets a removed device.
    pub fn forget(&self, device: &str) {
        self.lock().remove(device);
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
        assert_eq!(p.take_dirty().len(), 1);
        assert!(p.take_dirty().is_empty());
    }
}
