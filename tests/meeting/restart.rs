//! A broker restart mid-traffic: terminals and the platform reconnect (the platform subscribes again), and
//! every queued command ends in one final state, the acknowledged ones applied on their terminal.
//!
//! The broker is the embedded one in a child process (this test binary run again with `MEETING_BROKER_ADDR`
//! set), so it can be killed and started again on the same port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{meeting, sim, Harness, WAIT};

const CHILD_ENV: &str = "MEETING_BROKER_ADDR";

/// The broker process: does nothing unless started by the test below.
#[test]
fn broker_child_process() {
    let Ok(addr) = std::env::var(CHILD_ENV) else {
        return;
    };
    let addr: SocketAddr = addr.parse().unwrap();
    meeting::broker::start(addr, 256 * 1024).unwrap();
    while !meeting::broker::answers(addr) {
        std::thread::sleep(Duration::from_millis(20));
    }
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// The broker child, killed when dropped (a failing test must not leave it running).
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn broker(addr: SocketAddr) -> Broker {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["restart::broker_child_process", "--exact", "--nocapture"])
        .env(CHILD_ENV, addr.to_string())
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while !meeting::broker::answers(addr) {
        assert!(
            std::time::Instant::now() < deadline,
            "broker child never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Broker(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_traffic_ends_every_command_in_one_state() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = tokio::task::spawn_blocking(move || broker(addr))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir.path(), Some(format!("mqtt://{addr}")), |c| {
        c.terminals.heartbeat_secs = 2;
        c.terminals.command_timeout_secs = 3;
    })
    .await;
    h.provision("MR", 1, 3).await;
    let s = h.terminals("MR", 1, 3, sim::Transport::Mqtt).await;
    let mut commands: HashMap<i64, (String, String)> = HashMap::new();
    let post = |sn: String, pin: String| {
        let api = h.api.clone();
        async move {
            let body = serde_json::json!({
                "cmd": "cmd.data.update.user",
                "params": { "users": [{ "pin": pin, "firstName": format!("user {pin}"), "funSwitch": "0", "disable": "0" }] },
            });
            let r = api
                .post(&format!("/api/devices/{sn}/commands"), &body)
                .await
                .unwrap();
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        }
    };
    for round in 0..20 {
        if round == 8 {
            // Mid-traffic: the broker dies and comes back on the same port a moment later.
            drop(child);
            tokio::time::sleep(Duration::from_millis(500)).await;
            child = tokio::task::spawn_blocking(move || broker(addr))
                .await
                .unwrap();
        }
        for t in 1..=3 {
            let (sn, pin) = (sim::sn("MR", t), format!("{round:02}{t}"));
            let id = post(sn.clone(), pin.clone()).await;
            commands.insert(id, (sn, pin));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every command reaches a final state; idempotent ones lost with a connection are delivered again.
    let finals = [
        "acked",
        "failed",
        "timed_out",
        "unknown",
        "expired",
        "cancelled",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let mut states: HashMap<i64, String> = HashMap::new();
    loop {
        states.clear();
        for id in commands.keys() {
            let c = h
                .api
                .get(&format!("/api/commands/{id}"))
                .await
                .unwrap()
                .json();
            states.insert(*id, c["state"].as_str().unwrap().to_owned());
        }
        if states.values().all(|s| finals.contains(&s.as_str())) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "commands not final: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What is acked was applied on its terminal.
    let acked: Vec<i64> = states
        .iter()
        .filter(|(_, s)| *s == "acked")
        .map(|(id, _)| *id)
        .collect();
    assert!(
        acked.len() >= commands.len() / 2,
        "too few acked: {states:?}"
    );
    for id in &acked {
        let (sn, pin) = &commands[id];
        let local = s.terminal(sn).unwrap().local();
        assert!(
            local.users.contains_key(pin),
            "acked command {id} not applied on {sn}"
        );
    }
    let mut tally: HashMap<&str, usize> = HashMap::new();
    for state in states.values() {
        *tally.entry(state.as_str()).or_default() += 1;
    }
    eprintln!("after the broker restart: {tally:?}");
    // The terminals and the platform are back: every terminal logged in again, a command after the restart is
    // acked.
    assert!(s.wait_online(3, WAIT).await);
    for t in &s.terminals {
        assert!(t.local().logins >= 2, "{} never logged in again", t.sn);
    }
    let id = post(sim::sn("MR", 1), "after".into()).await;
    h.command_state(id, "acked").await;
    h.platform.shutdown().await;
    drop(child);
}
