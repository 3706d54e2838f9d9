//! BEST device and platform sessions over real WebSocket connections on 127.0.0.1:0 (path `/best`).
#![cfg(feature = "tokio")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use best_proto::{CmdResponse, Command, DeviceMessage, FileId, PlatformMessage, Response};
use bytes::Bytes;
use device_core::best::{
    DeviceCommand, DeviceConfig, DeviceEvent, DeviceRecord, DeviceSession, MemoryRegistry,
    PlatformCommand, PlatformConfig, PlatformEvent, PlatformSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, ServerEvents, WsListener};
use device_core::BackoffConfig;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

use support::best_report;

const T: Duration = Duration::from_secs(10);
const SN: &str = "WS0001";
const PRODUCT: &str = "5d9b11e1a3f448ae81f9f920e976d852";
const SECRET_KEY: &str = "123456";

type PSession = PlatformSession<Arc<MemoryRegistry>>;
type Platform = Server<PSession>;

async fn platform(
    listener: TcpListener,
    registry: Arc<MemoryRegistry>,
) -> (Platform, ServerEvents<PSession>) {
    // The path (`/best`) and the message limit come from the session's wire facts.
    Server::spawn(
        WsListener::new(listener),
        move || PlatformSession::new(PlatformConfig::default(), registry.clone()),
        ServerConfig::default(),
    )
    .unwrap()
}

fn registry() -> Arc<MemoryRegistry> {
    let r = Arc::new(MemoryRegistry::new());
    r.insert(SN, DeviceRecord::new(PRODUCT, SECRET_KEY));
    r
}

/// Waits for the platform event `want` picks out, answering device requests on the way.
async fn platform_event<F, X>(
    server: &Platform,
    events: &mut ServerEvents<PSession>,
    mut want: F,
) -> X
where
    F: FnMut(&PlatformEvent) -> Option<X>,
{
    timeout(T, async {
        loop {
            if let ServerEvent::Session { peer, event: e, .. } = events.recv().await.unwrap() {
                if let (Some(d), PlatformEvent::Request { mid, .. }) = (&peer, &e) {
                    let response = Response::ok(None);
                    let mid = mid.clone();
                    server
                        .call(d, PlatformCommand::Respond { mid, response })
                        .await
                        .unwrap();
                }
                if let Some(x) = want(&e) {
                    return x;
                }
            }
        }
    })
    .await
    .unwrap()
}

/// Runs the device application: answers every platform command with success; reports logins.
fn device_app(
    client: &Client<DeviceSession>,
    mut events: mpsc::Receiver<ClientEvent<DeviceEvent>>,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::UnboundedReceiver<DeviceEvent>,
) {
    let handle = client.handle();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let ClientEvent::Session(event) = event else {
                continue;
            };
            if let DeviceEvent::Command { command, .. } = &event {
                let cmd_id = command.cmd_id().unwrap().to_owned();
                handle
                    .call(DeviceCommand::Respond(CmdResponse::ok(cmd_id)))
                    .await
                    .unwrap();
            }
            let _ = tx.send(event);
        }
    });
    (task, rx)
}

async fn logged_in(rx: &mut mpsc::UnboundedReceiver<DeviceEvent>) -> Vec<DeviceEvent> {
    timeout(T, async {
        let mut seen = Vec::new();
        loop {
            let e = rx.recv().await.unwrap();
            let done = matches!(e, DeviceEvent::LoggedIn(_));
            seen.push(e);
            if done {
                return seen;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_commands_requests_and_uploads_over_websocket() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, mut server_events) = platform(listener, registry()).await;
    let session = DeviceSession::new(DeviceConfig::new(
        SN,
        PRODUCT,
        SECRET_KEY,
        best_report(2, 8, &[]),
    ));
    let (client, client_events) = Client::connect_ws(
        session,
        format!("ws://{addr}/best"),
        ClientConfig::default(),
    );
    let (app, mut device_events) = device_app(&client, client_events);
    let steps = logged_in(&mut device_events).await;
    assert!(matches!(steps[0], DeviceEvent::Registered { .. }));
    assert!(matches!(steps[1], DeviceEvent::Accredited(_)));
    platform_event(&server, &mut server_events, |e| {
        matches!(e, PlatformEvent::Reported(_)).then_some(())
    })
    .await;
    assert_eq!(server.peers(), [SN]);

    // Three commands at once: the device allows two in flight; every one is answered by cmdId.
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let cmd = PlatformMessage::ClearUsers(Command {
                    cmd_id: format!("w{i}"),
                });
                server
                    .call(&SN.to_owned(), PlatformCommand::Send(cmd))
                    .await
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let answer = timeout(T, call).await.unwrap().unwrap().unwrap().unwrap();
        assert_eq!(answer.cmd_id, format!("w{i}"));
        assert!(answer.code.is_success());
    }

    // A device request answered by the platform application.
    let handle = client.handle();
    let request = tokio::spawn(async move {
        handle
            .call(DeviceCommand::Request(DeviceMessage::SyncTime))
            .await
    });
    platform_event(&server, &mut server_events, |e| {
        matches!(e, PlatformEvent::Request { .. }).then_some(())
    })
    .await;
    let reply = timeout(T, request).await.unwrap().unwrap().unwrap();
    assert_eq!(reply, Some(Response::ok(None)));

    // A 40 KB file in 8 KB chunks, one text frame each.
    let data: Bytes = (0..40 * 1024)
        .map(|i: u32| u8::try_from(i % 253).unwrap())
        .collect::<Vec<_>>()
        .into();
    let handle = client.handle();
    let sent = data.clone();
    let upload = tokio::spawn(async move {
        handle
            .call(DeviceCommand::Upload {
                file_id: FileId::new("ws1").unwrap(),
                data: sent,
            })
            .await
    });
    let got = platform_event(&server, &mut server_events, |e| match e {
        PlatformEvent::FileReceived(f) => Some(f.data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, data);
    let reply = timeout(T, upload).await.unwrap().unwrap().unwrap();
    assert_eq!(reply, Some(Response::ok(None)));

    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    app.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_logs_in_again_after_the_platform_restarts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reg = registry();
    let (server, mut server_events) = platform(listener, reg.clone()).await;
    let session = DeviceSession::new(DeviceConfig::new(
        SN,
        PRODUCT,
        SECRET_KEY,
        best_report(2, 8, &[]),
    ));
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(50))
        .max(Duration::from_millis(200));
    let (client, client_events) = Client::connect_ws(
        session,
        format!("ws://{addr}/best"),
        ClientConfig::default().backoff(backoff),
    );
    let (app, mut device_events) = device_app(&client, client_events);
    let first = logged_in(&mut device_events).await;
    assert!(matches!(first[0], DeviceEvent::Registered { .. }));
    platform_event(&server, &mut server_events, |e| {
        matches!(e, PlatformEvent::Reported(_)).then_some(())
    })
    .await;
    server.shutdown().await.unwrap();

    // The platform comes back on the same address (it was picked by the OS above); the device reconnects
    // with backoff and runs login only: no register, no accredit.
    let listener = TcpListener::bind(addr).await.unwrap();
    let (server, mut server_events) = platform(listener, reg).await;
    let again = logged_in(&mut device_events).await;
    assert!(
        again.iter().all(|e| !matches!(
            e,
            DeviceEvent::Registered { .. } | DeviceEvent::Accredited(_)
        )),
        "{again:?}"
    );
    assert!(again
        .iter()
        .any(|e| matches!(e, DeviceEvent::Disconnected(_))));
    let first_platform_event =
        platform_event(&server, &mut server_events, |e| Some(e.clone())).await;
    assert_eq!(
        first_platform_event,
        PlatformEvent::LoggedIn { sn: SN.into() }
    );
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    app.abort();
}

/// A device by hand over a raw WebSocket: logs in with credentials the registry already holds and reports.
/// Returns the socket and the platform's `dev.report` reply as JSON.
async fn raw_device(
    addr: std::net::SocketAddr,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    serde_json::Value,
) {
    use best_proto::{CodecConfig, DeviceCodec, Envelope, Login};
    use futures_util::SinkExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/best"))
        .await
        .unwrap();
    let codec = DeviceCodec::new(CodecConfig::default());
    let login = DeviceMessage::Login(Login {
        product_id: Some(PRODUCT.into()),
        dev_key: best_proto::crypto::dev_key(SECRET_KEY, PRODUCT),
        auth_code: "auth".into(),
        secret: "secret".into(),
    });
    for (mid, message) in [
        ("login-1", login),
        (
            "report-1",
            DeviceMessage::Report(Box::new(best_report(2, 8, &[]))),
        ),
    ] {
        let text = codec
            .encode_text(&Envelope::new(mid, message).with_sn(SN.to_owned()))
            .unwrap();
        ws.send(Message::text(String::from_utf8(text).unwrap()))
            .await
            .unwrap();
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["mid"], mid);
        assert_eq!(reply["code"], "00000000", "{reply}");
        if mid == "report-1" {
            return (ws, reply);
        }
    }
    unreachable!()
}

use tokio_tungstenite::tungstenite::Message;

/// The next text frame as JSON; panics on a close.
async fn next_json<S>(ws: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    use futures_util::StreamExt;
    timeout(T, async {
        loop {
            match ws.next().await.unwrap().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    })
    .await
    .unwrap()
}

fn registered() -> Arc<MemoryRegistry> {
    let r = Arc::new(MemoryRegistry::new());
    let mut record = DeviceRecord::new(PRODUCT, SECRET_KEY);
    record.auth_code = Some("auth".into());
    record.secret = Some("secret".into());
    r.insert(SN, record);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_reply_carries_the_required_bio_support_fields() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, _events) = platform(listener, registered()).await;
    let (_ws, reply) = raw_device(addr).await;
    // best.md 3.5: both are required in the reply; the defaults are the spec's example.
    let results = &reply["payload"]["results"];
    assert_eq!(
        results["multiBioDataSupport"], "0:1:1:0:0:0:0:0:0",
        "{reply}"
    );
    assert_eq!(
        results["multiBioPhotoSupport"], "0:1:1:0:0:0:0:0:0",
        "{reply}"
    );
    assert_eq!(results["heartbeatInterval"], "60");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_answered_20000001_and_an_unmatchable_mid_closes() {
    use futures_util::{SinkExt, StreamExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, mut events) = platform(listener, registered()).await;
    let (mut ws, _) = raw_device(addr).await;

    // A file chunk whose `offset` is no number: answered with the same mid, 20000001, naming the field.
    let bad = r#"{"funcId":"dev.file.upload.package","mid":"pkg-1","sn":"WS0001","payload":{"params":{"fileId":"f1","offset":"x","content":"AAAA"}}}"#;
    ws.send(Message::text(bad)).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["funcId"], "cmd.dev.response");
    assert_eq!(reply["mid"], "pkg-1");
    assert_eq!(reply["code"], "20000001");
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("offset"), "{message}");
    let malformed = platform_event(&server, &mut events, |e| match e {
        PlatformEvent::Malformed(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(&malformed, device_core::best::SessionError::MalformedRequest { func_id, mid, .. }
            if func_id == "dev.file.upload.package" && mid == "pkg-1"),
        "{malformed:?}"
    );

    // The connection is still up: a heartbeat is answered.
    let hb = r#"{"funcId":"dev.heartbeat","mid":"hb-1","sn":"WS0001","payload":{"params":{}}}"#;
    ws.send(Message::text(hb)).await.unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(reply["mid"], "hb-1");
    assert_eq!(reply["code"], "00000000");

    // A mid of 33 characters can never be matched: closed at once, unanswered, the reason naming mid and 32.
    let mid = "m".repeat(33);
    let long = format!(
        r#"{{"funcId":"dev.heartbeat","mid":"{mid}","sn":"WS0001","payload":{{"params":{{}}}}}}"#
    );
    ws.send(Message::text(long)).await.unwrap();
    let closed = timeout(T, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(t))) => panic!("answered: {t}"),
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the device sees a close, not a timeout");
    let reason = timeout(T, async {
        loop {
            if let ServerEvent::Closed { reason, .. } = events.recv().await.unwrap() {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    match &reason {
        device_core::runtime::Disconnect::Session(device_core::CloseReason::Protocol(
            device_core::ProtocolError::Best(device_core::best::SessionError::MidTooLong {
                len,
                max,
            }),
        )) => assert_eq!((*len, *max), (33, 32)),
        other => panic!("{other:?}"),
    }
    let text = reason.to_string();
    assert!(text.contains("mid") && text.contains("32"), "{text}");
    server.shutdown().await.unwrap();
}
