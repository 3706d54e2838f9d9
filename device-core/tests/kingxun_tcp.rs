//! kingxun over real sockets on 127.0.0.1:0: the WebSvr client and the svrInstance server driver from this crate.
#![cfg(feature = "tokio")]

mod support;

use std::time::Duration;

use device_core::kingxun::{
    DeviceCommand, Dispatch, InstanceCommand, InstanceConfig, InstanceEvent, InstanceHandler,
    InstanceSession, WebSvrConfig, WebSvrEvent, WebSvrPeer, WebSvrSession,
};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, ServerEvents};
use device_core::runtime::{CommandError, Disconnect};
use device_core::{BackoffConfig, CloseReason, RequestError, SendError};
use kingxun_proto::{LightCtrl, LightFlags, Lock, Reply, Request, RespCode, Unlock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const KEY: [u8; 16] = *b"kingxun-test-key";
const IV: [u8; 16] = *b"kingxun-test-iv!";
const T: Duration = Duration::from_secs(10);

/// Locks are refused by the "device", lights are answered later by the application, the rest is ok.
#[derive(Clone, Copy)]
struct Fleet;

impl InstanceHandler for Fleet {
    fn device_count(&self) -> u32 {
        2
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        match command.request {
            Request::Lock(_) => Dispatch::Answer(RespCode::Refused),
            Request::LightCtrl(_) => Dispatch::Defer,
            _ => Dispatch::Answer(RespCode::Ok),
        }
    }
}

type Instance = Server<InstanceSession<Fleet>>;
type InstanceEvents = ServerEvents<InstanceSession<Fleet>>;

fn start_instance(listener: TcpListener) -> (Instance, InstanceEvents) {
    let (server, events) = Server::spawn(
        listener,
        || InstanceSession::new(InstanceConfig::new(KEY, IV), Fleet),
        ServerConfig::default(),
    )
    .unwrap();
    (server.clone(), answer_deferred(server, events))
}

/// Answers every deferred command through the server's routing, as an application that asked the vehicle
/// would; passes every event on.
fn answer_deferred(server: Instance, mut events: InstanceEvents) -> InstanceEvents {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let ServerEvent::Session {
                peer: Some(device),
                event:
                    InstanceEvent::Command {
                        command,
                        answer: None,
                    },
                ..
            } = &event
            {
                let server = server.clone();
                let device = device.clone();
                let seq = command.seq;
                tokio::spawn(async move {
                    let answer = InstanceCommand::Answer {
                        seq,
                        code: RespCode::Ok,
                    };
                    let _ = server.call(&device, answer).await;
                });
            }
            let _ = tx.send(event).await;
        }
    });
    rx
}

fn websvr(
    addr: std::net::SocketAddr,
) -> (
    Client<WebSvrSession>,
    mpsc::Receiver<ClientEvent<WebSvrEvent>>,
) {
    let backoff = BackoffConfig::default()
        .initial(Duration::from_millis(20))
        .max(Duration::from_millis(200));
    Client::spawn(
        WebSvrSession::new(WebSvrConfig::new(KEY, IV)),
        move || TcpStream::connect(addr),
        ClientConfig::default().backoff(backoff).jitter_seed(5),
    )
}

/// Waits for the 9001 to pass; returns the `sessionId`.
async fn until_logged_in(events: &mut mpsc::Receiver<ClientEvent<WebSvrEvent>>) -> u32 {
    timeout(T, async {
        while let Some(e) = events.recv().await {
            if let ClientEvent::Session(WebSvrEvent::LoggedIn { session_id, .. }) = e {
                return session_id;
            }
        }
        panic!("events ended before login");
    })
    .await
    .expect("login in time")
}

fn unlock(usr_id: u32) -> Unlock {
    Unlock {
        dev_id: 1001,
        dev_type: 1,
        timestamp: 0,
        usr_id,
        allow_time: 30,
        lowest_soc_p: 20,
        farthest_dist: 5000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websvr_verifies_and_its_commands_are_answered_over_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, _events) = start_instance(listener);
    let (client, mut events) = websvr(addr);
    let session_id = until_logged_in(&mut events).await;

    let handle = client.handle();
    assert_eq!(
        timeout(T, handle.call(unlock(42).into())).await.unwrap(),
        Ok(Some(Reply::Unlock(RespCode::Ok)))
    );
    let lock = Lock {
        dev_id: 1002,
        dev_type: 1,
        timestamp: 0,
        usr_id: 42,
        voice: 1,
    };
    assert_eq!(
        timeout(T, handle.call(lock.into())).await.unwrap(),
        Ok(Some(Reply::Lock(RespCode::Refused))),
        "a device's refusal is data"
    );
    // Deferred by the handler, answered by the application through the server's routing.
    let lights = LightCtrl {
        dev_id: 1003,
        dev_type: 1,
        timestamp: 0,
        usr_id: 42,
        light_flag: LightFlags::HAZARD,
    };
    assert_eq!(
        timeout(T, handle.call(lights.into())).await.unwrap(),
        Ok(Some(Reply::LightCtrl(RespCode::Ok)))
    );
    let peer = WebSvrPeer {
        svr_host: "kingxun.site".into(),
        session_id,
    };
    assert_eq!(peer.to_string(), format!("kingxun.site#{session_id}"));
    assert_eq!(server.peers(), [peer]);

    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_link() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, mut server_events) = start_instance(listener);
    let (good, mut good_events) = websvr(addr);
    until_logged_in(&mut good_events).await;

    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
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
        matches!(&reason, Disconnect::Session(CloseReason::Protocol(device_core::ProtocolError::Kingxun(
            device_core::kingxun::SessionError::Connect(e)
        ))) if matches!(e.get(), kingxun_proto::DecodeError::BadMagic { found } if found == b"GE")),
        "{reason:?}"
    );
    // The bad connection got nothing back and was closed.
    let mut buf = [0u8; 16];
    assert_eq!(timeout(T, bad.read(&mut buf)).await.unwrap().unwrap(), 0);

    // The verified link is untouched.
    let reply = timeout(T, good.handle().call(unlock(7).into()))
        .await
        .unwrap();
    assert_eq!(reply, Ok(Some(Reply::Unlock(RespCode::Ok))));
    good.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_during_traffic_ends_every_request_once_and_the_websvr_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, _events) = start_instance(listener);
    let (client, mut client_events) = websvr(addr);
    let first_session = until_logged_in(&mut client_events).await;

    // Traffic while the instance goes away: every call ends, with a reply or an error, never a hang.
    let handle = client.handle();
    let (progress, traffic) = support::traffic(
        move |i| {
            let handle = handle.clone();
            async move { handle.call(unlock(i).into()).await }
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
    let (server, _events) = start_instance(listener);

    progress.stop();

    let outcomes = traffic.await.unwrap();
    let ok = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Some(Reply::Unlock(RespCode::Ok)))))
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

    // After the restart the WebSvr has verified again, with a new session, and commands succeed.
    let second_session = until_logged_in(&mut client_events).await;
    assert_ne!(first_session, second_session);
    let reply = timeout(T, async {
        loop {
            match client.handle().call(unlock(999).into()).await {
                Ok(Some(r)) => return r,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reply, Reply::Unlock(RespCode::Ok));
    client.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
}
