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

mod flows;
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
        Self::boot(dir, mqtt_url, tune, true).await
    }

    /// A platform started again on the store directory of an earlier one (its product and terminals kept).
    pub async fn start_existing(dir: &Path) -> Self {
        Self::boot(dir, None, |_| {}, false).await
    }

    async fn boot(
        dir: &Path,
        mqtt_url: Option<String>,
        tune: impl FnOnce(&mut meeting::config::MeetingConfig),
        add_product: bool,
    ) -> Self {
        let mut config = meeting::config::MeetingConfig::default();
        config.fleet.data_dir = dir.to_path_buf();
        config.fleet.admin.token = Some("test-token".into());
        config.fleet.flush_interval_secs = 1;
        config.mqtt.url = mqtt_url;
        config.mqtt.embedded_listen = "127.0.0.1:0".parse().unwrap();
        config.mqtt.client_id = format!("best-platform-test-{}", std::process::id());
        config.terminals.command_timeout_secs = 5;
        tune(&mut config);
        let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
        let platform = meeting::start_on(
            config,
            bind().await.unwrap(),
            bind().await.unwrap(),
            bind().await.unwrap(),
        )
        .await
        .unwrap();
        let api = AdminClient::new(platform.admin_addr, Some("test-token".into()));
        let h = Self { platform, api };
        if !add_product {
            return h;
        }
        let r = h
            .api
            .post(
                "/api/products",
                &serde_json::json!({ "id": sim::PRODUCT, "name": "simulated" }),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        h
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

/// Whether Mosquitto answers on this machine.
pub fn mosquitto() -> bool {
    meeting::broker::answers(MOSQUITTO.parse().unwrap())
}
