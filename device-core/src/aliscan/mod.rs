//! Aliscan sessions: the foot-scanner station (one state machine shared by every pad) and the pad (one
//! WebSocket connection, a [`Session`](crate::Session)).
//!
//! The station is not one session per connection: booking, the debug lock and the scan in progress are shared
//! by every pad, and a status change goes to all of them. So [`Station`] is a sans-io state machine that takes
//! `(now, connection, frame)` inputs and yields `(connection, frame)` transmits (a broadcast is queued once per
//! connection). [`StationEndpoint`] shares one station between the sessions of its connections, one
//! [`PadLink`] per pad (quinn's `Endpoint`/`Connection` split): under tokio it runs on the same
//! [`runtime::server::Server`](crate::runtime::server::Server) as every other protocol, on a
//! [`WsListener`](crate::runtime::server::WsListener) at [`WS_PATH`]; a broadcast wakes every connection it
//! queued for. The pad side, [`PadSession`], is an ordinary [`Session`](crate::Session) and runs under
//! [`runtime::client::Client`](crate::runtime::client::Client) unchanged.
//!
//! A booking in memory, no I/O:
//!
//! ```
//! use std::time::Instant;
//! use aliscan_proto::StationStatus;
//! use device_core::aliscan::{
//!     MemoryStore, PadCommand, PadConfig, PadReply, PadSession, SimulatedScanner, Station,
//!     StationConfig, UploadQueue,
//! };
//! use device_core::Session;
//!
//! let mut station = Station::new(
//!     StationConfig::new("DEV1").initial_status(StationStatus::Free),
//!     Box::new(SimulatedScanner::new()),
//!     Box::new(MemoryStore::default()),
//!     Box::new(UploadQueue::new()),
//! );
//! let mut pad = PadSession::new(PadConfig::new("pad-1"));
//! let now = Instant::now();
//! let conn = station.connection_opened(now);
//! pad.connection_opened(now);
//! let mut pump = |station: &mut Station, pad: &mut PadSession| loop {
//!     let mut moved = false;
//!     while let Some(b) = pad.poll_transmit() { station.handle_input(now, conn, &b); moved = true; }
//!     while let Some((_, b)) = station.poll_transmit() { pad.handle_input(now, &b); moved = true; }
//!     if !moved { break; }
//! };
//! pump(&mut station, &mut pad);
//! assert!(pad.is_established());
//! let id = pad.handle_command(now, PadCommand::Book).unwrap().unwrap();
//! pump(&mut station, &mut pad);
//! let (done, reply) = pad.poll_reply().unwrap();
//! assert_eq!(done, id);
//! assert!(matches!(reply, Ok(PadReply::Status(s)) if s.status == StationStatus::Booking));
//! ```
//!
//! Wi-Fi, the back end's store directory, and the USB drive and logs are optional services
//! ([`Wifi`], [`StoreDirectory`], [`Maintenance`], with simulators): plugged into the station they answer the
//! pads' `equipment/wifi/*`, `equipment/store/*`, `equipment/info/update`, `checkUDisk`, `copyLog` and
//! `uploadLog` requests; left out, those requests reach the deployment as
//! [`StationEvent::Message`]. The station answers `files/scan/uinfo` from its record store. Upgrade responses,
//! statistics, device info and the network state are always the deployment's to answer.
//!
//! Liveness is the WebSocket's ping/pong ([`WsConfig`](crate::runtime::WsConfig)); the protocol has no
//! heartbeat of its own.

use aliscan_proto::{DecodeError, EncodeError, StationStatus};

use crate::session::Shared;

mod endpoint;
mod hardware;
mod pad;
mod services;
mod station;

pub use endpoint::{PadLink, StationEndpoint};
pub use hardware::{
    MemoryStore, RecordStore, Scanner, ScannerCall, SimulatedScanner, UploadQueue, Uploader,
    DEFAULT_STORE_CAPACITY,
};
pub use pad::{PadCommand, PadConfig, PadEvent, PadReply, PadSession};
pub use services::{
    Maintenance, SimulatedDirectory, SimulatedMaintenance, SimulatedWifi, StoreDirectory, Wifi,
};
pub use station::{
    HardwareReport, PadConnection, Station, StationCommand, StationConfig, StationEvent,
    DEFAULT_BOOK_PERIOD, DEFAULT_HARDWARE_TIMEOUT,
};

/// What went wrong in an aliscan session: a codec error (which names the topic, the field and the limit) or
/// a command the station refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A frame did not decode (the connection closes: aliscan has no request key to answer it by).
    #[error(transparent)]
    Decode(Shared<DecodeError>),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(Shared<EncodeError>),
    /// The application addressed a connection the station does not have (gone or closing).
    #[error("no connection {conn:?}")]
    NoConnection {
        /// The connection.
        conn: PadConnection,
    },
    /// The application tried to set a status the station keeps itself (booking, debug, a scan in progress).
    #[error("`{status}` is kept by the station itself")]
    StatusKept {
        /// The status.
        status: StationStatus,
    },
}

crate::session::session_error_conversions!(Aliscan);

/// The WebSocket path of the station (aliscan.md, DECISIONS.md: `ws://HOST:PORT/aliscan`).
pub const WS_PATH: &str = "/aliscan";

/// An aliscan message is a few hundred bytes (a status, a scan request); records are larger and rare.
pub const TYPICAL_MESSAGE_LEN: usize = 1024;

/// aliscan's transport facts: one JSON message per WebSocket text frame at [`WS_PATH`].
pub(crate) fn wire(codec: &aliscan_proto::CodecConfig) -> crate::Wire {
    crate::Wire::message(codec.max_message_len, TYPICAL_MESSAGE_LEN, Some(WS_PATH))
}
