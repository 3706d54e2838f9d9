//! The meeting platform's configuration (`--config FILE`, `MEETING_PLATFORM_*` variables, flags).
//!
//! ```toml
//! [fleet]                 # shared settings: data_dir, database_url, admin.listen, admin.token, events, queue
//! data_dir = "data"
//! [terminals]
//! ws_listen = "0.0.0.0:9300"       # best-w at /best
//! lookup_listen = "0.0.0.0:9301"   # GET /v3/device/getBrokerServer
//! public_host = "192.0.2.10"       # what the lookup tells terminals
//! key_exchange = true              # answer a terminal's optional key exchange (false: `20000002`)
//! [mqtt]
//! url = "mqtt://127.0.0.1:1883"    # an external broker; without it the embedded one runs
//! embedded_listen = "0.0.0.0:1884"
//! [files]                 # uploads, kept under {data_dir}/files
//! max_file_size = 67108864
//! partial_ttl_hours = 24
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Environment variable prefix: `MEETING_PLATFORM_TERMINALS__WS_LISTEN=0.0.0.0:9400`.
pub const ENV_PREFIX: &str = "MEETING_PLATFORM_";

/// Where terminals connect, and the session settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalsConfig {
    /// best-w listener (WebSocket at `/best`). Default `0.0.0.0:9300`.
    pub ws_listen: SocketAddr,
    /// The broker lookup (`GET /v3/device/getBrokerServer`). Default `0.0.0.0:9301`.
    pub lookup_listen: SocketAddr,
    /// The host name or address the lookup hands out for the WebSocket and the embedded broker. Default
    /// `127.0.0.1`.
    pub public_host: String,
    /// `heartbeatInterval` of the `dev.report` reply, seconds (best.md 3.5: 60). A terminal is offline after 3
    /// missed intervals.
    pub heartbeat_secs: u64,
    /// Seconds a command waits for its `dev.cmd.response`. Default 30.
    pub command_timeout_secs: u64,
    /// Most commands in flight per terminal, whatever its `maxPendingCmdCount` says. Default 16.
    pub max_pending_commands: u32,
    /// Most terminal connections per transport. Default 20,000.
    pub max_connections: usize,
    /// Answer the optional key exchange (`device.exchange.publicKey`, `device.exchange.factor`) a terminal
    /// starts before onboarding. Off: both are answered `20000002` (unsupported), and a terminal that insists on
    /// the exchange is refused and never logs in. Default on.
    pub key_exchange: bool,
}

impl Default for TerminalsConfig {
    fn default() -> Self {
        Self {
            ws_listen: SocketAddr::from(([0, 0, 0, 0], 9300)),
            lookup_listen: SocketAddr::from(([0, 0, 0, 0], 9301)),
            public_host: "127.0.0.1".into(),
            heartbeat_secs: 60,
            command_timeout_secs: 30,
            max_pending_commands: 16,
            max_connections: 20_000,
            key_exchange: true,
        }
    }
}

/// best-m: the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttSection {
    /// An external broker, `mqtt://HOST:PORT` (Mosquitto, EMQX). Default none: the embedded broker runs.
    pub url: Option<String>,
    /// The URL the lookup hands out for an external broker, when terminals reach it by another address.
    /// Default: `url`.
    pub public_url: Option<String>,
    /// Where the embedded broker listens. Default `0.0.0.0:1884` (1883 is often taken by a system broker); port
    /// 0 picks a free one.
    pub embedded_listen: SocketAddr,
    /// Largest BEST message over MQTT (and over WebSocket), bytes. Default 256 KiB: a 64 KiB upload chunk is
    /// about 88 KiB of base64 in its envelope; the embedded broker's payload limit is set above it (its own
    /// default, 20 KiB, would refuse chunks).
    pub max_payload: usize,
    /// MQTT client id of this platform instance (unique per instance on a shared broker).
    pub client_id: String,
    /// Broker user name, if the broker wants one.
    pub username: Option<String>,
    /// Broker password.
    pub password: Option<String>,
}

impl Default for MqttSection {
    fn default() -> Self {
        Self {
            url: None,
            public_url: None,
            embedded_listen: SocketAddr::from(([0, 0, 0, 0], 1884)),
            max_payload: 256 * 1024,
            client_id: "best-platform-1".into(),
            username: None,
            password: None,
        }
    }
}

/// Everything the meeting platform reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingConfig {
    /// Shared fleet settings.
    pub fleet: fleet::FleetConfig,
    /// Terminal listeners and sessions.
    pub terminals: TerminalsConfig,
    /// The MQTT broker.
    pub mqtt: MqttSection,
    /// Chunked uploads of the terminals.
    pub files: super::files::FilesConfig,
}
