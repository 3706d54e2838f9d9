//! The station as an [`Endpoint`]: one shared [`Station`], and a [`PadLink`] session per pad connection
//! (quinn's `Endpoint` and `Connection`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use aliscan_proto::{StationMessage, StationState};
use bytes::Bytes;

use super::station::{PadConnection, Station, StationCommand, StationEvent};
use crate::session::{CloseReason, Endpoint, RequestError, RequestId, SendError, Session, Wire};

#[derive(Default)]
struct LinkState {
    waker: Option<Waker>,
    close: Option<CloseReason>,
}

struct Inner {
    station: Station,
    links: HashMap<PadConnection, LinkState>,
    waker: Option<Waker>,
}

impl Inner {
    /// After any call into the station: note the connections it wants closed, wake the connections it gave
    /// something to write or must close, and wake the endpoint (events, a moved deadline). Only those
    /// connections are looked at, so a message costs the same however many pads (or idle peers) are connected.
    fn settle(&mut self) {
        let wake = |link: &LinkState| {
            if let Some(waker) = &link.waker {
                waker.wake_by_ref();
            }
        };
        while let Some((conn, reason)) = self.station.poll_close() {
            if let Some(link) = self.links.get_mut(&conn) {
                link.close.get_or_insert(reason);
                wake(link);
            }
        }
        let (all, touched) = self.station.take_touched();
        if all {
            self.links.values().for_each(wake);
        } else {
            for conn in touched {
                if let Some(link) = self.links.get(&conn) {
                    wake(link);
                }
            }
        }
        if let Some(waker) = &self.waker {
            waker.wake_by_ref();
        }
    }
}

/// A [`Station`] shared by the sessions of its pad connections: give it to a
/// [`runtime::server::Server`](crate::runtime::server::Server) on a
/// [`WsListener`](crate::runtime::server::WsListener) as the endpoint, and keep a clone to command the station.
///
/// Every accepted connection gets a [`PadLink`] session that feeds its frames into the station and writes what
/// the station queued for it; a broadcast wakes every connection it queued for. The server fires the station's
/// timers ([`Station::poll_timeout`]) and reports its events as
/// [`ServerEvent::Shared`](crate::runtime::server::ServerEvent::Shared). A pad connection is established
/// once a message named its pad ([`Station::pad_id`]); [`Server::call`](crate::runtime::server::Server::call)
/// with that pad id sends it a [`StationMessage`].
///
/// Clones share the same station.
#[derive(Clone)]
pub struct StationEndpoint {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for StationEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationEndpoint")
            .field("station", &self.lock().station)
            .finish_non_exhaustive()
    }
}

impl StationEndpoint {
    /// Shares `station` between the connections of a server.
    #[must_use]
    pub fn new(station: Station) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                station,
                links: HashMap::new(),
                waker: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status pads see now.
    #[must_use]
    pub fn state(&self) -> StationState {
        self.lock().station.state()
    }

    /// The pad connections open now.
    #[must_use]
    pub fn connections(&self) -> Vec<PadConnection> {
        self.lock().station.connections()
    }

    /// Runs a command on the station (send, broadcast, status change, hardware report); `now` is the driver's
    /// clock ([`runtime::now`](crate::runtime::now) under tokio).
    ///
    /// # Errors
    /// As [`Station::handle_command`].
    pub fn handle_command(&self, now: Instant, command: StationCommand) -> Result<(), SendError> {
        let mut inner = self.lock();
        let result = inner.station.handle_command(now, command);
        inner.settle();
        result
    }
}

impl Endpoint<PadLink> for StationEndpoint {
    fn new_session(&mut self, _now: Instant) -> PadLink {
        PadLink {
            inner: self.inner.clone(),
            conn: None,
            peer: None,
            close: None,
            waker: None,
        }
    }

    fn set_waker(&mut self, waker: &Waker) {
        self.lock().waker = Some(waker.clone());
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.lock().station.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        let mut inner = self.lock();
        if inner.station.poll_timeout().is_some_and(|d| d <= now) {
            inner.station.handle_timeout(now);
        }
        inner.settle();
    }

    fn poll_event(&mut self) -> Option<StationEvent> {
        self.lock().station.poll_event()
    }
}

/// One pad connection's session on a shared [`StationEndpoint`]: its frames go into the station, the station's
/// messages for it come out. Its peer is the pad id the first message named.
///
/// Commands are the [`StationMessage`]s to send to this pad. Station-wide events (the pad's messages
/// included) are the endpoint's, not this session's, so [`Session::poll_event`] yields none.
pub struct PadLink {
    inner: Arc<Mutex<Inner>>,
    conn: Option<PadConnection>,
    peer: Option<String>,
    close: Option<CloseReason>,
    waker: Option<Waker>,
}

impl std::fmt::Debug for PadLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PadLink")
            .field("conn", &self.conn)
            .field("peer", &self.peer)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl PadLink {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The station's number for this connection, once open.
    #[must_use]
    pub fn connection(&self) -> Option<PadConnection> {
        self.conn
    }

    /// Takes over a close the station asked for.
    fn sync_close(&mut self) {
        let Some(conn) = self.conn else { return };
        let reason = self
            .lock()
            .links
            .get_mut(&conn)
            .and_then(|l| l.close.take());
        if let Some(reason) = reason {
            self.close.get_or_insert(reason);
        }
    }
}

impl Session for PadLink {
    type Command = StationMessage;
    type Reply = std::convert::Infallible;
    type Event = StationEvent;
    type Peer = String;

    fn wire(&self) -> Wire {
        super::wire(&self.lock().station.codec_config())
    }

    fn set_waker(&mut self, waker: &Waker) {
        self.waker = Some(waker.clone());
        if let Some(conn) = self.conn {
            if let Some(link) = self.lock().links.get_mut(&conn) {
                link.waker = Some(waker.clone());
            }
        }
    }

    fn connection_opened(&mut self, now: Instant) {
        let waker = self.waker.clone();
        let mut inner = self.lock();
        let conn = inner.station.connection_opened(now);
        inner.links.insert(conn, LinkState { waker, close: None });
        inner.settle();
        drop(inner);
        self.conn = Some(conn);
    }

    fn connection_lost(&mut self, now: Instant) {
        if let Some(conn) = self.conn.take() {
            let mut inner = self.lock();
            inner.links.remove(&conn);
            inner.station.connection_closed(now, conn);
            inner.settle();
        }
        self.close.get_or_insert(CloseReason::Requested);
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        let Some(conn) = self.conn else { return };
        let mut inner = self.lock();
        inner.station.handle_input(now, conn, data);
        let named = inner.station.pad_id(conn).map(str::to_owned);
        inner.settle();
        drop(inner);
        if self.peer.is_none() {
            self.peer = named;
        }
        self.sync_close();
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn handle_command(
        &mut self,
        now: Instant,
        message: StationMessage,
    ) -> Result<Option<RequestId>, SendError> {
        let Some(conn) = self.conn.filter(|_| self.close.is_none()) else {
            return Err(SendError::Closed);
        };
        let mut inner = self.lock();
        let result = inner
            .station
            .handle_command(now, StationCommand::Send { to: conn, message });
        inner.settle();
        result.map(|()| None)
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        let conn = self.conn?;
        self.sync_close();
        self.lock().station.poll_transmit_for(conn)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn poll_event(&mut self) -> Option<StationEvent> {
        None
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Self::Reply, RequestError>)> {
        None
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.peer.is_some()
    }

    fn peer(&self) -> Option<&String> {
        self.peer.as_ref()
    }

    fn close(&mut self, _now: Instant) {
        self.close.get_or_insert(CloseReason::Requested);
    }
}
