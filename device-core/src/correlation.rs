//! Request/response correlation: every request ends in exactly one outcome.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Display;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::session::{RequestError, RequestId, SendError};

/// How many expired keys are remembered to tell a late response from one that matches nothing.
const REMEMBERED_EXPIRED: usize = 256;

/// Waiting requests keyed by the protocol's correlation key (jetinno `order_no`, kingxun `seq`, ...).
///
/// A request leaves the table exactly once: by [`Correlator::finish`] (its response arrived), by
/// [`Correlator::expire`] (timed out) or by [`Correlator::fail_all`] (connection lost). A response for a key that
/// is not waiting is counted: as late when the key timed out recently, as unmatched otherwise.
#[derive(Debug)]
pub struct Correlator<K> {
    timeout: Duration,
    capacity: usize,
    next_id: u64,
    waiting: HashMap<K, (RequestId, Instant)>,
    deadlines: BTreeSet<(Instant, RequestId)>,
    by_id: HashMap<RequestId, K>,
    expired: VecDeque<K>,
    late: u64,
    unmatched: u64,
}

impl<K: Eq + Hash + Clone + Display> Correlator<K> {
    /// A table whose requests time out after `timeout`, holding at most `capacity` at once.
    #[must_use]
    pub fn new(timeout: Duration, capacity: usize) -> Self {
        Self {
            timeout,
            capacity,
            next_id: 0,
            waiting: HashMap::new(),
            deadlines: BTreeSet::new(),
            by_id: HashMap::new(),
            expired: VecDeque::new(),
            late: 0,
            unmatched: 0,
        }
    }

    /// A fresh id for a request that is not correlated by key (sent and forgotten, or answered at once).
    pub fn next_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    /// Registers a request under `key`.
    ///
    /// # Errors
    /// [`SendError::DuplicateKey`] when `key` is already waiting, [`SendError::TooManyInFlight`] at capacity.
    pub fn start(&mut self, now: Instant, key: K) -> Result<RequestId, SendError> {
        if self.waiting.contains_key(&key) {
            return Err(SendError::DuplicateKey {
                key: key.to_string(),
            });
        }
        if self.waiting.len() >= self.capacity {
            return Err(SendError::TooManyInFlight {
                capacity: self.capacity,
            });
        }
        let id = self.next_id();
        let deadline = now + self.timeout;
        self.waiting.insert(key.clone(), (id, deadline));
        self.deadlines.insert((deadline, id));
        self.by_id.insert(id, key);
        Ok(id)
    }

    /// The response for `key` arrived: returns its request, or `None` (and counts it) when none waits.
    pub fn finish(&mut self, key: &K) -> Option<RequestId> {
        match self.waiting.remove(key) {
            Some((id, deadline)) => {
                self.deadlines.remove(&(deadline, id));
                self.by_id.remove(&id);
                self.release_if_idle();
                Some(id)
            }
            None => {
                if self.expired.contains(key) {
                    self.late += 1;
                } else {
                    self.unmatched += 1;
                }
                None
            }
        }
    }

    /// Whether a request waits under `key`.
    #[must_use]
    pub fn is_waiting(&self, key: &K) -> bool {
        self.waiting.contains_key(key)
    }

    /// Ends every request whose deadline is at or before `now`, pushing `(id, TimedOut)` to `out`.
    pub fn expire<R>(
        &mut self,
        now: Instant,
        out: &mut VecDeque<(RequestId, Result<R, RequestError>)>,
    ) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(key) = self.by_id.remove(&id) {
                self.waiting.remove(&key);
                if self.expired.len() == REMEMBERED_EXPIRED {
                    self.expired.pop_front();
                }
                self.expired.push_back(key);
            }
            out.push_back((id, Err(RequestError::TimedOut(self.timeout))));
        }
        self.release_if_idle();
    }

    /// Nothing waits: give the maps' memory back, so an idle connection costs no table (most connections of a
    /// fleet are idle between rare requests).
    fn release_if_idle(&mut self) {
        if self.waiting.is_empty() && self.waiting.capacity() > 0 {
            self.waiting = HashMap::new();
            self.by_id = HashMap::new();
        }
    }

    /// Ends every waiting request with [`RequestError::ConnectionLost`], pushing them to `out`.
    pub fn fail_all<R>(&mut self, out: &mut VecDeque<(RequestId, Result<R, RequestError>)>) {
        for (_, id) in std::mem::take(&mut self.deadlines) {
            out.push_back((id, Err(RequestError::ConnectionLost)));
        }
        self.waiting.clear();
        self.by_id.clear();
    }

    /// The earliest deadline of a waiting request.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// Requests waiting now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether no request waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Responses that arrived after their request had timed out (dropped).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.late
    }

    /// Responses that matched no request at all (dropped).
    #[must_use]
    pub fn unmatched_responses(&self) -> u64 {
        self.unmatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Out = VecDeque<(RequestId, Result<(), RequestError>)>;

    #[test]
    fn every_request_ends_once() {
        let t0 = Instant::now();
        let mut c = Correlator::<String>::new(Duration::from_secs(5), 3);
        let a = c.start(t0, "a".into()).unwrap();
        let b = c.start(t0 + Duration::from_secs(1), "b".into()).unwrap();
        let d = c.start(t0 + Duration::from_secs(2), "d".into()).unwrap();
        assert_eq!(
            c.start(t0, "a".into()),
            Err(SendError::DuplicateKey { key: "a".into() })
        );
        assert_eq!(
            c.start(t0, "e".into()),
            Err(SendError::TooManyInFlight { capacity: 3 })
        );
        assert_eq!(c.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(c.finish(&"b".into()), Some(b));
        let mut out: Out = VecDeque::new();
        c.expire(t0 + Duration::from_secs(5), &mut out);
        assert_eq!(
            out.pop_front(),
            Some((a, Err(RequestError::TimedOut(Duration::from_secs(5)))))
        );
        assert!(out.is_empty());
        // A late answer for `a` and a bogus one are both dropped and counted apart.
        assert_eq!(c.finish(&"a".into()), None);
        assert_eq!(c.finish(&"zzz".into()), None);
        assert_eq!((c.late_responses(), c.unmatched_responses()), (1, 1));
        c.fail_all(&mut out);
        assert_eq!(
            out.pop_front(),
            Some((d, Err(RequestError::ConnectionLost)))
        );
        assert!(c.is_empty() && c.next_deadline().is_none());
        // The key is free again.
        assert!(c.start(t0, "d".into()).is_ok());
    }
}
