//! access terminal and server sessions against each other, in memory, with virtual time.

mod support;

use std::time::Duration;

use access_proto::*;
use device_core::access::SessionError;
use device_core::access::{
    Framing, IdentifyFailure, Refusal, ServerCommand, ServerConfig, ServerEvent, ServerSession,
    TerminalCommand, TerminalConfig, TerminalEvent, TerminalSession, ANSWER_TIMEOUT, PEER_TIMEOUT,
};
use device_core::{
    CloseReason, ProtocolError, RequestError, RequestId, SendError, Session, SplitMix64,
};
use support::{clock, shared, Pair};

const UUID: &str = "31231412332";

type APair<A = device_core::access::AdmitAll> = Pair<TerminalSession, ServerSession<A>>;

fn info() -> DeviceInfo {
    DeviceInfo {
        uuid: Some(UUID.into()),
        device_ip: Some("192.168.1.156".into()),
        device_port: Some(1545),
        address: Some("公司门口".into()),
        software_version: Some("V3.2.1".into()),
        ..DeviceInfo::default()
    }
}

fn terminal(config: TerminalConfig, seed: u64) -> TerminalSession {
    TerminalSession::new(config).with_rng(Box::new(SplitMix64::seeded(seed)))
}

fn server(config: ServerConfig) -> ServerSession {
    ServerSession::new(config).with_rng(Box::new(SplitMix64::seeded(99)))
}

fn pair_with(t: TerminalConfig, s: ServerConfig) -> APair {
    let clock = clock();
    let a = terminal(t.clock(shared(&clock)), 1);
    Pair::new(a, server(s), clock)
}

/// A terminal that answers `get_device_info` itself, connected and identified.
fn connected() -> APair {
    let mut p = pair_with(TerminalConfig::new(info()), ServerConfig::default());
    p.connect();
    assert!(p.a.is_established() && p.b.is_established());
    p
}

fn record(person: &str) -> AccessInfo {
    let mut r = AccessInfo::at("20261122080000".parse().unwrap());
    r.person_id = Some(person.into());
    r
}

fn command(value: &str) -> Command {
    Command {
        command_type: CommandType(2),
        command_value: value.into(),
    }
}

/// Requests received as events (terminal side).
fn terminal_requests(events: &[TerminalEvent]) -> Vec<Request> {
    events
        .iter()
        .filter_map(|e| match e {
            TerminalEvent::Request(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Requests received as events (server side).
fn server_requests(events: &[ServerEvent]) -> Vec<Request> {
    events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Request(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn server_replies<A: device_core::access::Admission>(
    s: &mut ServerSession<A>,
) -> Vec<(RequestId, Result<Response, RequestError>)> {
    std::iter::from_fn(|| s.poll_reply()).collect()
}

fn encode(message: impl Into<Message>) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    Codec::default().encode(&message.into(), &mut buf).unwrap();
    buf.to_vec()
}

#[test]
fn the_terminal_is_established_on_connect_and_identified_by_its_device_info() {
    let mut p = pair_with(TerminalConfig::new(info()), ServerConfig::default());
    assert!(!p.a.is_established());
    assert_eq!(
        p.a.handle_command(p.now, TerminalCommand::upload(record("1"))),
        Err(SendError::NotReady)
    );
    p.connect();
    // No login on the wire: the terminal is ready at once, and answered get_device_info itself.
    assert_eq!(p.a_events, vec![TerminalEvent::Connected]);
    assert!(p.a.is_established());
    assert_eq!(p.b_events, vec![ServerEvent::Identified(info())]);
    assert!(p.b.is_established());
    assert_eq!(p.b.peer().map(String::as_str), Some(UUID));
    assert_eq!(p.b.device_info(), Some(&info()));
    assert_eq!(
        p.a.peer(),
        Some(&()),
        "a client is established with its server"
    );
}

#[test]
fn the_terminal_application_may_answer_get_device_info_itself() {
    let mut p = pair_with(TerminalConfig::default(), ServerConfig::default());
    p.connect();
    let asked = terminal_requests(&p.a_events);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].body, RequestBody::GetDeviceInfo);
    // Until the terminal answers, the server is not established and takes no application request.
    assert!(!p.b.is_established());
    assert_eq!(
        p.b.handle_command(p.now, ServerCommand::user_command(command("x"))),
        Err(SendError::NotReady)
    );
    let mut reply = asked[0].reply(Code::Success, "");
    reply.body = ResponseBody::GetDeviceInfo(DeviceInfoReply {
        device_info: Some(info()),
    });
    assert_eq!(
        p.a.handle_command(p.now, TerminalCommand::Answer(reply)),
        Ok(None)
    );
    p.pump();
    assert_eq!(p.b_events, vec![ServerEvent::Identified(info())]);
    assert_eq!(p.b.peer().map(String::as_str), Some(UUID));
}

#[test]
fn identification_fails_on_a_failure_code_a_missing_uuid_or_a_refusal() {
    // The terminal answers with a failure code.
    let mut p = pair_with(TerminalConfig::default(), ServerConfig::default());
    p.connect();
    let asked = terminal_requests(&p.a_events).remove(0);
    p.a.handle_command(
        p.now,
        TerminalCommand::answer(&asked, Code::DeviceFault, "camera"),
    )
    .unwrap();
    p.pump();
    let failure = IdentifyFailure::Refused {
        code: Code::DeviceFault,
        message: "camera".into(),
    };
    assert_eq!(
        p.b_events,
        vec![ServerEvent::IdentificationFailed(failure.clone())]
    );
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::LoginRejected(ProtocolError::Access(
            SessionError::Identify(failure.clone())
        )))
    );
    assert_eq!(
        failure.to_string(),
        "get_device_info answered with code -2: camera"
    );
    assert!(!p.b.is_established() && p.b.peer().is_none());
    // The terminal learns it from the closed connection, like any drop.
    p.disconnect();
    assert_eq!(p.a_events.last(), Some(&TerminalEvent::Disconnected(None)));

    // Settings without a uuid.
    let no_uuid = DeviceInfo {
        uuid: Some(String::new()),
        ..info()
    };
    let mut p = pair_with(TerminalConfig::new(no_uuid), ServerConfig::default());
    p.connect();
    assert_eq!(
        p.b_events,
        vec![ServerEvent::IdentificationFailed(IdentifyFailure::NoUuid)]
    );

    // A terminal the admission policy does not know.
    let clock = clock();
    let admission = |i: &DeviceInfo| match i.uuid.as_deref() {
        Some("known") => Ok(()),
        other => Err(Refusal::general(format!("unknown terminal {other:?}"))),
    };
    let s = ServerSession::with_admission(ServerConfig::default(), admission)
        .with_rng(Box::new(SplitMix64::seeded(3)));
    let mut p = Pair::new(terminal(TerminalConfig::new(info()), 1), s, clock);
    p.connect();
    let why = Refusal::new(
        Code::GeneralError,
        format!("unknown terminal {:?}", Some(UUID)),
    );
    assert_eq!(
        p.b_events,
        vec![ServerEvent::IdentificationFailed(
            IdentifyFailure::NotAdmitted(why.clone())
        )]
    );
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::LoginRejected(ProtocolError::Access(
            SessionError::Identify(IdentifyFailure::NotAdmitted(why.clone()))
        )))
    );
    assert_eq!(
        p.b.close_reason().unwrap().to_string(),
        format!("login rejected: access: terminal not identified: terminal not admitted: code -1: unknown terminal {:?}", Some(UUID))
    );
}

#[test]
fn an_unanswered_get_device_info_fails_identification() {
    // The terminal application ignores it: the terminal session answers -1 after its answer timeout.
    let mut p = pair_with(TerminalConfig::default(), ServerConfig::default());
    p.connect();
    p.advance(ANSWER_TIMEOUT - Duration::from_secs(1));
    assert!(p.b_events.is_empty() && p.b.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert!(matches!(
        &p.b_events[..],
        [ServerEvent::IdentificationFailed(IdentifyFailure::Refused { code: Code::GeneralError, message })]
            if message == "not answered within 20s"
    ));
    assert!(
        matches!(p.a_events.last(), Some(TerminalEvent::Unanswered(k)) if k.module == Mod::GetDeviceInfo)
    );

    // Nothing comes back at all: the identify timeout closes the connection.
    let mut p = pair_with(TerminalConfig::new(info()), ServerConfig::default());
    p.drop_a_to_b = true;
    p.connect();
    p.advance(Duration::from_secs(29));
    assert!(p.b.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(p.b.close_reason(), Some(&CloseReason::LoginTimeout));
}

#[test]
fn terminal_requests_before_identification_are_held_until_it() {
    let mut p = pair_with(TerminalConfig::default(), ServerConfig::default());
    p.connect();
    let id =
        p.a.handle_command(p.now, TerminalCommand::upload(record("early")))
            .unwrap()
            .unwrap();
    p.pump();
    assert!(p.b_events.is_empty(), "held: {:?}", p.b_events);
    assert_eq!(p.b.pending_answers(), 1);
    let asked = terminal_requests(&p.a_events).remove(0);
    let mut reply = asked.reply(Code::Success, "");
    reply.body = ResponseBody::GetDeviceInfo(DeviceInfoReply {
        device_info: Some(info()),
    });
    p.a.handle_command(p.now, TerminalCommand::Answer(reply))
        .unwrap();
    p.pump();
    let held = server_requests(&p.b_events);
    assert_eq!(p.b_events[0], ServerEvent::Identified(info()));
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].body,
        RequestBody::UploadAccessInfo(UploadAccessInfo {
            access_info: record("early")
        })
    );
    p.b.handle_command(p.now, ServerCommand::answer(&held[0], Code::Success, ""))
        .unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![(id, Ok(held[0].reply(Code::Success, "")))]
    );
}

#[test]
fn requests_both_ways_pair_by_mod_and_session_id_and_failure_codes_are_data() {
    let mut p = connected();
    let now = p.now;
    let up =
        p.a.handle_command(now, TerminalCommand::upload(record("42")))
            .unwrap()
            .unwrap();
    let dev =
        p.a.handle_command(now, TerminalCommand::device_command(command("door")))
            .unwrap()
            .unwrap();
    let person = PersonInfo {
        person_id: "3413123123".into(),
        person_name: Some("张飒".into()),
        face: Some(Image {
            width: 2,
            height: 1,
            format: ImageFormat(2),
            data: bytes::Bytes::from_static(&[0xff, 0xd8, 0x00]),
        }),
        ..PersonInfo::default()
    };
    let dl =
        p.b.handle_command(now, ServerCommand::download_person(person.clone()))
            .unwrap()
            .unwrap();
    let set =
        p.b.handle_command(now, ServerCommand::set_device_info(info()))
            .unwrap()
            .unwrap();
    p.pump();
    let at_server = server_requests(&p.b_events);
    let at_terminal = terminal_requests(&p.a_events);
    assert_eq!(at_server.len(), 2);
    assert_eq!(at_terminal.len(), 2);
    assert_eq!(
        at_terminal[0].body,
        RequestBody::DownloadPerson(DownloadPerson {
            person_info: person
        })
    );
    // Every request carries its own fresh UUID.
    let ids: std::collections::HashSet<_> = at_server
        .iter()
        .chain(&at_terminal)
        .map(|r| r.session_id.clone())
        .collect();
    assert_eq!(ids.len(), 4);
    // Answered in reverse order, one of them with a failure code: each finds its own request.
    p.b.handle_command(
        now,
        ServerCommand::answer(&at_server[1], Code::DatabaseError, "db down"),
    )
    .unwrap();
    p.b.handle_command(now, ServerCommand::answer(&at_server[0], Code::Success, ""))
        .unwrap();
    p.a.handle_command(
        now,
        TerminalCommand::answer(&at_terminal[1], Code::Success, ""),
    )
    .unwrap();
    p.a.handle_command(
        now,
        TerminalCommand::answer(&at_terminal[0], Code::DeviceFault, "no face"),
    )
    .unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![
            (dev, Ok(at_server[1].reply(Code::DatabaseError, "db down"))),
            (up, Ok(at_server[0].reply(Code::Success, ""))),
        ]
    );
    assert_eq!(
        server_replies(&mut p.b),
        vec![
            (set, Ok(at_terminal[1].reply(Code::Success, ""))),
            (dl, Ok(at_terminal[0].reply(Code::DeviceFault, "no face"))),
        ]
    );
    // An answer is given once: the second is refused, as is an answer to a request never received.
    assert!(matches!(
        p.b.handle_command(now, ServerCommand::answer(&at_server[0], Code::Success, "")),
        Err(SendError::Refused(_))
    ));
    let invented = Request::new("not-received", RequestBody::GetDeviceInfo);
    assert!(matches!(
        p.a.handle_command(now, TerminalCommand::answer(&invented, Code::Success, "")),
        Err(SendError::Refused(ProtocolError::Access(SessionError::NotWaiting { key })))
            if key.module == Mod::GetDeviceInfo && key.session_id == SessionId::from("not-received")
    ));
}

#[test]
fn each_side_sends_only_its_own_requests() {
    let mut p = connected();
    let now = p.now;
    assert!(matches!(
        p.a.handle_command(now, TerminalCommand::Request(RequestBody::GetDeviceInfo)),
        Err(SendError::Refused(ProtocolError::Access(
            SessionError::WrongDirection {
                module: Mod::GetDeviceInfo
            }
        )))
    ));
    assert!(matches!(
        p.a.handle_command(
            now,
            TerminalCommand::Request(RequestBody::SendUserCommand(command("x")))
        ),
        Err(SendError::Refused(_))
    ));
    assert!(matches!(
        p.b.handle_command(
            now,
            ServerCommand::Request(RequestBody::UploadAccessInfo(UploadAccessInfo {
                access_info: record("x")
            }))
        ),
        Err(SendError::Refused(ProtocolError::Access(
            SessionError::WrongDirection {
                module: Mod::UploadAccessInfo
            }
        )))
    ));
    assert!(matches!(
        p.b.handle_command(
            now,
            ServerCommand::Request(RequestBody::SendDeviceCommand(command("x")))
        ),
        Err(SendError::Refused(_))
    ));
    assert_eq!(p.a.in_flight() + p.b.in_flight(), 0);
}

#[test]
fn unknown_messages_pass_through_both_ways() {
    let mut p = connected();
    let now = p.now;
    let mut fields = serde_json::Map::new();
    fields.insert("door".into(), serde_json::json!(2));
    let open_door = RequestBody::Unknown(UnknownMessage {
        name: "open_door".into(),
        fields: fields.clone(),
    });
    let id =
        p.b.handle_command(now, ServerCommand::Request(open_door.clone()))
            .unwrap()
            .unwrap();
    let ping = RequestBody::Unknown(UnknownMessage {
        name: "ping".into(),
        fields: serde_json::Map::new(),
    });
    p.a.handle_command(now, TerminalCommand::Request(ping.clone()))
        .unwrap()
        .unwrap();
    p.pump();
    let got = terminal_requests(&p.a_events);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, open_door);
    assert_eq!(server_requests(&p.b_events)[0].body, ping);
    // The terminal answers with fields the spec does not know either.
    let mut reply = got[0].reply(Code::Success, "opened");
    let mut reply_fields = serde_json::Map::new();
    reply_fields.insert("state".into(), serde_json::json!("open"));
    reply.body = ResponseBody::Unknown(UnknownMessage {
        name: "open_door".into(),
        fields: reply_fields,
    });
    p.a.handle_command(now, TerminalCommand::Answer(reply.clone()))
        .unwrap();
    p.pump();
    assert_eq!(server_replies(&mut p.b), vec![(id, Ok(reply))]);
    // Raw input with an unknown mod is an event as well, never dropped.
    p.b.handle_input(
        now,
        br#"{"mod":"reboot","session_id":"r-1","type":1,"delay":5}"#,
    );
    p.pump();
    let reboot = server_requests(&p.b_events).pop().unwrap();
    assert_eq!(reboot.body.name(), "reboot");
    assert_eq!(reboot.session_id.as_str(), "r-1");
}

#[test]
fn an_unanswered_request_is_answered_minus_one_by_the_session() {
    let mut p = connected();
    let id =
        p.a.handle_command(p.now, TerminalCommand::upload(record("slow")))
            .unwrap()
            .unwrap();
    p.pump();
    let request = server_requests(&p.b_events).remove(0);
    p.advance(ANSWER_TIMEOUT - Duration::from_secs(1));
    assert!(p.a_replies.is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.b_events.last(),
        Some(&ServerEvent::Unanswered(request.pair_key()))
    );
    assert_eq!(
        p.a_replies,
        vec![(
            id,
            Ok(request.reply(Code::GeneralError, "not answered within 20s"))
        )]
    );
    assert!(matches!(
        p.b.handle_command(p.now, ServerCommand::answer(&request, Code::Success, "")),
        Err(SendError::Refused(_))
    ));
    assert_eq!(p.b.pending_answers(), 0);
}

#[test]
fn a_request_times_out_and_its_late_response_is_counted_not_delivered() {
    let mut p = pair_with(
        TerminalConfig::new(info()),
        ServerConfig::default().answer_timeout(Duration::from_secs(300)),
    );
    p.connect();
    let id =
        p.a.handle_command(p.now, TerminalCommand::upload(record("late")))
            .unwrap()
            .unwrap();
    p.pump();
    let request = server_requests(&p.b_events).remove(0);
    p.advance(Duration::from_secs(30));
    assert_eq!(
        p.a_replies,
        vec![(id, Err(RequestError::TimedOut(Duration::from_secs(30))))]
    );
    assert_eq!(p.a.in_flight(), 0);
    // The server application answers after all: the answer is dropped and counted by the terminal.
    p.b.handle_command(p.now, ServerCommand::answer(&request, Code::Success, ""))
        .unwrap();
    p.pump();
    assert_eq!(p.a_replies.len(), 1);
    assert_eq!((p.a.late_responses(), p.a.unmatched_responses()), (1, 0));
    // A response nobody asked for is counted apart.
    let stray = Request::new("stray", RequestBody::GetDeviceInfo).reply(Code::Success, "");
    p.a.handle_input(p.now, &encode(stray));
    p.pump();
    assert_eq!((p.a.late_responses(), p.a.unmatched_responses()), (1, 1));
    assert_eq!(p.a_replies.len(), 1);

    // The same on the server side.
    let mut p = pair_with(
        TerminalConfig::new(info()).answer_timeout(Duration::from_secs(300)),
        ServerConfig::default(),
    );
    p.connect();
    let id =
        p.b.handle_command(p.now, ServerCommand::user_command(command("beep")))
            .unwrap()
            .unwrap();
    p.pump();
    let request = terminal_requests(&p.a_events).remove(0);
    p.advance(Duration::from_secs(30));
    assert_eq!(
        server_replies(&mut p.b),
        vec![(id, Err(RequestError::TimedOut(Duration::from_secs(30))))]
    );
    p.a.handle_command(p.now, TerminalCommand::answer(&request, Code::Success, ""))
        .unwrap();
    p.pump();
    assert!(server_replies(&mut p.b).is_empty());
    assert_eq!(p.b.late_responses(), 1);
}

#[test]
fn requests_beyond_the_pending_limit_are_answered_busy_at_once() {
    let mut p = pair_with(
        TerminalConfig::new(info()),
        ServerConfig::default().max_pending_answers(2),
    );
    p.connect();
    let ids: Vec<RequestId> = (0..3)
        .map(|i| {
            p.a.handle_command(p.now, TerminalCommand::upload(record(&i.to_string())))
                .unwrap()
                .unwrap()
        })
        .collect();
    p.pump();
    assert_eq!(server_requests(&p.b_events).len(), 2);
    let Some(ServerEvent::Busy(busy)) = p.b_events.last().cloned() else {
        panic!("{:?}", p.b_events)
    };
    assert_eq!(
        p.a_replies,
        vec![(
            ids[2],
            Ok(busy.reply(Code::GeneralError, "busy: too many requests in flight (2)"))
        )]
    );
    assert_eq!(p.b.pending_answers(), 2);
}

#[test]
fn a_repeated_session_id_is_reported_and_answered_once() {
    let mut p = connected();
    let request = Request::new("same-id", RequestBody::SendDeviceCommand(command("twice")));
    let bytes = encode(request.clone());
    p.b.handle_input(p.now, &bytes);
    p.b.handle_input(p.now, &bytes);
    p.pump();
    assert_eq!(server_requests(&p.b_events), vec![request.clone()]);
    assert!(matches!(
        p.b_events.last(),
        Some(ServerEvent::Malformed(SessionError::DuplicateRequest { key }))
            if key.module == Mod::SendDeviceCommand && key.session_id == SessionId::from("same-id")
    ));
    assert_eq!(p.b.pending_answers(), 1);
    assert!(p.b.close_reason().is_none());
}

#[test]
fn probes_keep_a_quiet_link_alive() {
    let mut p = connected();
    // Ten minutes of no application traffic, over three times the terminal's 180 s silence limit: the
    // server's get_device_info every minute keeps both sides hearing from each other.
    p.advance(Duration::from_secs(600));
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
    assert_eq!(p.b.unmatched_responses() + p.b.late_responses(), 0);
    // Probes and their answers are the sessions' own business: the applications saw nothing new.
    assert_eq!(p.a_events, vec![TerminalEvent::Connected]);
    assert_eq!(p.b_events, vec![ServerEvent::Identified(info())]);
}

#[test]
fn a_silent_server_or_terminal_is_declared_dead() {
    let mut p = connected();
    p.drop_b_to_a = true;
    p.advance(PEER_TIMEOUT - Duration::from_secs(1));
    assert!(p.a.close_reason().is_none());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: PEER_TIMEOUT
        })
    );

    let mut p = connected();
    p.drop_a_to_b = true;
    p.advance(PEER_TIMEOUT);
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: PEER_TIMEOUT
        })
    );
    assert!(
        p.a.close_reason().is_none(),
        "the terminal still hears the probes"
    );
}

#[test]
fn liveness_is_configurable() {
    // No probes and no terminal timeout: a quiet link stays up for as long as it lasts.
    let mut p = pair_with(
        TerminalConfig::new(info()).peer_timeout(None),
        ServerConfig::default()
            .probe_interval(None)
            .peer_timeout(Duration::from_secs(7200)),
    );
    p.connect();
    p.advance(Duration::from_secs(3600));
    assert!(p.a.close_reason().is_none() && p.b.close_reason().is_none());
    // A shorter terminal timeout than the probe interval closes a quiet link.
    let mut p = pair_with(
        TerminalConfig::new(info()).peer_timeout(Some(Duration::from_secs(45))),
        ServerConfig::default(),
    );
    p.connect();
    p.advance(Duration::from_secs(45));
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::PeerSilent {
            after: Duration::from_secs(45)
        })
    );
}

#[test]
fn a_probe_reports_changed_settings_and_keeps_the_device_id() {
    let mut p = connected();
    let moved = DeviceInfo {
        address: Some("门口考勤机器".into()),
        ..info()
    };
    assert_eq!(
        p.a.handle_command(p.now, TerminalCommand::ServeDeviceInfo(Some(moved.clone()))),
        Ok(None)
    );
    p.advance(Duration::from_secs(60));
    assert_eq!(
        p.b_events.last(),
        Some(&ServerEvent::DeviceInfoChanged(moved.clone()))
    );
    assert_eq!(p.b.device_info(), Some(&moved));
    assert_eq!(p.b.peer().map(String::as_str), Some(UUID));
    // Unchanged settings raise nothing.
    let before = p.b_events.len();
    p.advance(Duration::from_secs(60));
    assert_eq!(p.b_events.len(), before);
}

#[test]
fn a_malformed_message_is_reported_and_broken_framing_closes_the_link() {
    let mut p = connected();
    p.b.handle_input(
        p.now,
        b"{\"mod\":\"upload_access_info\",\"session_id\":7,\"type\":1}\n",
    );
    p.pump();
    assert!(
        matches!(p.b_events.last(), Some(ServerEvent::Malformed(SessionError::Decode(e)))
            if matches!(e.get(), DecodeError::Json { name, .. } if name == "upload_access_info"))
    );
    assert!(p.b.close_reason().is_none());
    // The link still works.
    p.a.handle_command(p.now, TerminalCommand::upload(record("after")))
        .unwrap();
    p.pump();
    assert_eq!(server_requests(&p.b_events).len(), 1);
    // Garbage between messages breaks the framing: this connection closes.
    p.b.handle_input(p.now, b"  x{}");
    assert!(
        matches!(p.b.close_reason(), Some(CloseReason::Protocol(ProtocolError::Access(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::Garbage { byte: b'x', .. }))
    );
    assert!(p.a.close_reason().is_none());
    assert_eq!(
        p.b.handle_command(p.now, ServerCommand::user_command(command("x"))),
        Err(SendError::Closed)
    );

    // An over-long message closes as soon as the limit is passed, without waiting for its end.
    let mut p = pair_with(
        TerminalConfig::new(info()),
        ServerConfig::default().codec(CodecConfig::default().max_message_len(256)),
    );
    p.connect();
    let mut big = b"{\"mod\":\"upload_access_info\",\"x\":\"".to_vec();
    big.resize(300, b'a');
    p.b.handle_input(p.now, &big);
    assert!(
        matches!(p.b.close_reason(), Some(CloseReason::Protocol(ProtocolError::Access(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::MessageTooLarge { max: 256, .. }))
    );
    assert_eq!(p.b.buffered_input(), 0);
}

#[test]
fn the_stream_may_arrive_in_any_pieces() {
    let mut p = connected();
    p.a.handle_command(p.now, TerminalCommand::upload(record("1")))
        .unwrap();
    p.a.handle_command(p.now, TerminalCommand::device_command(command("}{\"")))
        .unwrap();
    let mut wire = Vec::new();
    while let Some(bytes) = p.a.poll_transmit() {
        assert!(bytes.ends_with(b"}\n"));
        wire.extend_from_slice(&bytes);
    }
    for &b in &wire {
        p.b.handle_input(p.now, &[b]);
        assert!(p.b.buffered_input() < wire.len());
    }
    p.pump();
    let got = server_requests(&p.b_events);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body, RequestBody::SendDeviceCommand(command("}{\"")));
    assert_eq!(p.b.buffered_input(), 0);
}

#[test]
fn message_framing_carries_one_message_per_input() {
    let mut p = pair_with(TerminalConfig::new(info()), ServerConfig::default());
    // The transport (a WebSocket, say) tells both sessions its framing before it opens.
    p.a.use_framing(Framing::Message);
    p.b.use_framing(Framing::Message);
    p.b.connection_opened(p.now);
    p.a.connection_opened(p.now);
    // Each transmit is exactly one message, without the stream's newline.
    let probe = p.b.poll_transmit().unwrap();
    assert!(probe.ends_with(b"}"));
    let Message::Request(probe_request) = Message::from_json(&probe).unwrap() else {
        panic!("a request")
    };
    assert_eq!(probe_request.body, RequestBody::GetDeviceInfo);
    p.a.handle_input(p.now, &probe);
    p.pump();
    assert_eq!(p.b_events, vec![ServerEvent::Identified(info())]);
    // A whole exchange.
    let id =
        p.a.handle_command(p.now, TerminalCommand::upload(record("ws")))
            .unwrap()
            .unwrap();
    p.pump();
    let request = server_requests(&p.b_events).remove(0);
    p.b.handle_command(p.now, ServerCommand::answer(&request, Code::Success, "ok"))
        .unwrap();
    p.pump();
    assert_eq!(
        p.a_replies,
        vec![(id, Ok(request.reply(Code::Success, "ok")))]
    );
    // Two objects in one message are one malformed message, not a broken link.
    p.b.handle_input(p.now, b"{\"a\":1}{\"b\":2}");
    p.pump();
    assert!(matches!(p.b_events.last(), Some(ServerEvent::Malformed(_))));
    assert!(p.b.close_reason().is_none());
    // Whitespace around a message is fine.
    p.b.handle_input(
        p.now,
        b" {\"mod\":\"ping\",\"session_id\":\"p\",\"type\":1}\n",
    );
    p.pump();
    assert_eq!(
        server_requests(&p.b_events).last().unwrap().body.name(),
        "ping"
    );
    // An over-long message closes the connection.
    let mut t = terminal(
        TerminalConfig::new(info()).codec(CodecConfig::default().max_message_len(64)),
        1,
    );
    t.use_framing(Framing::Message);
    t.connection_opened(p.now);
    t.handle_input(p.now, &[b' '; 100]);
    assert!(t.close_reason().is_none(), "whitespace does not count");
    t.handle_input(
        p.now,
        format!("{{\"x\":\"{}\"}}", "a".repeat(64)).as_bytes(),
    );
    assert!(
        matches!(t.close_reason(), Some(CloseReason::Protocol(ProtocolError::Access(SessionError::Decode(e))))
            if matches!(e.get(), DecodeError::MessageTooLarge { max: 64, .. }))
    );
}

#[test]
fn a_lost_connection_ends_waiting_requests_and_a_new_connection_starts_over() {
    let mut p = connected();
    let now = p.now;
    let up =
        p.a.handle_command(now, TerminalCommand::upload(record("lost")))
            .unwrap()
            .unwrap();
    let push =
        p.b.handle_command(now, ServerCommand::user_command(command("lost")))
            .unwrap()
            .unwrap();
    p.pump();
    let pending = terminal_requests(&p.a_events).remove(0);
    p.disconnect();
    assert_eq!(p.a_replies, vec![(up, Err(RequestError::ConnectionLost))]);
    assert_eq!(
        server_replies(&mut p.b),
        vec![(push, Err(RequestError::ConnectionLost))]
    );
    assert_eq!(p.a_events.last(), Some(&TerminalEvent::Disconnected(None)));
    assert_eq!(p.b_events.last(), Some(&ServerEvent::Disconnected(None)));
    assert_eq!(p.a.pending_answers(), 0);
    // The server keeps the device id (a driver removes its route with it) but is no longer established.
    assert_eq!(p.b.peer().map(String::as_str), Some(UUID));
    assert!(!p.b.is_established());
    assert!(!p.a.is_established());
    assert_eq!(
        p.a.handle_command(now, TerminalCommand::answer(&pending, Code::Success, "")),
        Err(SendError::NotReady)
    );
    assert_eq!(
        p.a.handle_command(now, TerminalCommand::upload(record("x"))),
        Err(SendError::NotReady)
    );
    // A new connection (a new server session) starts over: established and identified again.
    p.b = server(ServerConfig::default());
    p.b_events.clear();
    p.connect();
    assert!(p.a.is_established() && p.b.is_established());
    assert_eq!(p.b_events, vec![ServerEvent::Identified(info())]);
    let again =
        p.a.handle_command(p.now, TerminalCommand::upload(record("again")))
            .unwrap()
            .unwrap();
    assert!(again > up, "request ids stay unique across reconnects");
}

#[test]
fn the_outbox_is_bounded_for_application_requests_only() {
    let mut p = pair_with(
        TerminalConfig::new(info()).outbox_capacity(2),
        ServerConfig::default(),
    );
    p.connect();
    p.b.handle_command(p.now, ServerCommand::user_command(command("answer me")))
        .unwrap();
    p.pump();
    let request = terminal_requests(&p.a_events).remove(0);
    let now = p.now;
    p.a.handle_command(now, TerminalCommand::upload(record("1")))
        .unwrap();
    p.a.handle_command(now, TerminalCommand::upload(record("2")))
        .unwrap();
    assert_eq!(
        p.a.handle_command(now, TerminalCommand::upload(record("3"))),
        Err(SendError::Full { capacity: 2 })
    );
    // An answer is never refused for lack of room: the server is waiting for it.
    assert_eq!(
        p.a.handle_command(now, TerminalCommand::answer(&request, Code::Success, "")),
        Ok(None)
    );
    p.pump();
    assert!(
        p.a.handle_command(now, TerminalCommand::upload(record("3")))
            .is_ok(),
        "room again once written"
    );
    assert_eq!(p.a.in_flight(), 3);
}

#[test]
fn close_is_graceful_and_final() {
    let mut p = connected();
    p.a.close(p.now);
    assert_eq!(p.a.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        p.a.handle_command(p.now, TerminalCommand::upload(record("x"))),
        Err(SendError::Closed)
    );
    p.disconnect();
    assert_eq!(
        p.a_events.last(),
        Some(&TerminalEvent::Disconnected(Some(CloseReason::Requested)))
    );
    p.a.connection_opened(p.now);
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::Requested),
        "a closed terminal does not connect again"
    );
    assert!(!p.a.is_established());
    assert!(p.a.poll_transmit().is_none());
    assert!(p.a.poll_event().is_none(), "no second Connected");
    // A server session is one connection: closed for good once lost.
    assert!(p.b.close_reason().is_some());
    p.b.connection_opened(p.now);
    assert!(p.b.poll_transmit().is_none());
}

#[test]
fn session_ids_are_uuids_from_the_injected_random_source() {
    let first_id = |seed: u64| {
        let mut t = terminal(TerminalConfig::new(info()), seed);
        let now = std::time::Instant::now();
        t.connection_opened(now);
        t.handle_command(now, TerminalCommand::upload(record("1")))
            .unwrap();
        let bytes = t.poll_transmit().unwrap();
        Message::from_json(&bytes).unwrap().session_id().clone()
    };
    let a = first_id(7);
    assert_eq!(a, first_id(7), "same seed, same ids");
    assert_ne!(a, first_id(8));
    let text = a.as_str();
    assert_eq!(text.len(), 36);
    assert_eq!(text.chars().filter(|&c| c == '-').count(), 4, "{text}");
    assert_eq!(&text[14..15], "4", "version 4: {text}");
    assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
}

#[test]
fn record_times_come_from_the_configured_clock() {
    let p = connected();
    assert_eq!(p.a.local_time().unwrap().to_string(), "20261122080000");
    p.clock.advance(Duration::from_secs(90));
    assert_eq!(p.a.local_time().unwrap().to_string(), "20261122080130");
}

#[test]
fn the_terminal_answers_a_malformed_server_request_minus_one_naming_the_field() {
    let mut p = connected();
    p.a.handle_input(
        p.now,
        b"{\"mod\":\"set_device_info\",\"session_id\":\"s-9\",\"type\":1,\"device_info\":\"x\"}\n",
    );
    let answer = p.a.poll_transmit().expect("answered");
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["mod"], "set_device_info");
    assert_eq!(answer["session_id"], "s-9");
    assert_eq!(answer["type"], 2);
    assert_eq!(answer["code"], -1);
    assert!(
        answer["message"].as_str().unwrap().contains("device_info"),
        "{answer}"
    );
    assert!(matches!(
        p.a.poll_event(),
        Some(TerminalEvent::Malformed(SessionError::MalformedRequest { key, .. }))
            if key.module == Mod::SetDeviceInfo && key.session_id == SessionId::from("s-9")
    ));
    assert!(p.a.close_reason().is_none());
    // A malformed response is not answered (there is nothing to answer), only reported.
    p.a.handle_input(
        p.now,
        b"{\"mod\":\"upload_access_info\",\"session_id\":\"r-1\",\"type\":2,\"code\":\"zero\"}\n",
    );
    assert!(p.a.poll_transmit().is_none());
    assert!(matches!(
        p.a.poll_event(),
        Some(TerminalEvent::Malformed(SessionError::Decode(_)))
    ));
    // One-message framing (WebSocket) follows the same rule.
    let mut p = connected();
    p.a.use_framing(Framing::Message);
    p.a.handle_input(
        p.now,
        b"{\"mod\":\"download_person\",\"session_id\":\"s-10\",\"type\":1,\"person_info\":7}",
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&p.a.poll_transmit().expect("answered")).unwrap();
    assert_eq!(
        (answer["session_id"].as_str(), answer["code"].as_i64()),
        (Some("s-10"), Some(-1))
    );
    assert!(
        answer["message"].as_str().unwrap().contains("person_info"),
        "{answer}"
    );
}
