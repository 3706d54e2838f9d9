//! The client driver's reconnect policy, with tokio's paused clock and an in-memory connector.
#![cfg(feature = "tokio")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use device_core::jetinno::{
    MachineCommand, MachineConfig, MachineEvent, MachineSession, ServerConfig, ServerSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::{attach, CommandError, DriverConfig};
use device_core::{BackoffConfig, SendError};
use jetinno_proto::*;
use tokio::io::DuplexStream;
use tokio::time::Instant;

fn code() -> MachineCode {
    MachineCode::new("12345678").unwrap()
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
            if plan.is_empty() {
                false
            } else {
                plan.remove(0)
            }
        };
        if !up {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            ));
        }
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let session = ServerSession::new(ServerConfig::default(), |_: u64| Some(code()));
        let device_core::runtime::Attached {
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
async fn reconnects_with_exponential_backoff_and_resets_after_login() {
    let script = Script::default();
    *script.plan.lock().unwrap() = vec![true, false, false, false, true];
    let connector = script.clone();
    let (client, mut events) = Client::spawn(
        MachineSession::new(MachineConfig::new(1, code(), "1")),
        move || {
            let result = connector.connect();
            async move { result }
        },
        ClientConfig::default()
            .backoff(BackoffConfig::default().jitter(0.0))
            .jitter_seed(1),
    );
    let mut logins = 0;
    let mut delays = Vec::new();
    while logins < 2 {
        match events.recv().await.unwrap() {
            ClientEvent::Session(MachineEvent::LoggedIn { .. }) => {
                logins += 1;
                if logins == 1 {
                    // While logged in, requests are accepted; then the server vanishes.
                    let cmd = MachineCommand::Send(
                        MachineStatus {
                            vmc_no: 1,
                            status: MachineState::DoorClose,
                        }
                        .into(),
                    );
                    assert_eq!(client.handle().call(cmd).await, Ok(None));
                    script.kill_servers();
                }
            }
            ClientEvent::Reconnecting { delay, .. } => {
                delays.push(delay);
                // While disconnected, commands end at once instead of hanging.
                let cmd = MachineCommand::Send(
                    MachineStatus {
                        vmc_no: 1,
                        status: MachineState::DoorClose,
                    }
                    .into(),
                );
                assert_eq!(
                    client.handle().call(cmd).await,
                    Err(CommandError::Refused(SendError::NotReady))
                );
            }
            _ => {}
        }
    }
    // First loss, then three refusals: 1 s, 2 s, 4 s, 8 s; the fifth attempt logs in.
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

    // After a login that stays up for `stable_after` (5 s) the backoff starts again from 1 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    script.kill_servers();
    loop {
        if let ClientEvent::Reconnecting { delay, attempt } = events.recv().await.unwrap() {
            assert_eq!((delay, attempt), (Duration::from_secs(1), 1));
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
    let device_core::runtime::Attached {
        handle: _handle,
        mut events,
        task,
    } = attach(
        MachineSession::new(
            MachineConfig::new(1, code(), "1").login_timeout(Duration::from_secs(500)),
        ),
        client_io,
        DriverConfig::default(),
    );
    let start = Instant::now();
    let (_session, reason) = task.await.unwrap();
    assert!(
        matches!(
            reason,
            device_core::runtime::Disconnect::Session(device_core::CloseReason::PeerSilent { after })
                if after == Duration::from_secs(120)
        ),
        "{reason:?}"
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(120));
    let mut saw_disconnect = false;
    while let Some(e) = events.recv().await {
        saw_disconnect |= matches!(e, MachineEvent::Disconnected(Some(_)));
    }
    assert!(saw_disconnect);
}
