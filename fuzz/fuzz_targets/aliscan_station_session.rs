//! An aliscan station shared by three pad connections, with Wi-Fi, store directory and maintenance services
//! plugged in, fed arbitrary frames, well-formed commands and service requests from random pads, hardware
//! reports, status changes, time and reconnects.
//!
//! The input is a script: each step's first byte picks an action, the next byte is its argument's length.
//! Invariants: no panic; every transmit is a station message a pad decodes; the state is coherent (`booking`
//! and `debug` always name their pad); a closed connection is sent nothing; after a close nothing is queued
//! for that connection any more.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aliscan_proto::{ErrorCode, ErrorInfo, PadCodec, ScanRecord, StationStatus};
use device_core::aliscan::{
    HardwareReport, MemoryStore, PadConnection, SimulatedDirectory, SimulatedMaintenance,
    SimulatedScanner, SimulatedWifi, Station, StationCommand, StationConfig, UploadQueue,
};
use libfuzzer_sys::fuzz_target;

const STEPS: [&str; 13] = [
    "left", "right", "compute", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "8compute", "c9",
];
const ACTIONS: [&str; 7] = [
    "reset", "open", "book", "status", "license", "debug", "bogus",
];

/// A well-formed pad message chosen by `arg`, so the fuzzer reaches deep states quickly.
fn pad_message(arg: &[u8]) -> String {
    let b = |i: usize| arg.get(i).copied().unwrap_or(0);
    let pad = format!("p{}", b(2) % 3);
    let (topic, data) = match b(0) % 16 {
        0 => (
            "equipment/scan/new",
            format!(r#"{{"sex":{},"requestId":"r{}"}}"#, b(1) % 3, b(3)),
        ),
        1 => (
            "equipment/calibration/new",
            format!(r#"{{"step":"{}"}}"#, STEPS[usize::from(b(1)) % 13]),
        ),
        2 | 3 => (
            "equipment/scan/action",
            format!(r#"{{"action":"{}"}}"#, ACTIONS[usize::from(b(1)) % 7]),
        ),
        4 => (
            "equipment/debugEnable",
            format!(r#"{{"enable":{}}}"#, b(1) % 2 == 0),
        ),
        5 => (
            "files/scan/list",
            format!(r#"{{"page":{},"pageSize":{}}}"#, b(1), b(3)),
        ),
        6 => (
            "files/scan/request",
            format!(r#"{{"requestId":"r{}"}}"#, b(1)),
        ),
        7 => (
            [
                "equipment/wifi/list",
                "equipment/wifi/qst",
                "equipment/wifi/disconnect",
                "equipment/checkUDisk",
                "equipment/copyLog",
                "equipment/uploadLog",
                "equipment/info/update",
            ][usize::from(b(1)) % 7],
            "{}".to_owned(),
        ),
        8 => (
            "equipment/wifi/connect",
            format!(r#"{{"ssid":"n{}","pwd":"k{}"}}"#, b(1) % 3, b(3) % 3),
        ),
        9 => ("equipment/store/brand", "{}".to_owned()),
        10 => ("equipment/store/unbind", "{}".to_owned()),
        11 => (
            "equipment/store/list",
            format!(
                r#"{{"province":"p","city":"c","region":"r","page":{},"pageSize":{}}}"#,
                b(1),
                b(3)
            ),
        ),
        12 => (
            "equipment/store/get",
            format!(r#"{{"number":"S{}"}}"#, b(1) % 4),
        ),
        13 => (
            "equipment/store/bind",
            format!(r#"{{"storeId":"S{}","storeName":"x"}}"#, b(1) % 4),
        ),
        14 => (
            "files/scan/uinfo",
            // Scan ids of this run: FUZZ-<clock date>-<time>; mostly unknown, which is fine too.
            format!(r#"{{"scanId":"FUZZ-{}","name":"n{}"}}"#, b(1), b(3)),
        ),
        _ => (
            "files/scan/action",
            format!(r#"{{"action":"statistics","scanId":["r{}"]}}"#, b(1)),
        ),
    };
    format!(r#"{{"topic":"{topic}","padId":"{pad}","data":{data}}}"#)
}

fuzz_target!(|data: &[u8]| {
    let wifi = SimulatedWifi::new()
        .network("n0", "k0", -40, true)
        .network("n1", "k1", -60, false);
    let stores = SimulatedDirectory::new("B")
        .store("A", "S0")
        .store("C", "S1");
    let maintenance = SimulatedMaintenance::new();
    maintenance.plug("U", 1000, 100);
    maintenance.set_log_size(40);
    let mut station = Station::new(
        StationConfig::new("FUZZ").initial_status(StationStatus::Free),
        Box::new(SimulatedScanner::new()),
        Box::new(MemoryStore::new(16)),
        Box::new(UploadQueue::new()),
    )
    .wifi(Box::new(wifi))
    .stores(Box::new(stores))
    .maintenance(Box::new(maintenance));
    let pad_codec = PadCodec::default();
    let mut now = Instant::now();
    let mut open: Vec<PadConnection> = (0..3).map(|_| station.connection_opened(now)).collect();
    let mut closed: HashSet<PadConnection> = HashSet::new();
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let len = usize::from(tail.first().copied().unwrap_or(0));
        let arg = tail
            .get(1..1 + len.min(tail.len().saturating_sub(1)))
            .unwrap_or(&[]);
        rest = &tail[(1 + arg.len()).min(tail.len())..];
        let pick = |n: usize| usize::from(op >> 3) % n.max(1);
        match op % 8 {
            0 | 1 => {
                if let Some(&conn) = open.get(pick(open.len())) {
                    station.handle_input(now, conn, arg);
                }
            }
            2 | 3 => {
                if let Some(&conn) = open.get(pick(open.len())) {
                    station.handle_input(now, conn, pad_message(arg).as_bytes());
                }
            }
            4 => {
                now += Duration::from_secs(u64::from(arg.first().copied().unwrap_or(1)) * 60);
                if station.poll_timeout().is_some_and(|t| t <= now) {
                    station.handle_timeout(now);
                }
            }
            5 => {
                let code = ErrorCode::new(i64::from(arg.first().copied().unwrap_or(0)));
                let outcome = if code.is_ok() { Ok(()) } else { Err(code) };
                let report = match arg.get(1).copied().unwrap_or(0) % 3 {
                    0 => HardwareReport::ScanDone(outcome),
                    1 => HardwareReport::ComputeDone(
                        outcome.map(|()| Box::new(ScanRecord::default())),
                    ),
                    _ => HardwareReport::CalibrationDone(outcome),
                };
                station
                    .handle_command(now, StationCommand::Hardware(report))
                    .unwrap();
            }
            6 => {
                let status = StationStatus::from(
                    StationStatus::KNOWN[usize::from(arg.first().copied().unwrap_or(0))
                        % StationStatus::KNOWN.len()],
                );
                let _ = station.handle_command(
                    now,
                    StationCommand::SetStatus {
                        status,
                        error: ErrorInfo::ok(),
                    },
                );
            }
            _ => {
                // A pad leaves, or a new one connects.
                if arg.first().is_some_and(|b| b % 2 == 0) && !open.is_empty() {
                    let conn = open.remove(pick(open.len()));
                    station.connection_closed(now, conn);
                    closed.insert(conn);
                } else if open.len() < 4 {
                    open.push(station.connection_opened(now));
                }
            }
        }
        while let Some((conn, _reason)) = station.poll_close() {
            assert!(open.contains(&conn));
            while station.poll_transmit_for(conn).is_some() {}
            station.connection_closed(now, conn);
            open.retain(|c| *c != conn);
            closed.insert(conn);
        }
        while let Some((conn, bytes)) = station.poll_transmit() {
            assert!(!closed.contains(&conn), "sent to a closed connection");
            pad_codec
                .decode_text(&bytes)
                .expect("the station sends valid messages");
        }
        while station.poll_event().is_some() {}
        let state = station.state();
        match state.status {
            StationStatus::Booking | StationStatus::Debug => assert!(state.current_pad.is_some()),
            _ => {}
        }
        for conn in &closed {
            assert!(station.poll_transmit_for(*conn).is_none());
        }
    }
});
