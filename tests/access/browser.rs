//! The dashboard in headless Chromium (skipped, with a notice, when `/usr/bin/chromium` is absent): the
//! terminal online, the person, its push with the terminal's answer code, and the access record.

use crate::sim::{Direction, Opened, Transport};
use crate::{dashboard, Harness, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_terminal_online_the_person_its_push_and_the_record() {
    if dashboard::absent() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let sim = h.terminals(Transport::Tcp, 1, 1, "C1").await;
    h.online(&sim).await;
    h.registered("C1", 1).await;
    let (face, face_b64) = crate::blob(2000, 5);
    let body = serde_json::json!({
        "person_id": "P7", "community_code": "C1", "person_name": "Wang Wu", "card_number": "card-P7",
        "id_number": "1545123", "role": 12,
        "face": {"width": 520, "height": 690, "format": 2, "length": face.len(), "data": face_b64},
    });
    let r = h.api.post("/api/persons", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    h.poll("/api/persons/P7/pushes", |p| {
        p["items"][0]["code"] == 0 && p["items"][0]["state"] == "acked"
    })
    .await;
    let t = &sim.terminals[0];
    assert!(t.wait_for(WAIT, |v| v.people.contains_key("P7")).await);
    t.produce(Some("P7"), Opened::Face, Direction::In).unwrap();
    assert!(
        t.wait_for(WAIT, |v| v.uploaded == 1 && v.pending == 0)
            .await,
        "{:?}",
        t.view()
    );
    let stored = h
        .poll("/api/access", |a| {
            a["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    let time = stored["items"][0]["time"].as_str().unwrap().to_owned();
    let url = format!("http://{}/", h.server.admin_addr);

    let html = dashboard::dom(&url, "1400,1400").await;
    assert!(html.contains("Access terminals"), "title missing:\n{html}");
    // The devices table: the terminal, online.
    let devices = dashboard::panel_rows(
        &html,
        r#"Devices <button id="first" type="button" disabled="">first</button> <button id="next" type="button" disabled="">next</button>"#,
    );
    assert!(
        devices
            .iter()
            .any(|r| r[0] == "SIM-T00001" && r[2] == "online"),
        "terminal not shown online: {devices:?}"
    );
    let terminals = dashboard::panel_rows(&html, "Terminals");
    assert!(
        terminals
            .iter()
            .any(|r| r[0] == "SIM-T00001" && r[1] == "C1"),
        "terminal missing: {terminals:?}"
    );
    let people = dashboard::panel_rows(&html, "People");
    assert!(
        people
            .iter()
            .any(|r| r[..4] == ["P7", "Wang Wu", "C1", "card-P7"]),
        "person missing: {people:?}"
    );
    // The push: person, terminal, state, answer code.
    let pushes = dashboard::panel_rows(&html, "Pushes");
    assert!(
        pushes
            .iter()
            .any(|r| r[..4] == ["P7", "SIM-T00001", "acked", "0"]),
        "push missing: {pushes:?}"
    );
    let records = dashboard::panel_rows(&html, "Access records");
    assert!(
        records
            .iter()
            .any(|r| r[..6] == [time.as_str(), "SIM-T00001", "P7", "card-P7", "2", "1"]),
        "record missing: {records:?}"
    );

    dashboard::screenshot(&url, "1400,1400", "access.png").await;
    sim.shutdown().await;
    h.server.shutdown().await;
}
