//! Identification, person pushes with images, records and their query, commands, and the offline buffer
//! across a server restart, over both transports.

use std::time::Duration;

use crate::relay::Relay;
use crate::sim::{Direction, Opened, Transport};
use crate::{Harness, WAIT};

/// The API body of a person of `community` with a face picture (`face` is its base64).
pub fn person(id: &str, community: &str, face: &str, face_len: usize) -> serde_json::Value {
    serde_json::json!({
        "person_id": id, "community_code": community, "person_name": "Zhang San", "card_number": format!("card-{id}"),
        "id_number": "1545123", "role": 12,
        "face": {"width": 520, "height": 690, "format": 2, "length": face_len, "data": face},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_identify_over_tcp_and_websocket_and_are_registered() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let tcp = h.terminals(Transport::Tcp, 1, 2, "C1").await;
    let ws = h.terminals(Transport::Ws, 10, 1, "C2").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    let d = h.api.get("/api/devices/SIM-T00010").await.unwrap().json();
    assert_eq!(d["online"], true);
    assert_eq!(d["name"], "Gate 10");
    let terminals = h
        .poll("/api/terminals", |t| {
            t["items"].as_array().is_some_and(|a| a.len() == 3)
        })
        .await;
    let items = terminals["items"].as_array().unwrap();
    let t1 = &items[0];
    assert_eq!(t1["device_id"], "SIM-T00001");
    assert_eq!(t1["community_code"], "C1");
    assert_eq!(t1["address"], "Gate 1");
    assert_eq!(t1["software_version"], "sim-1.0");
    assert_eq!(t1["hardware_version"], "hw-1.0");
    assert_eq!(t1["device_ip"], "10.0.0.3");
    assert_eq!(t1["device_port"], 1545);
    assert_eq!(t1["server_port"], h.server.tcp_addr.port());
    assert_eq!(t1["transport"], "tcp");
    assert_eq!(items[2]["transport"], "ws");
    assert_eq!(items[2]["community_code"], "C2");
    let c2 = h
        .api
        .get("/api/terminals?community=C2")
        .await
        .unwrap()
        .json();
    assert_eq!(c2["items"].as_array().unwrap().len(), 1);
    // Offline once the terminal goes.
    ws.shutdown().await;
    h.poll("/api/devices/SIM-T00010", |d| d["online"] == false)
        .await;
    tcp.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_images_reaches_the_terminals_of_its_community_with_each_code_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let tcp = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    let ws = h.terminals(Transport::Ws, 2, 1, "C1").await;
    let other = h.terminals(Transport::Tcp, 3, 1, "C2").await;
    // A terminal of C1 that refuses people with -2 (device fault).
    let mut faulty = crate::sim::SimConfig::new(h.server.tcp_addr, Transport::Tcp, 1, 1);
    faulty.first = 4;
    faulty.push_answer = -2;
    let faulty = crate::sim::Sim::start(faulty).await.unwrap();
    for s in [&tcp, &ws, &other, &faulty] {
        h.online(s).await;
    }
    // Registration of the terminals' communities is written right behind the online state.
    h.registered("C1", 3).await;

    let (face, face_b64) = crate::blob(300 * 1024, 1);
    let (_, left_b64) = crate::blob(200 * 1024, 2);
    let (_, code_b64) = crate::blob(512, 3);
    let mut body = person("P1", "C1", &face_b64, face.len());
    body["left_image"] =
        serde_json::json!({"width": 100, "height": 100, "format": 2, "data": left_b64});
    body["left_code"] = serde_json::json!({"data": code_b64});
    let r = h.api.post("/api/persons", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["pushes_queued"], 3);
    let again = h.api.post("/api/persons", &body).await.unwrap();
    assert_eq!(again.status, 409, "{}", again.text());

    for t in [&tcp.terminals[0], &ws.terminals[0]] {
        assert!(
            t.wait_for(WAIT, |v| v
                .people
                .get("P1")
                .is_some_and(|p| p.image_bytes == [300 * 1024, 200 * 1024, 0]))
                .await,
            "{} never got P1",
            t.uuid
        );
        let p = t.view().people["P1"].clone();
        assert_eq!(p.card_number.as_deref(), Some("card-P1"));
        assert_eq!(p.role, Some(12));
    }
    let pushes = h
        .poll("/api/persons/P1/pushes", |p| {
            p["items"].as_array().is_some_and(|a| {
                a.len() == 3
                    && a.iter()
                        .all(|x| !x["code"].is_null() && x["state"] != "sending")
            })
        })
        .await;
    for p in pushes["items"].as_array().unwrap() {
        if p["device_id"] == "SIM-T00004" {
            assert_eq!(p["code"], -2, "{p}");
            assert_eq!(p["state"], "failed", "{p}");
        } else {
            assert_eq!(p["code"], 0, "{p}");
            assert_eq!(p["state"], "acked", "{p}");
        }
    }
    let cmd = h
        .api
        .get(&format!(
            "/api/commands/{}",
            pushes["items"][0]["command_id"]
        ))
        .await
        .unwrap()
        .json();
    assert_eq!(cmd["kind"], "download_person");
    // The other community's terminal got nothing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(other.terminals[0].view().people.is_empty());

    // An update is pushed again; an uploaded file replaces one picture.
    let mut changed = person("P1", "C1", &face_b64, face.len());
    changed["person_name"] = serde_json::json!("Li Si");
    let r = h
        .api
        .request(
            "PUT",
            "/api/persons/P1",
            Some(changed.to_string().into_bytes()),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["person"]["version"], 2);
    let (right, _) = crate::blob(120 * 1024, 9);
    let r = h
        .api
        .request(
            "PUT",
            "/api/persons/P1/blobs/right_image?width=64&height=64&format=2",
            Some(right),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["person"]["version"], 3);
    let t = &tcp.terminals[0];
    assert!(
        t.wait_for(WAIT, |v| v
            .people
            .get("P1")
            .is_some_and(|p| p.image_bytes == [300 * 1024, 0, 120 * 1024]
                && p.name.as_deref() == Some("Li Si")))
            .await,
        "{:?}",
        t.view().people.get("P1")
    );
    let view = h.api.get("/api/persons/P1").await.unwrap().json();
    let slots: Vec<&str> = view["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["slot"].as_str().unwrap())
        .collect();
    assert_eq!(slots, ["face", "right_image"]);

    // Bad input names the field.
    let mut bad = person("P2", "C1", &face_b64, face.len() + 1);
    let r = h.api.post("/api/persons", &bad).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("face.length"), "{}", r.text());
    bad["face"]["length"] = serde_json::json!(face.len());
    bad["face"]["data"] = serde_json::json!("!!!");
    let r = h.api.post("/api/persons", &bad).await.unwrap();
    assert!(
        r.status == 400 && r.text().contains("face.data"),
        "{}",
        r.text()
    );
    let huge = vec![0u8; 3 * 1024 * 1024];
    let r = h
        .api
        .request("PUT", "/api/persons/P1/blobs/left_code", Some(huge), &[])
        .await
        .unwrap();
    assert!(
        r.status == 400 && r.text().contains("left_code.data"),
        "{}",
        r.text()
    );
    let r = h
        .api
        .request(
            "PUT",
            "/api/persons/P1/blobs/face",
            Some(vec![1, 2, 3]),
            &[],
        )
        .await
        .unwrap();
    assert!(
        r.status == 400 && r.text().contains("width"),
        "{}",
        r.text()
    );
    // Writes need the token.
    let anonymous = fleet::client::AdminClient::new(h.server.admin_addr, None);
    assert_eq!(
        anonymous.post("/api/persons", &bad).await.unwrap().status,
        401
    );

    // Delete: gone from the store.
    let r = h
        .api
        .request("DELETE", "/api/persons/P1", None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(h.api.get("/api/persons/P1").await.unwrap().status, 404);
    for s in [tcp, ws, other, faulty] {
        s.shutdown().await;
    }
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_new_to_a_community_gets_its_people() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let (_, face) = crate::blob(1000, 4);
    assert_eq!(
        h.api
            .post("/api/persons", &person("P7", "C7", &face, 1000))
            .await
            .unwrap()
            .status,
        201
    );
    let late = h.terminals(Transport::Ws, 70, 1, "C7").await;
    assert!(
        late.terminals[0]
            .wait_for(WAIT, |v| v.people.contains_key("P7"))
            .await
    );
    late.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_stored_answered_and_queried_by_person_terminal_time_direction_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let tcp = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    let ws = h.terminals(Transport::Ws, 2, 1, "C1").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    h.registered("C1", 2).await;
    let (_, face) = crate::blob(2000, 5);
    for id in ["PA", "PB"] {
        assert_eq!(
            h.api
                .post("/api/persons", &person(id, "C1", &face, 2000))
                .await
                .unwrap()
                .status,
            201
        );
    }
    let (t1, t2) = (&tcp.terminals[0], &ws.terminals[0]);
    for t in [t1, t2] {
        assert!(t.wait_for(WAIT, |v| v.people.len() == 2).await);
    }
    let before = h.api.get("/api/access").await.unwrap().json();
    assert!(before["items"].as_array().unwrap().is_empty());
    let r1 = t1.produce(Some("PA"), Opened::Card, Direction::In).unwrap();
    t1.produce(Some("PB"), Opened::Face, Direction::In).unwrap();
    t2.produce(Some("PA"), Opened::Face, Direction::Out)
        .unwrap();
    t2.produce(None, Opened::Card, Direction::In).unwrap();
    for t in [t1, t2] {
        assert!(
            t.wait_for(WAIT, |v| v.uploaded == 2 && v.pending == 0)
                .await,
            "{:?}",
            t.view()
        );
    }
    let all = h.api.get("/api/access").await.unwrap().json();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{all}");
    let count = |q: &str| {
        let api = h.api.clone();
        let q = q.to_owned();
        async move {
            let r = api.get(&format!("/api/access?{q}")).await.unwrap();
            assert_eq!(r.status, 200, "{q}: {}", r.text());
            r.json()["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("person=PA").await, 2);
    assert_eq!(count("person=PA&direction=out").await, 1);
    assert_eq!(count("terminal=SIM-T00002").await, 2);
    assert_eq!(count("open_door_type=face").await, 2);
    assert_eq!(count("open_door_type=1&direction=in").await, 2);
    assert_eq!(
        count(&format!("from={}&to={}", r1.time, r1.time)).await,
        items
            .iter()
            .filter(|i| i["time"] == r1.time.to_string())
            .count()
    );
    assert_eq!(count("from=20000101000000&to=20000102000000").await, 0);
    let pa = h
        .api
        .get("/api/access?person=PA&direction=in")
        .await
        .unwrap()
        .json();
    let rec = &pa["items"][0];
    assert_eq!(rec["device_id"], "SIM-T00001");
    assert_eq!(rec["card_number"], "card-PA");
    assert_eq!(rec["role"], 12);
    assert_eq!(rec["community_code"], "C1");
    // Paging.
    let page = h.api.get("/api/access?limit=3").await.unwrap().json();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = h
        .api
        .get(&format!("/api/access?limit=3&cursor={cursor}"))
        .await
        .unwrap()
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    // CSV.
    let csv = h.api.get("/api/access?format=csv&person=PA").await.unwrap();
    assert_eq!(csv.status, 200);
    assert!(csv
        .content_type
        .as_deref()
        .unwrap_or("")
        .starts_with("text/csv"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("id,device_id,person_id,time"));
    assert!(
        lines[1].contains(",PA,") && lines[1].contains("card-PA"),
        "{text}"
    );
    // Bad filters name the parameter.
    for (q, field) in [
        ("from=yesterday", "from"),
        ("direction=up", "direction"),
        ("format=xml", "format"),
        ("cursor=x", "cursor"),
    ] {
        let r = h.api.get(&format!("/api/access?{q}")).await.unwrap();
        assert_eq!(r.status, 400, "{q}");
        assert!(r.text().contains(field), "{q}: {}", r.text());
    }
    tcp.shutdown().await;
    ws.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_device_info_and_user_commands_from_the_api_and_device_commands_from_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let ws = h.terminals(Transport::Ws, 1, 1, "C1").await;
    h.online(&ws).await;
    let t = &ws.terminals[0];
    let post = |body: serde_json::Value| {
        let api = h.api.clone();
        async move {
            let r = api
                .post("/api/devices/SIM-T00001/commands", &body)
                .await
                .unwrap();
            assert_eq!(r.status, 202, "{}", r.text());
            r.json()["id"].as_i64().unwrap()
        }
    };
    let id = post(serde_json::json!({"cmd": "set_device_info", "device_info": {"address": "North gate", "server_port": 9300}})).await;
    assert!(
        t.wait_for(WAIT, |v| v.device_info.address.as_deref()
            == Some("North gate"))
            .await
    );
    assert_eq!(t.view().device_info.server_port, Some(9300));
    h.poll(&format!("/api/commands/{id}"), |c| c["state"] == "acked")
        .await;
    let id = post(serde_json::json!({"cmd": "send_user_command", "command_type": 2, "command_value": "test!"})).await;
    assert!(
        t.wait_for(WAIT, |v| v.user_commands == [(2, "test!".to_owned())])
            .await
    );
    h.poll(&format!("/api/commands/{id}"), |c| c["state"] == "acked")
        .await;
    let r = h.api.post("/api/devices/SIM-T00001/commands", &serde_json::json!({"cmd": "send_user_command", "command_type": "x", "command_value": ""})).await.unwrap();
    assert!(
        r.status == 400 && r.text().contains("command_type"),
        "{}",
        r.text()
    );

    assert_eq!(t.device_command(7, "door held open").await, Ok(0));
    let events = h
        .api
        .get("/api/events?kind=device_command")
        .await
        .unwrap()
        .json();
    assert_eq!(events["items"][0]["device_id"], "SIM-T00001");
    assert_eq!(events["items"][0]["data"]["command_type"], 7);
    assert_eq!(
        events["items"][0]["data"]["command_value"],
        "door held open"
    );
    ws.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_made_while_the_server_is_down_arrive_after_its_restart_none_lost_none_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let buffers = tempfile::tempdir().unwrap();
    let config = Harness::config(dir.path());
    let h = Harness::start_with(config.clone(), None).await;
    let mut sims = Vec::new();
    for (transport, addr, first) in [
        (Transport::Tcp, h.server.tcp_addr, 1),
        (Transport::Ws, h.server.ws_addr, 2),
    ] {
        let mut c = crate::sim::SimConfig::new(addr, transport, 1, crate::SEED);
        c.first = first;
        c.data_dir = Some(buffers.path().to_path_buf());
        sims.push(crate::sim::Sim::start(c).await.unwrap());
    }
    for s in &sims {
        h.online(s).await;
    }
    for s in &sims {
        let t = &s.terminals[0];
        t.produce(None, Opened::Card, Direction::In).unwrap();
        assert!(t.wait_for(WAIT, |v| v.uploaded == 1).await);
    }
    // The server goes away; the terminals keep recording.
    let addrs = (h.server.tcp_addr, h.server.ws_addr, h.server.admin_addr);
    h.server.shutdown().await;
    for s in &sims {
        assert!(s.terminals[0].wait_for(WAIT, |v| !v.connected).await);
        for _ in 0..3 {
            s.terminals[0]
                .produce(None, Opened::Face, Direction::Out)
                .unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sims.iter().map(|s| s.pending()).sum::<usize>(), 6);
    // The buffers are files: the simulator itself restarts too, and finds them.
    for s in &sims {
        s.shutdown().await;
    }
    let h = Harness::start_with(config, Some(addrs)).await;
    let mut again = Vec::new();
    for (transport, addr, first) in [
        (Transport::Tcp, h.server.tcp_addr, 1),
        (Transport::Ws, h.server.ws_addr, 2),
    ] {
        let mut c = crate::sim::SimConfig::new(addr, transport, 1, crate::SEED);
        c.first = first;
        c.data_dir = Some(buffers.path().to_path_buf());
        let s = crate::sim::Sim::start(c).await.unwrap();
        assert_eq!(s.pending(), 3, "the buffer file lost records");
        again.push(s);
    }
    for s in &again {
        assert!(
            s.terminals[0]
                .wait_for(WAIT, |v| v.pending == 0 && v.uploaded == 3)
                .await,
            "{:?}",
            s.terminals[0].view()
        );
    }
    let all = h.api.get("/api/access?limit=1000").await.unwrap().json();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 8, "{all}");
    for uuid in ["SIM-T00001", "SIM-T00002"] {
        assert_eq!(items.iter().filter(|i| i["device_id"] == uuid).count(), 4);
    }
    for s in again {
        s.shutdown().await;
    }
    h.server.shutdown().await;
}

/// Waits until `check` holds, polling.
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_running_terminals_reconnect_after_a_server_restart_and_each_record_is_stored_once(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = Harness::config(dir.path());
    let h = Harness::start_with(config.clone(), None).await;
    // Each terminal reaches the server through a relay that can lose an answer.
    let relays = [
        Relay::start(h.server.tcp_addr).await,
        Relay::start(h.server.ws_addr).await,
    ];
    let mut sims = Vec::new();
    for (transport, relay, first) in [
        (Transport::Tcp, &relays[0], 1),
        (Transport::Ws, &relays[1], 2),
    ] {
        let mut c = crate::sim::SimConfig::new(relay.addr(), transport, 1, crate::SEED);
        c.first = first;
        sims.push(crate::sim::Sim::start(c).await.unwrap());
    }
    for s in &sims {
        h.online(s).await;
    }
    let mut produced: Vec<Vec<access_proto::AccessInfo>> = vec![Vec::new(), Vec::new()];
    for (s, made) in sims.iter().zip(&mut produced) {
        let t = &s.terminals[0];
        made.push(t.produce(None, Opened::Card, Direction::In).unwrap());
        assert!(
            t.wait_for(WAIT, |v| v.uploaded == 1).await,
            "{:?}",
            t.view()
        );
    }
    // A record the server stores, whose answer is lost with the connection: the terminal keeps it.
    for ((s, relay), made) in sims.iter().zip(&relays).zip(&mut produced) {
        let t = &s.terminals[0];
        relay.lose_next_upload_answer();
        made.push(t.produce(None, Opened::Face, Direction::In).unwrap());
        until("the upload answer was lost", || relay.lost() == 1).await;
        assert!(t.wait_for(WAIT, |v| !v.connected).await);
        h.poll(&format!("/api/access?terminal={}", t.uuid), |a| {
            a["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
        let v = t.view();
        assert_eq!((v.uploaded, v.pending), (1, 1), "{v:?}");
    }
    // The server goes away; the same terminals keep recording, and keep trying.
    let connects: Vec<u32> = sims
        .iter()
        .map(|s| s.terminals[0].view().connects)
        .collect();
    h.server.shutdown().await;
    for (s, made) in sims.iter().zip(&mut produced) {
        for _ in 0..3 {
            made.push(
                s.terminals[0]
                    .produce(None, Opened::Face, Direction::Out)
                    .unwrap(),
            );
        }
        assert_eq!(s.terminals[0].view().pending, 4);
    }
    let h = Harness::start_with(config, None).await;
    relays[0].set_upstream(h.server.tcp_addr);
    relays[1].set_upstream(h.server.ws_addr);
    for r in &relays {
        r.open();
    }
    for (s, before) in sims.iter().zip(&connects) {
        let t = &s.terminals[0];
        assert!(
            t.wait_for(WAIT, |v| v.pending == 0 && v.uploaded == 5)
                .await,
            "{:?}",
            t.view()
        );
        assert!(t.view().connects > *before, "{:?}", t.view());
    }
    let all = h.api.get("/api/access?limit=1000").await.unwrap().json();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 10, "{all}");
    for (s, made) in sims.iter().zip(&produced) {
        let uuid = &s.terminals[0].uuid;
        for r in made {
            let stored = items
                .iter()
                .filter(|i| {
                    i["device_id"] == uuid.as_str()
                        && i["time"] == r.time.to_string()
                        && i["card_number"].as_str() == r.card_number.as_deref()
                        && i["open_door_type"] == r.open_door_type.map(|t| t.0).unwrap_or(0)
                        && i["in_out_type"] == r.in_out_type.map(|t| t.0).unwrap_or(0)
                })
                .count();
            assert_eq!(stored, 1, "{uuid}: {r:?} stored {stored} times: {all}");
        }
    }
    for s in sims {
        s.shutdown().await;
    }
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let doc = h.api.get("/api/openapi.json").await.unwrap().json();
    let paths = doc["paths"].as_object().expect("paths");
    let token = fleet::AdminToken::from_secret("x");
    let built = crate::access::admin_router(
        &h.server.fleet,
        h.server.people.clone(),
        h.server.records.clone(),
        &token,
    );
    for (method, path) in &built.routes {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
        assert!(
            item.get(method).is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            assert!(
                built.routes.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is documented but not routed"
            );
        }
    }
    for must in [
        "/api/persons",
        "/api/persons/{id}/blobs/{slot}",
        "/api/access",
        "/api/terminals",
    ] {
        assert!(paths.contains_key(must), "{must}");
    }
    assert!(doc["components"]["schemas"]["AccessCommand"].is_object());
    h.server.shutdown().await;
}

/// Removing a connected terminal closes its connection on either transport (the other terminal stays up);
/// the protocol has no login, so the terminal that connects again is identified and registered anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_connected_terminal_closes_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let tcp = h.terminals(Transport::Tcp, 1, 2, "C1").await;
    let ws = h.terminals(Transport::Ws, 11, 1, "C1").await;
    h.online(&tcp).await;
    h.online(&ws).await;
    for t in [&tcp.terminals[0], &ws.terminals[0]] {
        let before = t.view().connects;
        let r = h
            .api
            .request("DELETE", &format!("/api/devices/{}", t.uuid), None, &[])
            .await
            .unwrap();
        assert_eq!(r.status, 204, "{}", r.text());
        let deadline = tokio::time::Instant::now() + WAIT;
        while t.view().connects <= before {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} was not disconnected: {:?}",
                t.uuid,
                t.view()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let events = h
            .poll(
                &format!("/api/events?kind=removed&device={}", t.uuid),
                |e| e["items"].as_array().is_some_and(|a| !a.is_empty()),
            )
            .await;
        assert_eq!(events["items"][0]["data"]["disconnected"], true, "{events}");
    }
    assert_eq!(
        tcp.terminals[1].view().connects,
        1,
        "the other terminal was disconnected"
    );
    tcp.shutdown().await;
    ws.shutdown().await;
    h.server.shutdown().await;
}
