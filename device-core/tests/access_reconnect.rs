//! The access terminal under the client driver: reconnect with backoff after the server vanishes, and liveness,
//! with tokio's paused clock and an in-memory connector.
#![cfg(feature = "tokio")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use access_proto::{AccessInfo, DeviceInfo};
use device_core::access::{
    ServerConfig, ServerSession, TerminalCommand, TerminalConfig, TerminalEvent, TerminalSession,
    PEER_TIMEOUT,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::{attach, Attached, CommandError, Disconnect, DriverConfig};
use device_core::{BackoffConfig, CloseReason, RequestError, SendError, SplitMix64};
use tokio::io::DuplexStream;
use tokio::time::Instant;

fn terminal() -> TerminalSession {
    let info = DeviceInfo {
        uuid: Some("T-1".into()),
        ..DeviceInfo::default()
    };
    TerminalSession::new(TerminalConfig::new(info)).with_rng(Box::new(SplitMix64::seeded(1)))
}

fn upload() -> TerminalCommand {
    TerminalCommand::upload(AccessInfo::at("20261122080000".parse().unwrap()))
}

/// A connector whose answers the test scripts: `true` = a server session answers, `false` = refused.
#[derive(Clone, Default)]
struct Script {
    plan: Arc<Mutex<Vec<bool>>>,
    attempts: Arc<Mutex<Vec<Instant>>>,
    servers: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Script {
    fn connect(&self) -> std::io::Result<DuplexStream> {
        self.attempts.lock().unwrap().push(Instant::now());
        let up = {
            let mut plan = self.plan.lock().unwrap();
            !plan.is_empty() && plan.remove(0)
        };
        if !up {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            ));
        }
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let session =
            ServerSession::new(ServerConfig::default()).with_rng(Box::new(SplitMix64::seeded(2)));
        let Attached {
            handle,
            mut events,
            task,
        } = attach(session, server_io, DriverConfig::default());
        let drain = tokio::spawn(async move {
            // Holding the handle keeps the session open; dropping every handle closes it.
            let _handle = handle;
            while events.recv().await.is_some() {}
            let _ = task.await;
        });
        self.servers.lock().unwrap().push(drain);
        Ok(client_io)
    }

    /// Makes the current server vanish: its task is aborted and the pipe closes.
    fn kill_servers(&self) {
        for s in self.servers.lock().unwrap().drain(..) {
            s.abort();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_terminal_reconnects_with_exponential_backoff_after_the_server_vanishes() {
    let script = Script::default();
    *script.plan.lock().unwrap() = vec![true, false, false, false, true];
    let connector = script.clone();
    let (client, mut events) = Client::spawn(
        terminal(),
        move || {
            let result = connector.connect();
            async move { result }
        },
        ClientConfig::default()
            .backoff(BackoffConfig::default().jitter(0.0))
            .jitter_seed(1),
    );
    let mut connections = 0;
    let mut delays = Vec::new();
    let mut in_flight = None;
    while connections < 2 {
        match events.recv().await.unwrap() {
            ClientEvent::Session(TerminalEvent::Connected) => {
                connections += 1;
                if connections == 1 {
                    // A request is on its way when the server vanishes: it ends with ConnectionLost.
                    let handle = client.handle();
                    in_flight = Some(tokio::spawn(async move { handle.call(upload()).await }));
                    // Virtual time: long enough for it to be written, well before the server's -1 at 20 s.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    script.kill_servers();
                }
            }
            ClientEvent::Reconnecting { delay, .. } => {
                delays.push(delay);
                // While disconnected, requests end at once instead of hanging.
                assert_eq!(
                    client.handle().call(upload()).await,
                    Err(CommandError::Refused(SendError::NotReady))
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        in_flight.unwrap().await.unwrap(),
        Err(CommandError::Failed(RequestError::ConnectionLost))
    );
    // First loss, then three refusals: 1 s, 2 s, 4 s, 8 s; the fifth attempt connects.
    let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4, 8]);
    let attempts = script.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 5);
    let gaps: Vec<u64> = attempts
        .windows(2)
        .skip(1)
        .map(|w| (w[1] - w[0]).as_secs())
        .collect();
    assert_eq!(gaps, [2, 4, 8]);

    // The terminal is established on connect; a connection that stays up for `stable_after` (5 s) resets the
    // backoff, so the next loss is retried after 1 s.
    *script.plan.lock().unwrap() = vec![true];
    tokio::time::sleep(Duration::from_secs(6)).await;
    script.kill_servers();
    loop {
        if let ClientEvent::Reconnecting { delay, attempt } = events.recv().await.unwrap() {
            assert_eq!((delay, attempt), (Duration::from_secs(1), 1));
            break;
        }
    }
    // A server that accepts and drops the link at once does not reset it: the delay grows.
    loop {
        if let ClientEvent::Session(TerminalEvent::Connected) = events.recv().await.unwrap() {
            break;
        }
    }
    script.kill_servers();
    loop {
        if let ClientEvent::Reconnecting { delay, attempt } = events.recv().await.unwrap() {
            assert_eq!((delay, attempt), (Duration::from_secs(2), 2));
            break;
        }
    }
    client.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_server_that_goes_silent_is_detected_by_liveness() {
    let (client_io, server_io) = tokio::io::duplex(1024);
    // The "server" reads nothing and writes nothing after accepting: only liveness can tell.
    let _server_io = server_io;
    let Attached {
        handle: _handle,
        mut events,
        task,
    } = attach(terminal(), client_io, DriverConfig::default());
    let start = Instant::now();
    let (_session, reason) = task.await.unwrap();
    assert!(
        matches!(reason, Disconnect::Session(CloseReason::PeerSilent { after }) if after == PEER_TIMEOUT),
        "{reason:?}"
    );
    assert_eq!(Instant::now() - start, PEER_TIMEOUT);
    let mut seen = Vec::new();
    while let Some(e) = events.recv().await {
        seen.push(e);
    }
    assert_eq!(
        seen,
        [
            TerminalEvent::Connected,
            TerminalEvent::Disconnected(Some(CloseReason::PeerSilent {
                after: PEER_TIMEOUT
            }))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminal_that_goes_silent_is_dropped_by_the_server() {
    let (client_io, server_io) = tokio::io::duplex(1024);
    let _client_io = client_io;
    let Attached {
        handle: _handle,
        events: _events,
        task,
    } = attach(
        ServerSession::new(ServerConfig::default()).with_rng(Box::new(SplitMix64::seeded(3))),
        server_io,
        DriverConfig::default(),
    );
    let start = Instant::now();
    let (session, reason) = task.await.unwrap();
    // Nobody answers the get_device_info sent on connect.
    assert!(
        matches!(reason, Disconnect::Session(CloseReason::LoginTimeout)),
        "{reason:?}"
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(30));
    assert_eq!(device_core::Session::peer(&session), None);
}
