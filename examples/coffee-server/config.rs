//! The coffee server's configuration (`--config FILE`, `COFFEE_SERVER_*` variables, flags).
//!
//! ```toml
//! [fleet]                 # shared settings: data_dir, database_url, admin.listen, admin.token, events, queue
//! data_dir = "data"
//! [fleet.admin]
//! listen = "127.0.0.1:8080"
//! [machines]
//! listen = "0.0.0.0:9100"
//! [payment]
//! confirm_after_ms = 3000
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Environment variable prefix: `COFFEE_SERVER_MACHINES__LISTEN=0.0.0.0:9200`.
pub const ENV_PREFIX: &str = "COFFEE_SERVER_";

/// The machine listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MachinesConfig {
    /// Where coffee machines connect. Default `0.0.0.0:9100` (machines are on the network; the admin API is not).
    pub listen: SocketAddr,
    /// Most machine connections at once. Default 20,000.
    pub max_connections: usize,
    /// Seconds a connection has to log in. Default 30.
    pub login_timeout_secs: u64,
    /// Seconds of silence after which a machine is offline (jetinno.md: 120).
    pub peer_timeout_secs: u64,
    /// Seconds the server has to answer a `qrcode`. Default 30.
    pub qrcode_timeout_secs: u64,
    /// Most connections not logged in yet at once (a reconnecting fleet); over it the oldest is dropped.
    /// Default 4,096.
    pub max_pending: usize,
    /// Most connections not logged in yet from one source address (a site behind one NAT). Default 64.
    pub max_pending_per_source: usize,
    /// Connections the kernel may hold before they are accepted (a fleet reconnecting at once). Default 4,096.
    pub backlog: u32,
}

impl Default for MachinesConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9100)),
            max_connections: 20_000,
            login_timeout_secs: 30,
            peer_timeout_secs: 120,
            qrcode_timeout_secs: 30,
            max_pending: 4096,
            max_pending_per_source: 64,
            backlog: 4096,
        }
    }
}

/// The payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentConfig {
    /// Provider. Default and only one built in: `simulated`.
    pub provider: Provider,
    /// Base of the payment URLs the simulated provider hands out. Default `https://pay.example.com/qr`.
    pub base_url: String,
    /// The simulated provider confirms a payment this many milliseconds after the QR code was made; 0 = only
    /// through `POST /api/orders/{order_no}/paid`. Default 3000.
    pub confirm_after_ms: u64,
    /// The simulated provider takes this many milliseconds to make a payment, as a gateway's round trip
    /// would. Default 0.
    pub create_delay_ms: u64,
    /// A `pay_done` not delivered within this many seconds expires. Default 300.
    pub pay_done_ttl_secs: u64,
}

/// Payment providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Confirms after a delay or through the API.
    #[default]
    Simulated,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        Self {
            provider: Provider::Simulated,
            base_url: "https://pay.example.com/qr".into(),
            confirm_after_ms: 3000,
            create_delay_ms: 0,
            pay_done_ttl_secs: 300,
        }
    }
}

/// Everything the coffee server reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoffeeConfig {
    /// Shared fleet settings.
    pub fleet: fleet::FleetConfig,
    /// The machine listener.
    pub machines: MachinesConfig,
    /// Payments.
    pub payment: PaymentConfig,
}
