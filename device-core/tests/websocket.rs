//! The WebSocket drivers on 127.0.0.1:0: sessions over text frames, message limits, paths, ping/pong liveness.
#![cfg(feature = "tokio")]

use std::time::Duration;

use device_core::jetinno::{
    MachineCommand, MachineConfig, MachineEvent, MachineSession, ServerCommand,
    ServerConfig as JServerConfig, ServerEvent as JEvent, ServerSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, ServerEvents, WsListener};
use device_core::runtime::{Disconnect, TransportError, WsConfig, WsPath};
use futures_util::{SinkExt, StreamExt};
use jetinno_proto::*;
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

fn code() -> MachineCode {
    MachineCode::new("12345678").unwrap()
}

type JSession = ServerSession<fn(u64) -> Option<MachineCode>>;
type JServer = Server<JSession>;

fn registry(_: u64) -> Option<MachineCode> {
    Some(code())
}

/// jetinno names no WebSocket path, so the test serves it at `/jetinno` through the one override.
async fn ws_server(ws: WsConfig) -> (JServer, ServerEvents<JSession>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ws = ws.path(WsPath::Exactly("/jetinno".into()));
    let (server, events) = Server::spawn(
        WsListener::new(listener),
        || {
            ServerSession::new(
                JServerConfig::default(),
                registry as fn(u64) -> Option<MachineCode>,
            )
        },
        ServerConfig::default().ws(ws),
    )
    .unwrap();
    (server, events, format!("ws://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_over_websocket_text_frames() {
    let (server, mut events, base) = ws_server(WsConfig::default()).await;
    let answering = server.clone();
    let watcher = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ServerEvent::Session {
                peer: Some(d),
                event: JEvent::QrCodeRequested(r),
                ..
            } = event
            {
                let reply = QrCodeReply {
                    vmc_no: r.vmc_no,
                    qr_type: QrType::Alipay,
                    qrcode: "q".into(),
                    order_no: r.order_no,
                };
                answering
                    .call(&d, ServerCommand::Send(reply.into()))
                    .await
                    .unwrap();
            }
        }
    });
    let (client, mut client_events) = Client::connect_ws(
        MachineSession::new(MachineConfig::new(5, code(), "1")),
        format!("{base}/jetinno"),
        ClientConfig::default(),
    );
    timeout(T, async {
        loop {
            if let Some(ClientEvent::Session(MachineEvent::LoggedIn { .. })) =
                client_events.recv().await
            {
                break;
            }
        }
    })
    .await
    .unwrap();
    let request = QrCodeRequest {
        vmc_no: 5,
        qr_type: QrType::All,
        product_id: 1,
        amount: 1,
        order_no: "w1".into(),
    };
    let reply = timeout(
        T,
        client.handle().call(MachineCommand::RequestQrCode(request)),
    )
    .await
    .unwrap();
    assert_eq!(reply.unwrap().unwrap().qr_type, QrType::Alipay);
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    watcher.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_path_is_refused_during_the_handshake() {
    let (server, mut events, base) = ws_server(WsConfig::default()).await;
    let err = tokio_tungstenite::connect_async(format!("{base}/other"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let reason = timeout(T, async {
        loop {
            if let Some(ServerEvent::Closed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(reason, Disconnect::Handshake(TransportError::WebSocket(_))),
        "{reason:?}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_configured_limit_close_the_link() {
    let (server, mut events, base) = ws_server(WsConfig::default().max_message_size(1024)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{base}/jetinno"))
        .await
        .unwrap();
    ws.send(Message::text("x".repeat(4096))).await.unwrap();
    let reason = timeout(T, async {
        loop {
            if let Some(ServerEvent::Closed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(&reason, Disconnect::Transport(TransportError::WebSocket(e)) if e.to_string().contains("too long")),
        "{reason:?}"
    );
    // The client sees the connection end.
    let rest = timeout(T, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    assert!(rest.is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_pings_is_dropped() {
    let ws = WsConfig::default()
        .ping_interval(Some(Duration::from_millis(50)))
        .pong_timeout(Duration::from_millis(300));
    let (server, mut events, base) = ws_server(ws).await;
    // A raw TCP peer that completes the handshake and then never reads or writes again.
    let (stream, _) = tokio_tungstenite::connect_async(format!("{base}/jetinno"))
        .await
        .unwrap();
    let raw = stream.into_inner();
    let started = tokio::time::Instant::now();
    let reason = timeout(T, async {
        loop {
            if let Some(ServerEvent::Closed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(
            reason,
            Disconnect::Transport(TransportError::PongTimeout(_))
        ),
        "{reason:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    drop(raw);
    server.shutdown().await.unwrap();
}
