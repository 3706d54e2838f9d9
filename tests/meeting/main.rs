//! The meeting platform over real sockets (127.0.0.1:0) and a real SQLite file, with simulated terminals over
//! WebSocket and MQTT: the embedded broker always, Mosquitto at 127.0.0.1:1883 when one answers.

#![forbid(unsafe_code)]
// The modules are shared by several binaries (platform, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "../../examples/meeting-platform/app.rs"]
mod meeting;
#[allow(dead_code)]
#[path = "../../examples/meeting-terminal/sim.rs"]
mod sim;

// Shared by the deployments' dashboard tests; not every one reads panel tables.
#[allow(dead_code)]
#[path = "../support/dashboard.rs"]
mod dashboard;

mod browser;
mod flows;
mod people;
mod refusals;
mod restart;
mod uploads;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fleet::client::AdminClient;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(20);
/// Seed of the simulated terminals.
pub const SEED: u64 = 7;
/// Mosquitto on this machine kind.
pub const MOSQUITTO: &str = "127.0.0.1:1883";

/// A meeting platform on a store directory.
#[derive(Debug)]
pub struct Harness {
    /// The platform.
    pub platform: meeting::Running,
    /// A client with the admin token.
    pub api: AdminClient,
}

impl Harness {
    /// Starts a platform on `dir` with the embedded broker (`mqtt_url` `None`) or an external one.
    pub async fn start(dir: &Path, mqtt_url: Option<String>) -> Self {
        Self::start_with(dir, mqtt_url, |_| {}).await
    }

    /// As [`Harness::start`], with the configuration adjusted by `tune`.
    pub async fn start_with(
        dir: &Path,
        mqtt_url: Option<String>,
        tune: impl FnOnce(&mut meeting::config::MeetingConfig),
    ) -> Self {
        let mut config = config(dir);
        config.mqtt.url = mqtt_url;
        tune(&mut config);
        Self::launch(config, None).await
    }

    /// A platform started again on the store directory of an earlier one (its product and terminals kept).
    pub async fn start_existing(dir: &Path) -> Self {
        Self::start(dir, None).await
    }

    /// A platform on PostgreSQL (`DATABASE_URL`) in schema `schema` of its own, with the embedded broker.
    pub async fn start_postgres(dir: &Path, url: &str, schema: &str) -> Self {
        let mut config = config(dir);
        config.fleet.database_url = Some(url.to_owned());
        let store = fleet::store::Store::connect(url, Some(schema))
            .await
            .unwrap();
        let fleet = fleet::Fleet::with_store(store, config.fleet.clone())
            .await
            .unwrap();
        Self::launch(config, Some(fleet)).await
    }

    async fn launch(config: meeting::config::MeetingConfig, fleet: Option<fleet::Fleet>) -> Self {
        let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
        let (ws, lookup, admin) = (
            bind().await.unwrap(),
            bind().await.unwrap(),
            bind().await.unwrap(),
        );
        match fleet {
            Some(f) => Self::started(meeting::start_with(f, config, ws, lookup, admin).await).await,
            None => Self::launch_on(config, ws, lookup, admin).await,
        }
    }

    /// Starts a platform on listeners the caller bound (to restart on the same addresses).
    pub async fn launch_on(
        config: meeting::config::MeetingConfig,
        ws: tokio::net::TcpListener,
        lookup: tokio::net::TcpListener,
        admin: tokio::net::TcpListener,
    ) -> Self {
        Self::started(meeting::start_on(config, ws, lookup, admin).await).await
    }

    async fn started(platform: Result<meeting::Running, meeting::Error>) -> Self {
        let platform = platform.unwrap();
        let api = AdminClient::new(platform.admin_addr, Some("test-token".into()));
        let h = Self { platform, api };
        let r = h
            .api
            .post(
                "/api/products",
                &serde_json::json!({ "id": sim::PRODUCT, "name": "simulated" }),
            )
            .await
            .unwrap();
        // A restart on the same store finds the product.
        assert!(r.status == 201 || r.status == 409, "{}", r.text());
        h
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &serde_json::Value) -> fleet::client::Reply {
        self.api
            .request("PUT", path, Some(serde_json::to_vec(body).unwrap()), &[])
            .await
            .unwrap()
    }

    /// The lookup URL.
    pub fn lookup(&self) -> String {
        format!("http://{}", self.platform.lookup_addr)
    }

    /// Provisions terminals `prefix{first..first+n}` with the simulator's keys, through the API.
    pub async fn provision(&self, prefix: &str, first: u32, n: u32) {
        for i in first..first + n {
            let sn = sim::sn(prefix, i);
            let body = serde_json::json!({
                "sn": sn, "product_id": sim::PRODUCT, "secret_key": sim::secret_key(SEED, &sn)
            });
            let r = self.api.post("/api/terminals", &body).await.unwrap();
            assert_eq!(r.status, 201, "{}", r.text());
        }
    }

    /// Starts `n` simulated terminals `prefix{first..}` over `transport` and waits until they are online.
    pub async fn terminals(
        &self,
        prefix: &str,
        first: u32,
        n: u32,
        transport: sim::Transport,
    ) -> Arc<sim::Sim> {
        let mut config = sim::SimConfig::new(self.lookup(), n, transport, SEED);
        config.prefix = prefix.into();
        config.first = first;
        let s = sim::Sim::start(config);
        assert!(
            s.wait_online(n as usize, WAIT).await,
            "terminals never online"
        );
        s
    }

    /// Adds people `pins` named after their pin.
    pub async fn people(&self, pins: &[&str]) {
        for pin in pins {
            let body =
                serde_json::json!({ "pin": pin, "name": format!("person {pin}"), "card": null });
            let r = self.api.post("/api/people", &body).await.unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
        }
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

    /// Waits until command `id` is in state `state`.
    pub async fn command_state(&self, id: i64, state: &str) -> serde_json::Value {
        self.poll(&format!("/api/commands/{id}"), |c| c["state"] == state)
            .await
    }
}

/// The test settings of a platform on store directory `dir`: the embedded broker on a free port, short
/// timeouts.
pub fn config(dir: &Path) -> meeting::config::MeetingConfig {
    let mut config = meeting::config::MeetingConfig::default();
    config.fleet.data_dir = dir.to_path_buf();
    config.fleet.admin.token = Some("test-token".into());
    config.fleet.flush_interval_secs = 1;
    config.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
    config.mqtt.client_id = format!("best-platform-test-{}", std::process::id());
    config.terminals.command_timeout_secs = 5;
    config
}

/// Whether Mosquitto answers on this machine.
pub fn mosquitto() -> bool {
    meeting::broker::answers(MOSQUITTO.parse().unwrap())
}
