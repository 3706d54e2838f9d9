//! Aliscan over real WebSocket connections on 127.0.0.1:0: a station server and pad clients.
#![cfg(feature = "tokio")]

mod support;

use std::time::Duration;

use aliscan_proto::{CodecConfig, ScanRecord, Sex, StationStatus};
use device_core::aliscan::{
    HardwareReport, MemoryStore, PadCommand, PadConfig, PadEvent, PadLink, PadReply, PadSession,
    SimulatedScanner, Station, StationCommand, StationConfig, StationEndpoint, StationEvent,
    UploadQueue,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{
    Refusal, Server, ServerConfig, ServerEvent, ServerEvents, WsListener,
};
use device_core::runtime::{CommandError, DriverConfig};
use device_core::{CloseReason, SendError, SplitMix64};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

/// The station on the one server driver, and the endpoint the deployment commands it through.
struct StationServer {
    server: Server<PadLink>,
    station: StationEndpoint,
}

impl StationServer {
    async fn command(&self, command: StationCommand) -> Result<(), SendError> {
        self.station
            .handle_command(device_core::runtime::now(), command)
    }

    fn connections(&self) -> Vec<device_core::aliscan::PadConnection> {
        self.station.connections()
    }

    fn state(&self) -> aliscan_proto::StationState {
        self.station.state()
    }

    async fn shutdown(&self) -> Result<(), tokio::task::JoinError> {
        self.server.shutdown().await
    }
}

type Events = ServerEvents<PadLink>;

async fn station() -> (StationServer, Events, String, MemoryStore) {
    station_with(StationConfig::new("DEV9")).await
}

async fn station_with(config: StationConfig) -> (StationServer, Events, String, MemoryStore) {
    station_server(config, ServerConfig::default()).await
}

async fn station_server(
    config: StationConfig,
    server_config: ServerConfig,
) -> (StationServer, Events, String, MemoryStore) {
    let clock = support::clock();
    let store = MemoryStore::default();
    let station = Station::new(
        config
            .clock(support::shared(&clock))
            .initial_status(StationStatus::Free),
        Box::new(SimulatedScanner::new()),
        Box::new(store.clone()),
        Box::new(UploadQueue::new()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let station = StationEndpoint::new(station);
    // The path (`/aliscan`) and the frame limit come from the station's wire facts.
    let (server, events) =
        Server::spawn(WsListener::new(listener), station.clone(), server_config).unwrap();
    (
        StationServer { server, station },
        events,
        format!("ws://{addr}/aliscan"),
        store,
    )
}

type Pad = (Client<PadSession>, Receiver<ClientEvent<PadEvent>>);

async fn pad(url: &str, id: &str) -> Pad {
    let session = PadSession::new(PadConfig::new(id)).with_rng(Box::new(SplitMix64::seeded(3)));
    let (client, mut events) = Client::connect_ws(session, url.to_owned(), ClientConfig::default());
    timeout(T, async {
        loop {
            if let Some(ClientEvent::Session(PadEvent::Connected(_))) = events.recv().await {
                break;
            }
        }
    })
    .await
    .expect("the pad connected");
    (client, events)
}

/// Waits for a pad event matching `f`.
async fn wait_for<R>(
    events: &mut Receiver<ClientEvent<PadEvent>>,
    f: impl Fn(&PadEvent) -> Option<R>,
) -> R {
    timeout(T, async {
        loop {
            if let Some(ClientEvent::Session(e)) = events.recv().await {
                if let Some(r) = f(&e) {
                    return r;
                }
            }
        }
    })
    .await
    .expect("the event arrived")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pads_book_scan_and_see_every_status_over_websocket() {
    let (server, mut station_events, url, store) = station().await;
    let (a, mut a_events) = pad(&url, "pad-a").await;
    let (b, mut b_events) = pad(&url, "pad-b").await;

    let booked = timeout(T, a.handle().call(PadCommand::Book)).await.unwrap();
    assert!(matches!(booked, Ok(Some(PadReply::Status(s))) if s.status == StationStatus::Booking));
    // pad-b, idle, is pushed the booking at once.
    let who = wait_for(&mut b_events, |e| match e {
        PadEvent::Status(s) if s.status == StationStatus::Booking => s.current_pad.clone(),
        _ => None,
    })
    .await;
    assert_eq!(who, "pad-a");
    // pad-b may not scan: refused with the current status.
    let refused = timeout(T, b.handle().call(PadCommand::Scan { sex: Sex::Male }))
        .await
        .unwrap();
    assert!(
        matches!(refused, Ok(Some(PadReply::Refused(s))) if s.status == StationStatus::Booking)
    );

    let started = timeout(T, a.handle().call(PadCommand::Scan { sex: Sex::Female }))
        .await
        .unwrap();
    let scan_id = match started {
        Ok(Some(PadReply::ScanStarted(s))) => s.scan_id,
        other => panic!("{other:?}"),
    };
    assert_eq!(scan_id, "DEV9-20261122-080000");
    // The deployment learns of the scan and reports the hardware's progress.
    station_event(&mut station_events, |e| {
        matches!(e, StationEvent::ScanStarted { .. }).then_some(())
    })
    .await;
    server
        .command(StationCommand::Hardware(HardwareReport::ScanDone(Ok(()))))
        .await
        .unwrap();
    wait_for(&mut b_events, |e| {
        matches!(e, PadEvent::Status(s) if s.status == StationStatus::Computing).then_some(())
    })
    .await;
    server
        .command(StationCommand::Hardware(HardwareReport::ComputeDone(Ok(
            Box::new(ScanRecord::default()),
        ))))
        .await
        .unwrap();
    let record = wait_for(&mut a_events, |e| match e {
        PadEvent::ScanFinished(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(record.scan_id, scan_id);
    assert_eq!(record.data.create_pad_id.as_deref(), Some("pad-a"));
    wait_for(&mut b_events, |e| {
        matches!(e, PadEvent::Status(s) if s.status == StationStatus::Free).then_some(())
    })
    .await;
    assert_eq!(store.len(), 1);
    // Now pad-b may scan.
    let started = timeout(T, b.handle().call(PadCommand::Scan { sex: Sex::Male }))
        .await
        .unwrap();
    assert!(matches!(started, Ok(Some(PadReply::ScanStarted(_)))));

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_connection() {
    let (server, mut events, url, _) = station().await;
    let (good, _good_events) = pad(&url, "pad-good").await;
    let (mut raw, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    raw.send(Message::text(
        "{\"topic\":\"equipment/scan/new\",\"padId\":\"x\",\"data\":{\"sex\":{}}}",
    ))
    .await
    .unwrap();
    let closed = station_event(&mut events, |e| match e {
        StationEvent::Malformed { conn, .. } => Some(*conn),
        _ => None,
    })
    .await;
    // The raw client sees its connection end.
    let ended = timeout(T, async { while let Some(Ok(_)) = raw.next().await {} }).await;
    assert!(ended.is_ok());
    timeout(T, async {
        while server.connections().contains(&closed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    // The other pad is still served.
    let status = timeout(T, good.handle().call(PadCommand::Status))
        .await
        .unwrap();
    assert!(matches!(status, Ok(Some(PadReply::Status(s))) if s.status == StationStatus::Free));
    good.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_path_is_refused_and_a_station_shutdown_fails_waiting_requests() {
    let (server, mut events, url, _) = station().await;
    let wrong = url.replace("/aliscan", "/other");
    let err = tokio_tungstenite::connect_async(wrong).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");

    let (a, mut a_events) = pad(&url, "pad-a").await;
    // Nobody answers device info (the deployment does not read its events here), so it waits ...
    let handle = a.handle();
    let waiting = tokio::spawn(async move { handle.call(PadCommand::DeviceInfo).await });
    // The request has reached the station (so it is written and waiting) before the station goes away.
    timeout(T, async {
        loop {
            match events.recv().await {
                Some(ServerEvent::Shared(StationEvent::Message { .. })) => return,
                Some(_) => {}
                None => panic!("events ended"),
            }
        }
    })
    .await
    .expect("the request reached the station");
    // ... until the station goes away.
    server.shutdown().await.unwrap();
    let outcome = timeout(T, waiting).await.unwrap().unwrap();
    assert!(
        matches!(
            outcome,
            Err(CommandError::Failed(
                device_core::RequestError::ConnectionLost
            ))
        ),
        "{outcome:?}"
    );
    let reason = wait_for(&mut a_events, |e| match e {
        PadEvent::Disconnected(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert!(!matches!(reason, Some(CloseReason::Requested)));
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_timer_expires_a_booking_and_pushes_it_to_idle_pads() {
    let config = StationConfig::new("DEV9").book_period(Some(Duration::from_millis(300)));
    let (server, _events, url, _) = station_with(config).await;
    let (a, _a_events) = pad(&url, "pad-a").await;
    let (b, mut b_events) = pad(&url, "pad-b").await;
    let started = tokio::time::Instant::now();
    let booked = timeout(T, a.handle().call(PadCommand::Book)).await.unwrap();
    assert!(matches!(booked, Ok(Some(PadReply::Status(s))) if s.status == StationStatus::Booking));
    wait_for(&mut b_events, |e| {
        matches!(e, PadEvent::Status(s) if s.status == StationStatus::Booking).then_some(())
    })
    .await;
    // Nobody sends anything: the station's own timer frees it and every pad is told.
    wait_for(&mut b_events, |e| {
        matches!(e, PadEvent::Status(s) if s.status == StationStatus::Free).then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.state().status, StationStatus::Free);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

/// Waits for a station event matching `f`.
async fn station_event<R>(events: &mut Events, f: impl Fn(&StationEvent) -> Option<R>) -> R {
    server_event(events, |e| match e {
        ServerEvent::Shared(e) => f(e),
        _ => None,
    })
    .await
}

/// Waits for a server event matching `f`.
async fn server_event<R>(events: &mut Events, f: impl Fn(&ServerEvent<PadLink>) -> Option<R>) -> R {
    timeout(T, async {
        loop {
            match events.recv().await {
                Some(e) => {
                    if let Some(r) = f(&e) {
                        return r;
                    }
                }
                None => panic!("server events ended"),
            }
        }
    })
    .await
    .expect("the event arrived")
}

async fn status_of(client: &Client<PadSession>) -> StationStatus {
    match timeout(T, client.handle().call(PadCommand::Status))
        .await
        .unwrap()
    {
        Ok(Some(PadReply::Status(s))) => s.status,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pads_over_the_connection_cap_are_refused_until_one_leaves() {
    let cap = ServerConfig::default().max_connections(2);
    let (server, mut events, url, _) = station_server(StationConfig::new("DEV9"), cap).await;
    let (a, _a_events) = pad(&url, "pad-a").await;
    let (b, _b_events) = pad(&url, "pad-b").await;

    // Both pads are established: a third is closed at accept, before the handshake.
    let third = timeout(T, tokio_tungstenite::connect_async(url.as_str()))
        .await
        .unwrap();
    assert!(third.is_err(), "a third pad got in");
    let reason = server_event(&mut events, |e| match e {
        ServerEvent::Refused { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, Refusal::AtCapacity { max: 2 });
    // It never reached the station; the first two keep working.
    assert_eq!(server.connections().len(), 2);
    assert_eq!(status_of(&a).await, StationStatus::Free);
    assert_eq!(status_of(&b).await, StationStatus::Free);

    // One leaves: its slot is free once the station reports the disconnection.
    b.shutdown().await.unwrap();
    station_event(&mut events, |e| match e {
        StationEvent::Disconnected { pad_id, .. } if pad_id.as_deref() == Some("pad-b") => Some(()),
        _ => None,
    })
    .await;
    let (c, _c_events) = pad(&url, "pad-c").await;
    assert_eq!(status_of(&c).await, StationStatus::Free);
    assert_eq!(status_of(&a).await, StationStatus::Free);
    assert_eq!(server.connections().len(), 2);

    a.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_limit_follows_the_station_codec_and_never_reaches_the_station() {
    let config = StationConfig::new("DEV9").codec(CodecConfig::default().max_message_len(1024));
    let (server, mut events, url, _) = station_with(config).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let conn = station_event(&mut events, |e| match e {
        StationEvent::Connected(c) => Some(*c),
        _ => None,
    })
    .await;
    // Within the WebSocket default (1 MiB) but over the codec's 1 KiB: refused by the WebSocket layer.
    let big = format!(
        "{{\"topic\":\"equipment/scan/action\",\"padId\":\"{}\",\"data\":{{\"action\":\"status\"}}}}",
        "p".repeat(2000)
    );
    let _ = raw.send(Message::text(big)).await;
    let ended = timeout(T, async { while let Some(Ok(_)) = raw.next().await {} }).await;
    assert!(ended.is_ok());
    let malformed = station_event(&mut events, |e| match e {
        StationEvent::Malformed { conn: c, .. } if *c == conn => Some(true),
        StationEvent::Disconnected { conn: c, .. } if *c == conn => Some(false),
        _ => None,
    })
    .await;
    assert!(
        !malformed,
        "the oversized frame reached the station's decoder"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let idle = ServerConfig::default()
        .driver(DriverConfig::default().idle_timeout(Duration::from_millis(300)));
    let (server, mut events, url, _) = station_server(StationConfig::new("DEV9"), idle).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let ended = timeout(T, async { while let Some(Ok(_)) = raw.next().await {} }).await;
    assert!(ended.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    station_event(&mut events, |e| {
        matches!(e, StationEvent::Disconnected { .. }).then_some(())
    })
    .await;
    assert!(server.connections().is_empty());
    server.shutdown().await.unwrap();
}
