//! access over real sockets on 127.0.0.1:0: terminal clients and the server driver from this crate, over raw
//! TCP and over WebSocket.
#![cfg(feature = "tokio")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use access_proto::*;
use device_core::access::{
    ServerCommand, ServerConfig as AServerConfig, ServerEvent as AEvent, ServerSession,
    TerminalCommand, TerminalConfig, TerminalEvent, TerminalSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, ServerEvents, WsListener};
use device_core::runtime::{CommandError, Disconnect};
use device_core::{BackoffConfig, CloseReason, RequestError, SendError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

type ASession = ServerSession<Arc<dyn device_core::access::Admission>>;
type AServer = Server<ASession>;
type AServerEvents = ServerEvents<ASession>;
type TerminalEvents = mpsc::Receiver<ClientEvent<TerminalEvent>>;

const T: Duration = Duration::from_secs(10);

fn admit_all() -> Arc<dyn device_core::access::Admission> {
    Arc::new(|_: &DeviceInfo| Ok(()))
}

fn session(
    config: AServerConfig,
    admission: Arc<dyn device_core::access::Admission>,
) -> ServerSession<Arc<dyn device_core::access::Admission>> {
    ServerSession::with_admission(config, admission)
}

fn start_server(listener: TcpListener) -> (AServer, AServerEvents) {
    start_server_with(listener, admit_all())
}

fn start_server_with(
    listener: TcpListener,
    admission: Arc<dyn device_core::access::Admission>,
) -> (AServer, AServerEvents) {
    Server::spawn(
        listener,
        move || session(AServerConfig::default(), admission.clone()),
        ServerConfig::default(),
    )
    .unwrap()
}

/// Answers every terminal request the way a management backend would (`send_device_command` with code -3,
/// everything else with 0), passing every event on.
fn answer_terminals(server: AServer, mut events: AServerEvents) -> AServerEvents {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ServerEvent::Session {
                peer: Some(device),
                event: AEvent::Request(request),
                ..
            } = &event
            {
                let code = match request.body {
                    RequestBody::SendDeviceCommand(_) => Code::DatabaseError,
                    _ => Code::Success,
                };
                let answer = ServerCommand::answer(request, code, "");
                let server = server.clone();
                let device = device.clone();
                tokio::spawn(async move {
                    let _ = server.call(&device, answer).await;
                });
            }
            let _ = tx.send(event).await;
        }
    });
    rx
}

fn info(uuid: &str) -> DeviceInfo {
    DeviceInfo {
        uuid: Some(uuid.into()),
        address: Some("公司门口".into()),
        ..DeviceInfo::default()
    }
}

fn terminal_config(uuid: &str) -> TerminalConfig {
    TerminalConfig::new(info(uuid))
}

fn backoff() -> ClientConfig {
    ClientConfig::default().backoff(
        BackoffConfig::default()
            .initial(Duration::from_millis(20))
            .max(Duration::from_millis(200)),
    )
}

/// A terminal over TCP whose application answers every server request: `download_person` with -2 for a person
/// without a name, everything else with 0. Returns the client and the events it did not consume.
fn terminal(
    config: TerminalConfig,
    addr: std::net::SocketAddr,
) -> (Client<TerminalSession>, TerminalEvents) {
    let (client, events) = Client::spawn(
        TerminalSession::new(config),
        move || TcpStream::connect(addr),
        backoff().jitter_seed(7),
    );
    let events = answer_server(&client, events);
    (client, events)
}

fn answer_server(client: &Client<TerminalSession>, mut events: TerminalEvents) -> TerminalEvents {
    let handle = client.handle();
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ClientEvent::Session(TerminalEvent::Request(request)) = &event {
                let code = match &request.body {
                    RequestBody::DownloadPerson(d) if d.person_info.person_name.is_none() => {
                        Code::DeviceFault
                    }
                    _ => Code::Success,
                };
                let answer = TerminalCommand::answer(request, code, "");
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = handle.call(answer).await;
                });
            }
            let _ = tx.send(event).await;
        }
    });
    rx
}

fn routed(server: &AServer) -> Vec<String> {
    let mut peers = server.peers();
    peers.sort();
    peers
}

async fn until_routed(server: &AServer, devices: &[&str]) {
    timeout(T, async {
        while routed(server) != devices {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("devices routed in time");
}

async fn until_connected(events: &mut TerminalEvents) {
    timeout(T, async {
        loop {
            match events.recv().await {
                Some(ClientEvent::Session(TerminalEvent::Connected)) => return,
                Some(_) => {}
                None => panic!("events ended before connecting"),
            }
        }
    })
    .await
    .expect("connected in time");
}

fn record(person: &str) -> TerminalCommand {
    let mut r = AccessInfo::at("20261122080000".parse().unwrap());
    r.person_id = Some(person.into());
    TerminalCommand::upload(r)
}

fn person(id: &str, name: Option<&str>) -> ServerCommand {
    ServerCommand::download_person(PersonInfo {
        person_id: id.into(),
        person_name: name.map(Into::into),
        face: Some(Image {
            width: 520,
            height: 690,
            format: ImageFormat(2),
            data: bytes::Bytes::from(vec![0x5a; 200_000]),
        }),
        ..PersonInfo::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminals_are_identified_and_requests_flow_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener);
    let mut server_events = answer_terminals(server.clone(), events);
    let (t1, mut e1) = terminal(terminal_config("T-1"), addr);
    let (t2, _e2) = terminal(terminal_config("T-2"), addr);
    until_connected(&mut e1).await;
    until_routed(&server, &["T-1", "T-2"]).await;

    // Terminal -> server: answered by the backend; a failure code is data in the response.
    let ok = timeout(T, t1.handle().call(record("p-1")))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (ok.code, ok.body),
        (Code::Success, ResponseBody::UploadAccessInfo)
    );
    let failed = timeout(
        T,
        t1.handle().call(TerminalCommand::device_command(Command {
            command_type: CommandType(2),
            command_value: "test!".into(),
        })),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(failed.code, Code::DatabaseError);

    // Server -> one terminal, routed by the uuid it was identified by; 200 kB of image in one request.
    let answered = timeout(
        T,
        server.call(&"T-2".to_owned(), person("3413123123", Some("张飒"))),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(answered.code, Code::Success);
    let refused = timeout(T, server.call(&"T-2".to_owned(), person("x", None)))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(refused.code, Code::DeviceFault);
    let settings = timeout(
        T,
        server.call(
            &"T-1".to_owned(),
            ServerCommand::Request(RequestBody::GetDeviceInfo),
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(
        settings.body,
        ResponseBody::GetDeviceInfo(DeviceInfoReply {
            device_info: Some(info("T-1"))
        })
    );
    assert!(matches!(
        server
            .call(
                &"T-9".to_owned(),
                ServerCommand::user_command(Command {
                    command_type: CommandType(1),
                    command_value: String::new()
                })
            )
            .await,
        Err(CommandError::UnknownPeer)
    ));

    t1.shutdown().await.unwrap();
    t2.shutdown().await.unwrap();
    let closed = timeout(T, async {
        let mut closed = Vec::new();
        while closed.len() < 2 {
            if let Some(ServerEvent::Closed { peer, .. }) = server_events.recv().await {
                closed.push(peer.unwrap());
            }
        }
        closed.sort();
        closed
    })
    .await
    .unwrap();
    assert_eq!(closed, ["T-1", "T-2"]);
    until_routed(&server, &[]).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_link() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener);
    let mut server_events = answer_terminals(server.clone(), events);
    let (good, mut good_events) = terminal(terminal_config("good"), addr);
    until_connected(&mut good_events).await;
    until_routed(&server, &["good"]).await;

    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"{\"mod\":\"upload_access_info\"}\n]")
        .await
        .unwrap();
    let reason = timeout(T, async {
        loop {
            if let Some(ServerEvent::Closed {
                reason, peer: None, ..
            }) = server_events.recv().await
            {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(&reason, Disconnect::Session(CloseReason::Protocol(device_core::ProtocolError::Access(
            device_core::access::SessionError::Decode(e)
        ))) if matches!(e.get(), access_proto::DecodeError::Garbage { byte: 0x5d, .. })),
        "{reason:?}"
    );

    // The good terminal is untouched, both ways.
    let reply = timeout(T, good.handle().call(record("after-garbage")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.unwrap().code, Code::Success);
    let pushed = timeout(T, server.call(&"good".to_owned(), person("1", Some("a"))))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed.unwrap().code, Code::Success);
    good.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_refused_by_admission_is_closed_and_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let admission: Arc<dyn device_core::access::Admission> =
        Arc::new(|i: &DeviceInfo| match i.uuid.as_deref() {
            Some("known") => Ok(()),
            _ => Err(device_core::access::Refusal::general("not registered")),
        });
    let (server, mut events) = start_server_with(listener, admission);
    let (stranger, mut stranger_events) = terminal(terminal_config("stranger"), addr);
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
        matches!(&reason, Disconnect::Session(CloseReason::LoginRejected(device_core::ProtocolError::Access(
            device_core::access::SessionError::Identify(device_core::access::IdentifyFailure::NotAdmitted(why))
        ))) if why.reason == "not registered" && why.code == access_proto::Code::GeneralError),
        "{reason:?}"
    );
    // The terminal sees the connection drop and tries again with backoff.
    timeout(T, async {
        loop {
            if let Some(ClientEvent::Reconnecting { .. }) = stranger_events.recv().await {
                return;
            }
        }
    })
    .await
    .unwrap();
    assert!(server.peers().is_empty());
    stranger.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_during_traffic_ends_every_request_once_and_the_terminal_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener);
    let _events = answer_terminals(server.clone(), events);
    let (client, mut client_events) = terminal(terminal_config("T-42"), addr);
    until_connected(&mut client_events).await;
    until_routed(&server, &["T-42"]).await;

    // Traffic while the server goes away: every call ends, with a response or an error, never a hang.
    let handle = client.handle();
    let (progress, traffic) = support::traffic(
        move |i| {
            let handle = handle.clone();
            async move { handle.call(record(&format!("p{i}"))).await }
        },
        |o| matches!(o, Ok(Some(r)) if r.code == Code::Success),
    );
    // The server goes away once traffic flows, and comes back once a request has seen it gone.
    progress
        .until("five requests answered", |ok, _| ok >= 5)
        .await;
    server.shutdown().await.unwrap();
    progress
        .until("a request refused or lost", |_, failed| failed >= 1)
        .await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let (server, events) = start_server(listener);
    let _events = answer_terminals(server.clone(), events);

    progress.stop();

    let outcomes = traffic.await.unwrap();
    let ok = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Some(r)) if r.code == Code::Success))
        .count();
    let refused_or_lost = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(CommandError::Refused(
                    SendError::NotReady | SendError::Closed
                )) | Err(CommandError::Failed(RequestError::ConnectionLost))
            )
        })
        .count();
    assert_eq!(ok + refused_or_lost, outcomes.len(), "{outcomes:?}");
    assert!(
        ok > 0 && refused_or_lost > 0,
        "ok {ok}, refused or lost {refused_or_lost}"
    );

    // After the restart the terminal is connected and identified again, and requests flow both ways.
    until_routed(&server, &["T-42"]).await;
    let reply = timeout(T, async {
        loop {
            match client.handle().call(record("after-restart")).await {
                Ok(Some(r)) => return r,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reply.code, Code::Success);
    let pushed = timeout(T, server.call(&"T-42".to_owned(), person("9", Some("b"))))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed.unwrap().code, Code::Success);
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_run_over_websocket_with_message_framing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The same session types as over TCP: the transport tells them their framing, and the message limit
    // (16 MiB, for persons with photos) comes from their codec.
    let (server, events) = Server::spawn(
        WsListener::new(listener),
        || session(AServerConfig::default(), admit_all()),
        ServerConfig::default(),
    )
    .unwrap();
    let _events = answer_terminals(server.clone(), events);
    let (client, events) = Client::connect_ws(
        TerminalSession::new(terminal_config("W-1")),
        format!("ws://{addr}/access"),
        backoff(),
    );
    let mut events = answer_server(&client, events);
    until_connected(&mut events).await;
    until_routed(&server, &["W-1"]).await;
    let reply = timeout(T, client.handle().call(record("ws")))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.code, Code::Success);
    let pushed = timeout(T, server.call(&"W-1".to_owned(), person("w", Some("c"))))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pushed.code, Code::Success);
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Reads newline-delimited JSON objects from `stream` until one satisfies `want`.
async fn read_until(
    stream: &mut tokio::io::BufReader<TcpStream>,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    use tokio::io::AsyncBufReadExt;
    timeout(T, async {
        loop {
            let mut line = String::new();
            assert_ne!(stream.read_line(&mut line).await.unwrap(), 0, "closed");
            let value: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
            if want(&value) {
                return value;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_answered_minus_one_naming_the_field_and_the_link_stays_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener);
    let mut events = answer_terminals(server.clone(), events);

    // A terminal by hand: answer the server's get_device_info, then send a request with a bad `time`.
    let mut stream = tokio::io::BufReader::new(TcpStream::connect(addr).await.unwrap());
    let probe = read_until(&mut stream, |v| v["mod"] == "get_device_info").await;
    let answer = serde_json::json!({
        "mod": "get_device_info", "session_id": probe["session_id"], "type": 2, "code": 0, "message": "",
        "device_info": { "uuid": "raw-terminal" },
    });
    stream
        .get_mut()
        .write_all(format!("{answer}\n").as_bytes())
        .await
        .unwrap();
    let bad = br#"{"mod":"upload_access_info","session_id":"bad-time-1","type":1,"access_info":{"person_id":"3413123123","time":"2019-08-23 12:34:35","role":12,"open_door_type":2,"in_out_type":2}}"#;
    stream.get_mut().write_all(bad).await.unwrap();
    stream.get_mut().write_all(b"\n").await.unwrap();

    let reply = read_until(&mut stream, |v| v["session_id"] == "bad-time-1").await;
    assert_eq!(reply["mod"], "upload_access_info");
    assert_eq!(reply["type"], 2);
    assert_eq!(reply["code"], -1);
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("time"), "{message}");

    // The application hears of it, typed.
    let event = timeout(T, async {
        loop {
            if let Some(ServerEvent::Session {
                event: AEvent::Malformed(e),
                ..
            }) = events.recv().await
            {
                return e;
            }
        }
    })
    .await
    .unwrap();
    match event {
        device_core::access::SessionError::MalformedRequest { key, error } => {
            assert_eq!(key.module, Mod::UploadAccessInfo);
            assert_eq!(key.session_id, SessionId::from("bad-time-1"));
            assert!(
                matches!(error.get(), DecodeError::Json { name, source } if name == "upload_access_info" && source.path().contains("time"))
            );
        }
        other => panic!("{other:?}"),
    }

    // The connection is still up: a good request is handed to the application and answered 0.
    let good = br#"{"mod":"upload_access_info","session_id":"good-time-1","type":1,"access_info":{"person_id":"3413123123","time":"20190823123435","role":12,"open_door_type":2,"in_out_type":2}}"#;
    stream.get_mut().write_all(good).await.unwrap();
    stream.get_mut().write_all(b"\n").await.unwrap();
    let reply = read_until(&mut stream, |v| v["session_id"] == "good-time-1").await;
    assert_eq!(reply["code"], 0);
}
