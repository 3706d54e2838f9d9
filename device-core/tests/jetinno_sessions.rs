//! jetinno machine and server sessions against each other, in memory, with virtual time.

mod support;

use std::time::Duration;

use device_core::jetinno::*;
use device_core::{CloseReason, ProtocolError, RequestError, SendError, Session};
use jetinno_proto::*;
use support::{clock, shared, Pair};

const VMC: u64 = 33232;

fn code() -> MachineCode {
    MachineCode::new("12345678").unwrap()
}

fn registry(vmc_no: u64) -> Option<MachineCode> {
    (vmc_no == VMC).then(code)
}

type JPair = Pair<MachineSession, ServerSession<fn(u64) -> Option<MachineCode>>>;

fn pair_with(machine_code: MachineCode) -> JPair {
    let clock = clock();
    let machine =
        MachineSession::new(MachineConfig::new(VMC, machine_code, "1.2.8.8").clock(shared(&clock)));
    let server = ServerSession::new(
        device_core::jetinno::ServerConfig::default().clock(shared(&clock)),
        registry as fn(u64) -> Option<MachineCode>,
    );
    Pair::new(machine, server, clock)
}

fn logged_in() -> JPair {
    let mut p = pair_with(code());
    p.connect();
    assert!(p.a.is_established() && p.b.is_established());
    p
}

fn qr(order: &str) -> QrCodeRequest {
    QrCodeRequest {
        vmc_no: VMC,
        qr_type: QrType::All,
        product_id: 810,
        amount: 1000,
        order_no: order.into(),
    }
}

fn qr_reply(order: &str) -> ServerMessage {
    QrCodeReply {
        vmc_no: VMC,
        qr_type: QrType::WxPub,
        qrcode: "weixin://pay/1".into(),
        order_no: order.into(),
    }
    .into()
}

#[test]
fn login_succeeds_with_a_signed_dated_login() {
    let p = logged_in();
    assert_eq!(
        p.a_events,
        vec![MachineEvent::LoggedIn {
            date_time: "2026-11-22 08:00:00".into()
        }]
    );
    let ServerEvent::LoggedIn(login) = &p.b_events[0] else {
        panic!("{:?}", p.b_events)
    };
    assert_eq!((login.vmc_no, login.timestamp), (VMC, 20261122));
    assert!(login.verify(&code()));
    assert_eq!(p.b.peer(), Some(&33232));
}

#[test]
fn login_with_a_wrong_code_or_an_unknown_machine_is_refused_and_closed() {
    let mut p = pair_with(MachineCode::new("87654321").unwrap());
    p.connect();
    assert_eq!(
        p.a_events,
        vec![MachineEvent::LoginRejected {
            ret: LOGIN_BAD_SIGN
        }]
    );
    assert!(matches!(
        p.a.close_reason(),
        Some(CloseReason::LoginRejected(_))
    ));
    assert_eq!(
        p.b_events,
        vec![ServerEvent::LoginFailed {
            vmc_no: VMC,
            reason: LoginFailure::BadSign
        }]
    );
    assert!(!p.b.is_established());

    let clock = clock();
    let machine = MachineSession::new(MachineConfig::new(1, code(), "1").clock(shared(&clock)));
    let server = ServerSession::new(
        device_core::jetinno::ServerConfig::default(),
        registry as fn(u64) -> Option<MachineCode>,
    );
    let mut p = Pair::new(machine, server, clock);
    p.connect();
    assert_eq!(
        p.a_events,
        vec![MachineEvent::LoginRejected {
            ret: LOGIN_UNKNOWN_MACHINE
        }]
    );
}

#[test]
fn a_login_that_gets_no_answer_times_out() {
    let mut p = pair_with(code());
    p.drop_a_to_b = true;
    p.connect();
    p.advance(Duration::from_secs(29));
    assert!(p.a.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(p.a.close_reason(), Some(&CloseReason::LoginTimeout));
    assert_eq!(p.b.close_reason(), Some(&CloseReason::LoginTimeout));
}

#[test]
fn heartbeats_keep_a_quiet_link_alive() {
    let mut p = logged_in();
    p.advance(Duration::from_secs(600));
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
    // Heartbeats are the sessions' own business: the machine's application hears nothing, the server's only
    // that the machine is alive (one `Heartbeat` per `hb`, every 20 s, to update its last-seen).
    assert_eq!(p.a_events.len(), 1);
    assert_eq!(p.b_events.len(), 1 + 30);
    assert!(p.b_events[1..].iter().all(|e| *e == ServerEvent::Heartbeat));
}

#[test]
fn a_silent_server_is_declared_dead_after_120_s() {
    let mut p = logged_in();
    p.drop_b_to_a = true;
    p.advance(Duration::from_secs(119));
    assert!(p.a.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: PEER_TIMEOUT
        })
    );
    assert!(
        p.b.close_reason().is_none(),
        "the server still hears heartbeats"
    );
}

#[test]
fn a_silent_machine_is_declared_dead_after_120_s() {
    let mut p = logged_in();
    p.drop_a_to_b = true;
    p.advance(Duration::from_secs(120));
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: PEER_TIMEOUT
        })
    );
}

#[test]
fn qrcode_requests_are_answered_by_order_number() {
    let mut p = logged_in();
    let now = p.now;
    let id1 =
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o1")))
            .unwrap()
            .unwrap();
    let id2 =
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o2")))
            .unwrap()
            .unwrap();
    assert_eq!(
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o1"))),
        Err(SendError::DuplicateKey { key: "o1".into() })
    );
    p.pump();
    assert_eq!(p.b_events[1], ServerEvent::QrCodeRequested(qr("o1")));
    assert_eq!(p.b_events[2], ServerEvent::QrCodeRequested(qr("o2")));
    // Answered out of order: each reply finds its own request.
    p.b.handle_command(now, ServerCommand::Send(qr_reply("o2")))
        .unwrap();
    p.b.handle_command(now, ServerCommand::Send(qr_reply("o1")))
        .unwrap();
    p.pump();
    let ServerMessage::QrCodeReply(r1) = qr_reply("o1") else {
        unreachable!()
    };
    let ServerMessage::QrCodeReply(r2) = qr_reply("o2") else {
        unreachable!()
    };
    assert_eq!(p.a_replies, vec![(id2, Ok(r2)), (id1, Ok(r1))]);
    // A second answer for the same order is refused by the server session.
    assert!(matches!(
        p.b.handle_command(now, ServerCommand::Send(qr_reply("o1"))),
        Err(SendError::Refused(_))
    ));
}

#[test]
fn an_unanswered_qrcode_times_out_on_both_sides_and_a_late_answer_is_dropped() {
    let mut p = logged_in();
    let now = p.now;
    let id =
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o9")))
            .unwrap()
            .unwrap();
    p.pump();
    p.advance(Duration::from_secs(30));
    assert_eq!(
        p.a_replies,
        vec![(id, Err(RequestError::TimedOut(Duration::from_secs(30))))]
    );
    assert!(p.b_events.contains(&ServerEvent::QrCodeExpired {
        order_no: "o9".into()
    }));
    assert!(matches!(
        p.b.handle_command(p.now, ServerCommand::Send(qr_reply("o9"))),
        Err(SendError::Refused(_))
    ));
    // A late qrcode_r that still reaches the machine is dropped and counted, never delivered twice.
    let mut late = bytes::BytesMut::new();
    ServerCodec::default()
        .encode(&qr_reply("o9"), &mut late)
        .unwrap();
    p.a.handle_input(p.now, &late);
    p.pump();
    assert_eq!(p.a_replies.len(), 1);
    assert_eq!(p.a.late_responses(), 1);
}

#[test]
fn a_lost_connection_ends_waiting_requests_and_commands_need_a_login() {
    let mut p = logged_in();
    let now = p.now;
    let id =
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o1")))
            .unwrap()
            .unwrap();
    p.disconnect();
    assert_eq!(p.a_replies, vec![(id, Err(RequestError::ConnectionLost))]);
    assert!(matches!(
        p.a_events.last(),
        Some(MachineEvent::Disconnected(None))
    ));
    assert_eq!(
        p.a.handle_command(now, MachineCommand::RequestQrCode(qr("o2"))),
        Err(SendError::NotReady)
    );
    // Reconnecting logs in again.
    let server = ServerSession::new(
        device_core::jetinno::ServerConfig::default().clock(shared(&p.clock)),
        registry as fn(u64) -> Option<MachineCode>,
    );
    p.b = server;
    p.connect();
    assert!(p.a.is_established());
    assert!(p
        .a
        .handle_command(p.now, MachineCommand::RequestQrCode(qr("o2")))
        .is_ok());
}

#[test]
fn server_commands_and_unknown_messages_reach_the_other_side() {
    let mut p = logged_in();
    let now = p.now;
    let pay = ServerMessage::from(PayDone {
        vmc_no: VMC,
        product_amount: 1000,
        order_no: "o1".into(),
        paydone: true,
        paytype: PayType::WxPub,
    });
    let unknown_down = ServerMessage::Unknown(UnknownMessage {
        cmd: "sleep".into(),
        raw: serde_json::json!({"cmd":"sleep","vmc_no":VMC}),
    });
    p.b.handle_command(now, ServerCommand::Send(pay.clone()))
        .unwrap();
    p.b.handle_command(now, ServerCommand::Send(unknown_down.clone()))
        .unwrap();
    assert!(matches!(
        p.b.handle_command(now, ServerCommand::Send(ServerHeartbeat::default().into())),
        Err(SendError::Refused(_))
    ));
    let unknown_up = MachineMessage::Unknown(UnknownMessage {
        cmd: "beans".into(),
        raw: serde_json::json!({"cmd":"beans","level":3}),
    });
    p.a.handle_command(now, MachineCommand::Send(unknown_up.clone()))
        .unwrap();
    p.a.handle_command(
        now,
        MachineCommand::Send(
            MachineStatus {
                vmc_no: VMC,
                status: MachineState::DoorOpen,
            }
            .into(),
        ),
    )
    .unwrap();
    p.pump();
    assert_eq!(
        p.a_events[1..],
        [
            MachineEvent::Server(pay),
            MachineEvent::Server(unknown_down)
        ]
    );
    let MachineMessage::Unknown(u) = unknown_up else {
        unreachable!()
    };
    assert_eq!(
        p.b_events[1..],
        [
            ServerEvent::Unknown(u),
            ServerEvent::Status(MachineStatus {
                vmc_no: VMC,
                status: MachineState::DoorOpen
            })
        ]
    );
}

#[test]
fn a_malformed_body_is_reported_and_broken_framing_closes_the_link() {
    let mut p = logged_in();
    p.b.handle_input(p.now, b"002100000000{\"cmd\":7}");
    p.pump();
    assert!(
        matches!(p.b_events.last(), Some(ServerEvent::Malformed(SessionError::Decode(e)))
            if e.to_string().contains("invalid type") && !e.is_fatal())
    );
    assert!(p.b.close_reason().is_none());
    p.b.handle_input(p.now, b"garbage!");
    assert!(
        matches!(p.b.close_reason(), Some(CloseReason::Protocol(ProtocolError::Jetinno(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::BadLengthHead { found } if found == b"garb"))
    );
}

#[test]
fn anything_but_login_before_login_closes_the_server_side() {
    let clock = clock();
    let mut server = ServerSession::new(
        device_core::jetinno::ServerConfig::default().clock(shared(&clock)),
        registry as fn(u64) -> Option<MachineCode>,
    );
    let now = std::time::Instant::now();
    server.connection_opened(now);
    let mut buf = bytes::BytesMut::new();
    MachineCodec::default()
        .encode(
            &MachineStatus {
                vmc_no: VMC,
                status: MachineState::CupBlock,
            }
            .into(),
            &mut buf,
        )
        .unwrap();
    server.handle_input(now, &buf);
    assert_eq!(
        server.close_reason(),
        Some(&CloseReason::Protocol(ProtocolError::Jetinno(
            SessionError::BeforeLogin {
                cmd: "machinestatus".into()
            }
        )))
    );
}

#[test]
fn the_outbox_is_bounded_for_application_messages() {
    let clock = clock();
    let machine = MachineSession::new(
        MachineConfig::new(VMC, code(), "1")
            .outbox_capacity(2)
            .clock(shared(&clock)),
    );
    let server = ServerSession::new(
        device_core::jetinno::ServerConfig::default().clock(shared(&clock)),
        registry as fn(u64) -> Option<MachineCode>,
    );
    let mut p = Pair::new(machine, server, clock);
    p.connect();
    let status = || {
        MachineCommand::Send(
            MachineStatus {
                vmc_no: VMC,
                status: MachineState::Supply,
            }
            .into(),
        )
    };
    let now = p.now;
    p.a.handle_command(now, status()).unwrap();
    p.a.handle_command(now, status()).unwrap();
    assert_eq!(
        p.a.handle_command(now, status()),
        Err(SendError::Full { capacity: 2 })
    );
    p.pump();
    assert!(
        p.a.handle_command(now, status()).is_ok(),
        "room again once written"
    );
}

#[test]
fn close_is_graceful_and_final() {
    let mut p = logged_in();
    p.a.close(p.now);
    assert_eq!(p.a.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        p.a.handle_command(p.now, MachineCommand::RequestQrCode(qr("x"))),
        Err(SendError::Closed)
    );
    p.a.connection_lost(p.now);
    p.a.connection_opened(p.now);
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::Requested),
        "a closed session does not log in again"
    );
    assert!(p.a.poll_transmit().is_none());
}

/// A server whose clock stands at 2015-06-26 and the `login_r` it answers `login` with.
fn login_reply(
    config: device_core::jetinno::ServerConfig,
    login: &[u8],
) -> (LoginReply, Option<CloseReason>, Vec<ServerEvent>) {
    let clock = device_core::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2015-06-26T23:59:00+08:00").unwrap(),
    );
    let mut server = ServerSession::new(
        config.clock(shared(&clock)),
        registry as fn(u64) -> Option<MachineCode>,
    );
    let now = std::time::Instant::now();
    server.connection_opened(now);
    server.handle_input(now, login);
    let mut out = bytes::BytesMut::from(&server.poll_transmit().expect("login_r")[..]);
    let reply = match MachineCodec::default().decode(&mut out).unwrap().unwrap() {
        ServerMessage::LoginReply(r) => r,
        other => panic!("{other:?}"),
    };
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    (reply, server.close_reason().cloned(), events)
}

fn login_packet(timestamp: u32) -> bytes::BytesMut {
    let mut buf = bytes::BytesMut::new();
    MachineCodec::default()
        .encode(
            &Login::signed(VMC, timestamp, &code(), "1.2.8.8").into(),
            &mut buf,
        )
        .unwrap();
    buf
}

#[test]
fn the_server_checks_the_login_date_against_its_own_clock_and_window() {
    let config = device_core::jetinno::ServerConfig::default;
    // Yesterday, today and tomorrow by the server's date pass; two days off, or no date at all, do not.
    for ok in [20150625, 20150626, 20150627] {
        let (reply, close, _) = login_reply(config(), &login_packet(ok));
        assert_eq!((reply.ret, close), (0, None), "{ok}");
    }
    for (bad, failure) in [
        (
            20150624,
            LoginFailure::DateOutOfWindow {
                timestamp: 20150624,
                server_date: 20150626,
                window_days: 1,
            },
        ),
        (
            20150628,
            LoginFailure::DateOutOfWindow {
                timestamp: 20150628,
                server_date: 20150626,
                window_days: 1,
            },
        ),
        (
            20151332,
            LoginFailure::InvalidDate {
                timestamp: 20151332,
            },
        ),
        (2015062, LoginFailure::InvalidDate { timestamp: 2015062 }),
    ] {
        let (reply, close, events) = login_reply(config(), &login_packet(bad));
        assert_eq!(reply.ret, LOGIN_BAD_SIGN, "{bad}");
        assert_eq!(
            close,
            Some(CloseReason::LoginRejected(
                SessionError::LoginDenied {
                    vmc_no: VMC,
                    reason: failure,
                    ret: 2
                }
                .into()
            ))
        );
        assert_eq!(
            events,
            vec![ServerEvent::LoginFailed {
                vmc_no: VMC,
                reason: failure
            }]
        );
    }
    // The window is configurable.
    let (reply, _, _) = login_reply(config().login_date_window(2), &login_packet(20150624));
    assert_eq!(reply.ret, 0);
    let (reply, _, _) = login_reply(config().login_date_window(0), &login_packet(20150625));
    assert_eq!(reply.ret, 2);
    // A wrong sign within the window is answered the same way.
    let mut login = Login::signed(VMC, 20150626, &code(), "1.2.8.8");
    login.sign = "0".repeat(32);
    let mut buf = bytes::BytesMut::new();
    MachineCodec::default()
        .encode(&login.into(), &mut buf)
        .unwrap();
    let (reply, close, _) = login_reply(config(), &buf);
    assert_eq!(reply.ret, 2);
    assert!(matches!(close, Some(CloseReason::LoginRejected(_))));
    // A login whose timestamp is no number does not decode: still answered ret 2 before the close.
    let body = format!(
        r#"{{"cmd":"login","vmc_no":{VMC},"timestamp":"someday","sign":"x","version":"1"}}"#
    );
    let packet = format!("{:04}00000000{body}", body.len() + 12);
    let (reply, close, _) = login_reply(config(), packet.as_bytes());
    assert_eq!(reply.ret, 2);
    assert!(matches!(
        close,
        Some(CloseReason::Protocol(ProtocolError::Jetinno(
            SessionError::MalformedBeforeLogin(_)
        )))
    ));
}
