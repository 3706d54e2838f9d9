//! Admission over real sockets on 127.0.0.1:0: idle, slow and silent peers cannot lock devices out.
//!
//! Every connection comes from 127.0.0.1: the tests of the pending budget lift the per-source limit so that the
//! flood meets the budget, the harder case (an attacker behind the devices' own NAT address).
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aliscan_proto::StationStatus;
use device_core::aliscan::{
    MemoryStore, PadCommand, PadConfig, PadEvent, PadLink, PadReply, PadSession, SimulatedScanner,
    Station, StationConfig, StationEndpoint, UploadQueue,
};
use device_core::jetinno::{
    MachineCommand, MachineConfig, MachineEvent, MachineSession, ServerCommand,
    ServerConfig as JServerConfig, ServerEvent as JEvent, ServerSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{
    AdmissionConfig, Refusal, Server, ServerConfig, ServerEvent, ServerEvents, WsListener,
};
use device_core::runtime::{Disconnect, TransportError};
use device_core::BackoffConfig;
use futures_util::StreamExt;
use jetinno_proto::{MachineCode, QrCodeReply, QrCodeRequest, QrType};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(20);
/// Deadlines long enough that only the pending budget and the per-source limits decide in a test.
const LONG: Duration = Duration::from_secs(600);

/// Only the pending budget decides: long deadlines, no per-source limit in the way.
fn budget_only() -> AdmissionConfig {
    AdmissionConfig::default()
        .handshake_timeout(LONG)
        .first_message_timeout(LONG)
        .establish_timeout(LONG)
        .max_pending_per_source(1 << 20)
}

// ---- jetinno over TCP ----

type Registry = Arc<dyn device_core::jetinno::MachineRegistry>;
type JSession = ServerSession<Registry>;

fn code(vmc_no: u64) -> MachineCode {
    MachineCode::new(format!("{vmc_no:08}")).unwrap()
}

/// What the flood did to the server, counted by a task that reads every event and answers qrcodes.
#[derive(Debug, Default, Clone)]
struct Tally {
    evicted: usize,
    refused_source: usize,
    refused_capacity: usize,
    established: Vec<u64>,
    closed_established: Vec<u64>,
}

fn jetinno_server(
    listener: TcpListener,
    config: ServerConfig,
) -> (Server<JSession>, watch::Receiver<Tally>) {
    let registry: Registry = Arc::new(|vmc_no: u64| Some(code(vmc_no)));
    let (server, mut events) = Server::spawn(
        listener,
        move || ServerSession::new(JServerConfig::default(), registry.clone()),
        config,
    )
    .unwrap();
    let (tally, counts) = watch::channel(Tally::default());
    let answering = server.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let mut t = tally.borrow().clone();
            match event {
                ServerEvent::Refused {
                    reason: Refusal::SourceLimit { .. },
                    ..
                } => t.refused_source += 1,
                ServerEvent::Refused {
                    reason: Refusal::AtCapacity { .. },
                    ..
                } => t.refused_capacity += 1,
                ServerEvent::Closed {
                    reason: Disconnect::Evicted,
                    ..
                } => t.evicted += 1,
                ServerEvent::Closed {
                    peer: Some(peer), ..
                } => t.closed_established.push(peer),
                ServerEvent::Established { peer, .. } => t.established.push(peer),
                ServerEvent::Session {
                    peer: Some(vmc_no),
                    event: JEvent::QrCodeRequested(req),
                    ..
                } => {
                    let reply = QrCodeReply {
                        vmc_no: req.vmc_no,
                        qr_type: QrType::WxPub,
                        qrcode: format!("pay://{}", req.order_no),
                        order_no: req.order_no,
                    };
                    let server = answering.clone();
                    tokio::spawn(async move {
                        let _ = server
                            .call(&vmc_no, ServerCommand::Send(reply.into()))
                            .await;
                    });
                }
                _ => {}
            }
            tally.send_replace(t);
        }
    });
    (server, counts)
}

/// The tally once `done` holds.
async fn tally_when(tally: &mut watch::Receiver<Tally>, done: impl FnMut(&Tally) -> bool) -> Tally {
    timeout(T, tally.wait_for(done))
        .await
        .expect("the server reported it in time")
        .expect("the server runs")
        .clone()
}

fn machine(
    vmc_no: u64,
    addr: SocketAddr,
) -> (
    Client<MachineSession>,
    mpsc::Receiver<ClientEvent<MachineEvent>>,
) {
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200));
    Client::connect_tcp(
        MachineSession::new(MachineConfig::new(vmc_no, code(vmc_no), "1.0")),
        addr,
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

async fn qrcode(client: &Client<MachineSession>, vmc_no: u64, order: &str) -> String {
    let request = MachineCommand::RequestQrCode(QrCodeRequest {
        vmc_no,
        qr_type: QrType::All,
        product_id: 1,
        amount: 100,
        order_no: order.into(),
    });
    let reply = timeout(T, client.handle().call(request))
        .await
        .expect("answered in time")
        .expect("answered")
        .expect("a reply");
    reply.order_no
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tcp_connections_do_not_block_a_real_login_and_logged_in_machines_keep_their_slots() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // A budget of 1,024 pending connections (the default is 4,096; the rule is the same at any size).
    let admission = budget_only().max_pending(1024);
    let (server, mut tally) =
        jetinno_server(listener, ServerConfig::default().admission(admission));
    let (old, mut old_events) = machine(1, addr);
    until_logged_in(&mut old_events).await;

    // 1,030 connections that connect and never send a byte.
    let mut idle = Vec::new();
    for _ in 0..1030 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // A real machine logs in through the flood.
    let (new, mut new_events) = machine(2, addr);
    until_logged_in(&mut new_events).await;
    assert_eq!(qrcode(&new, 2, "new").await, "new");
    // The machine that was logged in before the flood was never touched.
    assert_eq!(qrcode(&old, 1, "old").await, "old");
    // The flood and the new machine were 1,031 pending connections for a budget of 1,024: the 7 oldest of the
    // flood were dropped.
    let t = tally_when(&mut tally, |t| t.evicted >= 1030 + 1 - 1024).await;
    assert_eq!(t.refused_capacity, 0, "{t:?}");
    assert!(t.closed_established.is_empty(), "{t:?}");
    let mut peers = server.peers();
    peers.sort_unstable();
    assert_eq!(peers, [1, 2]);
    drop(idle);
    old.shutdown().await.unwrap();
    new.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_source_limit_refuses_pending_connections_and_spares_logged_in_ones() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let admission = AdmissionConfig::default()
        .handshake_timeout(LONG)
        .first_message_timeout(LONG)
        .establish_timeout(LONG)
        .max_pending_per_source(4);
    let (server, mut tally) =
        jetinno_server(listener, ServerConfig::default().admission(admission));
    // Logged-in machines from the address do not count against its pending limit.
    let (m1, mut e1) = machine(7, addr);
    until_logged_in(&mut e1).await;
    let (m2, mut e2) = machine(8, addr);
    until_logged_in(&mut e2).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // The fifth pending connection from the address is refused at accept: the server closes it unread.
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = timeout(T, tokio::io::AsyncReadExt::read(&mut fifth, &mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the fifth connection was closed");
    assert_eq!(qrcode(&m1, 7, "a").await, "a");
    assert_eq!(qrcode(&m2, 8, "b").await, "b");
    let t = tally_when(&mut tally, |t| t.refused_source >= 1).await;
    assert_eq!(t.evicted, 0, "{t:?}");
    // Once the idle connections are gone, a new machine from the address logs in.
    drop(idle);
    let (m3, mut e3) = machine(9, addr);
    until_logged_in(&mut e3).await;
    assert_eq!(qrcode(&m3, 9, "c").await, "c");
    for m in [m1, m2, m3] {
        m.shutdown().await.unwrap();
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_unidentified_connections_meet_their_deadlines() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let admission = AdmissionConfig::default()
        .first_message_timeout(Duration::from_millis(200))
        .establish_timeout(Duration::from_millis(400));
    let registry: Registry = Arc::new(|vmc_no: u64| Some(code(vmc_no)));
    let (server, mut events): (Server<JSession>, ServerEvents<JSession>) = Server::spawn(
        listener,
        move || ServerSession::new(JServerConfig::default(), registry.clone()),
        ServerConfig::default().admission(admission),
    )
    .unwrap();
    // Sends nothing at all.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let reason = closed(&mut events).await;
    assert!(
        matches!(reason, Disconnect::FirstMessageTimeout(_)),
        "{reason:?}"
    );
    // Sends heartbeats (allowed before login) but never logs in.
    let mut chatty = TcpStream::connect(addr).await.unwrap();
    // A heartbeat packet: 4 length digits (the whole packet), 8 padding bytes, the JSON body.
    let body = br#"{"cmd":"hb","vmc_no":3}"#;
    let mut hb = format!("{:04}00000000", 12 + body.len()).into_bytes();
    hb.extend_from_slice(body);
    chatty.write_all(&hb).await.unwrap();
    let reason = closed(&mut events).await;
    assert!(
        matches!(reason, Disconnect::EstablishTimeout(_)),
        "{reason:?}"
    );
    server.shutdown().await.unwrap();
}

async fn closed<S: device_core::Session>(events: &mut ServerEvents<S>) -> Disconnect {
    timeout(T, async {
        loop {
            if let Some(ServerEvent::Closed { reason, .. }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("closed in time")
}

// ---- aliscan over WebSocket ----

async fn spawn_station(
    config: ServerConfig,
) -> (
    Server<PadLink>,
    ServerEvents<PadLink>,
    StationEndpoint,
    String,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let endpoint = StationEndpoint::new(Station::new(
        StationConfig::new("DEV1").initial_status(StationStatus::Free),
        Box::new(SimulatedScanner::new()),
        Box::new(MemoryStore::default()),
        Box::new(UploadQueue::new()),
    ));
    let (server, events) =
        Server::spawn(WsListener::new(listener), endpoint.clone(), config).unwrap();
    (server, events, endpoint, format!("ws://{addr}/aliscan"))
}

/// A WebSocket that completes the handshake and then only answers pings.
async fn idle_pad(addr: SocketAddr, url: &str) -> tokio::task::JoinHandle<()> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} })
}

/// A client that sends its upgrade request one byte a second (a bounded trickle).
async fn slow_client(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tokio::spawn(async move {
        let request = b"GET /aliscan HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for byte in request {
            tick.tick().await;
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    })
}

async fn real_pad(
    url: &str,
    id: &str,
) -> (Client<PadSession>, mpsc::Receiver<ClientEvent<PadEvent>>) {
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200));
    let (client, mut events) = Client::connect_ws(
        PadSession::new(PadConfig::new(id)),
        url.to_owned(),
        ClientConfig::default().backoff(backoff),
    );
    timeout(T, async {
        loop {
            if let Some(ClientEvent::Session(PadEvent::Connected(_))) = events.recv().await {
                break;
            }
        }
    })
    .await
    .expect("the real pad got in");
    (client, events)
}

async fn pad_status(client: &Client<PadSession>) -> StationStatus {
    match timeout(T, client.handle().call(PadCommand::Status))
        .await
        .unwrap()
    {
        Ok(Some(PadReply::Status(s))) => s.status,
        other => panic!("{other:?}"),
    }
}

/// Drains a server's events in the background, counting evictions.
fn drain(mut events: ServerEvents<PadLink>) -> watch::Receiver<usize> {
    let (tx, evicted) = watch::channel(0);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ServerEvent::Closed {
                reason: Disconnect::Evicted,
                ..
            } = event
            {
                tx.send_modify(|n| *n += 1);
            }
        }
    });
    evicted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_websocket_pads_and_slow_clients_do_not_lock_out_a_real_pad() {
    // The old station default: 64 connections, now shared by pending and logged-in pads.
    let config = ServerConfig::default()
        .max_connections(64)
        .admission(budget_only());
    let (server, events, station, url) = spawn_station(config).await;
    let mut evicted = drain(events);
    let addr = server.local_addr();
    let (first, _first_events) = real_pad(&url, "pad-first").await;

    let mut flood = Vec::new();
    for _ in 0..64 {
        flood.push(idle_pad(addr, &url).await);
    }
    for _ in 0..20 {
        flood.push(slow_client(addr).await);
    }
    for _ in 0..44 {
        flood.push(idle_pad(addr, &url).await);
    }
    // A real pad still gets in, and so does the one after it.
    let (a, _a_events) = real_pad(&url, "pad-a").await;
    let (b, _b_events) = real_pad(&url, "pad-b").await;
    assert_eq!(pad_status(&a).await, StationStatus::Free);
    assert_eq!(pad_status(&b).await, StationStatus::Free);
    // The pad that was in before the flood kept its slot.
    assert_eq!(pad_status(&first).await, StationStatus::Free);
    let mut peers = server.peers();
    peers.sort();
    assert_eq!(peers, ["pad-a", "pad-b", "pad-first"]);
    assert!(station.connections().len() <= 64);
    // 1 + 64 + 20 + 44 + 2 connections for 64 slots: the oldest of the flood were dropped for the pads.
    timeout(T, evicted.wait_for(|n| *n >= 1 + 64 + 20 + 44 + 2 - 64))
        .await
        .expect("the evictions were reported")
        .unwrap();
    for task in flood {
        task.abort();
    }
    for pad in [first, a, b] {
        pad.shutdown().await.unwrap();
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_sends_no_first_message_or_no_handshake_is_closed() {
    let config = ServerConfig::default().admission(
        AdmissionConfig::default()
            .handshake_timeout(Duration::from_millis(200))
            .first_message_timeout(Duration::from_millis(200)),
    );
    let (server, mut events, _station, url) = spawn_station(config).await;
    let addr = server.local_addr();
    // Completes the upgrade, then stays silent (answering pings would not help).
    let _silent = idle_pad(addr, &url).await;
    let reason = closed(&mut events).await;
    assert!(
        matches!(reason, Disconnect::FirstMessageTimeout(_)),
        "{reason:?}"
    );
    // Starts an upgrade request and never finishes it.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /aliscan HTTP/1.1\r\n").await.unwrap();
    let reason = closed(&mut events).await;
    assert!(
        matches!(
            reason,
            Disconnect::Handshake(TransportError::HandshakeTimeout(_))
        ),
        "{reason:?}"
    );
    server.shutdown().await.unwrap();
}
