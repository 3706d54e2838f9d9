//! A kingxun svrInstance session fed arbitrary bytes, timeouts and deferred answers.
//!
//! The input is a script: each step's first byte picks an action, the next byte is the length of its argument.
//! Besides raw bytes, a step can make the harness's own WebSvr codec (the DECISIONS.md KEY and IV, following the
//! `newIV` of the session's 9001 reply) encode a well-formed request, so runs get past 9001 into the verified
//! link. Invariants: no panic; before 9001 no more than one 9001 frame is buffered, after it at most one frame;
//! every output is a whole reply frame and there are never more replies than request frames received;
//! deferred answers stay within their cap; after a close nothing new is sent.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use device_core::kingxun::{
    DeviceCommand, Dispatch, InstanceCommand, InstanceConfig, InstanceHandler, InstanceSession,
};
use device_core::{ManualClock, Session, SplitMix64, WallClock};
use kingxun_proto::{
    decode_frame, Codec, CodecConfig, Connect, CryptFlag, Decoder, Encoder, FileDeliver, FileType,
    Heartbeat, LightCtrl, LightFlags, LinkCipher, LogLevel, LogSwitch, Packet, RawRequest, Request,
    RespCode, SetLogLevel, Unlock, HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const IV: [u8; 16] = [
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
];
/// Largest body before 9001: the sealed 9001 request.
const LOGIN_BODY: usize = 54;
/// Body limit of the session under test (small, so limits are reached).
const MAX_BODY: u32 = 4096;
const MAX_PENDING: usize = 4;

/// Answers by seq: every fourth deferred, the others with a code taken from the seq.
struct Fleet;

impl InstanceHandler for Fleet {
    fn device_count(&self) -> u32 {
        3
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        if command.seq % 4 == 0 {
            Dispatch::Defer
        } else {
            Dispatch::Answer(RespCode::from(command.seq.to_be_bytes()[3]))
        }
    }
}

fn host(pick: u8) -> String {
    match pick % 3 {
        0 => "kingxun.site".into(),
        1 => "websvr-01.kingxun.site".into(),
        _ => "elsewhere".into(),
    }
}

/// A typed request built from `arg`, with timestamps around `clock_ms` (in and out of the 300 s window).
fn request(arg: &[u8], clock_ms: u64) -> Option<Packet> {
    let at = |i: usize| arg.get(i).copied().unwrap_or(0);
    let ts = (clock_ms + 640_000).saturating_sub(u64::from(at(1)) * 5_000);
    let dev_id = u32::from(at(3));
    let rest = Bytes::copy_from_slice(arg.get(4..).unwrap_or(&[]));
    let request = match at(0) % 7 {
        0 => Request::Connect(Connect {
            timestamp: ts,
            svr_host: host(at(2)),
        }),
        1 => Request::Heartbeat(Heartbeat {
            timestamp: ts,
            svr_host: host(at(2)),
        }),
        2 => Request::Unlock(Unlock {
            dev_id,
            dev_type: 1,
            timestamp: ts,
            usr_id: 1,
            allow_time: 1,
            lowest_soc_p: 1,
            farthest_dist: 1,
        }),
        3 => Request::LightCtrl(LightCtrl {
            dev_id,
            dev_type: 1,
            timestamp: ts,
            usr_id: 1,
            light_flag: LightFlags::HAZARD,
        }),
        4 => Request::FileDeliver(FileDeliver::new(
            dev_id,
            1,
            ts,
            1,
            FileType::Media,
            "f",
            rest,
        )),
        5 => Request::SetLogLevel(SetLogLevel {
            dev_id,
            dev_type: 1,
            timestamp: ts,
            sys_usr_id: 1,
            log_send: LogSwitch::On,
            log_recv: LogSwitch::Off,
            log_level: LogLevel::from_bits_retain(at(2)),
        }),
        _ => Request::Unknown(RawRequest {
            msg_id: 5000 + u16::from(at(3)),
            crypt: if at(1) & 1 == 0 {
                CryptFlag::Plain
            } else {
                CryptFlag::Aes
            },
            body: rest,
        }),
    };
    Some(Packet::request(u32::from(at(2)), request))
}

fuzz_target!(|data: &[u8]| {
    let clock = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2023-11-14T22:13:20+00:00").unwrap(),
    );
    let config = InstanceConfig::new(KEY, IV)
        .allowed_hosts(["kingxun.site", "websvr-01.kingxun.site"])
        .svr_start_time(1)
        .max_pending_answers(MAX_PENDING)
        .codec(CodecConfig::default().max_body_len(MAX_BODY))
        .clock(Arc::new(clock.clone()));
    let mut session = InstanceSession::new(config, Fleet).with_rng(Box::new(SplitMix64::seeded(1)));
    // The harness's WebSvr: encodes requests, decodes the session's replies, follows newIV.
    let mut peer = Codec::new(CodecConfig::default()).with_cipher(LinkCipher::new(KEY, IV));
    // Every byte fed, delimited again to count the request frames the session can have received.
    let mut mirror = BytesMut::new();
    let mut mirror_broken = false;
    let mut requests = 0usize;
    let mut from_session = BytesMut::new();
    let mut replies = 0usize;
    let mut now = Instant::now();
    session.connection_opened(now);

    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let len = usize::from(tail.first().copied().unwrap_or(0));
        let arg = tail
            .get(1..1 + len.min(tail.len().saturating_sub(1)))
            .unwrap_or(&[]);
        rest = &tail[(1 + arg.len()).min(tail.len())..];
        let mut input = Vec::new();
        match op % 5 {
            0 | 1 => input.extend_from_slice(arg),
            2 => {
                let step = Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)));
                now += step;
                clock.advance(step);
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now);
                }
            }
            3 => {
                if let Some(packet) = request(arg, clock.unix_ms()) {
                    let mut buf = BytesMut::new();
                    if peer.encode(&packet, &mut buf).is_ok() {
                        input.extend_from_slice(&buf);
                    }
                }
            }
            _ => {
                let seq = u32::from(arg.first().copied().unwrap_or(0));
                let code = RespCode::from(arg.get(1).copied().unwrap_or(0));
                let _ = session.handle_command(now, InstanceCommand::Answer { seq, code });
            }
        }
        if !input.is_empty() {
            let closed_before = session.close_reason().is_some();
            // Fed in two pieces, to cross frame boundaries.
            let half = input.len() / 2;
            session.handle_input(now, &input[..half]);
            session.handle_input(now, &input[half..]);
            if !mirror_broken {
                mirror.extend_from_slice(&input);
                loop {
                    match decode_frame(&CodecConfig::default().max_body_len(MAX_BODY), &mut mirror)
                    {
                        Ok(Some(frame)) => requests += usize::from(!frame.header.reply),
                        Ok(None) => break,
                        Err(_) => {
                            mirror_broken = true;
                            break;
                        }
                    }
                }
            }
            if closed_before {
                assert!(
                    session.poll_transmit().is_none(),
                    "a closed session sends nothing new"
                );
            }
        }

        let limit = if session.session_id().is_none() {
            HEADER_LEN + LOGIN_BODY
        } else {
            HEADER_LEN + MAX_BODY as usize
        };
        assert!(
            session.buffered_input() <= limit,
            "{} > {limit}",
            session.buffered_input()
        );
        assert!(session.pending_answers() <= MAX_PENDING);

        while let Some(bytes) = session.poll_transmit() {
            from_session.extend_from_slice(&bytes);
        }
        loop {
            match peer.decode(&mut from_session) {
                Ok(Some(packet)) => {
                    assert!(packet.message.is_reply(), "{packet:?}");
                    replies += 1;
                }
                Ok(None) => break,
                // A 0xFF answer to a request that came with the wrong CryptFlag carries that flag.
                Err(e) => {
                    assert!(!e.is_fatal(), "session output is not a frame: {e}");
                    replies += 1;
                }
            }
        }
        assert!(from_session.is_empty(), "replies are whole frames");
        assert!(
            replies <= requests,
            "{replies} replies to {requests} requests"
        );
        while session.poll_event().is_some() {}
    }
    session.connection_lost(now);
    assert_eq!(session.pending_answers(), 0);
    while session.poll_event().is_some() {}
});
