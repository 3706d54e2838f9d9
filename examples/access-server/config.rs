//! The access server's configuration (`--config FILE`, `ACCESS_SERVER_*` variables, flags).
//!
//! ```toml
//! [fleet]                 # shared settings: data_dir, database_url, admin.listen, admin.token, events, queue
//! data_dir = "data"
//! [terminals]
//! listen = "0.0.0.0:9200"      # raw TCP, one JSON object per message
//! ws_listen = "0.0.0.0:9201"   # WebSocket, one JSON message per text frame
//! max_message_bytes = 16777216
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Environment variable prefix: `ACCESS_SERVER_TERMINALS__LISTEN=0.0.0.0:9300`.
pub const ENV_PREFIX: &str = "ACCESS_SERVER_";

/// The terminal listeners and their limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalsConfig {
    /// Where terminals connect over raw TCP. Default `0.0.0.0:9200`.
    pub listen: SocketAddr,
    /// Where terminals connect over WebSocket (any path). Default `0.0.0.0:9201`.
    pub ws_listen: SocketAddr,
    /// Most terminal connections at once, per listener. Default 20,000.
    pub max_connections: usize,
    /// Seconds a terminal has to answer the `get_device_info` sent on connect. Default 30.
    pub identify_timeout_secs: u64,
    /// Seconds between `get_device_info` liveness probes. Default 60.
    pub probe_interval_secs: u64,
    /// Seconds of silence after which a terminal is offline. Default 180.
    pub peer_timeout_secs: u64,
    /// Seconds a request (`download_person`, ...) waits for the terminal's answer. Default 30.
    pub request_timeout_secs: u64,
    /// Longest message either way, in bytes (DECISIONS.md, access: 16 MiB). Default 16,777,216.
    pub max_message_bytes: usize,
    /// Most connections not identified yet at once. Default 4,096.
    pub max_pending: usize,
    /// Most connections not identified yet from one source address. Default 64.
    pub max_pending_per_source: usize,
    /// Connections the kernel may hold for each terminal listener before they are accepted. Default 4,096.
    pub backlog: u32,
    /// Most `download_person` deliveries under way at once, over all terminals: a person with three 120 KB
    /// pictures is about 650 KB encoded per connection, so this bounds what a push to the whole fleet holds
    /// in memory. Default 64.
    pub max_concurrent_pushes: usize,
}

impl Default for TerminalsConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9200)),
            ws_listen: SocketAddr::from(([0, 0, 0, 0], 9201)),
            max_connections: 20_000,
            identify_timeout_secs: 30,
            probe_interval_secs: 60,
            peer_timeout_secs: 180,
            request_timeout_secs: 30,
            max_message_bytes: access_proto::DEFAULT_MAX_MESSAGE_LEN,
            max_pending: 4096,
            max_pending_per_source: 64,
            backlog: 4096,
            max_concurrent_pushes: 64,
        }
    }
}

/// Limits on people and their pictures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleConfig {
    /// Largest face/left/right picture or feature code, decoded, in bytes. Default 2 MiB.
    pub max_blob_bytes: usize,
    /// Largest admin API request body (a person with base64 pictures), in bytes. Default 16 MiB.
    pub max_body_bytes: usize,
}

impl Default for PeopleConfig {
    fn default() -> Self {
        Self {
            max_blob_bytes: 2 * 1024 * 1024,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Everything the access server reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Shared fleet settings.
    pub fleet: fleet::FleetConfig,
    /// The terminal listeners.
    pub terminals: TerminalsConfig,
    /// People and pictures.
    pub people: PeopleConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_message_limit_is_16_mib() {
        // DECISIONS.md, access: "Default maximum message 16 MiB".
        assert_eq!(
            TerminalsConfig::default().max_message_bytes,
            16 * 1024 * 1024
        );
        assert_eq!(
            AccessConfig::default().terminals.max_message_bytes,
            16 * 1024 * 1024
        );
    }
}
