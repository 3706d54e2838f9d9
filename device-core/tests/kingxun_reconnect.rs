//! The kingxun WebSvr under the client driver, with tokio's paused clock and an in-memory connector: reconnect
//! with backoff after the instance vanishes, and the login timeout against a mute peer.
#![cfg(feature = "tokio")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use device_core::kingxun::{
    DeviceCommand, Dispatch, InstanceConfig, InstanceHandler, InstanceSession, WebSvrConfig,
    WebSvrEvent, WebSvrSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::{attach, Attached, CommandError, Disconnect, DriverConfig};
use device_core::{BackoffConfig, CloseReason, RequestError, SendError, SplitMix64};
use kingxun_proto::{LightCtrl, LightFlags, Reply, Request, RespCode, Unlock};
use tokio::io::DuplexStream;
use tokio::time::Instant;

const KEY: [u8; 16] = [7; 16];
const IV: [u8; 16] = [8; 16];

/// Answers unlocks at once and leaves lights deferred (never answered here).
struct Fleet;

impl InstanceHandler for Fleet {
    fn device_count(&self) -> u32 {
        1
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        match command.request {
            Request::LightCtrl(_) => Dispatch::Defer,
            _ => Dispatch::Answer(RespCode::Ok),
        }
    }
}

/// A connector whose answers the test scripts: `true` = an instance session answers, `false` = refused.
#[derive(Clone, Default)]
struct Script {
    plan: Arc<Mutex<Vec<bool>>>,
    attempts: Arc<Mutex<Vec<Instant>>>,
    instances: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
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
        let session = InstanceSession::new(InstanceConfig::new(KEY, IV), Fleet)
            .with_rng(Box::new(SplitMix64::seeded(3)));
        let Attached {
            handle,
            mut events,
            task,
        } = attach(session, server_io, DriverConfig::default());
        let drain = tokio::spawn(async move {
            let _handle = handle;
            while events.recv().await.is_some() {}
            let _ = task.await;
        });
        self.instances.lock().unwrap().push(drain);
        Ok(client_io)
    }

    /// Makes the current instance vanish: its task is aborted and the pipe closes.
    fn kill(&self) {
        for s in self.instances.lock().unwrap().drain(..) {
            s.abort();
        }
    }
}

fn unlock() -> Unlock {
    Unlock {
        dev_id: 1,
        dev_type: 1,
        timestamp: 0,
        usr_id: 1,
        allow_time: 1,
        lowest_soc_p: 1,
        farthest_dist: 1,
    }
}

#[tokio::test(start_paused = true)]
async fn the_websvr_reconnects_with_backoff_after_the_instance_vanishes() {
    let script = Script::default();
    *script.plan.lock().unwrap() = vec![true, false, false, true];
    let connector = script.clone();
    let (client, mut events) = Client::spawn(
        WebSvrSession::new(WebSvrConfig::new(KEY, IV)),
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
    let mut waiting = None;
    while logins < 2 {
        match events.recv().await.unwrap() {
            ClientEvent::Session(WebSvrEvent::LoggedIn { .. }) => {
                logins += 1;
                if logins == 1 {
                    assert_eq!(
                        client.handle().call(unlock().into()).await,
                        Ok(Some(Reply::Unlock(RespCode::Ok)))
                    );
                    // A deferred command is waiting when the instance vanishes.
                    let handle = client.handle();
                    let lights = LightCtrl {
                        dev_id: 1,
                        dev_type: 1,
                        timestamp: 0,
                        usr_id: 1,
                        light_flag: LightFlags::BRAKE,
                    };
                    waiting = Some(tokio::spawn(
                        async move { handle.call(lights.into()).await },
                    ));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    script.kill();
                }
            }
            ClientEvent::Reconnecting { delay, .. } => {
                delays.push(delay);
                assert_eq!(
                    client.handle().call(unlock().into()).await,
                    Err(CommandError::Refused(SendError::NotReady)),
                    "while disconnected, commands end at once"
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        waiting.unwrap().await.unwrap(),
        Err(CommandError::Failed(RequestError::ConnectionLost))
    );
    // The loss, then two refusals: 1 s, 2 s, 4 s; the fourth attempt verifies again.
    let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4]);
    let attempts = script.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 4);
    let gaps: Vec<u64> = attempts
        .windows(2)
        .skip(1)
        .map(|w| (w[1] - w[0]).as_secs())
        .collect();
    assert_eq!(gaps, [2, 4]);
    assert_eq!(
        client.handle().call(unlock().into()).await,
        Ok(Some(Reply::Unlock(RespCode::Ok)))
    );

    // After a verified link that stays up for `stable_after` (5 s), the backoff starts again from 1 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    script.kill();
    loop {
        if let ClientEvent::Reconnecting { delay, attempt } = events.recv().await.unwrap() {
            assert_eq!((delay, attempt), (Duration::from_secs(1), 1));
            break;
        }
    }
    client.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_mute_peer_fails_the_login_after_30_s() {
    let (client_io, server_io) = tokio::io::duplex(1024);
    // The "instance" accepts and then neither reads nor writes.
    let _server_io = server_io;
    let Attached {
        handle: _handle,
        mut events,
        task,
    } = attach(
        WebSvrSession::new(WebSvrConfig::new(KEY, IV)),
        client_io,
        DriverConfig::default(),
    );
    let start = Instant::now();
    let (_session, reason) = task.await.unwrap();
    assert!(
        matches!(reason, Disconnect::Session(CloseReason::LoginTimeout)),
        "{reason:?}"
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(30));
    let mut saw_disconnect = false;
    while let Some(e) = events.recv().await {
        saw_disconnect |= matches!(
            e,
            WebSvrEvent::Disconnected(Some(CloseReason::LoginTimeout))
        );
    }
    assert!(saw_disconnect);
}
