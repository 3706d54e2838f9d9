//! Person pushes over both transports: every answer's code recorded (also when terminals answer at once),
//! refusals failing their command with the code, a person committed without its pushes recovered when its
//! terminals identify again, and a terminal moved to another community by `set_device_info` getting that
//! community's people at once.

use crate::flows::person;
use crate::sim::{Sim, SimConfig, Transport};
use crate::{Harness, WAIT};

/// Polls a person's pushes until there are `n` and each has its answer and a final state.
async fn answered(h: &Harness, person_id: &str, n: usize) -> Vec<serde_json::Value> {
    let body = h
        .poll(&format!("/api/persons/{person_id}/pushes"), |p| {
            p["items"].as_array().is_some_and(|a| {
                a.len() == n
                    && a.iter().all(|x| {
                        !x["code"].is_null() && (x["state"] == "acked" || x["state"] == "failed")
                    })
            })
        })
        .await;
    body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_row_ends_with_its_code_when_many_terminals_answer_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let tcp = h.terminals(Transport::Tcp, 1, 24, "C1").await;
    let ws = h.terminals(Transport::Ws, 101, 24, "C1").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    h.registered("C1", 48).await;
    let (_, face) = crate::blob(4000, 6);
    let ids = ["P1", "P2", "P3", "P4"];
    for id in ids {
        let r = h
            .api
            .post("/api/persons", &person(id, "C1", &face, 4000))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["pushes_queued"], 48);
    }
    for id in ids {
        for p in answered(&h, id, 48).await {
            assert_eq!(p["code"], 0, "{p}");
            assert_eq!(p["state"], "acked", "{p}");
            assert!(p["answered_at"].is_i64(), "{p}");
            assert_eq!(p["version"], 1, "{p}");
        }
    }
    for t in tcp.terminals.iter().chain(&ws.terminals) {
        assert!(
            t.wait_for(WAIT, |v| v.people.len() == 4).await,
            "{}",
            t.uuid
        );
    }
    tcp.shutdown().await;
    ws.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_code_is_recorded_with_its_push_and_fails_its_command() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    // Terminals answering `download_person` with each code, over each transport.
    let codes = [0, -1, -2, -3, 7];
    let mut sims = Vec::new();
    let mut n = 0;
    for code in codes {
        for (transport, addr) in [
            (Transport::Tcp, h.server.tcp_addr),
            (Transport::Ws, h.server.ws_addr),
        ] {
            n += 1;
            let mut c = SimConfig::new(addr, transport, 1, crate::SEED);
            c.first = n;
            c.push_answer = code;
            sims.push((code, Sim::start(c).await.unwrap()));
        }
    }
    for (_, s) in &sims {
        h.online(s).await;
    }
    h.registered("C1", sims.len()).await;
    let (_, face) = crate::blob(3000, 8);
    let r = h
        .api
        .post("/api/persons", &person("P1", "C1", &face, 3000))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let pushes = answered(&h, "P1", sims.len()).await;
    for (code, s) in &sims {
        let t = &s.terminals[0];
        let p = pushes
            .iter()
            .find(|p| p["device_id"] == t.uuid.as_str())
            .unwrap_or_else(|| panic!("no push to {}", t.uuid));
        assert_eq!(p["code"], *code, "{p}");
        let command = h
            .api
            .get(&format!("/api/commands/{}", p["command_id"]))
            .await
            .unwrap()
            .json();
        if *code == 0 {
            assert_eq!(p["state"], "acked", "{p}");
            assert_eq!(command["state"], "acked", "{command}");
            assert!(t.view().people.contains_key("P1"), "{}", t.uuid);
        } else {
            assert_eq!(p["state"], "failed", "{p}");
            assert_eq!(p["message"], "simulated refusal", "{p}");
            assert_eq!(command["state"], "failed", "{command}");
            let error = command["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with(&format!("code {code}:")),
                "{}: {command}",
                t.uuid
            );
            assert!(t.view().people.is_empty(), "{}", t.uuid);
        }
    }
    for (_, s) in sims {
        s.shutdown().await;
    }
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_committed_without_its_pushes_reaches_its_terminals_when_they_identify_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = Harness::config(dir.path());
    let h = Harness::start_with(config.clone(), None).await;
    let tcp = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    let ws = h.terminals(Transport::Ws, 2, 1, "C1").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    h.registered("C1", 2).await;
    let (_, face) = crate::blob(2000, 3);
    let r = h
        .api
        .post("/api/persons", &person("PA", "C1", &face, 2000))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    answered(&h, "PA", 2).await;
    // What a server that stopped between committing a person and queuing its pushes leaves behind.
    sqlx::query(
        "INSERT INTO access_persons (person_id, community_code, person_name, version, created_at, updated_at) \
         VALUES ('PB', 'C1', 'Committed', 1, 1, 1)",
    )
    .execute(h.server.fleet.store().writer())
    .await
    .unwrap();
    let addrs = (h.server.tcp_addr, h.server.ws_addr, h.server.admin_addr);
    h.server.shutdown().await;
    // The same terminals reconnect to the restarted server and identify again.
    let h = Harness::start_with(config, Some(addrs)).await;
    for t in [&tcp.terminals[0], &ws.terminals[0]] {
        assert!(
            t.wait_for(WAIT, |v| v
                .people
                .get("PB")
                .is_some_and(|p| p.name.as_deref() == Some("Committed")))
                .await,
            "{} never got PB: {:?}",
            t.uuid,
            t.view()
        );
        // Pushes are queued in person order: had PA been queued again, it would have arrived first.
        assert_eq!(t.view().people["PA"].pushes, 1, "{} got PA again", t.uuid);
    }
    for p in answered(&h, "PB", 2).await {
        assert_eq!(p["code"], 0, "{p}");
    }
    assert_eq!(
        h.api.get("/api/persons/PA/pushes").await.unwrap().json()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    tcp.shutdown().await;
    ws.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_moved_to_another_community_gets_its_people_without_waiting_for_a_probe() {
    let dir = tempfile::tempdir().unwrap();
    let config = Harness::config(dir.path());
    // Without the read-back the registry would follow only at the next probe, after the test gave up.
    assert!(config.terminals.probe_interval_secs > WAIT.as_secs());
    let h = Harness::start_with(config, None).await;
    let (_, face) = crate::blob(1500, 2);
    let r = h
        .api
        .post("/api/persons", &person("P9", "C9", &face, 1500))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["pushes_queued"], 0);
    let tcp = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    let ws = h.terminals(Transport::Ws, 2, 1, "C1").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    for t in [&tcp.terminals[0], &ws.terminals[0]] {
        let r = h
            .api
            .post(
                &format!("/api/devices/{}/commands", t.uuid),
                &serde_json::json!({"cmd": "set_device_info", "device_info": {"community_code": "C9", "address": "Moved"}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["id"].as_i64().unwrap();
        h.poll(&format!("/api/commands/{id}"), |c| c["state"] == "acked")
            .await;
        assert!(
            t.wait_for(WAIT, |v| v.people.contains_key("P9")).await,
            "{} never got P9: {:?}",
            t.uuid,
            t.view()
        );
    }
    let moved = h.registered("C9", 2).await;
    for t in moved["items"].as_array().unwrap() {
        assert_eq!(t["address"], "Moved", "{t}");
        assert!(
            t["remote_addr"].is_string(),
            "the read-back lost the address: {t}"
        );
    }
    for p in answered(&h, "P9", 2).await {
        assert_eq!(p["code"], 0, "{p}");
    }
    tcp.shutdown().await;
    ws.shutdown().await;
    h.server.shutdown().await;
}
