//! The access/attendance terminal protocol: terminal <-> management server, one JSON object per message over
//! TCP (split by braces) or WebSocket text frames; both sides send requests and answer the other's.
//!
//! | path | what | from |
//! |---|---|---|
//! | `devproto::access::*` | messages ([`Request`], [`Response`], [`RequestBody`], [`DeviceInfo`], [`Code`] and the rest), the codec ([`Codec`], [`MessageCodec`], [`JsonSplitter`]), [`CodecConfig`], errors, local timestamps | [`access_proto`] |
//! | [`devproto::access::session`](session) | sans-io sessions: [`TerminalSession`](session::TerminalSession) (the terminal, a client), [`ServerSession`](session::ServerSession) (one per terminal connection, identifies it by `get_device_info`) | `device_core::access` |
//! | [`devproto::access::runtime`](runtime) | the tokio drivers (feature `tokio`): [`Server`](runtime::Server) over TCP or a [`WsListener`](runtime::WsListener), [`Client`](runtime::Client) with reconnect | `device_core::runtime` |
//!
//! Two types are called `ServerConfig`: [`session::ServerConfig`] configures one server session (timeouts,
//! limits), [`runtime::ServerConfig`] the server driver (connection limits, admission).
//!
//! A management server on a loopback port, a terminal that connects and is identified, and one request from
//! the server that the terminal answers:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devproto::access::runtime::{Client, ClientConfig, Server, ServerConfig, ServerEvent};
//! use devproto::access::session::{self, ServerCommand, ServerSession, TerminalConfig, TerminalSession};
//! use devproto::access::{DeviceInfo, RequestBody, ResponseBody};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let sessions = || ServerSession::new(session::ServerConfig::default()); // admits every terminal
//! let (server, mut server_events) = Server::spawn(listener, sessions, ServerConfig::default())?;
//!
//! // The terminal answers `get_device_info` with these settings; its `uuid` is its id.
//! let info = DeviceInfo { uuid: Some("T-100".into()), ..DeviceInfo::default() };
//! let terminal = TerminalSession::new(TerminalConfig::new(info));
//! let (client, _terminal_events) = Client::connect_tcp(terminal, addr, ClientConfig::default());
//! while let Some(event) = server_events.recv().await {
//!     if let ServerEvent::Established { peer, .. } = event { assert_eq!(peer, "T-100"); break; }
//! }
//! let id = "T-100".to_owned();
//! let response = server.call(&id, ServerCommand::Request(RequestBody::GetDeviceInfo)).await?;
//! let response = response.expect("a request is answered");
//! assert!(response.code.is_success()); // a failure code would be the terminal's answer, as data
//! assert!(matches!(response.body, ResponseBody::GetDeviceInfo(_)));
//! client.shutdown().await?;
//! server.shutdown().await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "tokio"))] fn main() {}
//! ```

pub use access_proto::*;

/// The access sessions: the terminal ([`TerminalSession`](session::TerminalSession), a client established on
/// connect) and the management server's side of one connection ([`ServerSession`](session::ServerSession),
/// which identifies the terminal and admits it through an [`Admission`](session::Admission) policy);
/// re-exported from `device_core::access`.
pub mod session {
    pub use device_core::access::*;
}

/// The tokio drivers that run access sessions (feature `tokio`): a [`Server`](runtime::Server) on a
/// `tokio::net::TcpListener` (raw TCP) or a [`WsListener`](runtime::WsListener) (WebSocket), and a
/// [`Client`](runtime::Client) that connects with [`Client::connect_tcp`](runtime::Client::connect_tcp) or
/// [`Client::connect_ws`](runtime::Client::connect_ws) and reconnects with backoff.
#[cfg(feature = "tokio")]
pub mod runtime {
    driver_reexports!();
    pub use device_core::runtime::server::WsListener;
    pub use device_core::runtime::{WsConfig, WsPath};
}
