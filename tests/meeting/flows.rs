//! Onboarding, a meeting pushed to a terminal, check-ins and the attendance report, over each transport.

use std::time::Duration;

use best_proto::Code;

use crate::{mosquitto, sim, Harness};

/// Creates meeting `id` on `sn` with `members`; returns its command ids.
pub async fn meeting(h: &Harness, id: &str, sn: &str, members: &[&str]) -> Vec<i64> {
    let body = serde_json::json!({
        "id": id, "sn": sn, "name": format!("meeting {id}"),
        "start": "2026-01-05T09:00:00+08:00", "end": "2026-01-05T10:00:00+08:00", "members": members,
    });
    let r = h.api.post("/api/meetings", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    command_ids(&r.json())
}

/// The `commands` of a reply that queued some.
pub fn command_ids(v: &serde_json::Value) -> Vec<i64> {
    v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect()
}

/// Pushes a meeting to terminal `sn` of `sims`, waits for its commands to be acked, checks two members in and
/// reads the attendance report.
async fn meeting_round_trip(h: &Harness, s: &sim::Sim, sn: &str, id: &str) {
    let commands = meeting(h, id, sn, &["1001", "1002", "1003"]).await;
    assert_eq!(commands.len(), 3);
    for c in &commands {
        h.command_state(*c, "acked").await;
        let r = h
            .api
            .get(&format!("/api/commands/{c}/result"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["code"], "00000000");
    }
    let t = s.terminal(sn).unwrap();
    let local = t.local();
    assert_eq!(
        local.users.get("1002").map(String::as_str),
        Some("person 1002")
    );
    assert_eq!(
        local.meetings.get(id).map(String::as_str),
        Some(format!("meeting {id}").as_str())
    );
    assert_eq!(local.members[id].len(), 3);
    assert_eq!(t.check_in(id, "1001").await, Ok(Code::Success));
    assert_eq!(t.check_in(id, "1003").await, Ok(Code::Success));
    // Not a member: the terminal refuses it itself.
    assert!(t
        .check_in(id, "9999")
        .await
        .unwrap_err()
        .contains("not a member"));
    let report = h
        .poll(&format!("/api/meetings/{id}/attendance"), |a| {
            a["present"] == 2
        })
        .await;
    assert_eq!(report["absent"], 1);
    let present: Vec<&str> = report["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["present"] == true)
        .map(|a| a["pin"].as_str().unwrap())
        .collect();
    assert_eq!(present, ["1001", "1003"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_reach_terminals_over_websocket_and_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), None).await;
    h.provision("MW", 1, 1).await;
    h.provision("MQ", 1, 1).await;
    h.people(&["1001", "1002", "1003"]).await;
    let ws = h.terminals("MW", 1, 1, sim::Transport::Ws).await;
    let mqtt = h.terminals("MQ", 1, 1, sim::Transport::Mqtt).await;
    // The registry shows the onboarding and the transport of each terminal.
    let terminals = h
        .poll("/api/terminals", |t| {
            t["items"]
                .as_array()
                .is_some_and(|i| i.iter().all(|t| t["max_pending"] == 4))
        })
        .await;
    let items = terminals["items"].as_array().unwrap();
    let by_sn = |sn: &str| items.iter().find(|t| t["sn"] == sn).unwrap().clone();
    assert_eq!(by_sn("MQ000001")["transport"], "mqtt");
    assert_eq!(by_sn("MW000001")["transport"], "websocket");
    assert!(items
        .iter()
        .all(|t| t["registered"] == true && t["accredited"] == true));
    meeting_round_trip(&h, &ws, "MW000001", "m-ws").await;
    meeting_round_trip(&h, &mqtt, "MQ000001", "m-mq").await;
    // Commands through the generic queue: options, time sync (the terminal then asks for the time), reboot.
    for (cmd, params) in [
        (
            "cmd.option.set",
            serde_json::json!({ "option": { "meetRoomName": "Room A", "meetRoomCapacity": "12" } }),
        ),
        ("cmd.system.sync.time", serde_json::json!({})),
        (
            "cmd.control.reboot",
            serde_json::json!({ "operator": "ops" }),
        ),
    ] {
        let r = h
            .api
            .post(
                "/api/devices/MQ000001/commands",
                &serde_json::json!({ "cmd": cmd, "params": params }),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
        h.command_state(r.json()["id"].as_i64().unwrap(), "acked")
            .await;
    }
    let local = mqtt.terminal("MQ000001").unwrap().local();
    assert_eq!(local.room.as_deref(), Some("Room A"));
    assert_eq!(local.reboots, 1);
    // A bad command is refused at the API, naming the field.
    let r = h
        .api
        .post(
            "/api/devices/MQ000001/commands",
            &serde_json::json!({ "cmd": "cmd.data.update.user", "params": { "users": [{ "pin": "1" }] } }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["field"], "params.users[0]", "{}", r.text());
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_carries_the_same_sessions_when_it_answers() {
    if !mosquitto() {
        eprintln!("no MQTT broker at {}: skipped", crate::MOSQUITTO);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), Some(format!("mqtt://{}", crate::MOSQUITTO))).await;
    // Serial numbers of this run only: the broker is shared.
    let prefix = format!("T{}X", std::process::id() % 100_000);
    h.provision(&prefix, 1, 1).await;
    h.people(&["1001", "1002", "1003"]).await;
    let s = h.terminals(&prefix, 1, 1, sim::Transport::Mqtt).await;
    meeting_round_trip(&h, &s, &sim::sn(&prefix, 1), "m-mosq").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.platform.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flows_on_postgres() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: the meeting flows run on SQLite only");
        return;
    };
    let schema = format!("meeting_flows_test_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_postgres(dir.path(), &url, &schema).await;
    h.provision("PW", 1, 1).await;
    h.provision("PQ", 1, 1).await;
    h.people(&["1001", "1002", "1003"]).await;
    let ws = h.terminals("PW", 1, 1, sim::Transport::Ws).await;
    let mqtt = h.terminals("PQ", 1, 1, sim::Transport::Mqtt).await;
    let terminals = h
        .poll("/api/terminals", |t| {
            t["items"].as_array().is_some_and(|i| {
                i.len() == 2
                    && i.iter()
                        .all(|t| t["max_pending"] == 4 && t["accredited"] == true)
            })
        })
        .await;
    let transports: Vec<&str> = terminals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports, ["mqtt", "websocket"], "PQ then PW");
    meeting_round_trip(&h, &ws, "PW000001", "pg-ws").await;
    meeting_round_trip(&h, &mqtt, "PQ000001", "pg-mq").await;
    let checkins = h.api.get("/api/checkins").await.unwrap().json();
    assert_eq!(checkins["items"].as_array().unwrap().len(), 4);
    h.platform.shutdown().await;
    let admin = fleet::store::Store::connect(&url, None).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(admin.pool())
        .await
        .unwrap();
}
