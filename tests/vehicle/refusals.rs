//! Requests refused as DECISIONS.md says: bad JSON 0xFF, wrong hash / stale timestamp / expired session /
//! replay 401, unknown endpoints 404; and the login and registration refusals.

use kingxun_proto::http::{ClientType, GetUsrDevsRequest, UsrLoginRequest};
use kingxun_proto::HashedRequest;

use super::client::now_ms;
use super::{code, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_wrong_hash_stale_timestamp_expired_session_and_replay_are_refused() {
    let h = Harness::start(1).await;
    let mut a = h.user("13600000001").await;
    let (usr, session) = a.session.clone().unwrap();

    // Bad JSON and bad fields: errCode 0xFF naming what was wrong.
    let r = a.post_raw("/getUsrDevs", b"{not json").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["errCode"], 255);
    let r = a.post_raw("/devOpenLock", br#"{"type":2,"usrId":1,"devId":1001,"devType":1,"timestamp":1,"allowTime":70000,"lowestSocP":1,"farthestDist":1,"hash":"x"}"#).await.unwrap();
    assert_eq!(r.json()["errCode"], 255);
    assert!(
        r.json()["errMsg"].as_str().unwrap().contains("allowTime"),
        "{}",
        r.text()
    );
    let r = a.post_raw("/tmpShareDevTo", b"{}").await.unwrap();
    assert_eq!(
        (r.status, r.json()["errCode"].as_i64()),
        (404, Some(404)),
        "left undefined by the spec"
    );
    let r = a.post_raw("/nope", b"{}").await.unwrap();
    assert_eq!(r.status, 404);
    let big = vec![b' '; 70 * 1024];
    let r = a.post_raw("/getUsrDevs", &big).await.unwrap();
    assert_ne!(r.status, 200, "over the body limit");

    let devs = |timestamp: u64| GetUsrDevsRequest {
        client_type: ClientType::App,
        usr_id: usr,
        timestamp,
        hash: String::new(),
    };
    // Wrong hash.
    let mut req = devs(now_ms());
    req.sign("0123456789abcdef0123456789abcdef");
    assert_eq!(code(a.post(&req).await), 401);
    // Stale and future timestamps, correctly signed.
    assert_eq!(code(a.call(devs(now_ms() - 301_000)).await), 401);
    assert_eq!(code(a.call(devs(now_ms() + 301_000)).await), 401);
    assert_eq!(
        code(a.call(devs(now_ms() - 250_000)).await),
        0,
        "inside the window"
    );
    // Replay: the same signed request twice.
    let mut req = devs(now_ms());
    req.sign(&session);
    assert_eq!(code(a.post(&req).await), 0);
    let again = a.post(&req).await;
    match again {
        Err(super::CallError::Refused { code, message }) => {
            assert_eq!(code, 401);
            assert!(message.contains("replay"), "{message}");
        }
        other => panic!("replay accepted: {other:?}"),
    }
    // Someone else's usrId with this session: the hash does not verify for that user's session.
    let b = h.user("13600000002").await;
    let mut req = devs(now_ms());
    req.usr_id = b.usr_id();
    req.sign(&session);
    assert_eq!(code(a.post(&req).await), 401);
    // No such user.
    let mut req = devs(now_ms());
    req.usr_id = 999_999;
    req.sign(&session);
    assert_eq!(code(a.post(&req).await), 401);

    // A session older than 24 h.
    let store = fleet::store::Store::open_sqlite(&h.path()).await.unwrap();
    sqlx::query("UPDATE vehicle_users SET session_at = $1 WHERE id = $2")
        .bind(fleet::store::now_ms() - 24 * 3600 * 1000 - 1000)
        .bind(i64::from(usr))
        .execute(store.writer())
        .await
        .unwrap();
    match a.devs().await {
        Err(super::CallError::Refused { code, message }) => {
            assert_eq!(code, 401);
            assert!(message.contains("24 h"), "{message}");
        }
        other => panic!("expired session accepted: {other:?}"),
    }
    // Logging in again gives a fresh session.
    a.login("13600000001", "secret-123").await.unwrap();
    assert_eq!(code(a.devs().await), 0);

    // Passwords are stored hashed.
    let row: (String,) = sqlx::query_as("SELECT secret_hash FROM vehicle_users WHERE id = $1")
        .bind(i64::from(usr))
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(row.0.starts_with("$argon2id$"), "{}", row.0);
    assert!(!row.0.contains("secret-123"));
    store.close().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_registration_refusals() {
    let h = Harness::start(1).await;
    let mut a = h.user("13500000001").await;
    assert_eq!(code(a.login("13500000001", "wrong-secret").await), 401);
    assert_eq!(code(a.login("13500000009", "secret-123").await), 10000);
    let mut b = h.app();
    assert_eq!(
        code(b.register("13500000001", "secret-123", "dup").await),
        255,
        "registered already"
    );
    assert_eq!(
        code(b.register("not-a-phone", "secret-123", "x").await),
        255
    );
    assert_eq!(code(b.register("13500000002", "short", "x").await), 255);
    assert_eq!(code(b.register("13500000002", "secret-123", "").await), 255);
    // A login without its fields, and one outside the window.
    let r = a
        .post(&UsrLoginRequest {
            client_type: ClientType::App,
            usr_openid: None,
            usr_code: Some("secret-123".into()),
            timestamp: now_ms(),
        })
        .await;
    assert_eq!(code(r), 255);
    let r = a
        .post(&UsrLoginRequest {
            client_type: ClientType::App,
            usr_openid: Some("13500000001".into()),
            usr_code: Some("secret-123".into()),
            timestamp: now_ms() - 600_000,
        })
        .await;
    assert_eq!(code(r), 401);
    // The mini-program registers with its openid and logs in with it.
    let mut wx = h.app();
    wx.client_type = ClientType::WxMiniProgram;
    let r = wx
        .post(&kingxun_proto::http::UsrRegisterRequest {
            client_type: ClientType::WxMiniProgram,
            usr_openid: Some("oWx-openid-1".into()),
            usr_uuid: None,
            mobile_phone: "13500000003".into(),
            auth_code: "wx-secret-1".into(),
            nickname: "wx".into(),
            timestamp: now_ms(),
        })
        .await
        .unwrap();
    let id = r["usrId"].as_u64().unwrap();
    let r = wx.login("oWx-openid-1", "wx-secret-1").await.unwrap();
    assert_eq!(r["usrId"].as_u64(), Some(id));
    h.stop().await;
}
