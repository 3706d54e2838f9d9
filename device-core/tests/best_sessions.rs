//! BEST device and platform sessions against each other in memory, with virtual time.

mod support;

use std::sync::Arc;
use std::time::Duration;

use best_proto::broker::{BrokerInfo, BrokerType, LookupQuery};
use best_proto::upload::UploadError;
use best_proto::{
    CmdResponse, Code, Command, DeviceMessage, Envelope, FileId, PlatformMessage, Report, Response,
};
use bytes::Bytes;
use device_core::best::{
    BrokerDirectory, BrokerLookup, DeviceCommand, DeviceConfig, DeviceEvent, DeviceRecord,
    DeviceRegistry, DeviceSession, HandshakeStep, LookupHandler, MemoryRegistry, PlatformCommand,
    PlatformConfig, PlatformEvent, PlatformSession,
};
use device_core::{CloseReason, RequestError, SendError, Session, SplitMix64};
use support::{best_report, clock, shared, Pair};

const SN: &str = "BEST0001";
const PRODUCT: &str = "5d9b11e1a3f448ae81f9f920e976d852";
const SECRET_KEY: &str = "123456";
const S: fn(u64) -> Duration = Duration::from_secs;

type Platform = PlatformSession<Arc<MemoryRegistry>>;
type BestPair = Pair<DeviceSession, Platform>;

fn report(max_pending: u32, max_package_kb: u32) -> Report {
    best_report(max_pending, max_package_kb, &["dev.data.upload.user"])
}

fn registry() -> Arc<MemoryRegistry> {
    let r = Arc::new(MemoryRegistry::new());
    r.insert(SN, DeviceRecord::new(PRODUCT, SECRET_KEY));
    r
}

fn device(config: DeviceConfig) -> DeviceSession {
    DeviceSession::new(config).with_rng(Box::new(SplitMix64::seeded(7)))
}

fn platform(registry: &Arc<MemoryRegistry>, config: PlatformConfig) -> Platform {
    PlatformSession::new(config, registry.clone()).with_rng(Box::new(SplitMix64::seeded(9)))
}

/// A device with the given report, onboarded against a fresh registry.
fn onboarded(report: Report, platform_config: PlatformConfig) -> (BestPair, Arc<MemoryRegistry>) {
    let reg = registry();
    let c = clock();
    let platform = platform(&reg, platform_config.clock(shared(&c)));
    let mut pair = Pair::new(
        device(DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report)),
        platform,
        c,
    );
    pair.connect();
    assert!(pair.a.is_established(), "{:?}", pair.a_events);
    assert!(pair.b.is_established());
    (pair, reg)
}

fn command(cmd_id: &str) -> PlatformMessage {
    PlatformMessage::ClearUsers(Command {
        cmd_id: cmd_id.into(),
    })
}

fn device_commands(pair: &BestPair) -> Vec<String> {
    pair.a_events
        .iter()
        .filter_map(|e| match e {
            DeviceEvent::Command { command, .. } => command.cmd_id().map(str::to_owned),
            _ => None,
        })
        .collect()
}

fn platform_replies(pair: &mut BestPair) -> Vec<(u64, Result<CmdResponse, RequestError>)> {
    std::iter::from_fn(|| pair.b.poll_reply())
        .map(|(id, r)| (id.get(), r))
        .collect()
}

#[test]
fn onboarding_runs_register_accredit_login_report() {
    let (pair, reg) = onboarded(
        report(20, 64),
        PlatformConfig::default().heartbeat_interval(S(30)),
    );
    let record = reg.device(SN).unwrap();
    let (auth_code, secret) = pair.a.credentials();
    assert_eq!(auth_code, record.auth_code.as_deref());
    assert_eq!(secret, record.secret.as_deref());
    assert_eq!(auth_code.unwrap().len(), 32);
    assert!(
        matches!(&pair.a_events[0], DeviceEvent::Registered { auth_code } if Some(auth_code.as_str()) == record.auth_code.as_deref())
    );
    assert!(
        matches!(&pair.a_events[1], DeviceEvent::Accredited(r) if Some(r.secret.as_str()) == record.secret.as_deref())
    );
    let DeviceEvent::LoggedIn(results) = &pair.a_events[2] else {
        panic!("{:?}", pair.a_events)
    };
    assert_eq!(results.heartbeat_interval, Some(30));
    assert_eq!(results.support_heartbeat, Some(true));
    // The timezone comes from the platform's injected wall clock (+08:00 in the harness).
    assert_eq!(results.timezone.unwrap().local_minus_utc(), 8 * 3600);
    assert_eq!(
        pair.b_events[..3],
        [
            PlatformEvent::Registered { sn: SN.into() },
            PlatformEvent::Accredited { sn: SN.into() },
            PlatformEvent::LoggedIn { sn: SN.into() },
        ]
    );
    assert!(
        matches!(&pair.b_events[3], PlatformEvent::Reported(r) if r.max_pending_cmd_count == Some(20))
    );
    assert_eq!(pair.b.peer().map(String::as_str), Some(SN));
    assert_eq!(pair.b.max_commands_in_flight(), Some(20));
    assert_eq!(
        pair.a.peer(),
        Some(&()),
        "a client is established with its server"
    );
}

#[test]
fn reconnect_runs_login_only_and_a_stale_secret_registers_again() {
    let (mut pair, reg) = onboarded(report(20, 64), PlatformConfig::default());
    pair.disconnect();
    assert!(matches!(
        pair.a_events.last(),
        Some(DeviceEvent::Disconnected(None))
    ));
    assert!(!pair.a.is_established());
    // A new connection gets a new platform session (as the server driver does).
    pair.b = platform(&reg, PlatformConfig::default());
    pair.a_events.clear();
    pair.b_events.clear();
    pair.connect();
    assert!(pair.a.is_established());
    assert_eq!(
        pair.b_events[0],
        PlatformEvent::LoggedIn { sn: SN.into() },
        "{:?}",
        pair.b_events
    );
    assert!(matches!(pair.a_events[0], DeviceEvent::LoggedIn(_)));

    // The platform forgot the device's secret (re-provisioned): login is refused, the device forgets its
    // credentials and the next connection registers from scratch.
    reg.insert(SN, DeviceRecord::new(PRODUCT, SECRET_KEY));
    pair.disconnect();
    pair.b = platform(&reg, PlatformConfig::default());
    pair.a_events.clear();
    pair.connect();
    assert!(matches!(
        &pair.a_events[0],
        DeviceEvent::HandshakeRejected { step: HandshakeStep::Login, response } if response.code == Code::BadCredentials
    ));
    assert!(matches!(
        pair.a.close_reason(),
        Some(CloseReason::LoginRejected(_))
    ));
    assert_eq!(pair.a.credentials(), (None, None));
    pair.disconnect();
    pair.b = platform(&reg, PlatformConfig::default());
    pair.a_events.clear();
    pair.connect();
    assert!(pair.a.is_established());
    assert!(matches!(pair.a_events[0], DeviceEvent::Registered { .. }));
}

#[test]
fn wrong_keys_and_unknown_devices_are_refused_with_their_codes() {
    let reg = registry();
    let c = clock();
    let mut pair = Pair::new(
        device(DeviceConfig::new(SN, PRODUCT, "wrong", report(1, 64))),
        platform(&reg, PlatformConfig::default()),
        c.clone(),
    );
    pair.connect();
    assert!(matches!(
        &pair.a_events[0],
        DeviceEvent::HandshakeRejected { step: HandshakeStep::Register, response } if response.code == Code::BadCredentials
    ));
    assert_eq!(
        pair.b_events[0],
        PlatformEvent::LoginFailed {
            sn: Some(SN.into()),
            step: HandshakeStep::Register,
            code: Code::BadCredentials
        }
    );
    assert!(matches!(
        pair.b.close_reason(),
        Some(CloseReason::LoginRejected(_))
    ));
    assert_eq!(reg.device(SN).unwrap().auth_code, None);

    let mut pair = Pair::new(
        device(DeviceConfig::new(
            "OTHER",
            PRODUCT,
            SECRET_KEY,
            report(1, 64),
        )),
        platform(&reg, PlatformConfig::default()),
        c,
    );
    pair.connect();
    assert!(matches!(
        &pair.a_events[0],
        DeviceEvent::HandshakeRejected { response, .. } if response.code == Code::UnknownDevice
    ));
    assert!(pair.b.peer().is_none());
}

#[test]
fn a_wrong_auth_code_is_refused_at_accredit() {
    let reg = registry();
    let config =
        DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report(1, 64)).credentials("forged", None);
    let mut pair = Pair::new(
        device(config),
        platform(&reg, PlatformConfig::default()),
        clock(),
    );
    pair.connect();
    assert!(matches!(
        &pair.a_events[0],
        DeviceEvent::HandshakeRejected { step: HandshakeStep::Accredit, response } if response.code == Code::BadCredentials
    ));
    assert!(!pair.b.is_established());
}

#[test]
fn messages_before_login_are_refused_and_close_the_connection() {
    let reg = registry();
    let mut p = platform(&reg, PlatformConfig::default());
    let now = std::time::Instant::now();
    p.connection_opened(now);
    p.handle_input(
        now,
        br#"{"funcId":"dev.heartbeat","mid":"1","payload":{"params":{"isFree":"1"}}}"#,
    );
    let reply = p.poll_transmit().unwrap();
    let reply: Envelope<PlatformMessage> = best_proto::DeviceCodec::default()
        .decode_text(&reply)
        .unwrap();
    assert!(matches!(reply.message, PlatformMessage::Response(r) if r.code == Code::NotLoggedIn));
    assert!(matches!(p.close_reason(), Some(CloseReason::Protocol(_))));
}

#[test]
fn the_platform_closes_a_connection_that_never_logs_in() {
    let reg = registry();
    let mut p = platform(&reg, PlatformConfig::default().login_timeout(S(10)));
    let t0 = std::time::Instant::now();
    p.connection_opened(t0);
    assert_eq!(p.poll_timeout(), Some(t0 + S(10)));
    p.handle_timeout(t0 + S(10));
    assert_eq!(p.close_reason(), Some(&CloseReason::LoginTimeout));
}

#[test]
fn a_step_without_answer_times_out() {
    let reg = registry();
    let mut pair = Pair::new(
        device(DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report(1, 64)).handshake_timeout(S(5))),
        platform(&reg, PlatformConfig::default()),
        clock(),
    );
    pair.drop_a_to_b = true;
    pair.connect();
    pair.advance(S(4));
    assert!(pair.a.close_reason().is_none());
    pair.advance(S(1));
    assert_eq!(pair.a.close_reason(), Some(&CloseReason::LoginTimeout));
}

#[test]
fn heartbeats_flow_at_the_returned_interval() {
    let (mut pair, _) = onboarded(
        report(1, 64),
        PlatformConfig::default().heartbeat_interval(S(20)),
    );
    let beats = |p: &BestPair| {
        p.b_events
            .iter()
            .filter(|e| matches!(e, PlatformEvent::Heartbeat(_)))
            .count()
    };
    pair.advance(S(19));
    assert_eq!(beats(&pair), 0);
    pair.advance(S(1));
    assert_eq!(beats(&pair), 1);
    // Idle device (no command waiting) says so.
    assert!(matches!(
        pair.b_events.last(),
        Some(PlatformEvent::Heartbeat(h)) if h.is_free == Some(true)
    ));
    pair.advance(S(20 * 30));
    assert_eq!(beats(&pair), 31);
    assert!(pair.a.is_established() && pair.b.is_established());
    assert!(pair.a.close_reason().is_none() && pair.b.close_reason().is_none());
    // Heartbeat answers are the session's own: nothing unmatched.
    assert_eq!(pair.a.unmatched_responses(), 0);
}

#[test]
fn a_heartbeat_answered_not_logged_in_closes_the_device_to_log_in_again() {
    // Over MQTT the platform can lose a device's login while the device's transport stays up (its virtual
    // connection ended): a fresh platform session answers the next heartbeat `10000003`.
    let config = PlatformConfig::default().heartbeat_interval(S(20));
    let (mut pair, registry) = onboarded(report(1, 64), config.clone());
    pair.b = platform(&registry, config);
    pair.b.connection_opened(pair.now);
    pair.advance(S(20));
    let reason = pair
        .a
        .close_reason()
        .expect("the device closes")
        .to_string();
    assert!(reason.contains("10000003"), "{reason}");
}

#[test]
fn the_platform_marks_a_device_offline_after_three_missed_heartbeats() {
    let (mut pair, _) = onboarded(
        report(1, 64),
        PlatformConfig::default().heartbeat_interval(S(60)),
    );
    pair.advance(S(60));
    pair.drop_a_to_b = true;
    // The last message arrived at t=60 s: offline at t=60+180 s, not before.
    pair.advance(S(179));
    assert!(pair.b.close_reason().is_none());
    pair.advance(S(1));
    assert!(pair
        .b_events
        .contains(&PlatformEvent::Offline { missed: 3 }));
    assert_eq!(
        pair.b.close_reason(),
        Some(&CloseReason::PeerSilent { after: S(180) })
    );
    // The device saw no answer either and gives up on the platform at the same rule.
    assert_eq!(
        pair.a.close_reason(),
        Some(&CloseReason::PeerSilent { after: S(180) })
    );
}

#[test]
fn the_command_queue_never_exceeds_max_pending_cmd_count() {
    let (mut pair, _) = onboarded(
        report(2, 64),
        PlatformConfig::default().command_queue_capacity(4),
    );
    let now = pair.now;
    let ids: Vec<_> = (0..5)
        .map(|i| {
            pair.b
                .handle_command(now, PlatformCommand::Send(command(&format!("c{i}"))))
                .unwrap()
                .unwrap()
        })
        .collect();
    // Two in flight, three queued; the queue holds four, so one more fits and the next is refused.
    assert_eq!(pair.b.commands_in_flight(), 2);
    assert_eq!(pair.b.commands_queued(), 3);
    pair.b
        .handle_command(now, PlatformCommand::Send(command("c5")))
        .unwrap();
    assert_eq!(
        pair.b
            .handle_command(now, PlatformCommand::Send(command("c6"))),
        Err(SendError::Full { capacity: 4 })
    );
    assert!(matches!(
        pair.b
            .handle_command(now, PlatformCommand::Send(command("c0"))),
        Err(SendError::DuplicateKey { .. })
    ));
    assert!(matches!(
        pair.b.handle_command(
            now,
            PlatformCommand::Send(PlatformMessage::Response(Response::ok(None)))
        ),
        Err(SendError::Refused(_))
    ));
    pair.pump();
    assert_eq!(device_commands(&pair), ["c0", "c1"]);
    assert_eq!(pair.a.pending_commands(), 2);
    // Answering one lets exactly one more out; the answer echoes cmdId under the command's mid.
    pair.a
        .handle_command(now, DeviceCommand::Respond(CmdResponse::ok("c1")))
        .unwrap();
    pair.pump();
    assert_eq!(device_commands(&pair), ["c0", "c1", "c2"]);
    assert_eq!(pair.b.commands_in_flight(), 2);
    let replies = platform_replies(&mut pair);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, ids[1].get());
    assert_eq!(replies[0].1.as_ref().unwrap().cmd_id, "c1");
    // A second answer to the same command is refused by the device.
    assert!(matches!(
        pair.a
            .handle_command(now, DeviceCommand::Respond(CmdResponse::ok("c1"))),
        Err(SendError::Refused(_))
    ));
    // Unanswered commands time out 30 s after they were sent and free their slots for the next ones.
    pair.advance(S(29));
    assert!(platform_replies(&mut pair).is_empty());
    pair.advance(S(1));
    assert_eq!(
        platform_replies(&mut pair),
        [
            (ids[0].get(), Err(RequestError::TimedOut(S(30)))),
            (ids[2].get(), Err(RequestError::TimedOut(S(30))))
        ]
    );
    assert_eq!(pair.b.commands_in_flight(), 2);
    assert_eq!(pair.b.commands_queued(), 1);
    assert_eq!(device_commands(&pair), ["c0", "c1", "c2", "c3", "c4"]);
    // A busy device says so in its heartbeat.
    pair.advance(S(30));
    assert!(matches!(
        pair.b_events.last(),
        Some(PlatformEvent::Heartbeat(h)) if h.is_free == Some(false)
    ));
    // A late answer is dropped and counted.
    let now = pair.now;
    pair.a
        .handle_command(now, DeviceCommand::Respond(CmdResponse::ok("c0")))
        .unwrap();
    pair.pump();
    assert_eq!(pair.b.late_responses(), 1);
    // c3 and c4 (sent at 30 s) expired at 60 s too: only c5 is left in flight.
    assert_eq!(pair.b.commands_in_flight(), 1);
    assert_eq!(pair.b.commands_queued(), 0);
}

#[test]
fn a_device_failure_code_is_data_in_the_reply() {
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    let id = pair
        .b
        .handle_command(now, PlatformCommand::Send(command("x1")))
        .unwrap()
        .unwrap();
    pair.pump();
    let refusal = CmdResponse {
        code: Code::Other("40000001".into()),
        message: Some("busy".into()),
        cmd_id: "x1".into(),
    };
    pair.a
        .handle_command(now, DeviceCommand::Respond(refusal.clone()))
        .unwrap();
    pair.pump();
    assert_eq!(platform_replies(&mut pair), [(id.get(), Ok(refusal))]);
}

#[test]
fn device_requests_are_answered_by_the_platform_application() {
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    let id = pair
        .a
        .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime))
        .unwrap()
        .unwrap();
    pair.pump();
    let Some(PlatformEvent::Request { mid, message }) = pair.b_events.last().cloned() else {
        panic!("{:?}", pair.b_events)
    };
    assert_eq!(message, DeviceMessage::SyncTime);
    assert!(mid.len() <= 32);
    pair.b
        .handle_command(
            now,
            PlatformCommand::Respond {
                mid: mid.clone(),
                response: Response::ok(None),
            },
        )
        .unwrap();
    pair.pump();
    assert_eq!(pair.a_replies, [(id, Ok(Response::ok(None)))]);
    // Answering twice is refused.
    assert!(matches!(
        pair.b.handle_command(
            now,
            PlatformCommand::Respond {
                mid,
                response: Response::ok(None)
            }
        ),
        Err(SendError::Refused(_))
    ));
    // Unanswered: the device times out, the platform reports the expiry.
    let id = pair
        .a
        .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime))
        .unwrap()
        .unwrap();
    pair.pump();
    pair.advance(S(30));
    assert!(pair
        .a_replies
        .contains(&(id, Err(RequestError::TimedOut(S(30))))));
    assert!(pair
        .b_events
        .iter()
        .any(|e| matches!(e, PlatformEvent::RequestExpired { .. })));
}

#[test]
fn the_device_refuses_what_it_cannot_send() {
    let reg = registry();
    let mut d =
        device(DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report(1, 64)).outbox_capacity(1));
    let now = std::time::Instant::now();
    assert_eq!(
        d.handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime)),
        Err(SendError::NotReady)
    );
    let mut pair = Pair::new(d, platform(&reg, PlatformConfig::default()), clock());
    pair.connect();
    let now = pair.now;
    assert!(matches!(
        pair.a.handle_command(
            now,
            DeviceCommand::Request(DeviceMessage::Heartbeat(Default::default()))
        ),
        Err(SendError::Refused(_))
    ));
    assert!(matches!(
        pair.a
            .handle_command(now, DeviceCommand::Respond(CmdResponse::ok("nope"))),
        Err(SendError::Refused(_))
    ));
    pair.a
        .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime))
        .unwrap();
    assert_eq!(
        pair.a
            .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime)),
        Err(SendError::Full { capacity: 1 })
    );
}

#[test]
fn connection_loss_ends_every_waiting_request_once() {
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    let device_id = pair
        .a
        .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime))
        .unwrap()
        .unwrap();
    let upload_id = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: FileId::new("f9").unwrap(),
                data: Bytes::from_static(b"abc"),
            },
        )
        .unwrap()
        .unwrap();
    let c1 = pair
        .b
        .handle_command(now, PlatformCommand::Send(command("k1")))
        .unwrap()
        .unwrap();
    let c2 = pair
        .b
        .handle_command(now, PlatformCommand::Send(command("k2")))
        .unwrap()
        .unwrap();
    pair.disconnect();
    let mut replies = pair.a_replies.clone();
    replies.sort_by_key(|(id, _)| *id);
    assert_eq!(
        replies,
        [
            (device_id, Err(RequestError::ConnectionLost)),
            (upload_id, Err(RequestError::ConnectionLost))
        ]
    );
    let mut replies = platform_replies(&mut pair);
    replies.sort_by_key(|(id, _)| *id);
    assert_eq!(
        replies,
        [
            (c1.get(), Err(RequestError::ConnectionLost)),
            (c2.get(), Err(RequestError::ConnectionLost))
        ]
    );
    assert!(matches!(
        pair.b_events.last(),
        Some(PlatformEvent::Disconnected(_))
    ));
    assert!(pair.a.poll_reply().is_none() && pair.b.poll_reply().is_none());
}

#[test]
fn after_close_the_device_never_logs_in_again() {
    let (mut pair, reg) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    pair.a.close(now);
    assert_eq!(pair.a.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        pair.a
            .handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime)),
        Err(SendError::Closed)
    );
    pair.disconnect();
    pair.b = platform(&reg, PlatformConfig::default());
    pair.connect();
    assert!(!pair.a.is_established());
    assert!(pair.a.poll_transmit().is_none());
    assert!(!pair.b.is_established());
}

#[test]
fn unknown_and_malformed_platform_messages_are_events_and_the_link_goes_on() {
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    pair.a.handle_input(
        now,
        br#"{"funcId":"cmd.future.thing","mid":"p1","payload":{"params":{"x":"1"}}}"#,
    );
    pair.a.handle_input(now, b"{not json");
    pair.a.handle_input(
        now,
        br#"{"funcId":"cmd.future.job","mid":"p2","payload":{"params":{"cmdId":"j1"}}}"#,
    );
    pair.pump();
    assert!(pair.a_events.iter().any(
        |e| matches!(e, DeviceEvent::Other(env) if env.mid == "p1" && env.message.name() == "cmd.future.thing")
    ));
    assert!(pair
        .a_events
        .iter()
        .any(|e| matches!(e, DeviceEvent::Malformed(_))));
    // An unknown command with a cmdId is still a command the application answers.
    assert!(pair.a_events.iter().any(
        |e| matches!(e, DeviceEvent::Command { mid, command } if mid == "p2" && command.cmd_id() == Some("j1"))
    ));
    assert!(pair.a.close_reason().is_none() && pair.a.is_established());
    // The platform passes an unknown device message on as a request; a malformed one is an event.
    pair.b.handle_input(
        now,
        br#"{"funcId":"dev.future.thing","mid":"d1","payload":{"params":{}}}"#,
    );
    pair.b.handle_input(now, b"[]");
    pair.pump();
    assert!(pair.b_events.iter().any(
        |e| matches!(e, PlatformEvent::Request { mid, message } if mid == "d1" && message.name() == "dev.future.thing")
    ));
    assert!(pair
        .b_events
        .iter()
        .any(|e| matches!(e, PlatformEvent::Malformed(_))));
    assert!(pair.b.close_reason().is_none());
}

fn exchange_pair(platform_config: PlatformConfig) -> (BestPair, Arc<MemoryRegistry>) {
    let reg = registry();
    let c = clock();
    let platform = platform(&reg, platform_config.clock(shared(&c)));
    let device =
        device(DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report(1, 64)).key_exchange(true));
    let mut pair = Pair::new(device, platform, c);
    pair.connect();
    (pair, reg)
}

#[test]
fn the_key_exchange_runs_before_onboarding_and_both_sides_hold_one_secret() {
    let (mut pair, reg) = exchange_pair(PlatformConfig::default());
    assert!(pair.a.is_established(), "{:?}", pair.a_events);
    let DeviceEvent::KeyExchanged(on_device) = &pair.a_events[0] else {
        panic!("{:?}", pair.a_events)
    };
    let PlatformEvent::KeyExchanged {
        sn,
        secret: on_platform,
    } = &pair.b_events[0]
    else {
        panic!("{:?}", pair.b_events)
    };
    assert_eq!(sn.as_deref(), Some(SN));
    assert_eq!(on_device, on_platform);
    assert_ne!(on_device.shared(), &[0u8; 32]);
    assert_ne!(on_device.device_factor(), on_device.platform_factor());
    assert_eq!(pair.a.shared_secret(), Some(on_device));
    assert_eq!(pair.b.shared_secret(), Some(on_platform));
    // Onboarding follows the exchange as usual.
    assert!(matches!(pair.a_events[1], DeviceEvent::Registered { .. }));
    assert!(matches!(pair.b_events[1], PlatformEvent::Registered { .. }));
    let first = on_device.clone();

    // A new connection agrees on a new secret, and logs in directly.
    pair.disconnect();
    assert_eq!(pair.a.shared_secret(), None);
    pair.b = PlatformSession::new(PlatformConfig::default(), reg.clone())
        .with_rng(Box::new(SplitMix64::seeded(10)));
    pair.a_events.clear();
    pair.b_events.clear();
    pair.connect();
    assert!(pair.a.is_established());
    let DeviceEvent::KeyExchanged(second) = &pair.a_events[0] else {
        panic!("{:?}", pair.a_events)
    };
    assert_ne!(second, &first);
    assert!(matches!(pair.a_events[1], DeviceEvent::LoggedIn(_)));
    assert!(matches!(
        &pair.b_events[0],
        PlatformEvent::KeyExchanged { secret, .. } if secret == second
    ));
}

#[test]
fn a_platform_without_key_exchange_refuses_it_and_the_device_stops() {
    let (pair, _) = exchange_pair(PlatformConfig::default().key_exchange(false));
    assert!(matches!(
        &pair.a_events[0],
        DeviceEvent::HandshakeRejected { step: HandshakeStep::ExchangePublicKey, response }
            if response.code == Code::UnsupportedFuncId
    ));
    assert!(matches!(
        pair.a.close_reason(),
        Some(CloseReason::LoginRejected(_))
    ));
    assert!(!pair.a.is_established());
}

fn platform_answer(pair: &mut BestPair, input: &[u8]) -> Response {
    let now = pair.now;
    pair.b.handle_input(now, input);
    let reply = pair.b.poll_transmit().unwrap();
    let reply: Envelope<PlatformMessage> = best_proto::DeviceCodec::default()
        .decode_text(&reply)
        .unwrap();
    assert_eq!(reply.mid, "k1");
    match reply.message {
        PlatformMessage::Response(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_platform_refuses_bad_exchange_values_and_exchanges_after_login() {
    let reg = registry();
    let c = clock();
    let mut pair = Pair::new(
        device(DeviceConfig::new(SN, PRODUCT, SECRET_KEY, report(1, 64))),
        platform(&reg, PlatformConfig::default()),
        c,
    );
    pair.b.connection_opened(pair.now);
    // A factor before any public key.
    let r = platform_answer(
        &mut pair,
        br#"{"funcId":"device.exchange.factor","mid":"k1","payload":{"params":{"factor":"00112233445566778899aabbccddeeff"}}}"#,
    );
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("before"));
    // A key that is not 32 bytes of base64, and the all-zero (low-order) point.
    let r = platform_answer(
        &mut pair,
        br#"{"funcId":"device.exchange.publicKey","mid":"k1","payload":{"params":{"publicKey":"AAAA"}}}"#,
    );
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("32"));
    let r = platform_answer(
        &mut pair,
        br#"{"funcId":"device.exchange.publicKey","mid":"k1","payload":{"params":{"publicKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}"#,
    );
    assert_eq!(r.code, Code::MalformedParams);
    assert!(r.message.unwrap().contains("low-order"));
    // A good key, then a factor that is not 16 bytes: refused, the exchange must start over.
    let good = best_proto::exchange::KeyPair::from_secret_bytes([5; 32]).public_key_message();
    let msg = format!(
        r#"{{"funcId":"device.exchange.publicKey","mid":"k1","payload":{{"params":{{"publicKey":"{}"}}}}}}"#,
        good.public_key
    );
    let r = platform_answer(&mut pair, msg.as_bytes());
    assert!(r.code.is_success(), "{r:?}");
    let r = platform_answer(
        &mut pair,
        br#"{"funcId":"device.exchange.factor","mid":"k1","payload":{"params":{"factor":"0011"}}}"#,
    );
    assert_eq!(r.code, Code::MalformedParams);
    assert!(pair.b.shared_secret().is_none());
    assert!(pair.b.close_reason().is_none());

    // After login an exchange is a protocol error.
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    pair.b.handle_input(now, msg.as_bytes());
    assert!(matches!(
        pair.b.close_reason(),
        Some(CloseReason::Protocol(device_core::ProtocolError::Best(
            device_core::best::SessionError::AfterLogin { func_id }
        ))) if func_id == "device.exchange.publicKey"
    ));
}

fn file(len: usize) -> Bytes {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect::<Vec<_>>()
        .into()
}

fn received(pair: &BestPair) -> Option<Bytes> {
    pair.b_events.iter().find_map(|e| match e {
        PlatformEvent::FileReceived(f) => Some(f.data.clone()),
        _ => None,
    })
}

#[test]
fn a_large_file_is_uploaded_in_chunks_and_reassembled() {
    let (mut pair, _) = onboarded(report(1, 16), PlatformConfig::default());
    let data = file(50 * 1024 + 7);
    let now = pair.now;
    let id = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: FileId::new("photo1").unwrap(),
                data: data.clone(),
            },
        )
        .unwrap()
        .unwrap();
    pair.pump();
    assert_eq!(pair.a_replies, [(id, Ok(Response::ok(None)))]);
    assert_eq!(received(&pair), Some(data));
    // An empty file is only start and end.
    let id = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: FileId::new("empty").unwrap(),
                data: Bytes::new(),
            },
        )
        .unwrap()
        .unwrap();
    pair.pump();
    assert_eq!(pair.a_replies.last(), Some(&(id, Ok(Response::ok(None)))));
}

#[test]
fn an_upload_resumes_from_the_offset_the_platform_expects() {
    let (mut pair, _) = onboarded(report(1, 4), PlatformConfig::default());
    let data = file(10 * 1024);
    let file_id = FileId::new("log7").unwrap();
    let now = pair.now;
    let first = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: file_id.clone(),
                data: data.clone(),
            },
        )
        .unwrap()
        .unwrap();
    // Deliver by hand: start, its answer, the first 4 KB chunk; the chunk's answer is lost.
    let start = pair.a.poll_transmit().unwrap();
    pair.b.handle_input(now, &start);
    let answer = pair.b.poll_transmit().unwrap();
    pair.a.handle_input(now, &answer);
    let chunk = pair.a.poll_transmit().unwrap();
    pair.b.handle_input(now, &chunk);
    assert!(pair.b.poll_transmit().is_some());
    pair.pump();
    pair.advance(S(30));
    assert!(pair
        .a_replies
        .contains(&(first, Err(RequestError::TimedOut(S(30))))));
    // The application tries again: the platform kept 4 KB and says so; the device resumes there.
    let now = pair.now;
    let second = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id,
                data: data.clone(),
            },
        )
        .unwrap()
        .unwrap();
    pair.pump();
    assert_eq!(
        pair.a_replies.last(),
        Some(&(second, Ok(Response::ok(None))))
    );
    assert!(pair.b_events.iter().any(|e| matches!(
        e,
        PlatformEvent::UploadRefused(err) if err.expected_offset() == Some(4096)
    )));
    assert_eq!(received(&pair), Some(data));
}

#[test]
fn an_upload_refusal_ends_the_request_with_the_platform_code() {
    let (mut pair, _) = onboarded(
        report(1, 64),
        PlatformConfig::default().upload(best_proto::UploadConfig::default().max_file_size(1000)),
    );
    let now = pair.now;
    let id = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: FileId::new("big").unwrap(),
                data: file(2000),
            },
        )
        .unwrap()
        .unwrap();
    pair.pump();
    let (got, Ok(response)) = pair.a_replies.last().cloned().unwrap() else {
        panic!("{:?}", pair.a_replies)
    };
    assert_eq!(got, id);
    assert_eq!(response.code, Code::MalformedParams);
    assert!(pair.b_events.iter().any(|e| matches!(
        e,
        PlatformEvent::UploadRefused(UploadError::FileTooLarge { .. })
    )));
}

struct Directory;

impl BrokerDirectory for Directory {
    fn secret_key(&self, sn: &str) -> Option<String> {
        (sn == "abcd").then(|| "aabbcc".to_owned())
    }
    fn broker(&self, _sn: &str, broker_type: &BrokerType) -> Option<BrokerInfo> {
        (*broker_type == BrokerType::BestW).then(|| {
            serde_json::from_value(serde_json::json!({"url": "ws://127.0.0.1:9/best"})).unwrap()
        })
    }
}

#[test]
fn broker_lookup_is_signed_checked_and_replay_proof() {
    let c = clock();
    let mut lookup = BrokerLookup::new("abcd", BrokerType::BestW, "aabbcc", shared(&c))
        .with_rng(Box::new(SplitMix64::seeded(3)));
    let mut handler = LookupHandler::new(Default::default(), Directory, shared(&c));
    let query = lookup.request();
    assert_eq!(query.nonce.len(), 32);
    assert_eq!(query.timestamp_ms, 1_795_305_600_000);
    assert!(query.verify_sign("aabbcc"));
    let uri = query.path_and_query();
    let body = handler.handle_json(&uri);
    let info = BrokerLookup::parse_reply(&body).unwrap().unwrap();
    assert_eq!(info.url, "ws://127.0.0.1:9/best");
    // The same request again is a replay.
    let replay = BrokerLookup::parse_reply(&handler.handle_json(&uri)).unwrap();
    assert_eq!(replay.unwrap_err().code, Code::BadCredentials);
    // A fresh request works; one dated 301 s ago does not.
    assert!(handler.handle(&lookup.request().path_and_query()).code == Code::Success);
    let stale = LookupQuery::signed(
        "abcd",
        BrokerType::BestW,
        "n1",
        1_795_305_600_000 - 301_000,
        "aabbcc",
    );
    assert_eq!(
        handler.handle(&stale.path_and_query()).code,
        Code::BadCredentials
    );
    let forged = LookupQuery::signed("abcd", BrokerType::BestW, "n2", 1_795_305_600_000, "other");
    assert_eq!(
        handler.handle(&forged.path_and_query()).code,
        Code::BadCredentials
    );
    let unknown = LookupQuery::signed("zz", BrokerType::BestW, "n3", 1_795_305_600_000, "aabbcc");
    assert_eq!(
        handler.handle(&unknown.path_and_query()).code,
        Code::UnknownDevice
    );
    assert_eq!(
        handler.handle("sn=abcd&type=best-w").code,
        Code::MalformedParams
    );
    let mqtt = LookupQuery::signed("abcd", BrokerType::BestM, "n4", 1_795_305_600_000, "aabbcc");
    assert_eq!(
        handler.handle(&mqtt.path_and_query()).code,
        Code::UnsupportedFuncId
    );
}

#[test]
fn the_platform_takes_a_direct_login_and_a_report_written_with_numbers() {
    let reg = Arc::new(MemoryRegistry::new());
    let mut record = DeviceRecord::new("p1", SECRET_KEY);
    record.auth_code = Some("a1".into());
    record.secret = Some("s1".into());
    reg.insert("SN1", record);
    let mut p = platform(&reg, PlatformConfig::default());
    let now = std::time::Instant::now();
    p.connection_opened(now);
    let login = format!(
        r#"{{"funcId":"dev.login","mid":"1","sn":"SN1","payload":{{"params":{{"productId":"p1","devKey":"{}","authCode":"a1","secret":"s1"}}}}}}"#,
        best_proto::crypto::dev_key(SECRET_KEY, "p1")
    );
    p.handle_input(now, login.as_bytes());
    assert_eq!(p.peer().map(String::as_str), Some("SN1"));
    p.handle_input(
        now,
        br#"{"funcId":"dev.report","mid":"2","payload":{"params":{"fwVer":"1","devModel":"m","commType":"ethernet","ip":"1","netmask":"1","gateway":"1","mac":"1","lockCount":1,"userCount":1,"maxUserCount":1,"transactionCount":1,"maxTransactionCount":1,"multiBioDataSupport":"0","multiBioVer":"0","multiBioDataCount":"0","maxMultiBioDataCount":"0","verifyStyles":"1","maxPendingCmdCount":2,"funcIds":[]}}}"#,
    );
    assert_eq!(p.max_commands_in_flight(), Some(2));
    let replies: Vec<Envelope<PlatformMessage>> = std::iter::from_fn(|| p.poll_transmit())
        .map(|b| best_proto::DeviceCodec::default().decode_text(&b).unwrap())
        .collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(
        (replies[0].mid.as_str(), replies[1].mid.as_str()),
        ("1", "2")
    );
    assert!(replies.iter().all(
        |r| matches!(&r.message, PlatformMessage::Response(resp) if resp.code == Code::Success)
    ));
}

#[test]
fn the_device_answers_a_malformed_command_20000001_and_closes_on_an_unmatchable_mid() {
    let (mut pair, _) = onboarded(report(1, 64), PlatformConfig::default());
    let now = pair.now;
    pair.a.handle_input(
        now,
        br#"{"funcId":"cmd.data.query.user","mid":"p9","payload":{"params":{"cmdId":"q9","pin":[1]}}}"#,
    );
    let answer = pair.a.poll_transmit().expect("answered");
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["funcId"], "dev.cmd.response");
    assert_eq!(answer["mid"], "p9");
    assert_eq!(answer["code"], "20000001");
    assert_eq!(answer["payload"]["params"]["cmdId"], "q9");
    assert!(
        answer["message"].as_str().unwrap().contains("pin"),
        "{answer}"
    );
    assert!(matches!(
        pair.a.poll_event(),
        Some(DeviceEvent::Malformed(device_core::best::SessionError::MalformedRequest { mid, cmd_id: Some(c), .. }))
            if mid == "p9" && c == "q9"
    ));
    assert!(pair.a.close_reason().is_none() && pair.a.is_established());
    // A mid over 32 characters cannot be matched: the connection closes, unanswered.
    let long = format!(
        r#"{{"funcId":"cmd.data.clear.user","mid":"{}","payload":{{"params":{{"cmdId":"c1"}}}}}}"#,
        "m".repeat(33)
    );
    pair.a.handle_input(now, long.as_bytes());
    assert!(pair.a.poll_transmit().is_none());
    assert_eq!(
        pair.a.close_reason(),
        Some(&CloseReason::Protocol(device_core::ProtocolError::Best(
            device_core::best::SessionError::MidTooLong { len: 33, max: 32 }
        )))
    );
}

#[test]
fn with_application_uploads_the_application_answers_and_the_device_resumes_where_it_says() {
    use best_proto::upload::{UploadReceiver, UploadSender};
    use device_core::best::UploadHandling;
    let (mut pair, _) = onboarded(
        report(1, 4),
        PlatformConfig::default().uploads(UploadHandling::Application),
    );
    let data = file(10 * 1024 + 3);
    let file_id = FileId::new("photo9").unwrap();
    // The application already holds the first 4 KB from an earlier connection.
    let mut app = UploadReceiver::new(best_proto::UploadConfig::default());
    let earlier = UploadSender::new(file_id.clone(), data.clone(), 4);
    let now = pair.now;
    app.start(now, &earlier.start()).unwrap();
    app.package(now, &earlier.package_at(0).unwrap()).unwrap();
    let id = pair
        .a
        .handle_command(
            now,
            DeviceCommand::Upload {
                file_id: file_id.clone(),
                data: data.clone(),
            },
        )
        .unwrap()
        .unwrap();
    let mut completed = None;
    let mut requests = 0;
    for _ in 0..50 {
        pair.pump();
        let events = std::mem::take(&mut pair.b_events);
        if events.is_empty() {
            break;
        }
        for e in events {
            assert!(!matches!(e, PlatformEvent::FileReceived(_)), "{e:?}");
            if let PlatformEvent::Request { mid, message } = e {
                requests += 1;
                let outcome = app.handle(now, &message).expect("an upload message");
                if let Ok(best_proto::upload::UploadEvent::Completed(f)) = &outcome {
                    completed = Some(f.data.clone());
                }
                let response = UploadReceiver::reply(&outcome);
                pair.b
                    .handle_command(now, PlatformCommand::Respond { mid, response })
                    .unwrap();
            }
        }
    }
    assert_eq!(pair.a_replies, [(id, Ok(Response::ok(None)))]);
    assert_eq!(completed, Some(data.clone()));
    // start, the refused chunk at 0, two chunks from 4096, end.
    assert_eq!(requests, 5);
    let progress: Vec<u64> = pair
        .a_events
        .iter()
        .filter_map(|e| match e {
            DeviceEvent::UploadProgress {
                file_id: f,
                offset,
                size,
            } if *f == file_id && *size == data.len() as u64 => Some(*offset),
            _ => None,
        })
        .collect();
    assert_eq!(progress, [4096, 8192, 10 * 1024 + 3]);
}
