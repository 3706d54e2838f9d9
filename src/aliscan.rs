//! The Aliscan 3D foot-scanner station protocol: pad front-ends <-> the station program, one JSON message per
//! WebSocket text frame; the station's `.server.json` config and its error catalogue.
//!
//! | path | what | from |
//! |---|---|---|
//! | `devproto::aliscan::*` | messages ([`PadMessage`], [`StationMessage`], [`StationState`], [`ScanRecord`] and the rest), the codec ([`Codec`], [`PadCodec`], [`StationCodec`]), [`CodecConfig`], errors, the error catalogue ([`ErrorCode`]), scan ids, the `.server.json` file ([`ServerConfig`]) | [`aliscan_proto`] |
//! | [`devproto::aliscan::session`](session) | sans-io sessions: the [`Station`](session::Station) (one state machine for every pad) shared by its connections through a [`StationEndpoint`](session::StationEndpoint), and the [`PadSession`](session::PadSession) (a pad, a WebSocket client with a typed request for each request/answer pair) | `device_core::aliscan` |
//! | [`devproto::aliscan::runtime`](runtime) | the tokio drivers (feature `tokio`): [`Server`](runtime::Server) over a [`WsListener`](runtime::WsListener), [`Client`](runtime::Client) with reconnect | `device_core::runtime` |
//!
//! Two types are called `ServerConfig`: [`ServerConfig`] is the station's `.server.json` file,
//! [`runtime::ServerConfig`] the server driver (connection limits, admission).
//!
//! A station on a loopback port (with a simulated scanner and an in-memory record store), a pad that connects,
//! and one request: the pad books the station.
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devproto::aliscan::runtime::{Client, ClientConfig, ClientEvent, Server, ServerConfig, WsListener};
//! use devproto::aliscan::session::{MemoryStore, PadCommand, PadConfig, PadEvent, PadReply, PadSession};
//! use devproto::aliscan::session::{SimulatedScanner, Station, StationConfig, StationEndpoint, UploadQueue};
//! use devproto::aliscan::StationStatus;
//!
//! let config = StationConfig::new("DEV9").initial_status(StationStatus::Free);
//! let (scanner, store, uploads) = (SimulatedScanner::new(), MemoryStore::default(), UploadQueue::new());
//! let station = Station::new(config, Box::new(scanner), Box::new(store), Box::new(uploads));
//! let station = StationEndpoint::new(station); // keep a clone to command the station
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/aliscan", listener.local_addr()?); // the path is `session::WS_PATH`
//! let (server, _events) = Server::spawn(WsListener::new(listener), station.clone(), ServerConfig::default())?;
//!
//! let pad = PadSession::new(PadConfig::new("pad-a"));
//! let (client, mut pad_events) = Client::connect_ws(pad, url, ClientConfig::default());
//! while let Some(event) = pad_events.recv().await {
//!     if let ClientEvent::Session(PadEvent::Connected(_state)) = event { break; } // first status answered
//! }
//! let reply = client.handle().call(PadCommand::Book).await?;
//! assert!(matches!(reply, Some(PadReply::Status(s)) if s.status == StationStatus::Booking));
//! client.shutdown().await?;
//! server.shutdown().await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "tokio"))] fn main() {}
//! ```

pub use aliscan_proto::*;

/// The aliscan sessions: the [`Station`](session::Station) with its hardware, store and uploader traits (and
/// simulators), the [`StationEndpoint`](session::StationEndpoint) that shares it among its
/// [`PadLink`](session::PadLink) connections, and the pad client ([`PadSession`](session::PadSession));
/// re-exported from `device_core::aliscan`.
pub mod session {
    pub use device_core::aliscan::*;
}

/// The tokio drivers that run the station and pads over WebSocket (feature `tokio`): a
/// [`Server`](runtime::Server) on a [`WsListener`](runtime::WsListener) with the
/// [`StationEndpoint`](crate::aliscan::session::StationEndpoint) as its endpoint, and a
/// [`Client`](runtime::Client) that connects with [`Client::connect_ws`](runtime::Client::connect_ws) and
/// reconnects with backoff.
#[cfg(feature = "tokio")]
pub mod runtime {
    driver_reexports!();
    pub use device_core::runtime::server::WsListener;
    pub use device_core::runtime::{WsConfig, WsPath};
}
