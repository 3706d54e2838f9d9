//! The vehicle server (WebSvr) and a vehicle instance over real sockets (127.0.0.1:0) and a shared SQLite
//! file (PostgreSQL too when `DATABASE_URL` is set), driven by the mini-program stand-in's signed requests.

#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, instance, app, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]
// The server and the instance both include the shared tables module.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../../examples/vehicle-app/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "../../examples/vehicle-instance/app.rs"]
mod instance;
#[allow(dead_code)]
#[path = "../../examples/vehicle-server/app.rs"]
mod server;

mod browser;
// Shared by the deployments' dashboard tests; not every one reads panel tables.
mod control;
#[allow(dead_code)]
#[path = "../support/dashboard.rs"]
mod dashboard;
mod endpoints;
mod flows;
mod link;
mod refusals;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client::{AppClient, CallError};
use fleet::client::AdminClient;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);

/// One instance of `n` bikes from 1001, ticking every 50 ms at 20 m/s, on the store of `dir` (or PostgreSQL
/// `url` and schema).
pub async fn start_instance(
    dir: &Path,
    url: Option<(&str, &str)>,
    addr: Option<SocketAddr>,
    n: u32,
) -> instance::Running {
    start_instance_with(dir, url, addr, n, |_| {}).await
}

/// As [`start_instance`], with the settings adjusted. On a given `addr` the bind is retried for a while: a
/// port an instance just released may not be free yet.
pub async fn start_instance_with(
    dir: &Path,
    url: Option<(&str, &str)>,
    addr: Option<SocketAddr>,
    n: u32,
    adjust: impl FnOnce(&mut instance::InstanceSettings),
) -> instance::Running {
    let store = match url {
        Some((u, schema)) => fleet::store::Store::connect(u, Some(schema)).await.unwrap(),
        None => fleet::store::Store::open_sqlite(dir).await.unwrap(),
    };
    store
        .migrate_with(instance::tables::migrator(store.backend()))
        .await
        .unwrap();
    let listener = match addr {
        None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        Some(addr) => {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => break l,
                    Err(e) => {
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "{addr} never free: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
    };
    let mut settings = instance::InstanceSettings {
        tick: Duration::from_millis(50),
        ..Default::default()
    };
    settings.bikes.vehicles = n;
    settings.bikes.speed_mps = 20.0;
    settings.bikes.alarm_chance = 0.0;
    adjust(&mut settings);
    instance::start(store, listener, settings).await.unwrap()
}

/// The server's settings for tests: cheap Argon2, a short command timeout.
pub fn server_config(
    dir: &Path,
    instances: &[(&str, SocketAddr)],
) -> server::config::VehicleConfig {
    let mut config = server::config::VehicleConfig::default();
    config.fleet.data_dir = dir.to_path_buf();
    config.fleet.admin.token = Some("test-token".into());
    config.http.argon2_memory_kib = 64;
    config.http.argon2_iterations = 1;
    config.http.files_dir = dir.join("files");
    config.link.request_timeout_secs = 3;
    // The vehicle count of `/api/instances` comes with the 9002 replies.
    config.link.heartbeat_secs = 1;
    config.instances = instances
        .iter()
        .map(|(name, addr)| server::config::InstanceEntry {
            name: (*name).to_owned(),
            addr: *addr,
        })
        .collect();
    config
}

/// A server, an instance and clients.
#[derive(Debug)]
pub struct Harness {
    /// Store directory.
    pub dir: tempfile::TempDir,
    /// The server.
    pub server: Option<server::Running>,
    /// The instance.
    pub instance: Option<instance::Running>,
    /// Its link address.
    pub instance_addr: SocketAddr,
    /// Admin API client with the token.
    pub admin: AdminClient,
}

impl Harness {
    /// An instance of `n` bikes and a server linked to it (waits for the link).
    pub async fn start(n: u32) -> Self {
        Self::start_with(n, |_| {}).await
    }

    /// As [`Harness::start`], with the server config adjusted.
    pub async fn start_with(
        n: u32,
        adjust: impl FnOnce(&mut server::config::VehicleConfig),
    ) -> Self {
        Self::start_full(n, |_| {}, adjust).await
    }

    /// As [`Harness::start_with`], with the instance's settings adjusted too.
    pub async fn start_full(
        n: u32,
        instance: impl FnOnce(&mut instance::InstanceSettings),
        adjust: impl FnOnce(&mut server::config::VehicleConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inst = start_instance_with(dir.path(), None, None, n, instance).await;
        let instance_addr = inst.addr;
        let mut config = server_config(dir.path(), &[("instance-1", instance_addr)]);
        adjust(&mut config);
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let srv = server::start_on(config, http, admin).await.unwrap();
        let admin = AdminClient::new(srv.admin_addr, Some("test-token".into()));
        let h = Self {
            dir,
            server: Some(srv),
            instance: Some(inst),
            instance_addr,
            admin,
        };
        h.wait_link(true).await;
        h
    }

    /// The running server.
    pub fn server(&self) -> &server::Running {
        self.server.as_ref().unwrap()
    }

    /// The store directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Waits until the link to `instance-1` is `up` (or down).
    pub async fn wait_link(&self, up: bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.server().links.is_up("instance-1") != up {
            assert!(
                tokio::time::Instant::now() < deadline,
                "link never {}",
                if up { "up" } else { "down" }
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new app client (not logged in).
    pub fn app(&self) -> AppClient {
        AppClient::new(self.server().http_addr)
    }

    /// A registered, logged-in user.
    pub async fn user(&self, phone: &str) -> AppClient {
        let mut app = self.app();
        app.register(phone, "secret-123", "rider").await.unwrap();
        app
    }

    /// Polls `check` on a call's result until it holds.
    pub async fn until<F, Fut>(&self, what: &str, mut f: F) -> serde_json::Value
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<serde_json::Value>>,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some(i) = self.instance.take() {
            i.shutdown().await;
        }
    }
}

/// The errCode of a refused call.
pub fn code(r: Result<serde_json::Value, CallError>) -> i64 {
    match r {
        Ok(_) => 0,
        Err(CallError::Refused { code, .. }) => code,
        Err(e) => panic!("transport failure: {e}"),
    }
}
