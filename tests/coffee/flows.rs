//! Logins, the sale, offline delivery and restarts.

use std::time::Duration;

use crate::{Harness, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_wrong_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    // Machine 1001 is registered with another code than the one it signs with.
    let body = serde_json::json!({ "id": "1001", "secret": "WRONG123" });
    assert_eq!(h.api.post("/api/devices", &body).await.unwrap().status, 201);
    let sim = h.machines(1).await;
    let m = sim.machine(1001).unwrap();
    assert!(
        m.wait_for(WAIT, |v| v.refused >= 1).await,
        "login was not refused"
    );
    assert_eq!(m.view().logins, 0);
    let events = h
        .poll("/api/events?kind=login_refused", |e| {
            e["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(events["items"][0]["device_id"], "1001");
    assert_eq!(events["items"][0]["data"]["reason"], "wrong signature");
    let d = h.api.get("/api/devices/1001").await.unwrap().json();
    assert_eq!(d["online"], false);
    let metrics = h.api.get("/metrics").await.unwrap().text();
    assert!(
        metrics.contains("fleet_logins_total{result=\"refused\"}"),
        "{metrics}"
    );
    // The refusal was answered (`login_r` with its `ret`), and counted as a message out.
    assert!(
        metrics.contains("fleet_messages_out_total{name=\"login_r\"}"),
        "{metrics}"
    );
    sim.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    // No automatic confirmation: the provider callback comes through the API.
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let sim = h.machines(1).await;
    let m = sim.machine(1001).unwrap();
    assert!(m.wait_for(WAIT, |v| v.logged_in).await);
    // The login is recorded by the events writer, right behind the online state.
    let d = h
        .poll("/api/devices/1001", |d| {
            d["online"] == true && d["version"] == "sim-1.0"
        })
        .await;
    assert_eq!(d["version"], "sim-1.0");

    let order_no = m.buy(3, &sim.stats).await.unwrap();
    let order = h
        .api
        .get(&format!("/api/orders/{order_no}"))
        .await
        .unwrap()
        .json();
    assert_eq!(order["state"], "awaiting_payment");
    assert_eq!(order["amount_fen"], 400);
    assert!(order["pay_url"].as_str().unwrap().contains(&order_no));
    // Not paid, so nothing is made.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(m.view().dispensed, 0);

    // The provider's confirmation; repeating it changes nothing.
    let paid = h
        .api
        .post(
            &format!("/api/orders/{order_no}/paid"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(paid.status, 200, "{}", paid.text());
    let again = h
        .api
        .post(
            &format!("/api/orders/{order_no}/paid"),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert!(
        again.status == 200 || again.status == 409,
        "{}",
        again.text()
    );
    let order = h
        .poll(&format!("/api/orders/{order_no}"), |o| {
            o["state"] == "dispensed"
        })
        .await;
    assert_eq!(order["refund_due"], false);
    assert!(m.wait_for(WAIT, |v| v.dispensed == 1).await);
    // pay_done went once through the queue, and is `sent` (jetinno has no acknowledgement).
    let cmds = h.api.get("/api/commands?device=1001").await.unwrap().json();
    let pay_done: Vec<_> = cmds["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "pay_done")
        .collect();
    assert_eq!(pay_done.len(), 1, "{cmds}");
    assert_eq!(pay_done[0]["state"], "sent");
    assert_eq!(
        m.view()
            .commands
            .iter()
            .filter(|c| *c == "pay_done")
            .count(),
        1
    );
    let sales = h.api.get("/api/sales").await.unwrap().json();
    assert_eq!(sales["items"][0]["device_id"], "1001");
    assert_eq!(sales["items"][0]["dispensed"], 1);
    assert_eq!(sales["items"][0]["revenue_fen"], 400);
    // An unknown order is a 404 problem.
    let r = h
        .api
        .post("/api/orders/nope/paid", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    sim.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_for_an_offline_machine_is_delivered_when_it_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let id = h.command(1001, serde_json::json!({ "cmd": "priceset", "price": [{ "product_id": 1, "price_fen": 990 }] })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.api
            .get(&format!("/api/commands/{id}"))
            .await
            .unwrap()
            .json()["state"],
        "queued"
    );
    let sim = h.machines(1).await;
    let c = h
        .poll(&format!("/api/commands/{id}"), |c| c["state"] == "sent")
        .await;
    assert!(c["sent_at"].as_i64().is_some());
    let m = sim.machine(1001).unwrap();
    assert!(m.wait_for(WAIT, |v| v.prices.get(&1) == Some(&990)).await);
    let events = h
        .poll("/api/events?device=1001&kind=command", |e| {
            e["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(events["items"][0]["data"]["state"], "sent");
    sim.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_queue_loses_nothing_and_runs_no_unsafe_command_twice() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let price = h.command(1001, serde_json::json!({ "cmd": "priceset", "price": [{ "product_id": 2, "price_fen": 610 }] })).await;
    let reboot = h
        .command(1001, serde_json::json!({ "cmd": "reboot" }))
        .await;
    let door = h
        .command(1001, serde_json::json!({ "cmd": "opendoor" }))
        .await;
    let discount = h
        .command(
            1001,
            serde_json::json!({ "cmd": "discount", "discount": 80 }),
        )
        .await;
    let rinse = h
        .command(1001, serde_json::json!({ "cmd": "rinsing" }))
        .await;
    let pool = h.server.fleet.store().pool().clone();
    h.server.shutdown().await;

    // A crash in the middle of two deliveries: the server had handed `reboot` and `discount` to the
    // connection and died before recording the outcome.
    {
        let store = fleet::Store::open_sqlite(dir.path()).await.unwrap();
        for id in [reboot, discount] {
            sqlx::query("UPDATE commands SET state = 'sending', attempts = 1 WHERE id = $1")
                .bind(id)
                .execute(store.pool())
                .await
                .unwrap();
        }
        store.close().await;
    }
    drop(pool);

    let h = Harness::start(dir.path(), 0).await;
    let state = |c: serde_json::Value| c["state"].as_str().unwrap().to_owned();
    assert_eq!(
        state(
            h.api
                .get(&format!("/api/commands/{reboot}"))
                .await
                .unwrap()
                .json()
        ),
        "unknown"
    );
    assert_eq!(
        state(
            h.api
                .get(&format!("/api/commands/{discount}"))
                .await
                .unwrap()
                .json()
        ),
        "queued"
    );
    let sim = h.machines(1).await;
    for id in [price, door, discount, rinse] {
        h.poll(&format!("/api/commands/{id}"), |c| c["state"] == "sent")
            .await;
    }
    let m = sim.machine(1001).unwrap();
    assert!(m.wait_for(WAIT, |v| v.commands.len() >= 4).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Queue order, each once, and the interrupted reboot never.
    assert_eq!(
        m.view().commands,
        ["priceset", "opendoor", "discount", "rinsing"]
    );
    assert_eq!(m.view().prices.get(&2), Some(&610));
    let reboot = h
        .api
        .get(&format!("/api/commands/{reboot}"))
        .await
        .unwrap()
        .json();
    assert!(
        reboot["error"].as_str().unwrap().contains("may or may not"),
        "{reboot}"
    );
    // A second restart with the machine connected changes nothing already sent.
    sim.shutdown().await;
    h.server.shutdown().await;
    let h = Harness::start(dir.path(), 0).await;
    let sim = h.machines(1).await;
    let m = sim.machine(1001).unwrap();
    assert!(m.wait_for(WAIT, |v| v.logged_in).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(m.view().commands.is_empty(), "{:?}", m.view().commands);
    sim.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_are_provisioned_and_removed_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    // 1001 and 1002 run; 1003 is provisioned but never connects, so its command stays queued.
    h.provision(1001, 3).await;
    let sim = h.machines(2).await;
    h.poll("/api/devices?online=true", |d| {
        d["items"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let queued = h
        .command(
            1003,
            serde_json::json!({ "cmd": "upgrade", "dir": "ftp://updates/1.2" }),
        )
        .await;
    let r = h
        .api
        .request("DELETE", "/api/devices/1003", None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(h.api.get("/api/devices/1003").await.unwrap().status, 404);
    // Its queued command is cancelled with the reason, not left to wait for a machine that is gone.
    let c = h
        .api
        .get(&format!("/api/commands/{queued}"))
        .await
        .unwrap()
        .json();
    assert_eq!(
        (&c["state"], &c["error"]),
        (
            &serde_json::json!("cancelled"),
            &serde_json::json!("device removed")
        ),
        "{c}"
    );
    let list = h.api.get("/api/devices").await.unwrap().json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // A removed machine can no longer log in.
    let again = h
        .api
        .request("DELETE", "/api/devices/1002", None, &[])
        .await
        .unwrap();
    assert_eq!(again.status, 204, "{}", again.text());
    let m = sim.machine(1002).unwrap();
    assert!(
        m.wait_for(WAIT, |v| v.refused >= 1).await,
        "a removed machine logged in again"
    );
    sim.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_error_reports_are_stored_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let sim = h.machines(1).await;
    h.poll("/api/devices/1001", |d| d["online"] == true).await;
    let m = sim.machine(1001).unwrap();
    m.report_status(true).await.unwrap();
    m.report_error("E42", true).await.unwrap();
    let status = h
        .poll("/api/events?kind=status&device=1001", |e| {
            e["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(status["items"][0]["data"]["status"], "dooropen", "{status}");
    let error = h
        .poll("/api/events?kind=error&device=1001", |e| {
            e["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    let data = &error["items"][0]["data"];
    assert_eq!(
        (&data["error_code"], &data["set"], &data["description"]),
        (
            &serde_json::json!("E42"),
            &serde_json::json!(true),
            &serde_json::json!("simulated fault E42")
        ),
        "{error}"
    );
    sim.shutdown().await;
    h.server.shutdown().await;
}
