//! The access server over real sockets (127.0.0.1:0, raw TCP and WebSocket) and a real SQLite file, with
//! simulated terminals; its store queries also on PostgreSQL when `DATABASE_URL` is set.

#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "../../examples/access-server/app.rs"]
mod access;
#[allow(dead_code)]
#[path = "../../examples/access-terminal/sim.rs"]
mod sim;

mod browser;
// Shared by the deployments' dashboard tests; not every one reads panel tables.
#[allow(dead_code)]
#[path = "../support/dashboard.rs"]
mod dashboard;
mod flows;
mod limits;
mod pushes;
mod relay;
mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use fleet::client::AdminClient;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);
/// Seed of the simulated terminals.
pub const SEED: u64 = 42;

/// An access server on a store directory.
#[derive(Debug)]
pub struct Harness {
    /// The server.
    pub server: access::Running,
    /// A client with the admin token.
    pub api: AdminClient,
}

async fn bind(addr: SocketAddr) -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind(addr).await.unwrap()
}

impl Harness {
    /// The configuration the tests use on `dir`.
    pub fn config(dir: &Path) -> access::config::AccessConfig {
        let mut config = access::config::AccessConfig::default();
        config.fleet.data_dir = dir.to_path_buf();
        config.fleet.admin.token = Some("test-token".into());
        config.fleet.flush_interval_secs = 1;
        config
    }

    /// Starts a server on `dir` on free ports.
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(Self::config(dir), None).await
    }

    /// Starts with `config`, on the ports of `addrs` (tcp, ws, admin) when given, else on free ones.
    pub async fn start_with(
        config: access::config::AccessConfig,
        addrs: Option<(SocketAddr, SocketAddr, SocketAddr)>,
    ) -> Self {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (t, w, a) = addrs.unwrap_or((any, any, any));
        let server = access::start_on(config, bind(t).await, bind(w).await, bind(a).await)
            .await
            .unwrap();
        let api = AdminClient::new(server.admin_addr, Some("test-token".into()));
        Self { server, api }
    }

    /// `n` simulated terminals over `transport`, numbered from `first`, in `community`.
    pub async fn terminals(
        &self,
        transport: sim::Transport,
        first: u32,
        n: u32,
        community: &str,
    ) -> Arc<sim::Sim> {
        let addr = match transport {
            sim::Transport::Tcp => self.server.tcp_addr,
            sim::Transport::Ws => self.server.ws_addr,
        };
        let mut config = sim::SimConfig::new(addr, transport, n, SEED);
        config.first = first;
        config.community = community.into();
        sim::Sim::start(config).await.unwrap()
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

    /// Waits until `n` terminals are registered in `community`; returns the page of them.
    pub async fn registered(&self, community: &str, n: usize) -> serde_json::Value {
        self.poll(
            &format!("/api/terminals?community={community}&limit=1000"),
            |t| t["items"].as_array().is_some_and(|a| a.len() == n),
        )
        .await
    }

    /// Waits until every terminal of `sim` is online.
    pub async fn online(&self, sim: &sim::Sim) {
        for t in &sim.terminals {
            self.poll(&format!("/api/devices/{}", t.uuid), |d| d["online"] == true)
                .await;
        }
    }
}

/// `n` bytes of a fixed pattern, as base64.
pub fn blob(n: usize, seed: u8) -> (Vec<u8>, String) {
    let bytes: Vec<u8> = (0..n)
        .map(|i| {
            u8::try_from(i % 251)
                .unwrap_or(0)
                .wrapping_mul(31)
                .wrapping_add(seed)
        })
        .collect();
    let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    (bytes, text)
}
