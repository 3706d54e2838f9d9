//! The Kingxun e-bike platform protocol: the binary AES-128-CBC link between the WebSvr and an svrInstance over
//! TCP, and the hashed HTTP API's messages.
//!
//! | path | what | from |
//! |---|---|---|
//! | `devproto::kingxun::*` | packets and messages ([`Packet`], [`Request`], [`Reply`], [`Unlock`], [`Lock`] and the rest, [`RespCode`]), framing ([`Frame`], [`Header`], [`FrameCodec`], [`Codec`]), [`CodecConfig`], the link cipher ([`LinkCipher`]), errors, the HTTP API's hashing ([`HashedRequest`]) | [`kingxun_proto`] |
//! | [`devproto::kingxun::session`](session) | sans-io sessions: [`WebSvrSession`](session::WebSvrSession) (the WebSvr, a TCP client: 9001 login, 9002 heartbeats, commands correlated by `seq`), [`InstanceSession`](session::InstanceSession) (one per WebSvr connection, hands device commands to an [`InstanceHandler`](session::InstanceHandler)) | `device_core::kingxun` |
//! | [`devproto::kingxun::runtime`](runtime) | the tokio drivers (feature `tokio`): [`Server`](runtime::Server) over a TCP listener, [`Client`](runtime::Client) with reconnect | `device_core::runtime` |
//!
//! An svrInstance on a loopback port whose vehicles accept every command, a WebSvr that connects and passes the
//! 9001 login, and one lock command:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devproto::kingxun::runtime::{Client, ClientConfig, ClientEvent, Server, ServerConfig};
//! use devproto::kingxun::session::{DeviceCommand, Dispatch, InstanceConfig, InstanceHandler, InstanceSession};
//! use devproto::kingxun::session::{WebSvrConfig, WebSvrEvent, WebSvrSession};
//! use devproto::kingxun::{Lock, Reply, RespCode};
//!
//! struct Vehicles; // the svrInstance application: where device commands go
//! impl InstanceHandler for Vehicles {
//!     fn device_count(&self) -> u32 { 1 }
//!     fn command(&mut self, _command: &DeviceCommand) -> Dispatch { Dispatch::Answer(RespCode::Ok) }
//! }
//! let (key, iv) = (*b"link-key-16bytes", *b"initial-iv-16byt"); // shared by both ends
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let sessions = move || InstanceSession::new(InstanceConfig::new(key, iv), Vehicles);
//! let (server, _server_events) = Server::spawn(listener, sessions, ServerConfig::default())?;
//! let websvr = WebSvrSession::new(WebSvrConfig::new(key, iv));
//! let (client, mut events) = Client::connect_tcp(websvr, addr, ClientConfig::default());
//! while let Some(event) = events.recv().await {
//!     if let ClientEvent::Session(WebSvrEvent::LoggedIn { .. }) = event { break; }
//! }
//! let lock = Lock { dev_id: 1001, dev_type: 1, timestamp: 0, usr_id: 42, voice: 1 };
//! let reply = client.handle().call(lock.into()).await?; // a refusal would be a `RespCode`, as data
//! assert_eq!(reply, Some(Reply::Lock(RespCode::Ok)));
//! client.shutdown().await?;
//! server.shutdown().await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "tokio"))] fn main() {}
//! ```

pub use kingxun_proto::*;

/// The kingxun link sessions: the WebSvr ([`WebSvrSession`](session::WebSvrSession), a TCP client) and the
/// svrInstance's side of one connection ([`InstanceSession`](session::InstanceSession)); re-exported from
/// `device_core::kingxun`.
pub mod session {
    pub use device_core::kingxun::*;
}

/// The tokio drivers that run kingxun sessions over TCP (feature `tokio`): a [`Server`](runtime::Server) on a
/// `tokio::net::TcpListener` and a [`Client`](runtime::Client) that connects with
/// [`Client::connect_tcp`](runtime::Client::connect_tcp) and reconnects with backoff.
#[cfg(feature = "tokio")]
pub mod runtime {
    driver_reexports!();
}
