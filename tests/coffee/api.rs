//! The admin API: idempotent retries, bad input as problem details, the OpenAPI document.

use crate::{coffee, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_post_with_an_idempotency_key_queues_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let body = serde_json::json!({ "cmd": "opendoor" })
        .to_string()
        .into_bytes();
    let key = [("Idempotency-Key", "door-7f3a")];
    let first = h
        .api
        .request(
            "POST",
            "/api/devices/1001/commands",
            Some(body.clone()),
            &key,
        )
        .await
        .unwrap();
    assert_eq!(first.status, 202, "{}", first.text());
    let again = h
        .api
        .request("POST", "/api/devices/1001/commands", Some(body), &key)
        .await
        .unwrap();
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(first.json()["id"], again.json()["id"]);
    let all = h.api.get("/api/commands?device=1001").await.unwrap().json();
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    // The same key for another command is refused, naming the header.
    let other = serde_json::json!({ "cmd": "reboot" })
        .to_string()
        .into_bytes();
    let r = h
        .api
        .request("POST", "/api/devices/1001/commands", Some(other), &key)
        .await
        .unwrap();
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Idempotency-Key"));
    h.server.shutdown().await;
}

async fn expect_problem(r: fleet::client::Reply, status: u16, names: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/problem+json"),
        "{}",
        r.text()
    );
    let p = r.json();
    assert!(
        p["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:devproto:problem:")),
        "{p}"
    );
    assert!(p["title"].is_string(), "{p}");
    assert_eq!(p["status"], status);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains(names),
        "detail `{detail}` does not name `{names}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_admin_input_is_answered_with_problem_details() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    h.provision(1001, 1).await;
    let api = &h.api;
    let post_raw = |path: &'static str, body: &'static str| async move {
        api.request("POST", path, Some(body.as_bytes().to_vec()), &[])
            .await
            .unwrap()
    };
    expect_problem(
        post_raw("/api/devices/1001/commands", "{not json").await,
        400,
        "body",
    )
    .await;
    expect_problem(
        post_raw("/api/devices/1001/commands", r#"{"cmd":"fly"}"#).await,
        400,
        "cmd",
    )
    .await;
    expect_problem(
        post_raw(
            "/api/devices/1001/commands",
            r#"{"cmd":"priceset","price":[{"product_id":"one","price_fen":5}]}"#,
        )
        .await,
        400,
        "price[0].product_id",
    )
    .await;
    expect_problem(
        post_raw("/api/devices/1001/commands", r#"{"cmd":"priceset"}"#).await,
        400,
        "price",
    )
    .await;
    expect_problem(
        post_raw(
            "/api/devices/1001/commands",
            r#"{"cmd":"reboot","ttl_secs":-4}"#,
        )
        .await,
        400,
        "ttl_secs",
    )
    .await;
    expect_problem(
        post_raw(
            "/api/devices/1001/commands",
            r#"{"cmd":"products","product_id":1,"fastcode":909}"#,
        )
        .await,
        400,
        "fastcode",
    )
    .await;
    expect_problem(
        post_raw("/api/devices/999/commands", r#"{"cmd":"reboot"}"#).await,
        404,
        "999",
    )
    .await;
    expect_problem(
        post_raw("/api/devices", r#"{"id":"x1","secret":"12345678"}"#).await,
        400,
        "id",
    )
    .await;
    expect_problem(
        post_raw("/api/devices", r#"{"id":"5","secret":"short"}"#).await,
        400,
        "secret",
    )
    .await;
    expect_problem(
        post_raw("/api/devices", r#"{"id":"1001","secret":"12345678"}"#).await,
        409,
        "id",
    )
    .await;
    expect_problem(
        post_raw("/api/devices", r#"{"id":"5"}"#).await,
        400,
        "secret",
    )
    .await;
    expect_problem(api.get("/api/devices/404").await.unwrap(), 404, "404").await;
    expect_problem(api.get("/api/commands/abc").await.unwrap(), 400, "id").await;
    expect_problem(api.get("/api/commands/77").await.unwrap(), 404, "77").await;
    expect_problem(api.get("/api/events?limit=0").await.unwrap(), 400, "limit").await;
    expect_problem(
        api.get("/api/events?since=yesterday").await.unwrap(),
        400,
        "since",
    )
    .await;
    expect_problem(
        api.get("/api/commands?state=delivered").await.unwrap(),
        400,
        "state",
    )
    .await;
    expect_problem(
        api.get("/api/orders?state=lost").await.unwrap(),
        400,
        "state",
    )
    .await;
    expect_problem(
        api.get("/api/sales?since=01/02/2026").await.unwrap(),
        400,
        "since",
    )
    .await;
    expect_problem(api.get("/api/nothing").await.unwrap(), 404, "route").await;
    // Mutations need the token.
    let anon = h
        .anonymous
        .request(
            "POST",
            "/api/devices/1001/commands",
            Some(br#"{"cmd":"reboot"}"#.to_vec()),
            &[],
        )
        .await
        .unwrap();
    expect_problem(anon, 401, "Authorization").await;
    let wrong = fleet::client::AdminClient::new(h.server.admin_addr, Some("guess".into()));
    expect_problem(
        wrong
            .post(
                "/api/devices",
                &serde_json::json!({"id": "9", "secret": "12345678"}),
            )
            .await
            .unwrap(),
        401,
        "wrong",
    )
    .await;
    // Reads need none; nothing was queued by the bad requests.
    let all = h.anonymous.get("/api/commands").await.unwrap().json();
    assert_eq!(all["items"].as_array().unwrap().len(), 0, "{all}");
    assert_eq!(h.anonymous.get("/healthz").await.unwrap().status, 200);
    assert_eq!(h.anonymous.get("/readyz").await.unwrap().status, 200);
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path(), 0).await;
    let doc = h.anonymous.get("/api/openapi.json").await.unwrap().json();
    let paths = doc["paths"].as_object().expect("paths");
    let token = fleet::AdminToken::from_secret("x");
    let built = coffee::admin_router(&h.server.fleet, h.server.orders.clone(), &token);
    assert!(built.routes.len() >= 20, "{:?}", built.routes);
    for (method, path) in &built.routes {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"));
        assert!(
            item.get(method).is_some(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
    // And the document lists nothing that is not served.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            assert!(
                built.routes.iter().any(|(m, p)| m == method && p == path),
                "{method} {path} is documented but not routed"
            );
        }
    }
    for must in [
        "/api/devices",
        "/api/devices/{id}/commands",
        "/api/commands/{id}",
        "/api/events",
        "/metrics",
        "/api/orders",
        "/api/sales",
    ] {
        assert!(paths.contains_key(must), "{must}");
    }
    assert!(doc["components"]["schemas"]["CoffeeCommand"].is_object());
    h.server.shutdown().await;
}

/// With no token configured, the first start generates one and hands it out once (to print); it is stored
/// hashed, so the next start on the same store has none to print and the first token still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_admin_token_is_given_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let start = || async {
        let mut config = coffee::config::CoffeeConfig::default();
        config.fleet.data_dir = dir.path().to_path_buf();
        let machines = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        coffee::start_on(config, machines, admin).await.unwrap()
    };
    let first = start().await;
    let token = first
        .token
        .generated
        .clone()
        .expect("a first start generates a token");
    assert!(token.len() >= 32, "{token}");
    let body = serde_json::json!({ "id": "1001", "secret": "12345678" });
    let with = fleet::client::AdminClient::new(first.admin_addr, Some(token.clone()));
    assert_eq!(with.post("/api/devices", &body).await.unwrap().status, 201);
    first.shutdown().await;

    let second = start().await;
    assert!(second.token.generated.is_none(), "printed only once");
    let with = fleet::client::AdminClient::new(second.admin_addr, Some(token));
    let wrong = fleet::client::AdminClient::new(second.admin_addr, Some("not-the-token".into()));
    let body = serde_json::json!({ "id": "1002", "secret": "12345678" });
    assert_eq!(wrong.post("/api/devices", &body).await.unwrap().status, 401);
    assert_eq!(with.post("/api/devices", &body).await.unwrap().status, 201);
    second.shutdown().await;
}
