//! The Jetinno coffee vending machine protocol: machine <-> operator server over TCP, a 4-digit ASCII length
//! head + JSON per packet, a signed login.
//!
//! | path | what | from |
//! |---|---|---|
//! | `devproto::jetinno::*` | messages ([`MachineMessage`], [`ServerMessage`] and their structs), the codec ([`Codec`], [`MachineCodec`], [`ServerCodec`]), [`CodecConfig`], errors, the login signature ([`MachineCode`]) | [`jetinno_proto`] |
//! | [`devproto::jetinno::session`](session) | sans-io sessions: [`MachineSession`](session::MachineSession) (the machine, a client), [`ServerSession`](session::ServerSession) (one per machine connection) | `device_core::jetinno` |
//! | [`devproto::jetinno::runtime`](runtime) | the tokio drivers (feature `tokio`): [`Server`](runtime::Server) over a TCP listener, [`Client`](runtime::Client) with reconnect | `device_core::runtime` |
//!
//! Two types are called `ServerConfig`: [`session::ServerConfig`] configures one server session (login
//! checks, timeouts), [`runtime::ServerConfig`] the server driver (connection limits, admission).
//!
//! An operator server on a loopback port, a machine that connects and logs in, and a payment pushed to it:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devproto::jetinno::runtime::{Client, ClientConfig, ClientEvent, Server, ServerConfig, ServerEvent};
//! use devproto::jetinno::session::{self, MachineConfig, MachineEvent, MachineSession, ServerCommand, ServerSession};
//! use devproto::jetinno::{MachineCode, PayDone, PayType, ServerMessage};
//!
//! // The server looks up each machine's code by its `vmc_no` to check the login signature.
//! let registry = |_vmc_no: u64| MachineCode::new("12345678").ok();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let sessions = move || ServerSession::new(session::ServerConfig::default(), registry); // one per connection
//! let (server, mut server_events) = Server::spawn(listener, sessions, ServerConfig::default())?;
//!
//! let machine = MachineSession::new(MachineConfig::new(33232, MachineCode::new("12345678")?, "1.2.8.8"));
//! let (client, mut machine_events) = Client::connect_tcp(machine, addr, ClientConfig::default());
//! while let Some(event) = server_events.recv().await {
//!     if let ServerEvent::Established { peer: 33232, .. } = event { break; } // logged in
//! }
//! let pay = ServerMessage::from(PayDone {
//!     vmc_no: 33232, product_amount: 100, order_no: "o-1".into(), paydone: true, paytype: PayType::Alipay,
//! });
//! server.call(&33232, ServerCommand::Send(pay.clone())).await?; // written to the machine's connection
//! while let Some(event) = machine_events.recv().await {
//!     if let ClientEvent::Session(MachineEvent::Server(message)) = event { assert_eq!(message, pay); break; }
//! }
//! client.shutdown().await?;
//! server.shutdown().await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "tokio"))] fn main() {}
//! ```

pub use jetinno_proto::*;

/// The jetinno sessions: the machine ([`MachineSession`](session::MachineSession), a TCP client that logs in and
/// sends heartbeats) and the operator server's side of one connection
/// ([`ServerSession`](session::ServerSession), which checks the login against a
/// [`MachineRegistry`](session::MachineRegistry)); re-exported from `device_core::jetinno`.
pub mod session {
    pub use device_core::jetinno::*;
}

/// The tokio drivers that run jetinno sessions over TCP (feature `tokio`): a
/// [`Server`](runtime::Server) on a `tokio::net::TcpListener` and a [`Client`](runtime::Client) that connects with
/// [`Client::connect_tcp`](runtime::Client::connect_tcp) and reconnects with backoff.
#[cfg(feature = "tokio")]
pub mod runtime {
    driver_reexports!();
}
