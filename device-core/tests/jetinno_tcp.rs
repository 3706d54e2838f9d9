//! jetinno over real sockets on 127.0.0.1:0: the machine client and the server driver from this crate.
#![cfg(feature = "tokio")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use device_core::jetinno::{
    MachineCommand, MachineConfig, MachineEvent, MachineSession, ServerCommand,
    ServerConfig as JServerConfig, ServerEvent as JEvent, ServerSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{Refusal, Server, ServerConfig, ServerEvent};
use device_core::runtime::CommandError;
use device_core::runtime::Disconnect;
use device_core::{BackoffConfig, CloseReason, RequestError, SendError};
use jetinno_proto::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

type Registry = Arc<dyn device_core::jetinno::MachineRegistry>;
type JSession = ServerSession<Registry>;
type JServer = Server<JSession>;
type JServerEvents = mpsc::Receiver<ServerEvent<JSession>>;

const T: Duration = Duration::from_secs(10);

fn code(vmc_no: u64) -> MachineCode {
    MachineCode::new(format!("{vmc_no:08}")).unwrap()
}

async fn start_server(listener: TcpListener, max: usize) -> (JServer, JServerEvents) {
    let registry: Registry = Arc::new(|vmc_no: u64| Some(code(vmc_no)));
    Server::spawn(
        listener,
        move || ServerSession::new(JServerConfig::default(), registry.clone()),
        ServerConfig::default().max_connections(max),
    )
    .unwrap()
}

/// Answers every qrcode request the way an operator backend would, until the events end.
fn answer_qrcodes(server: JServer, mut events: JServerEvents) -> JServerEvents {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ServerEvent::Session {
                peer: Some(vmc_no),
                event: JEvent::QrCodeRequested(req),
                ..
            } = &event
            {
                let reply = QrCodeReply {
                    vmc_no: req.vmc_no,
                    qr_type: QrType::WxPub,
                    qrcode: format!("pay://{}", req.order_no),
                    order_no: req.order_no.clone(),
                };
                let server = server.clone();
                let vmc_no = *vmc_no;
                tokio::spawn(async move {
                    let _ = server
                        .call(&vmc_no, ServerCommand::Send(reply.into()))
                        .await;
                });
            }
            let _ = tx.send(event).await;
        }
    });
    rx
}

fn machine(
    vmc_no: u64,
    addr: std::net::SocketAddr,
) -> (
    Client<MachineSession>,
    mpsc::Receiver<ClientEvent<MachineEvent>>,
) {
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200));
    let addr_copy = addr;
    Client::spawn(
        MachineSession::new(MachineConfig::new(vmc_no, code(vmc_no), "1.0")),
        move || TcpStream::connect(addr_copy),
        ClientConfig::default().backoff(backoff).jitter_seed(vmc_no),
    )
}

async fn until_logged_in(events: &mut mpsc::Receiver<ClientEvent<MachineEvent>>) {
    timeout(T, async {
        while let Some(e) = events.recv().await {
            if matches!(e, ClientEvent::Session(MachineEvent::LoggedIn { .. })) {
                return;
            }
        }
        panic!("events ended before login");
    })
    .await
    .expect("login in time");
}

fn qr(vmc_no: u64, order: &str) -> MachineCommand {
    MachineCommand::RequestQrCode(QrCodeRequest {
        vmc_no,
        qr_type: QrType::All,
        product_id: 1,
        amount: 100,
        order_no: order.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_log_in_request_qrcodes_and_receive_commands() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener, 16).await;
    let mut server_events = answer_qrcodes(server.clone(), events);
    let (m1, mut e1) = machine(1001, addr);
    let (m2, mut e2) = machine(1002, addr);
    until_logged_in(&mut e1).await;
    until_logged_in(&mut e2).await;

    let reply = timeout(T, m1.handle().call(qr(1001, "order-1")))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.qrcode, "pay://order-1");

    // Wait until the server reported both machines established, then push a payment to one of them.
    let mut established = timeout(T, async {
        let mut seen = Vec::new();
        while seen.len() < 2 {
            if let Some(ServerEvent::Established { peer, .. }) = server_events.recv().await {
                seen.push(peer);
            }
        }
        seen
    })
    .await
    .unwrap();
    established.sort_unstable();
    assert_eq!(established, [1001, 1002]);
    let mut peers = server.peers();
    peers.sort_unstable();
    assert_eq!(peers, [1001, 1002]);
    assert!(server.is_established(&1002));
    let pay = ServerMessage::from(PayDone {
        vmc_no: 1002,
        product_amount: 100,
        order_no: "order-2".into(),
        paydone: true,
        paytype: PayType::Alipay,
    });
    assert_eq!(
        server.call(&1002, ServerCommand::Send(pay.clone())).await,
        Ok(None)
    );
    let got = timeout(T, async {
        loop {
            if let Some(ClientEvent::Session(MachineEvent::Server(m))) = e2.recv().await {
                return m;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got, pay);
    assert!(matches!(
        server.call(&999, ServerCommand::Send(pay)).await,
        Err(CommandError::UnknownPeer)
    ));

    m1.shutdown().await.unwrap();
    m2.shutdown().await.unwrap();
    let closed = timeout(T, async {
        let mut closed = 0;
        while closed < 2 {
            if let Some(ServerEvent::Closed { .. }) = server_events.recv().await {
                closed += 1;
            }
        }
    })
    .await;
    assert!(closed.is_ok());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_link() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener, 16).await;
    let mut server_events = answer_qrcodes(server.clone(), events);
    let (good, mut good_events) = machine(7, addr);
    until_logged_in(&mut good_events).await;

    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"00x1garbage").await.unwrap();
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
        matches!(&reason, Disconnect::Session(CloseReason::Protocol(device_core::ProtocolError::Jetinno(
            device_core::jetinno::SessionError::Decode(e)
        ))) if matches!(e.get(), jetinno_proto::DecodeError::BadLengthHead { .. })),
        "{reason:?}"
    );

    // The good machine is untouched.
    let reply = timeout(T, good.handle().call(qr(7, "after-garbage")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.unwrap().order_no, "after-garbage");
    good.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_when_every_slot_is_logged_in() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener, 1).await;
    let mut events = answer_qrcodes(server.clone(), events);
    let (machine, mut machine_events) = machine(5, addr);
    until_logged_in(&mut machine_events).await;
    let _extra = TcpStream::connect(addr).await.unwrap();
    let reason = timeout(T, async {
        loop {
            if let Some(ServerEvent::Refused { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reason, Refusal::AtCapacity { max: 1 });
    // The logged-in machine keeps its slot.
    let reply = timeout(T, machine.handle().call(qr(5, "still-here")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.unwrap().order_no, "still-here");
    machine.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_during_traffic_ends_every_request_once_and_the_machine_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, events) = start_server(listener, 16).await;
    let _events = answer_qrcodes(server.clone(), events);
    let (client, mut client_events) = machine(42, addr);
    until_logged_in(&mut client_events).await;

    // Traffic while the server goes away: every call ends, with a reply or an error, never a hang.
    let handle = client.handle();
    let (progress, traffic) = support::traffic(
        move |i| {
            let handle = handle.clone();
            async move { handle.call(qr(42, &format!("o{i}"))).await }
        },
        |o| matches!(o, Ok(Some(_))),
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
    let (server, events) = start_server(listener, 16).await;
    let _events = answer_qrcodes(server.clone(), events);

    progress.stop();

    let outcomes = traffic.await.unwrap();
    let ok = outcomes.iter().filter(|o| matches!(o, Ok(Some(_)))).count();
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

    // After the restart the machine is logged in again and requests succeed.
    let reply = timeout(T, async {
        loop {
            match client.handle().call(qr(42, "after-restart")).await {
                Ok(Some(r)) => return r,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reply.order_no, "after-restart");
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

/// A machine whose clock (and so its login `timestamp`) stands at `date` (`yyyy-mm-dd`, 12:00 local).
fn machine_dated(
    vmc_no: u64,
    addr: std::net::SocketAddr,
    date: &str,
) -> (
    Client<MachineSession>,
    mpsc::Receiver<ClientEvent<MachineEvent>>,
) {
    let clock = device_core::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339(&format!("{date}T12:00:00+08:00")).unwrap(),
    );
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200));
    Client::spawn(
        MachineSession::new(MachineConfig::new(vmc_no, code(vmc_no), "1.0").clock(Arc::new(clock))),
        move || TcpStream::connect(addr),
        ClientConfig::default().backoff(backoff).jitter_seed(vmc_no),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_dated_outside_the_window_is_refused_with_ret_2_and_closed() {
    // The server's own date is 2015-06-26 (an injected clock, never the system's).
    let server_clock = device_core::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2015-06-26T00:30:00+08:00").unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let registry: Registry = Arc::new(|vmc_no: u64| Some(code(vmc_no)));
    let clock: Arc<dyn device_core::WallClock> = Arc::new(server_clock);
    let (server, mut server_events) = Server::spawn(
        listener,
        move || {
            ServerSession::new(
                JServerConfig::default().clock(clock.clone()),
                registry.clone(),
            )
        },
        ServerConfig::default(),
    )
    .unwrap();

    // 20150624 is two days off: login_r with ret 2, then the close.
    let (old, mut old_events) = machine_dated(301, addr, "2015-06-24");
    let reason = timeout(T, async {
        let mut refused = false;
        loop {
            match old_events.recv().await.unwrap() {
                ClientEvent::Session(MachineEvent::LoginRejected { ret }) => {
                    assert_eq!(ret, 2);
                    refused = true;
                }
                ClientEvent::Session(MachineEvent::Disconnected(reason)) => {
                    assert!(refused, "closed after the login_r");
                    return reason;
                }
                ClientEvent::Session(MachineEvent::LoggedIn { .. }) => panic!("accepted"),
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        reason,
        Some(CloseReason::LoginRejected(
            device_core::jetinno::SessionError::LoginRefused { ret: 2 }.into()
        ))
    );
    let failure = timeout(T, async {
        loop {
            if let Some(ServerEvent::Session {
                event:
                    JEvent::LoginFailed {
                        vmc_no: 301,
                        reason,
                    },
                ..
            }) = server_events.recv().await
            {
                return reason;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        failure,
        device_core::jetinno::LoginFailure::DateOutOfWindow {
            timestamp: 20150624,
            server_date: 20150626,
            window_days: 1,
        }
    );
    old.shutdown().await.unwrap();

    // Yesterday and tomorrow (by the server's date) are accepted.
    for (vmc_no, date) in [(302, "2015-06-25"), (303, "2015-06-27")] {
        let (m, mut events) = machine_dated(vmc_no, addr, date);
        until_logged_in(&mut events).await;
        m.shutdown().await.unwrap();
    }
    server.shutdown().await.unwrap();
}
