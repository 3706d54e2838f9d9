//! The BEST meeting-terminal platform protocol: terminal <-> cloud platform, JSON over WebSocket (best-w) or
//! MQTT (best-m), an HTTP broker lookup, PBKDF2-derived keys, chunked uploads.
//!
//! | path | what | from |
//! |---|---|---|
//! | `devproto::best::*` | messages ([`DeviceMessage`], [`PlatformMessage`], [`Envelope`], [`Response`], [`CmdResponse`], [`Report`] and the rest), the codec ([`Codec`], [`DeviceCodec`], [`PlatformCodec`]), [`CodecConfig`], errors, signatures, key exchange, uploads, the broker lookup messages ([`broker`]) | [`best_proto`] |
//! | [`devproto::best::session`](session) | sans-io sessions: [`DeviceSession`](session::DeviceSession) (the terminal, a WebSocket client: register, accredit, login, report, heartbeats, commands, uploads), [`PlatformSession`](session::PlatformSession) (one per terminal connection, checks credentials against a [`DeviceRegistry`](session::DeviceRegistry)), the sans-io broker lookup | `device_core::best` |
//! | [`devproto::best::runtime`](runtime) | the tokio drivers (feature `tokio`): [`Server`](runtime::Server) over a [`WsListener`](runtime::WsListener), [`Client`](runtime::Client) with reconnect; with feature `http`, the broker lookup over HTTP (`runtime::http`) | `device_core::runtime` |
//!
//! No MQTT transport exists yet: the sessions run over WebSocket.
//!
//! A platform on a loopback port, a terminal that connects and onboards (register, accredit, login, report),
//! and one command from the platform that the terminal's application answers:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devproto::best::runtime::{Client, ClientConfig, ClientEvent, Server, ServerConfig, ServerEvent, WsListener};
//! use devproto::best::session::{DeviceCommand, DeviceConfig, DeviceEvent, DeviceRecord, DeviceSession};
//! use devproto::best::session::{MemoryRegistry, PlatformCommand, PlatformConfig, PlatformSession};
//! use devproto::best::{CmdResponse, Command, PlatformMessage};
//!
//! let registry = std::sync::Arc::new(MemoryRegistry::new()); // each terminal's product and secret key
//! registry.insert("SN0001", DeviceRecord::new("prod-01", "s3cret"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/best", listener.local_addr()?); // the path is `session::WS_PATH`
//! let sessions = move || PlatformSession::new(PlatformConfig::default(), registry.clone());
//! let (platform, mut events) = Server::spawn(WsListener::new(listener), sessions, ServerConfig::default())?;
//! # let report = serde_json::from_str(r#"{"fwVer":"1.1.21","devModel":"TDB08Z","commType":"ethernet",
//! # "ip":"192.168.1.5","netmask":"255.255.255.0","gateway":"192.168.1.1","mac":"00:17:61:12:e5:07",
//! # "lockCount":"1","userCount":"50","maxUserCount":"30000","transactionCount":"115",
//! # "maxTransactionCount":"50000","multiBioDataSupport":"0:1:1:0:0:0:0:0:0:0",
//! # "multiBioVer":"0:10.0:7.0:0:0:0:0:0:0:0","multiBioDataCount":"0:100:200:0:0:0:0:0:0:0",
//! # "maxMultiBioDataCount":"0:10000:2000:0:0:0:0:0:0:0","verifyStyles":"100000000010","funcIds":[]}"#)?;
//! // `report`: what the terminal says about itself after login (a `best::Report`: firmware, network, capacities).
//! let terminal = DeviceSession::new(DeviceConfig::new("SN0001", "prod-01", "s3cret", report));
//! let (client, mut terminal_events) = Client::connect_ws(terminal, url, ClientConfig::default());
//! let handle = client.handle();
//! tokio::spawn(async move { // the terminal's application: answers every command by its `cmdId`
//!     while let Some(event) = terminal_events.recv().await {
//!         let ClientEvent::Session(DeviceEvent::Command { command, .. }) = event else { continue };
//!         let _ = handle.call(DeviceCommand::Respond(CmdResponse::ok(command.cmd_id().unwrap_or_default()))).await;
//!     }
//! });
//! while let Some(event) = events.recv().await { if let ServerEvent::Established { .. } = event { break } }
//! let clear = PlatformCommand::Send(PlatformMessage::ClearUsers(Command { cmd_id: "c-1".into() }));
//! let answer = platform.call(&"SN0001".into(), clear).await?.expect("a command is answered");
//! assert!(answer.code.is_success()); // a failure code would be the terminal's answer, as data
//! # client.shutdown().await?;
//! # platform.shutdown().await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "tokio"))] fn main() {}
//! ```

pub use best_proto::*;

/// The BEST sessions: the terminal ([`DeviceSession`](session::DeviceSession), a WebSocket client), the
/// platform's side of one connection ([`PlatformSession`](session::PlatformSession)), and the sans-io broker
/// lookup ([`BrokerLookup`](session::BrokerLookup), [`LookupHandler`](session::LookupHandler)); re-exported
/// from `device_core::best`.
pub mod session {
    pub use device_core::best::*;
}

/// The tokio drivers that run BEST sessions over WebSocket (feature `tokio`): a [`Server`](runtime::Server) on
/// a [`WsListener`](runtime::WsListener) and a [`Client`](runtime::Client) that connects with
/// [`Client::connect_ws`](runtime::Client::connect_ws) and reconnects with backoff. With feature `http`, `http`
/// serves and queries the broker lookup (`LookupServer`, `lookup`).
#[cfg(feature = "tokio")]
pub mod runtime {
    driver_reexports!();
    pub use device_core::runtime::server::WsListener;
    pub use device_core::runtime::{WsConfig, WsPath};

    /// The BEST broker lookup over HTTP (feature `http`): the platform's endpoint (`LookupServer`, an axum
    /// router) and the device's client (`lookup`); re-exported from `device_core::runtime::http`.
    #[cfg(feature = "http")]
    pub mod http {
        pub use device_core::runtime::http::*;
    }
}
