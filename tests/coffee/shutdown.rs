//! SIGTERM to a server process: exit status 0 within the configured deadline, and what it acknowledged (the
//! queue, the events) is in the store when it starts again.
//!
//! The server process is this test binary run again with `COFFEE_SERVE_CONFIG` set: the test
//! `serve_child_process` then runs [`crate::coffee::serve`], the coffee-server binary's serve path, and exits
//! with the binary's status.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{sim, Harness, SEED, WAIT};

const CHILD_ENV: &str = "COFFEE_SERVE_CONFIG";
const DEADLINE_SECS: u64 = 10;
/// The simulated payment provider's round trip: long enough that a `qrcode` is still being handled when
/// SIGTERM arrives.
const PAYMENT_DELAY_MS: u64 = 1500;

/// The server process: does nothing unless started by the test below.
#[test]
fn serve_child_process() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let config: crate::coffee::config::CoffeeConfig = toml::from_str(&text).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let code = match runtime.block_on(crate::coffee::serve(config)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("coffee-server: {e}");
            1
        }
    };
    drop(runtime);
    std::process::exit(code);
}

fn addr_after(line: &str, prefix: &str) -> Option<std::net::SocketAddr> {
    line.strip_prefix(prefix)?
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_in_time_and_keeps_the_queue_and_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("coffee.toml");
    std::fs::write(
        &config_path,
        format!(
            "[fleet]\ndata_dir = {:?}\nflush_interval_secs = 1\nshutdown_timeout_secs = {DEADLINE_SECS}\n\
             [fleet.admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"test-token\"\n\
             [machines]\nlisten = \"127.0.0.1:0\"\n[payment]\nconfirm_after_ms = 0\ncreate_delay_ms = {PAYMENT_DELAY_MS}\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["shutdown::serve_child_process", "--exact", "--nocapture"])
        .env(CHILD_ENV, &config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (machines, admin) = tokio::task::spawn_blocking(move || {
        let (mut machines, mut admin) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            machines = machines.or_else(|| addr_after(&line, "machines:"));
            admin = admin.or_else(|| addr_after(&line, "dashboard:"));
            if machines.is_some() && admin.is_some() {
                break;
            }
        }
        (
            machines.expect("machines address printed"),
            admin.expect("dashboard address printed"),
        )
    })
    .await
    .unwrap();
    let api = fleet::client::AdminClient::new(admin, Some("test-token".into()));
    for vmc in 1001..=1003u64 {
        let body =
            serde_json::json!({ "id": vmc.to_string(), "secret": sim::machine_code(SEED, vmc) });
        assert_eq!(api.post("/api/devices", &body).await.unwrap().status, 201);
    }
    // Two machines online; 1003 stays off, so its commands wait in the queue.
    let machines_sim = sim::Sim::start(sim::SimConfig::new(machines, 2, SEED)).await;
    let post = |vmc: u64, body: serde_json::Value| {
        let api = api.clone();
        async move {
            let r = api
                .post(&format!("/api/devices/{vmc}/commands"), &body)
                .await
                .unwrap();
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        }
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let d = api.get("/api/devices?online=true").await.unwrap().json();
        if d["items"].as_array().map_or(0, Vec::len) == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "machines never online: {d}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let rinse = post(1001, serde_json::json!({ "cmd": "rinsing" })).await;
    let price = post(
        1003,
        serde_json::json!({ "cmd": "priceset", "price": [{ "product_id": 1, "price_fen": 420 }] }),
    )
    .await;
    let reboot = post(1003, serde_json::json!({ "cmd": "reboot" })).await;
    loop {
        let c = api
            .get(&format!("/api/commands/{rinse}"))
            .await
            .unwrap()
            .json();
        if c["state"] == "sent" {
            break;
        }
        assert!(Instant::now() < deadline, "rinsing never sent: {c}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // An order under way at the signal: its payment is being made when SIGTERM arrives.
    let buyer = machines_sim.machine(1002).unwrap();
    let buying = tokio::spawn(async move { buyer.buy(1, &sim::Stats::default()).await });
    let deadline = Instant::now() + WAIT;
    loop {
        let m = api.get("/metrics").await.unwrap().text();
        if m.lines().any(|l| {
            l.contains("qrcode") && l.starts_with("fleet_messages_in_total") && !l.ends_with(" 0")
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "qrcode never received: {m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let stopped = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(DEADLINE_SECS + 2),
            "no exit within the {DEADLINE_SECS} s deadline"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = stopped.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < Duration::from_secs(DEADLINE_SECS),
        "shutdown took {took:?}"
    );
    // The machine got no QR code (its connection closed first)...
    assert!(buying.await.unwrap().is_err());
    machines_sim.shutdown().await;

    // Started again on the same store: the queue and the events are there.
    let h = Harness::start(&dir.path().join("data"), 0).await;
    let state = |id: i64| {
        let api = h.api.clone();
        async move {
            api.get(&format!("/api/commands/{id}"))
                .await
                .unwrap()
                .json()["state"]
                .clone()
        }
    };
    assert_eq!(state(rinse).await, "sent");
    assert_eq!(state(price).await, "queued");
    assert_eq!(state(reboot).await, "queued");
    let events = h.api.get("/api/events?limit=1000").await.unwrap().json();
    let kinds: Vec<(String, String)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["device_id"].as_str().unwrap_or("").to_owned(),
                e["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for (device, kind) in [
        ("1001", "registered"),
        ("1003", "registered"),
        ("1001", "online"),
        ("1002", "online"),
        ("1001", "command"),
        // Written while the connections closed during the shutdown.
        ("1001", "offline"),
        ("1002", "offline"),
    ] {
        assert!(
            kinds.iter().any(|(d, k)| d == device && k == kind),
            "no `{kind}` event of {device} after the restart: {kinds:?}"
        );
    }
    // ... but the order was written, with its payment, and the unanswered `qrcode` recorded: the handler
    // finished before the store closed.
    let orders = h.api.get("/api/orders?device=1002").await.unwrap().json();
    let order = &orders["items"][0];
    assert!(
        order["pay_url"].is_string() && order["state"] == "awaiting_payment",
        "the order under way at shutdown: {orders}"
    );
    assert!(
        kinds
            .iter()
            .any(|(d, k)| d == "1002" && k == "qrcode_unanswered"),
        "no `qrcode_unanswered` of 1002: {kinds:?}"
    );
    let last_seen = h.api.get("/api/devices/1002").await.unwrap().json()["last_seen"].clone();
    assert!(last_seen.is_i64(), "last seen not stored: {last_seen}");
    h.server.shutdown().await;
}
