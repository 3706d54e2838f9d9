//! An access server session fed arbitrary bytes, timeouts, commands and answers.
//!
//! The first byte picks the framing (bit 0: one message per input) and the rest is a script: each step's first
//! byte picks an action (bytes in, time passes, a request, an answer, the terminal's answer to the last server
//! request so that identification can succeed), the next byte is the length of its argument.
//!
//! Invariants: no panic; the receive buffer never holds more than one maximum message; at most
//! `max_pending_answers` terminal requests and `max_in_flight` server requests wait; everything the session
//! writes is exactly one well-formed message; every request id ends exactly once (connection loss included);
//! an answer is accepted only for a request handed out and not answered yet; after a close nothing new is
//! written.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use access_proto::{
    Code, CodecConfig, Command, CommandType, Decoder, DeviceInfo, DeviceInfoReply, Encoder,
    Message, PersonInfo, Request, RequestBody, ResponseBody, UnknownMessage,
};
use bytes::BytesMut;
use device_core::access::{Framing, ServerCommand, ServerConfig, ServerEvent, ServerSession};
use device_core::{RequestId, SendError, Session, SplitMix64};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 2048;
const PENDING: usize = 4;
const IN_FLIGHT: usize = 4;

/// Decodes one transmit as exactly one message in the session's framing.
fn decode_transmit(framing: Framing, bytes: &[u8]) -> Message {
    match framing {
        Framing::Message => Message::from_json(bytes).expect("the session writes valid messages"),
        _ => {
            let mut codec = access_proto::Codec::new(CodecConfig::default().max_message_len(MAX));
            let mut buf = BytesMut::from(bytes);
            let message = codec
                .decode(&mut buf)
                .expect("the session writes valid messages")
                .expect("a whole message per transmit");
            assert_eq!(&buf[..], b"\n", "one message and its newline per transmit");
            message
        }
    }
}

fn encode(framing: Framing, message: &Message) -> Vec<u8> {
    match framing {
        Framing::Message => message.to_json().unwrap(),
        _ => {
            let mut buf = BytesMut::new();
            access_proto::Codec::default()
                .encode(message, &mut buf)
                .unwrap();
            buf.to_vec()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let framing = if mode & 1 == 1 {
        Framing::Message
    } else {
        Framing::Stream
    };
    let config = ServerConfig::default()
        .codec(CodecConfig::default().max_message_len(MAX))
        .max_pending_answers(PENDING)
        .max_in_flight(IN_FLIGHT);
    let mut session =
        ServerSession::new(config).with_rng(Box::new(SplitMix64::seeded(u64::from(mode))));
    let mut now = Instant::now();
    session.use_framing(framing);
    session.connection_opened(now);

    let mut issued: HashSet<RequestId> = HashSet::new();
    // Terminal requests handed out and not answered yet, and those answered or expired.
    let mut outstanding: Vec<Request> = Vec::new();
    let mut done: Vec<Request> = Vec::new();
    // The last request the server sent (the terminal's side of the conversation).
    let mut last_sent: Option<Request> = None;

    while let Some((&op, tail)) = rest.split_first() {
        let len = usize::from(tail.first().copied().unwrap_or(0));
        let arg = tail
            .get(1..1 + len.min(tail.len().saturating_sub(1)))
            .unwrap_or(&[]);
        rest = &tail[(1 + arg.len()).min(tail.len())..];
        let closed_before = session.close_reason().is_some();
        match op % 6 {
            0 | 1 => session.handle_input(now, arg),
            2 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)));
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now);
                }
            }
            3 => {
                let text = String::from_utf8_lossy(arg).into_owned();
                let command = match arg.first().copied().unwrap_or(0) % 3 {
                    0 => ServerCommand::download_person(PersonInfo {
                        person_id: text,
                        ..PersonInfo::default()
                    }),
                    1 => ServerCommand::user_command(Command {
                        command_type: CommandType(i64::try_from(arg.len()).unwrap_or(0)),
                        command_value: text,
                    }),
                    _ => ServerCommand::Request(RequestBody::Unknown(UnknownMessage {
                        name: text,
                        fields: serde_json::Map::new(),
                    })),
                };
                if let Ok(Some(id)) = session.handle_command(now, command) {
                    assert!(issued.insert(id), "request ids are unique");
                }
            }
            4 => {
                // Answer a request handed out (or one already done with): accepted exactly when it waits.
                let code = Code::from(i64::from(i8::from_ne_bytes([arg
                    .first()
                    .copied()
                    .unwrap_or(0)])));
                let pick = usize::from(arg.get(1).copied().unwrap_or(0));
                let from_done = pick & 1 == 1 && !done.is_empty();
                let request = if from_done {
                    Some(done[pick % done.len()].clone())
                } else {
                    outstanding.first().cloned()
                };
                if let Some(request) = request {
                    let established = session.is_established();
                    let waiting = outstanding
                        .iter()
                        .position(|r| r.pair_key() == request.pair_key());
                    let result = session.handle_command(
                        now,
                        ServerCommand::answer(&request, code, String::from_utf8_lossy(arg)),
                    );
                    match (&result, waiting) {
                        (Ok(_), Some(i)) => {
                            done.push(outstanding.remove(i));
                        }
                        (Ok(_), None) => {
                            assert!(!established, "answer accepted for nothing waiting")
                        }
                        (Err(SendError::Refused(_)), Some(_)) => {
                            assert!(!established, "answer refused for a waiting request")
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                // The terminal answers the last request the server sent.
                if let Some(request) = last_sent.take() {
                    let code = Code::from(i64::from(arg.first().copied().unwrap_or(0) % 3));
                    let mut reply = request.reply(code, "");
                    if let ResponseBody::GetDeviceInfo(_) = reply.body {
                        reply.body = ResponseBody::GetDeviceInfo(DeviceInfoReply {
                            device_info: Some(DeviceInfo {
                                uuid: Some(String::from_utf8_lossy(arg).into_owned()),
                                ..DeviceInfo::default()
                            }),
                        });
                    }
                    session.handle_input(now, &encode(framing, &reply.into()));
                }
            }
        }
        if framing == Framing::Stream {
            assert!(
                session.buffered_input() <= MAX,
                "{}",
                session.buffered_input()
            );
        } else {
            assert_eq!(session.buffered_input(), 0);
        }
        assert!(session.pending_answers() <= PENDING);
        assert!(session.in_flight() <= IN_FLIGHT);
        let mut wrote = false;
        while let Some(bytes) = session.poll_transmit() {
            wrote = true;
            if let Message::Request(request) = decode_transmit(framing, &bytes) {
                last_sent = Some(request);
            }
        }
        assert!(
            !(closed_before && wrote),
            "a closed session writes nothing new"
        );
        while let Some(event) = session.poll_event() {
            match event {
                ServerEvent::Request(request) => outstanding.push(request),
                ServerEvent::Unanswered(key) => {
                    if let Some(i) = outstanding.iter().position(|r| r.pair_key() == key) {
                        done.push(outstanding.remove(i));
                    }
                }
                _ => {}
            }
        }
        while let Some((id, _)) = session.poll_reply() {
            assert!(issued.remove(&id), "each request ends exactly once");
        }
    }
    session.connection_lost(now);
    while let Some((id, _)) = session.poll_reply() {
        assert!(issued.remove(&id), "each request ends exactly once");
    }
    assert!(issued.is_empty(), "every request ended: {issued:?}");
    while session.poll_event().is_some() {}
});
