//! The coffee server over real sockets (127.0.0.1:0) and a real SQLite file, with simulated machines.

#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "../../examples/coffee-server/app.rs"]
mod coffee;
#[allow(dead_code)]
#[path = "../../examples/coffee-machine/sim.rs"]
mod sim;

mod api;
mod browser;
// Shared by the deployments' dashboard tests; not every one reads panel tables.
#[allow(dead_code)]
#[path = "../support/dashboard.rs"]
mod dashboard;
mod flows;
mod orders;
mod shutdown;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fleet::client::AdminClient;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);
/// Seed of the simulated machines.
pub const SEED: u64 = 42;

/// A coffee server on a store directory.
#[derive(Debug)]
pub struct Harness {
    /// The server.
    pub server: coffee::Running,
    /// A client with the admin token.
    pub api: AdminClient,
    /// A client without a token.
    pub anonymous: AdminClient,
    /// The admin token.
    pub token: String,
}

impl Harness {
    /// Starts a server on `dir` (the admin token is configured, so restarts keep it).
    pub async fn start(dir: &Path, confirm_after_ms: u64) -> Self {
        let mut config = coffee::config::CoffeeConfig::default();
        config.fleet.data_dir = dir.to_path_buf();
        config.fleet.admin.token = Some("test-token".into());
        config.fleet.flush_interval_secs = 1;
        config.payment.confirm_after_ms = confirm_after_ms;
        let machines = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = coffee::start_on(config, machines, admin).await.unwrap();
        let api = AdminClient::new(server.admin_addr, Some("test-token".into()));
        let anonymous = AdminClient::new(server.admin_addr, None);
        Self {
            server,
            api,
            anonymous,
            token: "test-token".into(),
        }
    }

    /// Registers machines `first..first+n` with the simulator's codes.
    pub async fn provision(&self, first: u64, n: u64) {
        for vmc in first..first + n {
            let body = serde_json::json!({ "id": vmc.to_string(), "secret": sim::machine_code(SEED, vmc) });
            let r = self.api.post("/api/devices", &body).await.unwrap();
            assert_eq!(r.status, 201, "{}", r.text());
        }
    }

    /// Starts `n` simulated machines from 1001.
    pub async fn machines(&self, n: u32) -> Arc<sim::Sim> {
        sim::Sim::start(sim::SimConfig::new(self.server.machines_addr, n, SEED)).await
    }

    /// Polls `GET path` until `check` holds.
    pub async fn poll(
        &self,
        path: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let r = self.api.get(path).await.unwrap();
            let body = r.json();
            if r.status == 200 && check(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "GET {path} never as expected: {}",
                r.text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Queues a command; returns its id.
    pub async fn command(&self, vmc: u64, body: serde_json::Value) -> i64 {
        let r = self
            .api
            .post(&format!("/api/devices/{vmc}/commands"), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
        r.json()["id"].as_i64().unwrap()
    }
}
