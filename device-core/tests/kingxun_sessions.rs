//! kingxun WebSvr and svrInstance sessions against each other, in memory, with virtual time.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use device_core::kingxun::*;
use device_core::{
    CloseReason, ManualClock, ProtocolError, RandomSource, RequestError, SendError, Session,
    SplitMix64, WallClock,
};
use kingxun_proto::*;
use support::{clock, shared, Pair};

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const IV: [u8; 16] = [
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
];
const START: u64 = 1_795_000_000_000;

/// The svrInstance application of the tests: records every command; a lock is refused by the "device", lights
/// are answered later, unknown MsgIds get code 0x42, everything else is ok.
#[derive(Clone, Default)]
struct Fleet {
    seen: Arc<Mutex<Vec<DeviceCommand>>>,
}

impl Fleet {
    fn seen(&self) -> Vec<DeviceCommand> {
        self.seen.lock().unwrap().clone()
    }
}

impl InstanceHandler for Fleet {
    fn device_count(&self) -> u32 {
        3
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        self.seen.lock().unwrap().push(command.clone());
        match &command.request {
            Request::Lock(_) => Dispatch::Answer(RespCode::Refused),
            Request::LightCtrl(_) => Dispatch::Defer,
            Request::Unknown(_) => Dispatch::Answer(RespCode::Other(0x42)),
            _ => Dispatch::Answer(RespCode::Ok),
        }
    }
}

/// A random source that replays a script, then zeros.
struct Script(Vec<u64>);

impl RandomSource for Script {
    fn next_u64(&mut self) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.remove(0)
        }
    }
}

type KPair = Pair<WebSvrSession, InstanceSession<Fleet>>;

fn websvr_config(clock: &ManualClock) -> WebSvrConfig {
    WebSvrConfig::new(KEY, IV).clock(shared(clock))
}

fn instance_config(clock: &ManualClock) -> InstanceConfig {
    InstanceConfig::new(KEY, IV)
        .svr_start_time(START)
        .clock(shared(clock))
}

fn instance(config: InstanceConfig) -> InstanceSession<Fleet> {
    InstanceSession::new(config, Fleet::default()).with_rng(Box::new(SplitMix64::seeded(7)))
}

fn pair_with(
    websvr: impl FnOnce(WebSvrConfig) -> WebSvrConfig,
    inst: impl FnOnce(InstanceConfig) -> InstanceConfig,
) -> KPair {
    let clock = clock();
    let a = WebSvrSession::new(websvr(websvr_config(&clock)));
    let b = instance(inst(instance_config(&clock)));
    Pair::new(a, b, clock)
}

fn logged_in() -> KPair {
    let mut p = pair_with(|c| c, |c| c);
    p.connect();
    assert!(p.a.is_established() && p.b.is_established());
    p
}

fn unlock() -> Unlock {
    Unlock {
        dev_id: 1001,
        dev_type: 1,
        timestamp: 0,
        usr_id: 42,
        allow_time: 30,
        lowest_soc_p: 20,
        farthest_dist: 5000,
    }
}

fn lock() -> Lock {
    Lock {
        dev_id: 1002,
        dev_type: 1,
        timestamp: 0,
        usr_id: 42,
        voice: 2,
    }
}

fn lights() -> LightCtrl {
    LightCtrl {
        dev_id: 1003,
        dev_type: 2,
        timestamp: 0,
        usr_id: 42,
        light_flag: LightFlags::HEADLIGHT | LightFlags::HAZARD,
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `command` from the WebSvr and returns the request's bytes and the instance's answer bytes, moving
/// both by hand (then on to the WebSvr).
fn exchange(p: &mut KPair, command: WebSvrCommand) -> (Bytes, Bytes) {
    p.a.handle_command(p.now, command).unwrap().unwrap();
    let request = p.a.poll_transmit().unwrap();
    p.b.handle_input(p.now, &request);
    let reply = p.b.poll_transmit().unwrap();
    p.a.handle_input(p.now, &reply);
    p.pump();
    (request, reply)
}

#[test]
fn a_9001_switches_both_ends_to_the_new_iv() {
    let mut p = logged_in();
    let session_id = p.a.session_id().unwrap();
    assert_eq!(
        p.a_events,
        vec![WebSvrEvent::LoggedIn {
            session_id,
            instance_time: p.clock.unix_ms(),
        }]
    );
    assert_eq!(
        p.b_events,
        vec![InstanceEvent::LoggedIn {
            svr_host: "kingxun.site".into(),
            session_id
        }]
    );
    assert_eq!(p.b.session_id(), Some(session_id));
    assert_eq!(
        p.b.peer().map(ToString::to_string),
        Some(format!("kingxun.site#{session_id}"))
    );
    assert_eq!(
        p.a.peer(),
        Some(&()),
        "a client is established with its server"
    );

    // A command after the switch is sealed with newIV: the initial IV no longer opens it.
    let (request, reply) = exchange(&mut p, unlock().into());
    let mut initial = Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(KEY, IV));
    let e = initial
        .decode(&mut BytesMut::from(&request[..]))
        .unwrap_err();
    assert!(matches!(e, DecodeError::Unseal { .. }), "{e}");
    // The reply is a bare RespCode 0 under the request's header: 4001, CryptFlag 1, devId 1001.
    assert_eq!(&reply[2..7], &[1, 1, 0x0f, 0xa1, 1]);
    assert_eq!(&reply[7..11], &1001u32.to_be_bytes());
    assert_eq!(&reply[19..], &[0]);
    assert_eq!(p.a_replies.len(), 1);
    assert_eq!(p.a_replies[0].1, Ok(Reply::Unlock(RespCode::Ok)));
}

#[test]
fn the_instance_answers_9001_and_9002_byte_for_byte_like_the_vectors() {
    // kingxun-proto fixtures: 9001 from `websvr-01.kingxun.site` at 1700000000000, answered with sessionId
    // 0x12345678, newIV a0..af and timestamp 1700000000005.
    let connect = unhex(concat!(
        "4b580100232901000000000000000100000036a054f24fa64c9ad89445667b9e84d0dacd75e7643647f5b13dcaf8",
        "8670c86f0d96e453eb0e4287f96ae8990edb2cb22f00000028bddc"
    ));
    let accepted = concat!(
        "4b58010123290100000000000000010000002700162ddc998bda31133c216e700871b8bab5f37e0ea8a9aa228e5d",
        "a486900828dd0000001c65d2"
    );
    // DECISIONS.md vectors: 9002 request seq 1 at 1700000000000, and its reply with totalDevCount 3 and
    // svrStartTime 1699999000000.
    let heartbeat = unhex(concat!(
        "4b580100232a000000000000000001000000280000018bcfe568006b696e6778756e2e7369746500000000000000",
        "00000000000000000000000000"
    ));
    let heartbeat_reply = "4b580101232a0000000000000000010000000d00000000030000018bcfd625c0";

    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2023-11-14T22:13:20.005+00:00").unwrap(),
    );
    let rng = Script(vec![
        0x1234_5678_0000_0000,
        0xa0a1_a2a3_a4a5_a6a7,
        0xa8a9_aaab_acad_aeaf,
    ]);
    let mut instance = InstanceSession::new(
        InstanceConfig::new(KEY, IV)
            .allowed_hosts(["websvr-01.kingxun.site"])
            .svr_start_time(1_699_999_000_000)
            .clock(shared(&clock)),
        Fleet::default(),
    )
    .with_rng(Box::new(rng));
    let now = std::time::Instant::now();
    instance.connection_opened(now);
    // Byte by byte: nothing is answered before the frame is whole.
    for byte in &connect[..connect.len() - 1] {
        instance.handle_input(now, std::slice::from_ref(byte));
        assert!(instance.poll_transmit().is_none());
    }
    instance.handle_input(now, &connect[connect.len() - 1..]);
    assert_eq!(hex(&instance.poll_transmit().unwrap()), accepted);
    assert_eq!(
        instance.peer().map(ToString::to_string).as_deref(),
        Some("websvr-01.kingxun.site#305419896")
    );
    instance.handle_input(now, &heartbeat);
    assert_eq!(hex(&instance.poll_transmit().unwrap()), heartbeat_reply);
    assert!(instance.poll_transmit().is_none());
    assert!(instance.close_reason().is_none());
}

#[test]
fn a_9001_more_than_300_s_off_is_refused_with_resp_code_1() {
    // At exactly 300 s off the login passes (the window is inclusive).
    let websvr_clock = clock();
    let instance_clock = clock();
    instance_clock.advance(Duration::from_secs(300));
    let mut p = Pair::new(
        WebSvrSession::new(websvr_config(&websvr_clock)),
        instance(instance_config(&instance_clock)),
        websvr_clock,
    );
    p.connect();
    assert!(p.b.is_established());

    let websvr_clock = clock();
    let instance_clock = clock();
    instance_clock.advance(Duration::from_millis(300_001));
    let mut p = Pair::new(
        WebSvrSession::new(websvr_config(&websvr_clock)),
        instance(instance_config(&instance_clock)),
        websvr_clock,
    );
    p.connect();
    assert_eq!(
        p.a_events,
        vec![WebSvrEvent::LoginRejected {
            code: RespCode::Refused
        }]
    );
    assert!(matches!(
        p.a.close_reason(),
        Some(CloseReason::LoginRejected(ProtocolError::Kingxun(
            SessionError::ConnectRefused {
                code: RespCode::Refused
            }
        )))
    ));
    let [InstanceEvent::LoginRefused {
        svr_host,
        reason: LoginRefusal::Timestamp(e),
    }] = &p.b_events[..]
    else {
        panic!("{:?}", p.b_events)
    };
    assert_eq!(svr_host, "kingxun.site");
    assert_eq!(e.now_ms - e.timestamp_ms, 300_001);
    assert!(matches!(
        p.b.close_reason(),
        Some(CloseReason::LoginRejected(_))
    ));
    assert!(!p.a.is_established() && !p.b.is_established());
    assert_eq!(p.b.peer(), None);
}

#[test]
fn a_9001_from_a_host_not_allowed_is_refused() {
    let mut p = pair_with(|c| c.svr_host("websvr.example"), |c| c);
    p.connect();
    assert_eq!(
        p.a_events,
        vec![WebSvrEvent::LoginRejected {
            code: RespCode::Refused
        }]
    );
    assert_eq!(
        p.b_events,
        vec![InstanceEvent::LoginRefused {
            svr_host: "websvr.example".into(),
            reason: LoginRefusal::Host
        }]
    );
    // An empty list accepts any host.
    let mut p = pair_with(
        |c| c.svr_host("websvr.example"),
        |c| c.allowed_hosts(Vec::<String>::new()),
    );
    p.connect();
    assert!(p.a.is_established());
}

#[test]
fn a_9001_under_the_wrong_key_is_never_answered_and_the_login_times_out() {
    let mut p = pair_with(
        |c| {
            let mut c = c;
            c.key = [9; 16];
            c
        },
        |c| c,
    );
    p.connect();
    assert!(
        matches!(p.b.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("failed to open (length or crc check)"))
    );
    assert!(p.a_events.is_empty(), "no answer, no oracle");
    assert!(p.b.poll_transmit().is_none());
    p.advance(Duration::from_secs(29));
    assert!(p.a.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(p.a.close_reason(), Some(&CloseReason::LoginTimeout));
}

#[test]
fn anything_before_a_successful_9001_closes_the_link() {
    let clock = clock();
    let now = std::time::Instant::now();
    // A heartbeat first.
    let mut inst = instance(instance_config(&clock));
    inst.connection_opened(now);
    let mut wire = BytesMut::new();
    Packet::request(1, Heartbeat::new(clock.unix_ms()))
        .encode(None, &CodecConfig::default(), &mut wire)
        .unwrap();
    inst.handle_input(now, &wire);
    assert_eq!(
        inst.close_reason(),
        Some(&CloseReason::Protocol(ProtocolError::Kingxun(
            SessionError::BeforeConnect {
                msg_id: MsgId::Heartbeat,
                reply: false
            }
        )))
    );
    assert!(inst.poll_transmit().is_none());
    // A 4001 header is enough: its body is never waited for.
    let mut inst = instance(instance_config(&clock));
    inst.connection_opened(now);
    let unlock_vector = unhex("4b5801000fa101000003e90000000700000026");
    inst.handle_input(now, &unlock_vector);
    assert!(
        matches!(inst.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("MsgId 4001 before"))
    );
    // A 9001 header announcing more than a 9001 body.
    let mut inst = instance(instance_config(&clock));
    inst.connection_opened(now);
    inst.handle_input(now, &unhex("4b580100232901000000000000000100100000"));
    assert!(
        matches!(inst.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("exceeds the maximum of 54 bytes"))
    );
    assert_eq!(inst.buffered_input(), 0, "nothing is kept once closed");

    // The WebSvr refuses commands before the reply, and closes on any other frame.
    let mut web = WebSvrSession::new(websvr_config(&clock));
    web.connection_opened(now);
    assert_eq!(
        web.handle_command(now, unlock().into()),
        Err(SendError::NotReady)
    );
    web.handle_input(
        now,
        &unhex("4b580101232a0000000000000000010000000d00000000030000018bcfd625c0"),
    );
    assert!(
        matches!(web.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("reply with MsgId 9002 before"))
    );
}

#[test]
fn a_9001_reply_outside_the_window_is_not_trusted() {
    // The instance's clock is 10 minutes behind; its own window is wide enough to accept the WebSvr.
    let websvr_clock = clock();
    let instance_clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-22T07:50:00+08:00").unwrap(),
    );
    let mut p = Pair::new(
        WebSvrSession::new(websvr_config(&websvr_clock)),
        instance(
            instance_config(&instance_clock)
                .login_window(TimestampWindow::new(Duration::from_secs(3600))),
        ),
        websvr_clock,
    );
    p.connect();
    assert!(p.b.is_established());
    assert!(
        matches!(p.a.close_reason(), Some(CloseReason::LoginRejected(e @ ProtocolError::Kingxun(SessionError::ConnectReplyStale(_)))) if e.to_string().contains("9001 reply timestamp") && e.to_string().contains("600000 ms behind"))
    );
    assert!(!p.a.is_established());
}

#[test]
fn heartbeats_every_30_s_carry_the_device_count() {
    let mut p = logged_in();
    p.advance(Duration::from_secs(29));
    assert_eq!(p.a_events.len(), 1);
    p.advance(Duration::from_secs(66));
    let status = WebSvrEvent::Status(HeartbeatStatus {
        total_dev_count: 3,
        svr_start_time: START,
    });
    assert_eq!(p.a_events[1..], [status.clone(), status.clone(), status]);
    p.advance(Duration::from_secs(600));
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
    assert_eq!(p.a_events.len(), 1 + 23);
    assert_eq!(p.b_events.len(), 1, "heartbeats are the sessions' business");
    assert_eq!(p.a.unmatched_responses(), 0);
}

#[test]
fn a_heartbeat_from_another_host_is_refused_and_the_link_stays() {
    let mut p = pair_with(
        |c| {
            c.svr_host("websvr-01.kingxun.site")
                .heartbeat_host("websvr-01.kingxun.site")
        },
        |c| c.allowed_hosts(["websvr-01.kingxun.site"]),
    );
    p.connect();
    assert!(p.a.is_established());
    p.advance(Duration::from_secs(30));
    assert_eq!(
        p.a_events[1..],
        [WebSvrEvent::HeartbeatRefused {
            code: RespCode::Refused
        }]
    );
    assert_eq!(
        p.b_events[1..],
        [InstanceEvent::HeartbeatRefused {
            svr_host: "websvr-01.kingxun.site".into()
        }]
    );
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
}

#[test]
fn a_silent_websvr_is_closed_after_90_s() {
    let mut p = logged_in();
    p.drop_a_to_b = true;
    p.advance(Duration::from_secs(89));
    assert!(p.b.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: PEER_TIMEOUT
        })
    );
}

#[test]
fn a_silent_instance_is_declared_dead_after_90_s() {
    let mut p = logged_in();
    p.drop_b_to_a = true;
    p.advance(Duration::from_secs(89));
    assert!(p.a.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: Duration::from_secs(90)
        })
    );
    assert!(
        p.b.close_reason().is_none(),
        "the instance still hears heartbeats"
    );
}

#[test]
fn commands_are_correlated_by_seq_and_device_codes_are_data() {
    let mut p = logged_in();
    let now = p.now;
    let light = p.a.handle_command(now, lights().into()).unwrap().unwrap();
    let open = p.a.handle_command(now, unlock().into()).unwrap().unwrap();
    let close = p.a.handle_command(now, lock().into()).unwrap().unwrap();
    assert_eq!(p.a.in_flight(), 3);
    p.pump();
    // The deferred light command is answered last, after the two answered at once.
    let seen = p.b.handler().seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        p.b_events[1],
        InstanceEvent::Command {
            command: seen[0].clone(),
            answer: None
        }
    );
    assert_eq!(
        p.b_events[3],
        InstanceEvent::Command {
            command: seen[2].clone(),
            answer: Some(RespCode::Refused)
        }
    );
    assert_eq!(p.b.pending_answers(), 1);
    p.b.handle_command(
        now,
        InstanceCommand::Answer {
            seq: seen[0].seq,
            code: RespCode::Ok,
        },
    )
    .unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![
            (open, Ok(Reply::Unlock(RespCode::Ok))),
            (close, Ok(Reply::Lock(RespCode::Refused))),
            (light, Ok(Reply::LightCtrl(RespCode::Ok))),
        ]
    );
    assert_eq!(p.a.in_flight(), 0);
    // Seqs are distinct and the header devId is the body's.
    let seqs: std::collections::HashSet<u32> = seen.iter().map(|c| c.seq).collect();
    assert_eq!(seqs.len(), 3);
    assert_eq!(
        seen.iter().map(|c| c.dev_id).collect::<Vec<_>>(),
        [1003, 1001, 1002]
    );
    // A second answer for the same command is refused.
    assert!(matches!(
        p.b.handle_command(
            now,
            InstanceCommand::Answer {
                seq: seen[0].seq,
                code: RespCode::Ok
            }
        ),
        Err(SendError::Refused(_))
    ));
}

#[test]
fn a_command_that_times_out_ends_once_and_its_late_reply_is_counted() {
    let mut p = pair_with(
        |c| c.request_timeout(Duration::from_secs(10)),
        |c| c.answer_timeout(Duration::from_secs(60)),
    );
    p.connect();
    let id = p.a.handle_command(p.now, lights().into()).unwrap().unwrap();
    p.pump();
    p.advance(Duration::from_secs(9));
    assert!(p.a_replies.is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.a_replies,
        vec![(id, Err(RequestError::TimedOut(Duration::from_secs(10))))]
    );
    let seq = p.b.handler().seen()[0].seq;
    p.b.handle_command(
        p.now,
        InstanceCommand::Answer {
            seq,
            code: RespCode::Ok,
        },
    )
    .unwrap();
    p.pump();
    assert_eq!(p.a_replies.len(), 1, "never a second outcome");
    assert_eq!(p.a.late_responses(), 1);
    assert_eq!(p.a.unmatched_responses(), 0);
}

#[test]
fn a_deferred_command_left_unanswered_is_answered_0xff() {
    let mut p = logged_in();
    let id = p.a.handle_command(p.now, lights().into()).unwrap().unwrap();
    p.pump();
    let seq = p.b.handler().seen()[0].seq;
    p.advance(Duration::from_secs(20));
    assert_eq!(
        p.a_replies,
        vec![(id, Ok(Reply::LightCtrl(RespCode::Error)))]
    );
    assert_eq!(
        p.b_events.last(),
        Some(&InstanceEvent::AnswerExpired {
            seq,
            msg_id: MsgId::LightCtrl
        })
    );
    assert!(matches!(
        p.b.handle_command(
            p.now,
            InstanceCommand::Answer {
                seq,
                code: RespCode::Ok
            }
        ),
        Err(SendError::Refused(_))
    ));
}

#[test]
fn a_lost_connection_fails_waiting_requests_and_a_reconnect_verifies_again() {
    let mut p = logged_in();
    let first_session = p.a.session_id().unwrap();
    let id = p.a.handle_command(p.now, lights().into()).unwrap().unwrap();
    p.pump();
    p.disconnect();
    assert_eq!(p.a_replies, vec![(id, Err(RequestError::ConnectionLost))]);
    assert_eq!(p.a_events.last(), Some(&WebSvrEvent::Disconnected(None)));
    assert_eq!(p.b_events.last(), Some(&InstanceEvent::Disconnected(None)));
    assert_eq!(p.b.pending_answers(), 0);
    assert_eq!(
        p.a.handle_command(p.now, unlock().into()),
        Err(SendError::NotReady)
    );
    // A new instance connection (its RNG elsewhere): the WebSvr starts again from the initial IV.
    p.b = InstanceSession::new(instance_config(&p.clock), Fleet::default())
        .with_rng(Box::new(SplitMix64::seeded(99)));
    p.connect();
    assert!(p.a.is_established());
    assert_ne!(p.a.session_id(), Some(first_session));
    let id = p.a.handle_command(p.now, unlock().into()).unwrap().unwrap();
    p.pump();
    assert_eq!(
        p.a_replies.last(),
        Some(&(id, Ok(Reply::Unlock(RespCode::Ok))))
    );
}

#[test]
fn unknown_msg_ids_pass_through_both_ways() {
    let mut p = logged_in();
    let raw = RawRequest {
        msg_id: 5000,
        crypt: CryptFlag::Plain,
        body: Bytes::from_static(&[1, 2, 3]),
    };
    let (request, reply) = exchange(
        &mut p,
        WebSvrCommand::Raw {
            dev_id: 1001,
            request: raw.clone(),
        },
    );
    assert_eq!(hex(&request[19..]), "010203");
    assert_eq!(
        p.b.handler().seen()[0],
        DeviceCommand {
            seq: p.b.handler().seen()[0].seq,
            dev_id: 1001,
            request: Request::Unknown(raw)
        }
    );
    assert_eq!(hex(&reply[19..]), "42");
    assert_eq!(
        p.a_replies[0].1,
        Ok(Reply::Unknown(RawReply {
            msg_id: 5000,
            crypt: CryptFlag::Plain,
            code: RespCode::Other(0x42),
            rest: Bytes::new()
        }))
    );

    // A request from the instance's side (the spec defines none) reaches the WebSvr application.
    let unsolicited = Packet::new(
        7,
        99,
        Request::Unknown(RawRequest {
            msg_id: 6000,
            crypt: CryptFlag::Plain,
            body: Bytes::from_static(b"hi"),
        }),
    );
    let mut wire = BytesMut::new();
    unsolicited
        .encode(None, &CodecConfig::default(), &mut wire)
        .unwrap();
    p.a.handle_input(p.now, &wire);
    p.pump();
    assert_eq!(
        p.a_events.last(),
        Some(&WebSvrEvent::Unsolicited(unsolicited))
    );
    // And a reply frame sent to the instance is passed through, not dropped.
    let stray = Packet::new(0, 5, Reply::SetPacketLog(RespCode::Ok));
    let mut wire = BytesMut::new();
    stray
        .encode(None, &CodecConfig::default(), &mut wire)
        .unwrap();
    p.b.handle_input(p.now, &wire);
    p.pump();
    assert_eq!(p.b_events.last(), Some(&InstanceEvent::Unexpected(stray)));
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
}

#[test]
fn a_bad_body_is_answered_0xff_with_its_crypt_flag_and_the_link_goes_on() {
    let mut p = logged_in();
    // The 4020 fixture with one data byte changed: its MD5 no longer matches.
    let mut file = unhex(concat!(
        "4b5801000fb400000003e90000000c00000082000003e9010000018bcfe568000000000702776561746865722e6d",
        "70330000000000000000000000000000000000000000000000003cf365e7c3271f7614389a92adf01ed4a8776561",
        "746865723a2073756e6e792c203232430a776561746865723a2073756e6e792c203232430a776561746865723a20",
        "73756e6e792c203232430a"
    ));
    let last = file.len() - 1;
    file[last] ^= 1;
    p.b.handle_input(p.now, &file);
    // Byte for byte the fixture's 4020 reply: seq 12, devId 1001, CryptFlag 0, RespCode 0xFF.
    assert_eq!(
        hex(&p.b.poll_transmit().unwrap()),
        "4b5801010fb400000003e90000000c00000001ff"
    );
    assert!(
        matches!(p.b.poll_event(), Some(InstanceEvent::Malformed(e @ SessionError::MalformedFrame { msg_id: MsgId::FileDeliver, seq: 12, answered: true, .. })) if e.to_string().contains("MsgId 4020 seq 12 answered 0xFF: FileMD5"))
    );
    // A plain 4001 never opens a lock: answered 0xFF under CryptFlag 0, the handler never sees it.
    let mut plain = unhex("4b5801000fa100000003e90000000700000018");
    plain.extend(unhex("000003e9010000018bcfe568000000002a001e1400001388"));
    p.b.handle_input(p.now, &plain);
    assert_eq!(
        hex(&p.b.poll_transmit().unwrap()),
        "4b5801010fa100000003e90000000700000001ff"
    );
    assert!(p.b.handler().seen().is_empty());
    assert!(p.b.close_reason().is_none());
    // The link still carries commands.
    let id = p.a.handle_command(p.now, unlock().into()).unwrap().unwrap();
    p.pump();
    assert_eq!(p.a_replies, vec![(id, Ok(Reply::Unlock(RespCode::Ok)))]);
}

#[test]
fn a_sealed_body_that_fails_to_open_closes_the_link_unanswered() {
    let mut p = logged_in();
    // The DECISIONS.md 4001 vector is sealed with the initial IV, not this link's newIV.
    let stale_seal = unhex(concat!(
        "4b5801000fa101000003e90000000700000026182f970abaece89d1e1a13c32dcb73de2c8eedfc90a109032a03ca",
        "f202f44c1900000018d665"
    ));
    p.b.handle_input(p.now, &stale_seal);
    assert!(matches!(
        p.b.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::Kingxun(SessionError::Decode(e))))
            if e.to_string() == "sealed body of MsgId 4001 failed to open (length or crc check)"
                && matches!(e.get(), DecodeError::Unseal { .. })
    ));
    assert!(p.b.poll_transmit().is_none(), "never answered");
    assert!(p.b.handler().seen().is_empty());

    // The same on the WebSvr side.
    let mut p = logged_in();
    p.a.handle_input(p.now, &stale_seal);
    assert!(matches!(
        p.a.close_reason(),
        Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("failed to open")
    ));
}

#[test]
fn broken_framing_closes_the_link() {
    let mut p = logged_in();
    p.b.handle_input(p.now, b"GET / HTTP/1.1\r\n");
    assert!(
        matches!(p.b.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("bad magic"))
    );
    let mut p = logged_in();
    p.a.handle_input(p.now, b"KX\x02");
    assert!(
        matches!(p.a.close_reason(), Some(CloseReason::Protocol(e @ ProtocolError::Kingxun(_))) if e.to_string().contains("unsupported frame version 2"))
    );
}

#[test]
fn a_command_outside_the_replay_window_is_refused_and_never_handled() {
    let mut p = pair_with(|c| c.stamp_timestamps(false), |c| c);
    p.connect();
    let stale = Unlock {
        timestamp: p.clock.unix_ms() - 300_001,
        ..unlock()
    };
    let id =
        p.a.handle_command(p.now, stale.clone().into())
            .unwrap()
            .unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![(id, Ok(Reply::Unlock(RespCode::Refused)))]
    );
    let Some(InstanceEvent::StaleCommand { command, error }) = p.b_events.last() else {
        panic!("{:?}", p.b_events)
    };
    assert_eq!(command.request, Request::Unlock(stale));
    assert_eq!(error.window_ms, 300_000);
    assert!(p.b.handler().seen().is_empty());

    // With stamping (the default) the instance sees the time of sending, whatever the command carried.
    let mut p = logged_in();
    p.advance(Duration::from_secs(3));
    p.a.handle_command(p.now, unlock().into()).unwrap();
    p.pump();
    let Request::Unlock(seen) = &p.b.handler().seen()[0].request else {
        unreachable!()
    };
    assert_eq!(seen.timestamp, p.clock.unix_ms());
}

#[test]
fn the_outbox_is_bounded_and_waiting_requests_are_capped() {
    let mut p = pair_with(|c| c.outbox_capacity(2).max_in_flight(3), |c| c);
    p.connect();
    let now = p.now;
    p.a.handle_command(now, unlock().into()).unwrap();
    p.a.handle_command(now, unlock().into()).unwrap();
    assert_eq!(
        p.a.handle_command(now, unlock().into()),
        Err(SendError::Full { capacity: 2 })
    );
    p.pump();
    assert_eq!(p.a_replies.len(), 2);
    // Deferred commands stay in flight: the fourth is refused at once.
    for _ in 0..3 {
        p.a.handle_command(now, lights().into()).unwrap();
        p.pump();
    }
    assert_eq!(
        p.a.handle_command(now, lights().into()),
        Err(SendError::TooManyInFlight { capacity: 3 })
    );
    // 9001 and 9002 are the session's own.
    assert!(matches!(
        p.a.handle_command(now, WebSvrCommand::Request(Heartbeat::new(1).into())),
        Err(SendError::Refused(_))
    ));
}

#[test]
fn the_instance_answers_0xff_beyond_its_deferred_limit() {
    let mut p = pair_with(|c| c, |c| c.max_pending_answers(1));
    p.connect();
    let first = p.a.handle_command(p.now, lights().into()).unwrap().unwrap();
    let second = p.a.handle_command(p.now, lights().into()).unwrap().unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![(second, Ok(Reply::LightCtrl(RespCode::Error)))]
    );
    assert_eq!(p.b.pending_answers(), 1);
    let seq = p.b.handler().seen()[0].seq;
    p.b.handle_command(
        p.now,
        InstanceCommand::Answer {
            seq,
            code: RespCode::Ok,
        },
    )
    .unwrap();
    p.pump();
    assert_eq!(p.a_replies[1], (first, Ok(Reply::LightCtrl(RespCode::Ok))));
}

#[test]
fn a_reply_carries_its_requests_crypt_flag() {
    let mut p = logged_in();
    let log = SetPacketLog {
        dev_id: 1001,
        dev_type: 1,
        timestamp: 0,
        sys_usr_id: 7,
        log_send: LogSwitch::On,
        log_recv: LogSwitch::Off,
    };
    let sealed_raw = RawRequest {
        msg_id: 4999,
        crypt: CryptFlag::Aes,
        body: Bytes::from_static(&[0xEE; 22]),
    };
    for (command, crypt) in [
        (WebSvrCommand::from(unlock()), 1u8),
        (WebSvrCommand::from(log), 0),
        (
            WebSvrCommand::Raw {
                dev_id: 9,
                request: sealed_raw,
            },
            1,
        ),
    ] {
        let (request, reply) = exchange(&mut p, command);
        assert_eq!((request[6], reply[6]), (crypt, crypt));
        assert_eq!(request[7..15], reply[7..15], "devId and seq echoed");
        assert_eq!(reply[3], 1, "reply flag");
    }
    assert_eq!(p.a_replies.len(), 3);
    assert!(p.a_replies.iter().all(|(_, r)| r.is_ok()));
}

#[test]
fn close_is_graceful_and_final() {
    let mut p = logged_in();
    p.a.close(p.now);
    assert_eq!(p.a.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        p.a.handle_command(p.now, unlock().into()),
        Err(SendError::Closed)
    );
    p.a.connection_lost(p.now);
    p.a.connection_opened(p.now);
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::Requested),
        "a closed session does not verify again"
    );
    assert!(p.a.poll_transmit().is_none());
    assert!(p.a.poll_timeout().is_none());

    p.b.close(p.now);
    assert_eq!(p.b.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        p.b.handle_command(
            p.now,
            InstanceCommand::Answer {
                seq: 1,
                code: RespCode::Ok
            }
        ),
        Err(SendError::Closed)
    );
    p.b.connection_lost(p.now);
    p.b.connection_opened(p.now);
    p.b.handle_input(p.now, b"KX");
    assert!(p.b.poll_transmit().is_none());
    assert!(p.b.poll_timeout().is_none());
}

#[test]
fn keys_and_ivs_never_appear_in_debug_output() {
    let clock = clock();
    let key = [0xC3; 16];
    let iv = [0xD7; 16];
    // Every time in the configs comes from the test clock, so the texts below are the same on every run.
    let start = clock.unix_ms();
    let instance_config = || {
        InstanceConfig::new(key, iv)
            .clock(shared(&clock))
            .svr_start_time(start)
    };
    let mut p = Pair::new(
        WebSvrSession::new(WebSvrConfig::new(key, iv).clock(shared(&clock))),
        InstanceSession::new(instance_config(), Fleet::default())
            .with_rng(Box::new(SplitMix64::seeded(1))),
        clock.clone(),
    );
    p.connect();
    assert!(p.a.is_established());
    let texts = [
        format!("{:?}", WebSvrConfig::new(key, iv).clock(shared(&clock))),
        format!("{:?}", instance_config()),
        format!("{:?}", p.a),
        format!("{:?}", p.b),
        format!("{:?} {:?}", p.a_events, p.b_events),
        format!("{:#?}", WebSvrConfig::new(key, iv).clock(shared(&clock))),
        format!("{:#?}", instance_config()),
        format!("{:#?}", p.a),
        format!("{:#?}", p.b),
    ];
    for text in &texts {
        // A pretty byte list spreads over lines; without white space it reads `195,195` either way.
        let compact: String = text.split_whitespace().collect();
        for secret in [key, iv] {
            for needle in renderings(&secret) {
                assert!(!compact.contains(&needle), "{needle:?} in {text}");
            }
        }
    }
    assert!(texts[0].contains("key: \"<redacted>\""));
    assert!(texts[0].contains("iv: \"<redacted>\""));
    assert!(texts[1].contains("key: \"<redacted>\""));
    assert!(texts[1].contains("iv: \"<redacted>\""));
}

/// Every way a `Debug` text could show two bytes of `secret` in a row, white space removed: a byte list
/// (`195,195`), hex in either case, and base64. None of them can occur inside a lone number, so a timestamp
/// or an `Instant` in the text never matches by chance.
fn renderings(secret: &[u8; 16]) -> Vec<String> {
    use base64::Engine as _;
    let (a, b) = (secret[0], secret[1]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    vec![
        format!("{a},{b}"),
        format!("{a:02x}{b:02x}"),
        format!("{a:02X}{b:02X}"),
        b64[..8].to_owned(),
    ]
}

/// A request frame the instance side sends to the WebSvr, built by hand.
fn instance_request(msg_id: MsgId, crypt: CryptFlag, seq: u32, body: &'static [u8]) -> BytesMut {
    let frame = Frame {
        header: Header {
            reply: false,
            msg_id,
            crypt,
            dev_id: 1001,
            seq,
        },
        body: Bytes::from_static(body),
    };
    let mut wire = BytesMut::new();
    FrameCodec::default().encode(&frame, &mut wire).unwrap();
    wire
}

#[test]
fn the_websvr_answers_a_request_it_cannot_decode_with_0xff_and_closes_on_a_bad_seal() {
    // DECISIONS.md: a request matched by its seq is always answered, also by the WebSvr side.
    let mut p = logged_in();
    let wire = instance_request(MsgId::SetLogLevel, CryptFlag::Plain, 77, b"\x01");
    p.a.handle_input(p.now, &wire);
    let reply = p.a.poll_transmit().expect("answered");
    let mut reply = BytesMut::from(&reply[..]);
    let frame = FrameCodec::default().decode(&mut reply).unwrap().unwrap();
    assert!(frame.header.reply);
    assert_eq!(frame.header.msg_id, MsgId::SetLogLevel);
    assert_eq!(frame.header.seq, 77);
    assert_eq!(frame.header.dev_id, 1001);
    assert_eq!(frame.header.crypt, CryptFlag::Plain);
    assert_eq!(&frame.body[..], &[0xFF]);
    assert!(matches!(
        p.a.poll_event(),
        Some(WebSvrEvent::Malformed(SessionError::MalformedFrame {
            msg_id: MsgId::SetLogLevel,
            seq: 77,
            answered: true,
            ..
        }))
    ));
    assert!(p.a.close_reason().is_none() && p.a.is_established());

    // A sealed request whose length/CRC check fails closes the link and is never answered (no oracle).
    let wire = instance_request(MsgId::Unlock, CryptFlag::Aes, 78, &[0x11; 22]);
    p.a.handle_input(p.now, &wire);
    assert!(p.a.poll_transmit().is_none(), "never answered");
    assert!(matches!(
        p.a.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::Kingxun(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::Unseal { .. })
    ));
}

#[test]
fn the_instance_answers_a_request_it_cannot_decode_with_0xff_and_closes_on_a_bad_seal() {
    let mut p = logged_in();
    // 4041 with a body one byte short of its fields: answered 0xFF under its own CryptFlag and seq.
    let mut wire = BytesMut::new();
    FrameCodec::default()
        .encode(
            &Frame {
                header: Header {
                    reply: false,
                    msg_id: MsgId::SetLogLevel,
                    crypt: CryptFlag::Plain,
                    dev_id: 1001,
                    seq: 91,
                },
                body: Bytes::from_static(b"\x00\x00\x03"),
            },
            &mut wire,
        )
        .unwrap();
    p.b.handle_input(p.now, &wire);
    let reply = p.b.poll_transmit().expect("answered");
    let mut reply = BytesMut::from(&reply[..]);
    let frame = FrameCodec::default().decode(&mut reply).unwrap().unwrap();
    assert!(
        frame.header.reply && frame.header.seq == 91 && frame.header.msg_id == MsgId::SetLogLevel
    );
    assert_eq!(&frame.body[..], &[0xFF]);
    assert!(p.b.handler().seen().is_empty(), "the handler never sees it");
    assert!(p.b.close_reason().is_none());
    // A sealed one failing its check closes without an answer.
    let mut wire = BytesMut::new();
    FrameCodec::default()
        .encode(
            &Frame {
                header: Header {
                    reply: false,
                    msg_id: MsgId::Unlock,
                    crypt: CryptFlag::Aes,
                    dev_id: 1001,
                    seq: 92,
                },
                body: Bytes::from_static(&[0x22; 22]),
            },
            &mut wire,
        )
        .unwrap();
    p.b.handle_input(p.now, &wire);
    assert!(p.b.poll_transmit().is_none(), "never answered");
    assert!(matches!(
        p.b.close_reason(),
        Some(CloseReason::Protocol(ProtocolError::Kingxun(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::Unseal { .. })
    ));
}
