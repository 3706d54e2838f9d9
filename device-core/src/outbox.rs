//! The bounded outbound queue of a session.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::session::SendError;

/// Pops the front of `queue` and, once it is empty, gives its memory back: session queues fill in bursts
/// (a login, a request) and are empty the rest of a connection's life.
pub(crate) fn pop_release<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let item = queue.pop_front();
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
    item
}

/// Encoded messages waiting for the driver to write them.
///
/// Application messages count against the capacity and are refused with [`SendError::Full`] beyond it, so a
/// stalled peer pushes back on the application instead of growing memory. Protocol traffic the session itself
/// must send (login, heartbeats, replies) bypasses the cap: it is bounded by the protocol's own pace.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<(Bytes, bool)>,
    app_messages: usize,
    capacity: usize,
}

impl Outbox {
    /// An outbox holding at most `capacity` application messages.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            app_messages: 0,
            capacity,
        }
    }

    /// Queues an application message.
    ///
    /// # Errors
    /// [`SendError::Full`] at capacity; nothing is queued.
    pub fn push_app(&mut self, bytes: Bytes) -> Result<(), SendError> {
        if self.app_messages >= self.capacity {
            return Err(SendError::Full {
                capacity: self.capacity,
            });
        }
        self.app_messages += 1;
        self.queue.push_back((bytes, true));
        Ok(())
    }

    /// Whether one more application message would be accepted.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.app_messages < self.capacity
    }

    /// Whether nothing waits to be written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues protocol traffic of the session itself.
    pub fn push_control(&mut self, bytes: Bytes) {
        self.queue.push_back((bytes, false));
    }

    /// The next bytes to write.
    pub fn pop(&mut self) -> Option<Bytes> {
        let (bytes, app) = pop_release(&mut self.queue)?;
        if app {
            self.app_messages -= 1;
        }
        Some(bytes)
    }

    /// Drops everything queued (the connection is gone).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.app_messages = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_messages_are_bounded_control_traffic_is_not() {
        let mut o = Outbox::new(2);
        o.push_app(Bytes::from_static(b"a")).unwrap();
        o.push_control(Bytes::from_static(b"hb"));
        o.push_app(Bytes::from_static(b"b")).unwrap();
        assert!(!o.has_room());
        assert_eq!(
            o.push_app(Bytes::from_static(b"c")),
            Err(SendError::Full { capacity: 2 })
        );
        o.push_control(Bytes::from_static(b"hb2"));
        assert_eq!(o.pop().unwrap(), "a");
        assert!(o.has_room());
        assert_eq!(o.pop().unwrap(), "hb");
        assert_eq!(o.pop().unwrap(), "b");
        assert_eq!(o.pop().unwrap(), "hb2");
        assert!(o.pop().is_none());
        o.push_app(Bytes::from_static(b"d")).unwrap();
        o.clear();
        assert!(o.pop().is_none() && o.has_room());
    }
}
