//! A BEST device session (key exchange on) fed arbitrary platform messages, replies, timeouts and commands.
//!
//! The input is a script: each step's first byte picks an action, two length bytes and the argument follow.
//! Actions: raw bytes in; a reply to the device's last message (the argument's first byte picks its shape:
//! success, register/accredit/report/publicKey/factor results, an offset correction, an error code; the rest
//! is spliced into it); time passes; a request, an upload or an answer to the last platform command. Invariants:
//! no panic; every `mid` the device writes is at most 32 characters and, except the `dev.cmd.response`s that
//! repeat a platform `mid`, never repeats; every request ends exactly once; after a close nothing new is sent.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use best_proto::exchange::KeyPair;
use best_proto::{CmdResponse, CodecConfig, DeviceMessage, FileId, Report};
use bytes::Bytes;
use device_core::best::{DeviceCommand, DeviceConfig, DeviceEvent, DeviceSession};
use device_core::{Session, SplitMix64};
use libfuzzer_sys::fuzz_target;

fn report() -> Report {
    serde_json::from_str(
        r#"{"fwVer":"1","devModel":"m","commType":"ethernet","ip":"1.2.3.4","netmask":"255.0.0.0",
        "gateway":"1.1.1.1","mac":"00:00:00:00:00:01","lockCount":"1","userCount":"0",
        "maxUserCount":"10","transactionCount":"0","maxTransactionCount":"10",
        "multiBioDataSupport":"0:0:0:0:0:0:0:0:0:0","multiBioVer":"0:0:0:0:0:0:0:0:0:0",
        "multiBioDataCount":"0:0:0:0:0:0:0:0:0:0","maxMultiBioDataCount":"0:0:0:0:0:0:0:0:0:0",
        "verifyStyles":"1","maxPendingCmdCount":"2","maxPackageSize":"1","funcIds":[]}"#,
    )
    .expect("a valid report")
}

/// A reply to `mid` whose shape the first byte of `arg` picks; the rest of `arg` (as lossy text) is spliced in.
fn reply(mid: &str, arg: &[u8]) -> String {
    let pick = arg.first().copied().unwrap_or(0);
    let text: String = String::from_utf8_lossy(arg.get(1..).unwrap_or(&[]))
        .chars()
        .filter(|c| *c != '"' && *c != '\\')
        .take(40)
        .collect();
    let results = match pick % 9 {
        0 => String::new(),
        1 => format!(r#","payload":{{"results":{{"authCode":"a{text}"}}}}"#),
        2 => format!(r#","payload":{{"results":{{"secret":"s{text}"}}}}"#),
        3 => format!(
            r#","payload":{{"results":{{"heartbeatInterval":"{}","supportHeartbeat":"1"}}}}"#,
            arg.get(1).copied().unwrap_or(0)
        ),
        4 => {
            let mut secret = [7u8; 32];
            for (s, b) in secret.iter_mut().zip(arg.iter().skip(1)) {
                *s = *b;
            }
            let key = KeyPair::from_secret_bytes(secret)
                .public_key_message()
                .public_key;
            format!(r#","payload":{{"results":{{"publicKey":"{key}"}}}}"#)
        }
        5 => format!(r#","payload":{{"results":{{"factor":"{text}"}}}}"#),
        6 => format!(r#","payload":{{"results":{{"factor":"00112233445566778899aabbccddeeff"}}}}"#),
        7 => {
            return format!(
                r#"{{"funcId":"cmd.dev.response","mid":"{mid}","code":"30000002","message":"expected offset {}"}}"#,
                u16::from_le_bytes([
                    arg.get(1).copied().unwrap_or(0),
                    arg.get(2).copied().unwrap_or(0)
                ])
            )
        }
        _ => {
            return format!(
                r#"{{"funcId":"cmd.dev.response","mid":"{mid}","code":"1000000{}","message":"no"}}"#,
                pick % 4
            )
        }
    };
    format!(
        r#"{{"funcId":"cmd.dev.response","mid":"{mid}","code":"00000000","message":"ok"{results}}}"#
    )
}

fuzz_target!(|data: &[u8]| {
    let config = DeviceConfig::new("SN1", "p1", "123456", report())
        .key_exchange(data.first().is_some_and(|b| b & 1 == 1))
        .max_pending_commands(4);
    let mut session = DeviceSession::new(config).with_rng(Box::new(SplitMix64::seeded(1)));
    let codec = CodecConfig::default();
    let mut now = Instant::now();
    session.connection_opened(now);
    let mut last_mid: Option<String> = None;
    let mut seen_mids = HashSet::new();
    let mut last_command: Option<String> = None;
    let mut issued = HashSet::new();
    let mut ended = HashSet::new();
    let mut rest = data.get(1..).unwrap_or(&[]);
    let mut uploads = 0u32;
    while let Some((&op, tail)) = rest.split_first() {
        let len = usize::from(u16::from_le_bytes([
            tail.first().copied().unwrap_or(0),
            tail.get(1).copied().unwrap_or(0),
        ]));
        let body = tail.get(2..).unwrap_or(&[]);
        let arg = &body[..len.min(body.len())];
        rest = &body[arg.len()..];
        match op % 7 {
            0 => session.handle_input(now, arg),
            1 | 2 => {
                if let Some(mid) = &last_mid {
                    let text = reply(mid, arg);
                    session.handle_input(now, text.as_bytes());
                }
            }
            3 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)));
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now);
                }
            }
            4 => {
                if let Ok(Some(id)) =
                    session.handle_command(now, DeviceCommand::Request(DeviceMessage::SyncTime))
                {
                    assert!(issued.insert(id));
                }
            }
            5 => {
                uploads += 1;
                let size = usize::from(arg.first().copied().unwrap_or(0)) * 16;
                let file = DeviceCommand::Upload {
                    file_id: FileId::new(format!("f{uploads}")).expect("a short id"),
                    data: Bytes::from(vec![0x5a; size]),
                };
                if let Ok(Some(id)) = session.handle_command(now, file) {
                    assert!(issued.insert(id));
                }
            }
            _ => {
                if let Some(cmd_id) = last_command.take() {
                    let _ = session
                        .handle_command(now, DeviceCommand::Respond(CmdResponse::ok(cmd_id)));
                }
            }
        }
        assert!(session.pending_commands() <= 4);
        while let Some(bytes) = session.poll_transmit() {
            let sent = best_proto::Codec::<DeviceMessage, DeviceMessage>::new(codec)
                .decode_text(&bytes)
                .expect("the device writes messages it can read back");
            assert!(sent.mid.chars().count() <= 32, "mid {:?}", sent.mid);
            let answer = matches!(sent.message, DeviceMessage::CmdResponse(_));
            if !answer {
                assert!(
                    seen_mids.insert(sent.mid.clone()),
                    "mid {:?} repeated",
                    sent.mid
                );
            }
            last_mid = Some(sent.mid);
        }
        while let Some(e) = session.poll_event() {
            if let DeviceEvent::Command { command, .. } = e {
                last_command = command.cmd_id().map(str::to_owned);
            }
        }
        while let Some((id, _)) = session.poll_reply() {
            assert!(
                issued.contains(&id) && ended.insert(id),
                "one outcome per request"
            );
        }
        if session.close_reason().is_some() {
            session.handle_input(
                now,
                br#"{"funcId":"cmd.control.reboot","mid":"x","payload":{"params":{"cmdId":"z"}}}"#,
            );
            assert!(
                session.poll_transmit().is_none(),
                "a closed session sends nothing new"
            );
        }
    }
    session.connection_lost(now);
    while session.poll_event().is_some() {}
    while let Some((id, _)) = session.poll_reply() {
        assert!(
            issued.contains(&id) && ended.insert(id),
            "one outcome per request"
        );
    }
    assert_eq!(issued, ended, "every request ended");
});
