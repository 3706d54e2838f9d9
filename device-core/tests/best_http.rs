//! The BEST broker lookup over real HTTP on 127.0.0.1:0, then the device onboarding (with key exchange) over
//! WebSocket at the broker the lookup returned.
#![cfg(feature = "http")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use best_proto::broker::{BrokerInfo, BrokerType};
use best_proto::{Code, LookupConfig};
use device_core::best::{
    BrokerDirectory, BrokerLookup, DeviceConfig, DeviceEvent, DeviceRecord, DeviceSession,
    LookupHandler, MemoryRegistry, PlatformConfig, PlatformEvent, PlatformSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::http::{
    lookup, LookupError, LookupServer, LookupServerConfig, MAX_REPLY_BYTES,
};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, WsListener};
use device_core::{ManualClock, SystemClock, WallClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;

use support::best_report;

const T: Duration = Duration::from_secs(10);
const SN: &str = "HTTP0001";
const PRODUCT: &str = "5d9b11e1a3f448ae81f9f920e976d852";
const SECRET_KEY: &str = "123456";

/// Knows one device; serves best-w at whatever URL the test sets.
struct Directory {
    url: Mutex<String>,
}

impl BrokerDirectory for Directory {
    fn secret_key(&self, sn: &str) -> Option<String> {
        (sn == SN).then(|| SECRET_KEY.to_owned())
    }
    fn broker(&self, _sn: &str, broker_type: &BrokerType) -> Option<BrokerInfo> {
        (*broker_type == BrokerType::BestW).then(|| {
            serde_json::from_value(serde_json::json!({ "url": *self.url.lock().unwrap() })).unwrap()
        })
    }
}

async fn lookup_server(directory: Arc<Directory>) -> LookupServer {
    lookup_server_with(directory, LookupServerConfig::default()).await
}

async fn lookup_server_with(directory: Arc<Directory>, config: LookupServerConfig) -> LookupServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handler = LookupHandler::new(LookupConfig::default(), directory, Arc::new(SystemClock));
    LookupServer::spawn(listener, handler, config).unwrap()
}

fn device_lookup(sn: &str, secret_key: &str, clock: Arc<dyn WallClock>) -> BrokerLookup {
    BrokerLookup::new(sn, BrokerType::BestW, secret_key, clock)
}

fn refused_code(e: LookupError) -> Code {
    match e {
        LookupError::Refused(reply) => reply.code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_then_key_exchange_and_onboarding_over_websocket() {
    // The platform: the best-w session server and the lookup endpoint pointing at it.
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_addr = ws_listener.local_addr().unwrap();
    let registry = Arc::new(MemoryRegistry::new());
    registry.insert(SN, DeviceRecord::new(PRODUCT, SECRET_KEY));
    let (platform, mut platform_events) = Server::spawn(
        WsListener::new(ws_listener),
        move || PlatformSession::new(PlatformConfig::default(), registry.clone()),
        ServerConfig::default(),
    )
    .unwrap();
    let directory = Arc::new(Directory {
        url: Mutex::new(format!("ws://{ws_addr}/best")),
    });
    let endpoint = lookup_server(directory).await;

    // The device: signed lookup over HTTP, then the broker it names.
    let mut signed = device_lookup(SN, SECRET_KEY, Arc::new(SystemClock));
    let base = format!("http://{}", endpoint.local_addr());
    let broker = lookup(&base, &mut signed, T).await.unwrap();
    assert_eq!(broker.url, format!("ws://{ws_addr}/best"));
    let session = DeviceSession::new(
        DeviceConfig::new(SN, PRODUCT, SECRET_KEY, best_report(2, 8, &[])).key_exchange(true),
    );
    let (client, mut client_events) =
        Client::connect_ws(session, broker.url, ClientConfig::default());
    let on_device = timeout(T, async {
        let mut secret = None;
        loop {
            match client_events.recv().await.unwrap() {
                ClientEvent::Session(DeviceEvent::KeyExchanged(s)) => secret = Some(s),
                ClientEvent::Session(DeviceEvent::LoggedIn(_)) => return secret,
                _ => {}
            }
        }
    })
    .await
    .unwrap()
    .expect("the key exchange ran before login");
    let on_platform = timeout(T, async {
        loop {
            if let ServerEvent::Session {
                event: PlatformEvent::KeyExchanged { secret, sn },
                ..
            } = platform_events.recv().await.unwrap()
            {
                assert_eq!(sn.as_deref(), Some(SN));
                return secret;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(on_device, on_platform);

    client.shutdown().await.unwrap();
    platform.shutdown().await.unwrap();
    endpoint.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_endpoint_refuses_unknown_devices_bad_signs_stale_clocks_and_replays() {
    let endpoint = lookup_server(Arc::new(Directory {
        url: Mutex::new("ws://127.0.0.1:9/best".into()),
    }))
    .await;
    let base = format!("http://{}/", endpoint.local_addr());
    let now: Arc<dyn WallClock> = Arc::new(SystemClock);

    let e = lookup(
        &base,
        &mut device_lookup("nobody", SECRET_KEY, now.clone()),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(refused_code(e), Code::UnknownDevice);
    let e = lookup(&base, &mut device_lookup(SN, "wrong", now.clone()), T)
        .await
        .unwrap_err();
    assert_eq!(refused_code(e), Code::BadCredentials);
    let stale =
        ManualClock::new((chrono::Utc::now() - chrono::Duration::minutes(10)).fixed_offset());
    let e = lookup(
        &base,
        &mut device_lookup(SN, SECRET_KEY, Arc::new(stale)),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(refused_code(e), Code::BadCredentials);

    // The same signed query twice, as an eavesdropper would replay it: the second is refused.
    let query = device_lookup(SN, SECRET_KEY, now.clone())
        .request()
        .path_and_query();
    let first = raw_get(endpoint.local_addr(), &query).await;
    assert!(first.contains("\"00000000\""), "{first}");
    let second = raw_get(endpoint.local_addr(), &query).await;
    assert!(second.contains("\"10000001\""), "{second}");
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");

    // A query that is not a lookup at all.
    let junk = raw_get(endpoint.local_addr(), "/v3/device/getBrokerServer?sn=").await;
    assert!(junk.contains("\"20000001\""), "{junk}");
    // Any other path is not found.
    let e = lookup(
        &format!("http://{}/other", endpoint.local_addr()),
        &mut device_lookup(SN, SECRET_KEY, now),
        T,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, LookupError::Status { status: 404, .. }),
        "{e:?}"
    );
    endpoint.shutdown().await.unwrap();
}

/// One HTTP/1.1 request by hand; the whole response as text.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(T, s.read_to_end(&mut out)).await.unwrap().unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_client_bounds_time_and_reply_size() {
    let now: Arc<dyn WallClock> = Arc::new(SystemClock);
    // A server that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (_conn, _) = silent.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let e = lookup(
        &format!("http://{silent_addr}"),
        &mut device_lookup(SN, SECRET_KEY, now.clone()),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LookupError::TimedOut { .. }), "{e:?}");
    hold.abort();

    // A server that answers with a body larger than the limit.
    let big = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let big_addr = big.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = big.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).await;
        let body = vec![b' '; MAX_REPLY_BYTES + 1];
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes()).await;
        let _ = conn.write_all(&body).await;
    });
    let e = lookup(
        &format!("http://{big_addr}"),
        &mut device_lookup(SN, SECRET_KEY, now.clone()),
        T,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LookupError::ReplyTooLarge { .. }), "{e:?}");

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let e = lookup(
        &format!("http://{closed_addr}"),
        &mut device_lookup(SN, SECRET_KEY, now),
        T,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LookupError::Io { .. }), "{e:?}");
}

/// Whether the server closed `s`: reads until end of stream (or a reset), bounded by `T`.
async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match timeout(T, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn idle_connections_cannot_hold_the_lookup_endpoint() {
    let directory = Arc::new(Directory {
        url: Mutex::new("ws://127.0.0.1:1/best".to_owned()),
    });
    let mut config = LookupServerConfig::default();
    config.max_connections = 4;
    config.header_timeout = Duration::from_secs(3);
    let endpoint = lookup_server_with(directory, config).await;
    let addr = endpoint.local_addr();
    let base = format!("http://{addr}");
    let now: Arc<dyn WallClock> = Arc::new(SystemClock);

    // Four idle connections take every slot: two send nothing, two half a request head.
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET /v3/device/getBrokerServer?sn=x HTTP/1.1\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    // A fifth connection beyond the cap is closed without an answer, whole request or not (connections are
    // accepted in the order they connected, and the idle ones hold their slots for 3 s).
    let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = "GET /v3/device/getBrokerServer?sn=x HTTP/1.1\r\nHost: x\r\n\r\n";
    let _ = extra.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = timeout(T, extra.read_to_end(&mut answer)).await.unwrap();
    assert!(
        answer.is_empty(),
        "a connection over the cap was served: {answer:?}"
    );

    // The idle ones lose their slots after the head deadline...
    for s in &mut idle {
        assert!(
            closed_by_server(s).await,
            "an idle connection kept its slot"
        );
    }
    // ...and a real lookup is served again.
    let e = lookup(&base, &mut device_lookup("UNKNOWN1", SECRET_KEY, now), T)
        .await
        .unwrap_err();
    assert_eq!(refused_code(e), Code::UnknownDevice);

    // A head larger than the limit is refused, not buffered.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let huge = format!(
        "GET /v3/device/getBrokerServer?sn={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = s.write_all(huge.as_bytes()).await;
    let mut out = Vec::new();
    let _ = timeout(T, s.read_to_end(&mut out)).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(
        !text.contains("200 OK"),
        "an oversized head was answered: {text}"
    );
    endpoint.shutdown().await.unwrap();
}
