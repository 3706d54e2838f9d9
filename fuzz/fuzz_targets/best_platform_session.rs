//! A BEST platform session fed arbitrary messages, timeouts and commands.
//!
//! The input is a script: each step's first byte picks an action (a message in, time passes, a command, an
//! answer to the last device request), two length bytes and the argument follow. The registry already knows the
//! device's `authCode` and `secret`, so a seed can log in directly. Invariants: no panic; never more commands
//! in flight than the device allows; every command ends exactly once (answer, timeout or connection lost);
//! after a close nothing new is sent.
#![no_main]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use best_proto::{Command, PlatformMessage, Response};
use device_core::best::{
    DeviceRecord, MemoryRegistry, PlatformCommand, PlatformConfig, PlatformEvent, PlatformSession,
};
use device_core::{Session, SplitMix64};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let registry = Arc::new(MemoryRegistry::new());
    let mut record = DeviceRecord::new("p1", "123456");
    record.auth_code = Some("a1".into());
    record.secret = Some("s1".into());
    registry.insert("SN1", record);
    let mut session = PlatformSession::new(
        PlatformConfig::default().command_queue_capacity(8),
        registry,
    )
    .with_rng(Box::new(SplitMix64::seeded(1)));
    let mut now = Instant::now();
    session.connection_opened(now);
    let mut issued = HashSet::new();
    let mut ended = HashSet::new();
    let mut last_request: Option<String> = None;
    let mut next_cmd = 0u32;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        // Two length bytes (little endian), then the argument.
        let len = usize::from(u16::from_le_bytes([
            tail.first().copied().unwrap_or(0),
            tail.get(1).copied().unwrap_or(0),
        ]));
        let body = tail.get(2..).unwrap_or(&[]);
        let arg = &body[..len.min(body.len())];
        rest = &body[arg.len()..];
        match op % 5 {
            0 | 1 => session.handle_input(now, arg),
            2 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)));
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now);
                }
            }
            3 => {
                next_cmd += 1;
                let cmd = PlatformMessage::ClearUsers(Command {
                    cmd_id: format!("c{next_cmd}"),
                });
                if let Ok(Some(id)) = session.handle_command(now, PlatformCommand::Send(cmd)) {
                    assert!(issued.insert(id));
                }
            }
            _ => {
                if let Some(mid) = last_request.take() {
                    let response = Response::ok(None);
                    let _ = session.handle_command(now, PlatformCommand::Respond { mid, response });
                }
            }
        }
        if let Some(max) = session.max_commands_in_flight() {
            assert!(session.commands_in_flight() <= max);
        }
        while session.poll_transmit().is_some() {}
        while let Some(e) = session.poll_event() {
            if let PlatformEvent::Request { mid, .. } = e {
                last_request = Some(mid);
            }
        }
        while let Some((id, _)) = session.poll_reply() {
            assert!(
                issued.contains(&id) && ended.insert(id),
                "one outcome per command"
            );
        }
        if session.close_reason().is_some() {
            session.handle_input(now, br#"{"funcId":"dev.heartbeat","mid":"1"}"#);
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
            "one outcome per command"
        );
    }
    assert_eq!(issued, ended, "every command ended");
});
