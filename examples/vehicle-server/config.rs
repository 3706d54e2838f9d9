//! The vehicle server's configuration (`--config FILE`, `VEHICLE_SERVER_*` variables, flags).
//!
//! ```toml
//! [fleet]                  # shared settings: data_dir, database_url, admin.listen, admin.token, ...
//! data_dir = "data"        # the store the vehicle instances write into too
//! [http]
//! listen = "0.0.0.0:8090"  # the mini-program API
//! [link]
//! key = "6b696e6778756e2d64656d6f2d6b6579"   # initial KEY, 32 hex digits
//! iv = "6b696e6778756e2d64656d6f2d697621"    # initial IV
//! [[instances]]
//! name = "instance-1"
//! addr = "127.0.0.1:9300"
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Environment variable prefix: `VEHICLE_SERVER_HTTP__LISTEN=0.0.0.0:9000`.
pub const ENV_PREFIX: &str = "VEHICLE_SERVER_";

/// The mini-program API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Where the mini-program posts. Default `0.0.0.0:8090`.
    pub listen: SocketAddr,
    /// How far a request's `timestamp` may be from the server's clock, seconds (DECISIONS.md: 300).
    pub timestamp_window_secs: u64,
    /// How long a `usrSessionId` stays valid, seconds (kingxun.md: 24 h).
    pub session_secs: u64,
    /// Largest request body, bytes. Default 64 KiB.
    pub max_body: usize,
    /// Most family members a vehicle may be shared with (beyond: errCode 300). Default 5.
    pub max_family: u32,
    /// Argon2id memory cost of password hashes, KiB. Default 19,456 (19 MiB, the OWASP minimum).
    pub argon2_memory_kib: u32,
    /// Argon2id passes. Default 2.
    pub argon2_iterations: u32,
    /// Directory `devFileDeliver` reads files from: `FileUrl`'s last path segment names a file in it (the
    /// server fetches nothing over the network). Default `files`.
    pub files_dir: std::path::PathBuf,
    /// Price per hour of a borrowed vehicle, in yuan, for `searchUseableVechicles`. Default 2.
    pub price_per_hour: f64,
    /// Range of a full battery in km, for `availableMiles`. Default 60.
    pub range_km: f64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8090)),
            timestamp_window_secs: 300,
            session_secs: 24 * 3600,
            max_body: 64 * 1024,
            max_family: 5,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            files_dir: "files".into(),
            price_per_hour: 2.0,
            range_km: 60.0,
        }
    }
}

/// The binary link to the vehicle instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Initial KEY, 32 hex digits. Default: the demo key (`kingxun-demo-key`): set your own.
    pub key: String,
    /// Initial IV, 32 hex digits. Default: the demo IV (`kingxun-demo-iv!`).
    pub iv: String,
    /// `svrHost` of 9001. Default `kingxun.site`.
    pub svr_host: String,
    /// Seconds a command waits for the vehicle's RespCode (at least 1). Default 10.
    pub request_timeout_secs: u64,
    /// Seconds between 9002 heartbeats (at least 1); an instance's vehicle count is that of the last 9002
    /// reply, so it shows 0 until the first one. Default 30 (DECISIONS.md).
    pub heartbeat_secs: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            key: hex::encode(b"kingxun-demo-key"),
            iv: hex::encode(b"kingxun-demo-iv!"),
            svr_host: kingxun_proto::HEARTBEAT_SVR_HOST.into(),
            request_timeout_secs: 10,
            heartbeat_secs: 30,
        }
    }
}

/// One vehicle instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceEntry {
    /// Its name, as it writes it with its vehicles' status.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Everything the vehicle server reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VehicleConfig {
    /// Shared fleet settings.
    pub fleet: fleet::FleetConfig,
    /// The mini-program API.
    pub http: HttpConfig,
    /// The link.
    pub link: LinkConfig,
    /// The instances. Default: `instance-1` at `127.0.0.1:9300`.
    pub instances: Vec<InstanceEntry>,
}

impl Default for VehicleConfig {
    fn default() -> Self {
        Self {
            fleet: fleet::FleetConfig::default(),
            http: HttpConfig::default(),
            link: LinkConfig::default(),
            instances: vec![InstanceEntry {
                name: "instance-1".into(),
                addr: SocketAddr::from(([127, 0, 0, 1], 9300)),
            }],
        }
    }
}
