//! A jetinno server session fed arbitrary bytes, timeouts and commands.
//!
//! The input is a script: each step's first byte picks an action (bytes in, time passes, a command), the
//! following bytes are its argument. Invariants: no panic; the receive buffer never holds more than one
//! maximum packet; everything queued is drainable; after a close nothing is taken any more.
#![no_main]

use std::time::{Duration, Instant};

use device_core::jetinno::{ServerCommand, ServerConfig, ServerSession};
use device_core::Session;
use jetinno_proto::{MachineCode, PayDone, PayType, ServerMessage, MAX_PACKET_LEN};
use libfuzzer_sys::fuzz_target;

fn registry(vmc_no: u64) -> Option<MachineCode> {
    (vmc_no < 100_000).then(|| MachineCode::new("12345678").unwrap())
}

fuzz_target!(|data: &[u8]| {
    let mut session = ServerSession::new(
        ServerConfig::default(),
        registry as fn(u64) -> Option<MachineCode>,
    );
    let mut now = Instant::now();
    session.connection_opened(now);
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let len = usize::from(tail.first().copied().unwrap_or(0));
        let arg = tail
            .get(1..1 + len.min(tail.len().saturating_sub(1)))
            .unwrap_or(&[]);
        rest = &tail[(1 + arg.len()).min(tail.len())..];
        match op % 4 {
            0 | 1 => session.handle_input(now, arg),
            2 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)));
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now);
                }
            }
            _ => {
                let msg = ServerMessage::from(PayDone {
                    vmc_no: 1,
                    product_amount: 1,
                    order_no: String::from_utf8_lossy(arg).into_owned(),
                    paydone: true,
                    paytype: PayType::WxPub,
                });
                let _ = session.handle_command(now, ServerCommand::Send(msg));
            }
        }
        assert!(
            session.buffered_input() <= MAX_PACKET_LEN,
            "{}",
            session.buffered_input()
        );
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
        if session.close_reason().is_some() {
            session.handle_input(now, b"0039");
            assert!(
                session.poll_transmit().is_none(),
                "a closed session sends nothing new"
            );
        }
    }
    session.connection_lost(now);
    while session.poll_event().is_some() {}
});
