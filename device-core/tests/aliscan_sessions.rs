//! Aliscan in memory, with virtual time: one station, several pads, every station rule.

mod support;

use std::time::{Duration, Instant};

use aliscan_proto::{
    CalibrationStep, Envelope, ErrorCode, FileAction, OutcomeStatus, PadMessage, Rssi, ScanRecord,
    Sex, StationMessage, StationState, StationStatus, Statistics, StoreBind, StoreGet,
    StoreListQuery, UDiskInfo, UpgradeInform, UpgradeOffer, UpgradeResponse, UpgradeSource,
    Upgrading, UserInfoUpdate, WifiConnect, WifiList, WifiState, WifiStatus,
};
use device_core::aliscan::{
    HardwareReport, MemoryStore, PadCommand, PadConfig, PadConnection, PadEvent, PadReply,
    PadSession, RecordStore as _, ScannerCall, SimulatedDirectory, SimulatedMaintenance,
    SimulatedScanner, SimulatedWifi, Station, StationCommand, StationConfig, StationEvent,
    UploadQueue, DEFAULT_BOOK_PERIOD,
};
use device_core::{
    CloseReason, ManualClock, RequestError, RequestId, SendError, Session, SplitMix64,
};

/// One station and its pads, wired in memory; `now` only moves when the test says so.
struct Rig {
    station: Station,
    pads: Vec<(PadSession, PadConnection)>,
    pad_events: Vec<Vec<PadEvent>>,
    replies: Vec<Vec<(RequestId, Result<PadReply, RequestError>)>>,
    events: Vec<StationEvent>,
    closed: Vec<(PadConnection, CloseReason)>,
    now: Instant,
    clock: ManualClock,
    scanner: SimulatedScanner,
    store: MemoryStore,
    uploads: UploadQueue,
}

impl Rig {
    /// A station in `free` with no pads.
    fn new() -> Self {
        Self::with(StationConfig::new("DEV1"), StationStatus::Free)
    }

    fn with(config: StationConfig, status: StationStatus) -> Self {
        Self::plugged(config, status, |s| s)
    }

    /// A station whose services `plug` adds.
    fn plugged(
        config: StationConfig,
        status: StationStatus,
        plug: impl FnOnce(Station) -> Station,
    ) -> Self {
        let clock = support::clock();
        let scanner = SimulatedScanner::new();
        let store = MemoryStore::new(100);
        let uploads = UploadQueue::new();
        let config = config.clock(support::shared(&clock)).initial_status(status);
        let station = plug(Station::new(
            config,
            Box::new(scanner.clone()),
            Box::new(store.clone()),
            Box::new(uploads.clone()),
        ));
        Self {
            station,
            pads: Vec::new(),
            pad_events: Vec::new(),
            replies: Vec::new(),
            events: Vec::new(),
            closed: Vec::new(),
            now: Instant::now(),
            clock,
            scanner,
            store,
            uploads,
        }
    }

    /// Connects a pad and lets it reach the established state.
    fn add_pad(&mut self, pad_id: &str) -> usize {
        self.add_pad_with(PadConfig::new(pad_id))
    }

    fn add_pad_with(&mut self, config: PadConfig) -> usize {
        let mut pad = PadSession::new(config).with_rng(Box::new(SplitMix64::seeded(7)));
        let conn = self.station.connection_opened(self.now);
        pad.connection_opened(self.now);
        self.pads.push((pad, conn));
        self.pad_events.push(Vec::new());
        self.replies.push(Vec::new());
        self.pump();
        let i = self.pads.len() - 1;
        assert!(
            self.pads[i].0.is_established(),
            "pad {pad_id_of} not established",
            pad_id_of = i
        );
        i
    }

    fn pad_index(&self, conn: PadConnection) -> Option<usize> {
        self.pads.iter().position(|(_, c)| *c == conn)
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for (pad, conn) in &mut self.pads {
                while let Some(bytes) = pad.poll_transmit() {
                    moved = true;
                    self.station.handle_input(self.now, *conn, &bytes);
                }
            }
            while let Some((conn, bytes)) = self.station.poll_transmit() {
                moved = true;
                if let Some(i) = self.pad_index(conn) {
                    self.pads[i].0.handle_input(self.now, &bytes);
                }
            }
            while let Some((conn, reason)) = self.station.poll_close() {
                moved = true;
                // The driver writes what is queued, then closes both ends.
                while let Some(bytes) = self.station.poll_transmit_for(conn) {
                    if let Some(i) = self.pad_index(conn) {
                        self.pads[i].0.handle_input(self.now, &bytes);
                    }
                }
                self.station.connection_closed(self.now, conn);
                if let Some(i) = self.pad_index(conn) {
                    self.pads[i].0.connection_lost(self.now);
                }
                self.closed.push((conn, reason));
            }
            for (i, (pad, _)) in self.pads.iter_mut().enumerate() {
                while let Some(e) = pad.poll_event() {
                    self.pad_events[i].push(e);
                }
                while let Some(r) = pad.poll_reply() {
                    self.replies[i].push(r);
                }
            }
            while let Some(e) = self.station.poll_event() {
                self.events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    fn command(&mut self, i: usize, command: PadCommand) -> Result<Option<RequestId>, SendError> {
        let r = self.pads[i].0.handle_command(self.now, command);
        self.pump();
        r
    }

    /// Runs a request and returns its outcome, which must have arrived.
    fn request(&mut self, i: usize, command: PadCommand) -> Result<PadReply, RequestError> {
        let id = self.command(i, command).unwrap().unwrap();
        self.outcome(i, id).expect("the request ended")
    }

    fn outcome(&mut self, i: usize, id: RequestId) -> Option<Result<PadReply, RequestError>> {
        let at = self.replies[i].iter().position(|(r, _)| *r == id)?;
        Some(self.replies[i].remove(at).1)
    }

    fn hardware(&mut self, report: HardwareReport) {
        self.station
            .handle_command(self.now, StationCommand::Hardware(report))
            .unwrap();
        self.pump();
    }

    fn set_status(&mut self, status: StationStatus) {
        self.station
            .handle_command(
                self.now,
                StationCommand::SetStatus {
                    status,
                    error: Default::default(),
                },
            )
            .unwrap();
        self.pump();
    }

    /// Advances virtual time by `by`, firing every timeout on the way in order.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = self
                .pads
                .iter()
                .filter_map(|(p, _)| p.poll_timeout())
                .chain(self.station.poll_timeout())
                .min();
            match next {
                Some(at) if at <= target => {
                    self.clock.advance(at.saturating_duration_since(self.now));
                    self.now = at.max(self.now);
                    if self.station.poll_timeout().is_some_and(|t| t <= self.now) {
                        self.station.handle_timeout(self.now);
                    }
                    for (pad, _) in &mut self.pads {
                        if pad.poll_timeout().is_some_and(|t| t <= self.now) {
                            pad.handle_timeout(self.now);
                        }
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.clock
            .advance(target.saturating_duration_since(self.now));
        self.now = target;
    }

    /// The statuses pad `i` was pushed so far, and forgets them.
    fn statuses(&mut self, i: usize) -> Vec<StationStatus> {
        let out = self.pad_events[i]
            .iter()
            .filter_map(|e| match e {
                PadEvent::Status(s) => Some(s.status.clone()),
                _ => None,
            })
            .collect();
        self.pad_events[i].retain(|e| !matches!(e, PadEvent::Status(_)));
        out
    }

    /// Starts a scan from pad `i`; returns the scan id.
    fn start_scan(&mut self, i: usize) -> String {
        match self.request(i, PadCommand::Scan { sex: Sex::Female }) {
            Ok(PadReply::ScanStarted(s)) if !s.failed() => s.scan_id,
            other => panic!("scan not started: {other:?}"),
        }
    }

    fn finish_scan(&mut self) {
        self.hardware(HardwareReport::ScanDone(Ok(())));
        let record = ScanRecord {
            advise2: Some("42".into()),
            ..ScanRecord::default()
        };
        self.hardware(HardwareReport::ComputeDone(Ok(Box::new(record))));
    }
}

fn refused(reply: Result<PadReply, RequestError>) -> StationState {
    match reply {
        Ok(PadReply::Refused(state)) => state,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn status(reply: Result<PadReply, RequestError>) -> StationState {
    match reply {
        Ok(PadReply::Status(state)) => state,
        other => panic!("expected a status, got {other:?}"),
    }
}

#[test]
fn a_pad_is_established_once_the_station_answers_its_status_query() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    assert!(matches!(
        &rig.pad_events[a][..],
        [PadEvent::Status(_), PadEvent::Connected(s), PadEvent::Status(_)] if s.status == StationStatus::Free
    ));
    assert_eq!(rig.station.pad_id(rig.pads[a].1), Some("pad-a"));
    assert!(matches!(rig.events[0], StationEvent::Connected(_)));
}

#[test]
fn commands_before_the_station_answered_are_not_ready() {
    let mut pad = PadSession::new(PadConfig::new("p")).with_rng(Box::new(SplitMix64::seeded(1)));
    let now = Instant::now();
    assert_eq!(
        pad.handle_command(now, PadCommand::Status),
        Err(SendError::NotReady)
    );
    pad.connection_opened(now);
    assert_eq!(
        pad.handle_command(now, PadCommand::Book),
        Err(SendError::NotReady)
    );
    // The connect query goes out anyway.
    let query = pad.poll_transmit().unwrap();
    assert_eq!(
        &query[..],
        br#"{"topic":"equipment/scan/action","padId":"p","data":{"action":"status"}}"#
    );
}

#[test]
fn a_scan_runs_from_new_to_the_record_and_every_pad_sees_the_statuses() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    rig.statuses(a);
    rig.statuses(b);
    let scan_id = rig.start_scan(a);
    // DEVICEID-YYYYMMDD-HHmmss in the station's local time (the manual clock stands at 08:00 +08:00).
    assert_eq!(scan_id, "DEV1-20261122-080000");
    assert_eq!(
        rig.scanner.calls(),
        vec![ScannerCall::Scan(scan_id.clone())]
    );
    rig.finish_scan();
    let seen = vec![
        StationStatus::Scanning,
        StationStatus::Computing,
        StationStatus::Free,
    ];
    assert_eq!(rig.statuses(a), seen);
    assert_eq!(rig.statuses(b), seen);
    // Only the requesting pad gets files/scan/result.
    let record = rig.pad_events[a]
        .iter()
        .find_map(|e| match e {
            PadEvent::ScanFinished(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the record reached pad a");
    assert_eq!(record.scan_id, scan_id);
    assert_eq!(record.data.scan_id.as_deref(), Some(scan_id.as_str()));
    assert_eq!(record.data.create_pad_id.as_deref(), Some("pad-a"));
    assert_eq!(record.data.sex, Some(Sex::Female));
    assert_eq!(record.data.advise2.as_deref(), Some("42"));
    assert_eq!(
        record.data.create_time.map(|t| t.to_string()).as_deref(),
        Some("2026-11-22 08:00:00")
    );
    assert!(!rig.pad_events[b]
        .iter()
        .any(|e| matches!(e, PadEvent::ScanFinished(_))));
    // Stored, queued for upload, and fetchable by its requestId.
    assert_eq!(rig.store.len(), 1);
    assert_eq!(rig.uploads.queued(), vec![scan_id.clone()]);
    let request_id = record.data.request_id.clone().unwrap();
    let fetched = rig.request(b, PadCommand::FetchRecord { request_id });
    assert!(matches!(fetched, Ok(PadReply::Record(r)) if r.scan_id == scan_id));
    let page = rig.request(
        b,
        PadCommand::ListRecords {
            page: 1,
            page_size: 10,
        },
    );
    assert!(matches!(page, Ok(PadReply::Records(p)) if p.count == 1 && p.list.len() == 1));
    assert!(rig
        .events
        .iter()
        .any(|e| matches!(e, StationEvent::ScanFinished(r) if r.scan_id.as_deref() == Some(scan_id.as_str()))));
}

#[test]
fn commands_are_refused_with_the_status_while_the_station_is_not_ready() {
    let mut rig = Rig::with(StationConfig::new("DEV1"), StationStatus::WaitBinding);
    let a = rig.add_pad("pad-a");
    let state = refused(rig.request(a, PadCommand::Scan { sex: Sex::Male }));
    assert_eq!(state.status, StationStatus::WaitBinding);
    let state = refused(rig.request(a, PadCommand::Calibrate(CalibrationStep::Left)));
    assert_eq!(state.status, StationStatus::WaitBinding);
    assert_eq!(
        status(rig.request(a, PadCommand::Book)).status,
        StationStatus::WaitBinding
    );
    assert!(rig.scanner.calls().is_empty());
    // Once the deployment reports the station ready, everyone is told and scans go through.
    rig.set_status(StationStatus::Free);
    assert_eq!(rig.statuses(a).last(), Some(&StationStatus::Free));
    rig.start_scan(a);
}

#[test]
fn while_scanning_other_commands_are_refused_with_the_current_status() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    rig.start_scan(a);
    let state = refused(rig.request(b, PadCommand::Scan { sex: Sex::Male }));
    assert_eq!(state.status, StationStatus::Scanning);
    assert_eq!(state.current_pad.as_deref(), Some("pad-a"));
    let state = refused(rig.request(a, PadCommand::Calibrate(CalibrationStep::Left)));
    assert_eq!(state.status, StationStatus::Scanning);
}

#[test]
fn only_the_booking_pad_may_scan_or_reset() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    let booked = status(rig.request(a, PadCommand::Book));
    assert_eq!(booked.status, StationStatus::Booking);
    assert_eq!(booked.current_pad.as_deref(), Some("pad-a"));
    // pad-b is told too (a broadcast).
    assert_eq!(rig.statuses(b).last(), Some(&StationStatus::Booking));
    let state = refused(rig.request(b, PadCommand::Scan { sex: Sex::Male }));
    assert_eq!(
        (state.status, state.current_pad.as_deref()),
        (StationStatus::Booking, Some("pad-a"))
    );
    let state = status(rig.request(b, PadCommand::Reset));
    assert_eq!(state.status, StationStatus::Booking);
    let state = status(rig.request(b, PadCommand::Book));
    assert_eq!(state.current_pad.as_deref(), Some("pad-a"));
    // The booking pad scans; the finished scan resets the station and ends the booking.
    rig.start_scan(a);
    rig.finish_scan();
    assert_eq!(rig.station.state().status, StationStatus::Free);
    assert_eq!(rig.station.state().current_pad, None);
    // Booking again and resetting frees it.
    status(rig.request(a, PadCommand::Book));
    let state = status(rig.request(a, PadCommand::Reset));
    assert_eq!(
        (state.status, state.current_pad),
        (StationStatus::Free, None)
    );
}

#[test]
fn a_booking_expires_after_the_book_period() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    status(rig.request(a, PadCommand::Book));
    rig.statuses(b);
    rig.advance(DEFAULT_BOOK_PERIOD - Duration::from_secs(1));
    assert_eq!(rig.station.state().status, StationStatus::Booking);
    rig.advance(Duration::from_secs(1));
    assert_eq!(rig.station.state().status, StationStatus::Free);
    assert_eq!(rig.statuses(b), vec![StationStatus::Free]);
    rig.start_scan(b);
}

#[test]
fn the_booking_pad_leaving_releases_the_station() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    status(rig.request(a, PadCommand::Book));
    let conn = rig.pads[a].1;
    rig.pads[a].0.connection_lost(rig.now);
    rig.station.connection_closed(rig.now, conn);
    rig.pump();
    assert_eq!(rig.station.state().status, StationStatus::Free);
    assert!(rig.events.iter().any(|e| matches!(
        e,
        StationEvent::Disconnected { pad_id: Some(p), .. } if p == "pad-a"
    )));
    rig.start_scan(b);
}

#[test]
fn debug_mode_is_locked_to_its_pad() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    let state = status(rig.request(a, PadCommand::Debug(true)));
    assert_eq!(
        (state.status, state.current_pad.as_deref()),
        (StationStatus::Debug, Some("pad-a"))
    );
    assert_eq!(rig.statuses(b).last(), Some(&StationStatus::Debug));
    // Everything from another pad is answered with the status and not served.
    let state = refused(rig.request(b, PadCommand::Scan { sex: Sex::Male }));
    assert_eq!(state.status, StationStatus::Debug);
    assert_eq!(
        status(rig.request(b, PadCommand::Debug(false))).status,
        StationStatus::Debug
    );
    assert_eq!(
        status(rig.request(b, PadCommand::Reset)).status,
        StationStatus::Debug
    );
    let id = rig
        .command(
            b,
            PadCommand::ListRecords {
                page: 1,
                page_size: 10,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        rig.outcome(b, id),
        None,
        "files/scan/list is not served to another pad"
    );
    rig.command(
        b,
        PadCommand::Send(PadMessage::WifiList(aliscan_proto::Envelope::new(
            "x",
            aliscan_proto::Empty,
        ))),
    )
    .unwrap();
    assert!(!rig
        .events
        .iter()
        .any(|e| matches!(e, StationEvent::Message { .. })));
    // The debug pad may calibrate and scan.
    let id = rig
        .command(a, PadCommand::Calibrate(CalibrationStep::Left))
        .unwrap()
        .unwrap();
    assert_eq!(rig.station.state().status, StationStatus::Calibrating);
    rig.hardware(HardwareReport::CalibrationDone(Ok(())));
    assert!(matches!(
        rig.outcome(a, id),
        Some(Ok(PadReply::Calibration(r))) if r.status == OutcomeStatus::Success
    ));
    assert_eq!(rig.station.state().status, StationStatus::Debug);
    // Leaving debug frees the station for everyone.
    assert_eq!(
        status(rig.request(a, PadCommand::Debug(false))).status,
        StationStatus::Free
    );
    rig.start_scan(b);
}

#[test]
fn calibration_steps_run_in_order_and_report_per_step() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    let step = |rig: &mut Rig, s: CalibrationStep, outcome: Result<(), ErrorCode>| {
        let id = rig
            .command(a, PadCommand::Calibrate(s.clone()))
            .unwrap()
            .unwrap();
        if rig.station.state().status == StationStatus::Calibrating {
            assert_eq!(
                rig.outcome(a, id),
                None,
                "the result waits for the hardware"
            );
            rig.hardware(HardwareReport::CalibrationDone(outcome));
        }
        match rig.outcome(a, id) {
            Some(Ok(PadReply::Calibration(r))) => {
                assert_eq!(r.step, s);
                r
            }
            other => panic!("{other:?}"),
        }
    };
    // Out of order: refused with 800000, the device is not touched.
    let r = step(&mut rig, CalibrationStep::Right, Ok(()));
    assert_eq!(
        (r.status, r.error.code),
        (OutcomeStatus::Fail, ErrorCode::BAD_PARAMETER)
    );
    let r = step(&mut rig, CalibrationStep::Compute, Ok(()));
    assert_eq!(r.status, OutcomeStatus::Fail);
    assert!(rig.scanner.calls().is_empty());
    // left -> right -> compute, with a failed right retried.
    assert_eq!(
        step(&mut rig, CalibrationStep::Left, Ok(())).status,
        OutcomeStatus::Success
    );
    assert!(rig.statuses(b).contains(&StationStatus::Calibrating));
    let r = step(
        &mut rig,
        CalibrationStep::Right,
        Err(ErrorCode::IMAGE_CAPTURE_FAILED),
    );
    assert_eq!(
        (r.status, r.error.code),
        (OutcomeStatus::Fail, ErrorCode::IMAGE_CAPTURE_FAILED)
    );
    assert_eq!(r.error.message.msg_en, "image capture failed");
    assert_eq!(
        step(&mut rig, CalibrationStep::Right, Ok(())).status,
        OutcomeStatus::Success
    );
    assert_eq!(
        step(&mut rig, CalibrationStep::Compute, Ok(())).status,
        OutcomeStatus::Success
    );
    // A finished series starts over.
    assert_eq!(
        step(&mut rig, CalibrationStep::Right, Ok(())).status,
        OutcomeStatus::Fail
    );
    // c1..c8 -> 8compute; skipping a position is refused; a device refusing at once fails that step.
    assert_eq!(
        step(&mut rig, CalibrationStep::C2, Ok(())).status,
        OutcomeStatus::Fail
    );
    rig.scanner.refuse_next(ErrorCode::PROJECTION_FAILED);
    let r = step(&mut rig, CalibrationStep::C1, Ok(()));
    assert_eq!(
        (r.status, r.error.code),
        (OutcomeStatus::Fail, ErrorCode::PROJECTION_FAILED)
    );
    use CalibrationStep::*;
    for s in [C1, C2, C3, C4, C5, C6, C7, C8] {
        assert_eq!(
            step(&mut rig, s.clone(), Ok(())).status,
            OutcomeStatus::Success,
            "{s}"
        );
    }
    assert_eq!(step(&mut rig, C3, Ok(())).status, OutcomeStatus::Fail);
    let r = step(
        &mut rig,
        Compute8,
        Err(ErrorCode::CALIBRATION_COMPUTE_FAILED),
    );
    assert_eq!(r.error.code, ErrorCode::CALIBRATION_COMPUTE_FAILED);
    assert_eq!(
        step(&mut rig, Compute8, Ok(())).status,
        OutcomeStatus::Success
    );
    assert_eq!(rig.station.state().status, StationStatus::Free);
    // Reset clears the progress (the spec sends reset when calibration is left).
    assert_eq!(step(&mut rig, Left, Ok(())).status, OutcomeStatus::Success);
    status(rig.request(a, PadCommand::Reset));
    assert_eq!(step(&mut rig, Right, Ok(())).status, OutcomeStatus::Fail);
}

#[test]
fn a_scan_the_device_refuses_answers_with_an_empty_scan_id() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    rig.scanner.refuse_next(ErrorCode::DEVICE_FAULT);
    match rig.request(a, PadCommand::Scan { sex: Sex::Male }) {
        Ok(PadReply::ScanStarted(s)) => assert!(s.failed()),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.station.state().status, StationStatus::Free);
    assert!(rig.events.iter().any(
        |e| matches!(e, StationEvent::ScanFailed { error, .. } if *error == ErrorCode::DEVICE_FAULT)
    ));
}

#[test]
fn a_failed_computation_is_pushed_with_its_code_and_the_station_is_free_again() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    status(rig.request(a, PadCommand::Book));
    rig.start_scan(a);
    rig.hardware(HardwareReport::ScanDone(Ok(())));
    rig.pad_events[a].clear();
    rig.hardware(HardwareReport::ComputeDone(Err(
        ErrorCode::MODEL_BUILD_FAILED,
    )));
    let pushed: Vec<_> = rig.pad_events[a]
        .iter()
        .filter_map(|e| match e {
            PadEvent::Status(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].status, StationStatus::Free);
    assert_eq!(pushed[0].error.code, ErrorCode::MODEL_BUILD_FAILED);
    assert!(rig.store.is_empty());
    assert!(rig.uploads.queued().is_empty());
    // A late report for the gone scan changes nothing.
    rig.hardware(HardwareReport::ComputeDone(Ok(Box::default())));
    assert!(rig.store.is_empty());
}

#[test]
fn silent_hardware_fails_the_scan_after_the_hardware_timeout() {
    let config = StationConfig::new("DEV1").hardware_timeout(Duration::from_secs(60));
    let mut rig = Rig::with(config, StationStatus::Free);
    let a = rig.add_pad("pad-a");
    rig.start_scan(a);
    rig.advance(Duration::from_secs(59));
    assert_eq!(rig.station.state().status, StationStatus::Scanning);
    rig.advance(Duration::from_secs(1));
    assert_eq!(rig.station.state().status, StationStatus::Free);
    assert_eq!(rig.scanner.calls().last(), Some(&ScannerCall::Reset));
    assert!(rig.events.iter().any(
        |e| matches!(e, StationEvent::ScanFailed { error, .. } if *error == ErrorCode::DEVICE_FAULT)
    ));
}

#[test]
fn a_reset_aborts_a_running_scan() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    rig.start_scan(a);
    let state = rig.request(a, PadCommand::Reset);
    // The scanning push caused by the reset answers it.
    assert_eq!(status(state).status, StationStatus::Free);
    assert_eq!(rig.scanner.calls().last(), Some(&ScannerCall::Reset));
    rig.hardware(HardwareReport::ScanDone(Ok(())));
    assert_eq!(rig.station.state().status, StationStatus::Free);
}

#[test]
fn a_malformed_frame_closes_only_its_own_link() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    let conn = rig.pads[a].1;
    let id = rig.command(a, PadCommand::DeviceInfo).unwrap().unwrap();
    rig.station.handle_input(
        rig.now,
        conn,
        b"{\"topic\":\"equipment/scan/new\",\"data\":{\"sex\":[]}}",
    );
    rig.pump();
    assert!(
        matches!(&rig.closed[..], [(c, CloseReason::Protocol(why))] if *c == conn && why.to_string().contains("scan/new")
            && matches!(why, device_core::ProtocolError::Aliscan(device_core::aliscan::SessionError::Decode(_))))
    );
    assert!(matches!(
        rig.outcome(a, id),
        Some(Err(RequestError::ConnectionLost))
    ));
    assert!(rig.pad_events[a]
        .iter()
        .any(|e| matches!(e, PadEvent::Disconnected(_))));
    assert_eq!(rig.station.connections(), vec![rig.pads[b].1]);
    rig.start_scan(b);
}

#[test]
fn a_malformed_frame_at_the_pad_closes_the_link() {
    let mut pad = PadSession::new(PadConfig::new("p")).with_rng(Box::new(SplitMix64::seeded(1)));
    let now = Instant::now();
    pad.connection_opened(now);
    pad.handle_input(now, b"[1,2");
    assert!(matches!(pad.close_reason(), Some(CloseReason::Protocol(_))));
}

#[test]
fn messages_the_station_does_not_handle_pass_through_and_the_deployment_answers() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    rig.command(
        a,
        PadCommand::Send(PadMessage::WifiList(aliscan_proto::Envelope::new(
            "ignored",
            aliscan_proto::Empty,
        ))),
    )
    .unwrap();
    let conn = match rig.events.iter().find_map(|e| match e {
        StationEvent::Message {
            conn,
            message: PadMessage::WifiList(env),
        } => Some((*conn, env.pad_id.clone())),
        _ => None,
    }) {
        Some((conn, pad)) => {
            // The pad session stamps its own padId on what it sends.
            assert_eq!(pad.as_deref(), Some("pad-a"));
            conn
        }
        None => panic!("no pass-through: {:?}", rig.events),
    };
    // An unknown topic passes through too.
    rig.station.handle_input(
        rig.now,
        conn,
        br#"{"topic":"equipment/new/thing","padId":"pad-a","data":{"x":1}}"#,
    );
    rig.pump();
    assert!(rig.events.iter().any(|e| matches!(
        e,
        StationEvent::Message { message: PadMessage::Unknown(u), .. } if u.topic == "equipment/new/thing"
    )));
    let answer =
        StationMessage::WifiResult(aliscan_proto::Envelope::new("pad-a", WifiList::default()));
    rig.station
        .handle_command(
            rig.now,
            StationCommand::Send {
                to: conn,
                message: answer.clone(),
            },
        )
        .unwrap();
    rig.pump();
    assert!(rig.pad_events[a]
        .iter()
        .any(|e| *e == PadEvent::Message(Box::new(answer.clone()))));
}

#[test]
fn application_messages_are_bounded_per_connection() {
    let config = StationConfig::new("DEV1").outbox_capacity(2);
    let mut rig = Rig::with(config, StationStatus::Free);
    let a = rig.add_pad("pad-a");
    let conn = rig.pads[a].1;
    let msg = StationMessage::NetResult(aliscan_proto::Envelope::new("pad-a", true));
    for _ in 0..2 {
        rig.station
            .handle_command(rig.now, StationCommand::Broadcast(msg.clone()))
            .unwrap();
    }
    assert_eq!(
        rig.station.handle_command(
            rig.now,
            StationCommand::Send {
                to: conn,
                message: msg.clone()
            }
        ),
        Err(SendError::Full { capacity: 2 })
    );
    // The station's own traffic still goes out.
    rig.set_status(StationStatus::Abnormal);
    rig.pump();
    assert_eq!(rig.station.state().status, StationStatus::Abnormal);
    assert_eq!(rig.statuses(a).last(), Some(&StationStatus::Abnormal));
    assert!(matches!(
        rig.station.handle_command(
            rig.now,
            StationCommand::SetStatus {
                status: StationStatus::Booking,
                error: Default::default()
            }
        ),
        Err(SendError::Refused(_))
    ));
}

#[test]
fn pad_requests_time_out_and_late_answers_are_counted() {
    let mut rig = Rig::new();
    let cfg = PadConfig::new("pad-a").request_timeout(Duration::from_secs(5));
    let a = rig.add_pad_with(cfg);
    let id = rig.command(a, PadCommand::DeviceInfo).unwrap().unwrap();
    assert_eq!(
        rig.command(a, PadCommand::DeviceInfo),
        Err(SendError::DuplicateKey {
            key: "device info".into()
        })
    );
    rig.advance(Duration::from_secs(5));
    assert_eq!(
        rig.outcome(a, id),
        Some(Err(RequestError::TimedOut(Duration::from_secs(5))))
    );
    let conn = rig.pads[a].1;
    let info = aliscan_proto::DeviceInfo {
        status: OutcomeStatus::Success,
        error: Default::default(),
        model_name: None,
        sn: Some("SN1".into()),
        ssid: None,
        ap: None,
        device_id: None,
        versions: Default::default(),
        prev: None,
    };
    let late =
        StationMessage::DeviceInfoResult(aliscan_proto::Envelope::new("pad-a", info.clone()));
    rig.station
        .handle_command(
            rig.now,
            StationCommand::Send {
                to: conn,
                message: late.clone(),
            },
        )
        .unwrap();
    rig.pump();
    assert!(rig.replies[a].is_empty());
    // Answered in time, the next one completes with the data.
    let id = rig.command(a, PadCommand::DeviceInfo).unwrap().unwrap();
    rig.station
        .handle_command(
            rig.now,
            StationCommand::Send {
                to: conn,
                message: late,
            },
        )
        .unwrap();
    rig.pump();
    assert_eq!(
        rig.outcome(a, id),
        Some(Ok(PadReply::DeviceInfo(Box::new(info))))
    );
}

#[test]
fn a_lost_connection_fails_waiting_requests_and_a_closed_pad_never_comes_back() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let id = rig.command(a, PadCommand::NetQuery).unwrap().unwrap();
    let now = rig.now;
    rig.pads[a].0.connection_lost(now);
    rig.pump();
    assert_eq!(rig.outcome(a, id), Some(Err(RequestError::ConnectionLost)));
    assert!(rig.pad_events[a]
        .iter()
        .any(|e| matches!(e, PadEvent::Disconnected(None))));
    assert!(!rig.pads[a].0.is_established());
    // Reconnect: established again after the status answer.
    let conn = rig.station.connection_opened(now);
    rig.pads[a].1 = conn;
    rig.pads[a].0.connection_opened(now);
    rig.pump();
    assert!(rig.pads[a].0.is_established());
    rig.pads[a].0.close(now);
    assert_eq!(rig.pads[a].0.close_reason(), Some(&CloseReason::Requested));
    assert_eq!(
        rig.pads[a].0.handle_command(now, PadCommand::Status),
        Err(SendError::Closed)
    );
    rig.pads[a].0.connection_lost(now);
    rig.pads[a].0.connection_opened(now);
    assert!(
        rig.pads[a].0.poll_transmit().is_none(),
        "a closed pad sends nothing"
    );
    assert!(!rig.pads[a].0.is_established());
}

#[test]
fn the_memory_store_pages_newest_first() {
    let mut store = MemoryStore::new(3);
    for i in 0..4 {
        let r = ScanRecord {
            scan_id: Some(format!("S{i}")),
            request_id: Some(format!("R{i}")),
            ..ScanRecord::default()
        };
        store.save(&r).unwrap();
    }
    assert_eq!(store.len(), 3, "the oldest was dropped");
    let page = store.page(1, 2);
    let ids: Vec<_> = page
        .list
        .iter()
        .map(|r| r.scan_id.clone().unwrap())
        .collect();
    assert_eq!(
        (page.count, ids),
        (3, vec!["S3".to_owned(), "S2".to_owned()])
    );
    assert_eq!(store.page(2, 2).list.len(), 1);
    assert!(store.get("S0").is_none());
    assert_eq!(
        store.find_by_request("R1").and_then(|r| r.scan_id),
        Some("S1".into())
    );
}

// ---- Wi-Fi, store, user info, statistics, USB drive, logs and upgrade requests ----

/// Every request helper added for the spec's remaining request/notification pairs.
fn service_requests() -> Vec<PadCommand> {
    vec![
        PadCommand::WifiNetworks,
        PadCommand::WifiStatus,
        PadCommand::WifiConnect(WifiConnect {
            ssid: "shop".into(),
            pwd: "secret".into(),
        }),
        PadCommand::WifiDisconnect,
        PadCommand::Brand,
        PadCommand::RefreshInfo,
        PadCommand::ListStores(StoreListQuery {
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            region: "Xihu".into(),
            page: Some(1),
            page_size: Some(10),
            environment: Some(1),
        }),
        PadCommand::GetStore(StoreGet {
            number: "S-1".into(),
            environment: None,
        }),
        PadCommand::BindStore(StoreBind {
            store_id: "S-1".into(),
            store_name: "West Lake".into(),
        }),
        PadCommand::UnbindStore,
        PadCommand::UpdateUserInfo(UserInfoUpdate {
            scan_id: "DEV1-20261122-080000".into(),
            telephone: Some("13800000000".into()),
            member_num: None,
            operator: None,
            birthday: None,
            name: Some("Li".into()),
        }),
        PadCommand::Statistics,
        PadCommand::CheckUDisk,
        PadCommand::CopyLog,
        PadCommand::UploadLog,
        PadCommand::UpgradeResponse(UpgradeResponse {
            id: "u-1".into(),
            source: UpgradeSource::Ota,
            upgrade: true,
        }),
    ]
}

/// A station that answers nothing itself: every request of [`service_requests`] reaches the deployment, which
/// does not answer. (User info is always answered by the station, so that one uses an unreachable station.)
#[test]
fn every_service_request_times_out_when_nobody_answers() {
    let mut rig = Rig::new();
    let cfg = PadConfig::new("pad-a").request_timeout(Duration::from_secs(5));
    let a = rig.add_pad_with(cfg);
    for command in service_requests() {
        let label = format!("{command:?}");
        let id = rig.pads[a]
            .0
            .handle_command(rig.now, command)
            .unwrap()
            .unwrap();
        // What the pad sent never comes back: the station is cut off.
        while rig.pads[a].0.poll_transmit().is_some() {}
        rig.advance(Duration::from_secs(4));
        assert_eq!(rig.outcome(a, id), None, "{label} ended early");
        rig.advance(Duration::from_secs(1));
        assert_eq!(
            rig.outcome(a, id),
            Some(Err(RequestError::TimedOut(Duration::from_secs(5)))),
            "{label}"
        );
    }
}

#[test]
fn every_service_request_ends_when_the_connection_is_lost() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    for command in service_requests() {
        let label = format!("{command:?}");
        let id = rig.pads[a]
            .0
            .handle_command(rig.now, command)
            .unwrap()
            .unwrap();
        let now = rig.now;
        rig.pads[a].0.connection_lost(now);
        rig.pump();
        assert_eq!(
            rig.outcome(a, id),
            Some(Err(RequestError::ConnectionLost)),
            "{label}"
        );
        // Back again for the next one.
        let old = rig.pads[a].1;
        rig.station.connection_closed(now, old);
        let conn = rig.station.connection_opened(now);
        rig.pads[a].1 = conn;
        rig.pads[a].0.connection_opened(now);
        rig.pump();
        assert!(rig.pads[a].0.is_established());
    }
}

fn wifi_state(reply: Result<PadReply, RequestError>) -> WifiState {
    match reply {
        Ok(PadReply::Wifi(state)) => state,
        other => panic!("expected a Wi-Fi state, got {other:?}"),
    }
}

#[test]
fn wifi_requests_are_answered_by_the_plugged_adapter() {
    let wifi = SimulatedWifi::new()
        .network("shop", "secret", -50, true)
        .network("guest", "open", -70, false);
    let plug = wifi.clone();
    let mut rig = Rig::plugged(StationConfig::new("DEV1"), StationStatus::Free, |s| {
        s.wifi(Box::new(plug))
    });
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");

    match rig.request(a, PadCommand::WifiNetworks) {
        Ok(PadReply::WifiNetworks(list)) => {
            assert_eq!(list.count, 2);
            assert_eq!(list.list[0].ssid, "shop");
            assert_eq!(list.list[0].rssi, Rssi(-50));
            assert!(!list.list[0].is_current);
        }
        other => panic!("{other:?}"),
    }
    let state = wifi_state(rig.request(a, PadCommand::WifiStatus));
    assert_eq!(state.status, WifiStatus::Unconnected);

    let wrong = WifiConnect {
        ssid: "shop".into(),
        pwd: "nope".into(),
    };
    let state = wifi_state(rig.request(a, PadCommand::WifiConnect(wrong)));
    assert_eq!(
        (state.status, state.error.code),
        (WifiStatus::Unconnected, ErrorCode::WIFI_WRONG_PASSWORD)
    );
    let right = WifiConnect {
        ssid: "shop".into(),
        pwd: "secret".into(),
    };
    let state = wifi_state(rig.request(a, PadCommand::WifiConnect(right)));
    assert_eq!(
        (state.status, state.error.code),
        (WifiStatus::Connected, ErrorCode::OK)
    );
    assert_eq!(wifi.current().as_deref(), Some("shop"));
    // The other pad is told too, as a push naming the pad that asked.
    assert!(rig.pad_events[b].iter().any(|e| matches!(
        e,
        PadEvent::Message(m) if matches!(&**m, StationMessage::WifiStatus(env)
            if env.pad_id.as_deref() == Some("pad-a") && env.data.status == WifiStatus::Connected)
    )));
    // ... and that push does not answer pad-b's own waiting query (it is addressed to pad-a).
    let guest = WifiConnect {
        ssid: "guest".into(),
        pwd: "open".into(),
    };
    let id = rig.command(b, PadCommand::WifiStatus).unwrap().unwrap();
    assert!(matches!(
        rig.outcome(b, id),
        Some(Ok(PadReply::Wifi(s))) if s.status == WifiStatus::Connected
    ));
    let state = wifi_state(rig.request(b, PadCommand::WifiConnect(guest)));
    assert_eq!(state.status, WifiStatus::NoInternet);
    let state = wifi_state(rig.request(a, PadCommand::WifiDisconnect));
    assert_eq!(state.status, WifiStatus::Unconnected);
    assert_eq!(wifi.current(), None);
    // The station answered every request itself: nothing reached the deployment.
    assert!(!rig
        .events
        .iter()
        .any(|e| matches!(e, StationEvent::Message { .. })));
}

#[test]
fn store_requests_are_answered_by_the_plugged_directory() {
    let directory = SimulatedDirectory::new("Acme")
        .store("West Lake", "S-1")
        .store("Riverside", "S-2")
        .store("Old Town", "S-3");
    let plug = directory.clone();
    let mut rig = Rig::plugged(
        StationConfig::new("DEV1"),
        StationStatus::WaitBinding,
        |s| s.stores(Box::new(plug)),
    );
    let a = rig.add_pad("pad-a");
    let brand = |r: Result<PadReply, RequestError>| match r {
        Ok(PadReply::Brand(b)) => *b,
        other => panic!("expected a brand, got {other:?}"),
    };
    let binding = |r: Result<PadReply, RequestError>| match r {
        Ok(PadReply::StoreBinding(o)) => o,
        other => panic!("expected a binding outcome, got {other:?}"),
    };
    // Not bound yet: the brand is unknown (the spec's 600104).
    let unbound = brand(rig.request(a, PadCommand::Brand));
    assert_eq!(
        (unbound.status, unbound.error.code),
        (OutcomeStatus::Fail, ErrorCode::REPORT_NETWORK_DOWN)
    );
    let query = StoreListQuery {
        province: "Zhejiang".into(),
        city: "Hangzhou".into(),
        region: "Xihu".into(),
        page: Some(2),
        page_size: Some(2),
        environment: None,
    };
    match rig.request(a, PadCommand::ListStores(query.clone())) {
        Ok(PadReply::Stores(list)) => {
            assert_eq!(
                (list.count, list.page, list.list.len()),
                (Some(3), Some(2), 1)
            );
            assert_eq!(list.list[0].number, "S-3");
        }
        other => panic!("{other:?}"),
    }
    let get = |number: &str| {
        PadCommand::GetStore(StoreGet {
            number: number.into(),
            environment: Some(1),
        })
    };
    match rig.request(a, get("S-2")) {
        Ok(PadReply::Store(s)) => assert_eq!(s.name.as_deref(), Some("Riverside")),
        other => panic!("{other:?}"),
    }
    match rig.request(a, get("S-9")) {
        Ok(PadReply::Store(s)) => assert_eq!(s.status, OutcomeStatus::Fail),
        other => panic!("{other:?}"),
    }
    let bind = PadCommand::BindStore(StoreBind {
        store_id: "S-1".into(),
        store_name: "West Lake".into(),
    });
    assert_eq!(binding(rig.request(a, bind)).status, OutcomeStatus::Success);
    assert_eq!(directory.bound().map(|s| s.number), Some("S-1".into()));
    let bound = brand(rig.request(a, PadCommand::Brand));
    assert_eq!(
        (
            bound.brand_name.as_str(),
            bound.store_name.as_str(),
            bound.logo
        ),
        ("Acme", "West Lake", None)
    );
    directory.set_logo("/f/logo.png");
    let refreshed = brand(rig.request(a, PadCommand::RefreshInfo));
    assert_eq!(refreshed.logo.as_deref(), Some("/f/logo.png"));
    assert_eq!(
        binding(rig.request(a, PadCommand::UnbindStore)).status,
        OutcomeStatus::Success
    );
    assert_eq!(directory.bound(), None);
    // Off line, every answer says so.
    directory.set_online(false);
    match rig.request(a, PadCommand::ListStores(query)) {
        Ok(PadReply::Stores(list)) => {
            assert_eq!(list.error.code, ErrorCode::REPORT_NETWORK_DOWN);
            assert!(list.list.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // Binding leaves the status to the deployment's license check.
    assert_eq!(rig.station.state().status, StationStatus::WaitBinding);
}

#[test]
fn usb_drive_and_log_requests_are_answered_by_the_plugged_maintenance() {
    let maintenance = SimulatedMaintenance::new();
    let plug = maintenance.clone();
    let mut rig = Rig::plugged(StationConfig::new("DEV1"), StationStatus::Free, |s| {
        s.maintenance(Box::new(plug))
    });
    let a = rig.add_pad("pad-a");
    let outcome = |r: Result<PadReply, RequestError>| match r {
        Ok(PadReply::CopyLog(o) | PadReply::UploadLog(o)) => (o.status, o.error.code),
        other => panic!("expected a log outcome, got {other:?}"),
    };
    match rig.request(a, PadCommand::CheckUDisk) {
        Ok(PadReply::UDisk(d)) => assert_eq!(d.error.code, ErrorCode::UDISK_ERROR),
        other => panic!("{other:?}"),
    }
    maintenance.plug("KINGSTON", 8_000, 500);
    match rig.request(a, PadCommand::CheckUDisk) {
        Ok(PadReply::UDisk(d)) => assert_eq!(
            (d.status, d.name.as_deref(), d.size, d.free, d.log_size),
            (
                OutcomeStatus::Success,
                Some("KINGSTON"),
                Some(8_000),
                Some(500),
                Some(0)
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome(rig.request(a, PadCommand::CopyLog)),
        (OutcomeStatus::Fail, ErrorCode::NO_LOGS)
    );
    maintenance.set_log_size(400);
    assert_eq!(
        outcome(rig.request(a, PadCommand::CopyLog)),
        (OutcomeStatus::Success, ErrorCode::OK)
    );
    assert_eq!(
        outcome(rig.request(a, PadCommand::CopyLog)),
        (OutcomeStatus::Fail, ErrorCode::UDISK_FULL)
    );
    assert!(matches!(
        rig.request(a, PadCommand::UploadLog),
        Ok(PadReply::UploadLog(o)) if o.status == OutcomeStatus::Success
    ));
    maintenance.set_online(false);
    assert_eq!(
        outcome(rig.request(a, PadCommand::UploadLog)),
        (OutcomeStatus::Fail, ErrorCode::UPLOAD_NETWORK_DOWN)
    );
    assert_eq!(maintenance.done(), (1, 1));
}

#[test]
fn user_info_goes_into_the_stored_record_and_is_queued_for_upload() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    let scan_id = rig.start_scan(a);
    rig.finish_scan();
    assert_eq!(rig.uploads.queued(), vec![scan_id.clone()]);
    rig.clock.advance(Duration::from_secs(61));
    let update = UserInfoUpdate {
        scan_id: scan_id.clone(),
        telephone: Some("13800000000".into()),
        member_num: Some("M7".into()),
        operator: None,
        birthday: Some("1990-01-01".into()),
        name: Some("Li".into()),
    };
    match rig.request(b, PadCommand::UpdateUserInfo(update.clone())) {
        Ok(PadReply::UserInfo(o)) => assert_eq!(o.status, OutcomeStatus::Success),
        other => panic!("{other:?}"),
    }
    let record = rig.store.get(&scan_id).unwrap();
    let info = record.user_info.clone().unwrap();
    assert_eq!(
        (
            info.telephone.as_deref(),
            info.member_num.as_deref(),
            info.name.as_deref()
        ),
        (Some("13800000000"), Some("M7"), Some("Li"))
    );
    assert_eq!(info.status, Some(aliscan_proto::SubmitStatus::Init));
    assert_eq!(record.update_pad_id.as_deref(), Some("pad-b"));
    assert_eq!(
        record.update_time.map(|t| t.to_string()),
        Some("2026-11-22 08:01:01".to_owned())
    );
    assert_eq!(rig.uploads.queued(), vec![scan_id.clone(), scan_id.clone()]);
    // A field left out keeps its value.
    let partial = UserInfoUpdate {
        telephone: None,
        member_num: None,
        birthday: None,
        name: Some("Wang".into()),
        ..update
    };
    rig.request(b, PadCommand::UpdateUserInfo(partial)).unwrap();
    let info = rig.store.get(&scan_id).unwrap().user_info.unwrap();
    assert_eq!(
        (info.telephone.as_deref(), info.name.as_deref()),
        (Some("13800000000"), Some("Wang"))
    );
    // An unknown scan: a parameter error, nothing stored.
    let unknown = UserInfoUpdate {
        scan_id: "DEV1-20000101-000000".into(),
        telephone: None,
        member_num: None,
        operator: None,
        birthday: None,
        name: None,
    };
    match rig.request(b, PadCommand::UpdateUserInfo(unknown)) {
        Ok(PadReply::UserInfo(o)) => assert_eq!(
            (o.status, o.error.code),
            (OutcomeStatus::Fail, ErrorCode::BAD_PARAMETER)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.store.len(), 1);
}

/// The deployment's connection and message for the last pass-through `matches` picked.
fn passed_through(rig: &Rig, matches: impl Fn(&PadMessage) -> bool) -> (PadConnection, PadMessage) {
    rig.events
        .iter()
        .rev()
        .find_map(|e| match e {
            StationEvent::Message { conn, message } if matches(message) => {
                Some((*conn, message.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("not passed through: {:?}", rig.events))
}

fn send(rig: &mut Rig, to: PadConnection, message: StationMessage) {
    rig.station
        .handle_command(rig.now, StationCommand::Send { to, message })
        .unwrap();
    rig.pump();
}

#[test]
fn statistics_and_upgrades_are_answered_by_the_deployment() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let id = rig.command(a, PadCommand::Statistics).unwrap().unwrap();
    let (conn, asked) = passed_through(&rig, |m| matches!(m, PadMessage::FilesAction(_)));
    assert!(matches!(
        asked,
        PadMessage::FilesAction(env) if env.data.action == FileAction::Statistics && env.data.scan_ids.is_none()
    ));
    let stats = Statistics {
        total: 10,
        uncomplete: 2,
        ..Statistics::default()
    };
    send(
        &mut rig,
        conn,
        StationMessage::FilesStatistics(Envelope::new("pad-a", stats)),
    );
    assert_eq!(rig.outcome(a, id), Some(Ok(PadReply::Statistics(stats))));

    // An upgrade offer goes to every pad; the pad accepts and waits for `inform/upgrading` of that offer.
    let offer = StationMessage::UpgradeInform(UpgradeInform {
        pad_id: Some(String::new()),
        source: UpgradeSource::Online,
        data: UpgradeOffer {
            id: "u-7".into(),
            info: Default::default(),
        },
    });
    rig.station
        .handle_command(rig.now, StationCommand::Broadcast(offer.clone()))
        .unwrap();
    rig.pump();
    assert!(rig.pad_events[a]
        .iter()
        .any(|e| *e == PadEvent::Message(Box::new(offer.clone()))));
    let accept = UpgradeResponse {
        id: "u-7".into(),
        source: UpgradeSource::Online,
        upgrade: true,
    };
    let id = rig
        .command(a, PadCommand::UpgradeResponse(accept))
        .unwrap()
        .unwrap();
    let (conn, _) = passed_through(&rig, |m| matches!(m, PadMessage::UpgradeResponse(_)));
    // Another offer's progress does not answer it.
    let other = Upgrading {
        id: "u-8".into(),
        source: UpgradeSource::Online,
    };
    send(
        &mut rig,
        conn,
        StationMessage::Upgrading(Envelope::new("", other)),
    );
    assert_eq!(rig.outcome(a, id), None);
    let started = Upgrading {
        id: "u-7".into(),
        source: UpgradeSource::Online,
    };
    send(
        &mut rig,
        conn,
        StationMessage::Upgrading(Envelope::new("", started.clone())),
    );
    assert_eq!(rig.outcome(a, id), Some(Ok(PadReply::Upgrading(started))));
    // Declining has no answer: done once queued.
    let decline = UpgradeResponse {
        id: "u-9".into(),
        source: UpgradeSource::Ota,
        upgrade: false,
    };
    assert_eq!(
        rig.command(a, PadCommand::UpgradeResponse(decline)),
        Ok(None)
    );
    let (_, declined) = passed_through(&rig, |m| matches!(m, PadMessage::UpgradeResponse(_)));
    assert!(matches!(
        declined,
        PadMessage::UpgradeResponse(env) if env.data.id == "u-9" && env.pad_id.as_deref() == Some("pad-a")
    ));
}

#[test]
fn an_answer_addressed_to_another_pad_does_not_end_a_request() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    let id = rig.command(a, PadCommand::CheckUDisk).unwrap().unwrap();
    let (conn, _) = passed_through(&rig, |m| matches!(m, PadMessage::CheckUDisk(_)));
    let drive = |name: &str| UDiskInfo {
        status: OutcomeStatus::Success,
        error: Default::default(),
        name: Some(name.into()),
        size: None,
        free: None,
        log_size: None,
    };
    let theirs = StationMessage::CheckUDiskResult(Envelope::new("pad-x", drive("X")));
    send(&mut rig, conn, theirs.clone());
    assert_eq!(rig.outcome(a, id), None);
    assert!(rig.pad_events[a]
        .iter()
        .any(|e| *e == PadEvent::Message(Box::new(theirs.clone()))));
    // The spec prints this answer's padId empty: that one is for whoever asked.
    send(
        &mut rig,
        conn,
        StationMessage::CheckUDiskResult(Envelope::new("", drive("MINE"))),
    );
    assert_eq!(rig.outcome(a, id), Some(Ok(PadReply::UDisk(drive("MINE")))));
}

#[test]
fn the_debug_lock_refuses_service_requests_of_other_pads() {
    let wifi = SimulatedWifi::new().network("shop", "secret", -50, true);
    let mut rig = Rig::plugged(StationConfig::new("DEV1"), StationStatus::Free, |s| {
        s.wifi(Box::new(wifi))
    });
    let a = rig.add_pad("pad-a");
    let b = rig.add_pad("pad-b");
    assert_eq!(
        status(rig.request(b, PadCommand::Debug(true))).status,
        StationStatus::Debug
    );
    let state = refused(rig.request(a, PadCommand::WifiNetworks));
    assert_eq!(
        (state.status, state.current_pad.as_deref()),
        (StationStatus::Debug, Some("pad-b"))
    );
    let state = refused(rig.request(a, PadCommand::CopyLog));
    assert_eq!(state.status, StationStatus::Debug);
    // The debug pad itself is served.
    assert!(matches!(
        rig.request(b, PadCommand::WifiNetworks),
        Ok(PadReply::WifiNetworks(l)) if l.count == 1
    ));
}

#[test]
fn one_request_per_kind_waits_at_a_time() {
    let mut rig = Rig::new();
    let a = rig.add_pad("pad-a");
    rig.command(a, PadCommand::WifiStatus).unwrap().unwrap();
    assert_eq!(
        rig.command(a, PadCommand::WifiDisconnect),
        Err(SendError::DuplicateKey {
            key: "wifi status".into()
        })
    );
    rig.command(
        a,
        PadCommand::BindStore(StoreBind {
            store_id: "S".into(),
            store_name: "S".into(),
        }),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        rig.command(a, PadCommand::UnbindStore),
        Err(SendError::DuplicateKey {
            key: "store binding".into()
        })
    );
    // Different kinds wait side by side.
    rig.command(a, PadCommand::WifiNetworks).unwrap().unwrap();
    rig.command(a, PadCommand::CopyLog).unwrap().unwrap();
}

#[test]
fn a_free_push_arriving_after_the_next_step_was_sent_is_not_its_refusal() {
    // The station answers a step with its result, then pushes `free`; a pad quick to send the next step may
    // read that push while the next step waits. A refusal always carries the state that blocked the command.
    let now = Instant::now();
    let mut pad = PadSession::new(PadConfig::new("pad-a"));
    pad.connection_opened(now);
    while pad.poll_transmit().is_some() {}
    pad.handle_input(
        now,
        br#"{"topic":"equipment/scan/status","padId":"pad-a","data":{"status":"free","error":{"code":0,"message":{"msg_cn":"","msg_en":""}}}}"#,
    );
    assert!(pad.is_established());
    let id = pad
        .handle_command(now, PadCommand::Calibrate(CalibrationStep::Right))
        .unwrap()
        .unwrap();
    while pad.poll_transmit().is_some() {}
    pad.handle_input(
        now,
        br#"{"topic":"equipment/scan/status","padId":"pad-a","data":{"status":"free","error":{"code":0,"message":{"msg_cn":"","msg_en":""}}}}"#,
    );
    assert!(pad.poll_reply().is_none(), "a free push is not a refusal");
    pad.handle_input(
        now,
        br#"{"topic":"equipment/calibration/result","padId":"pad-a","data":{"status":"success","error":{"code":0,"message":{"msg_cn":"","msg_en":""}},"step":"right"}}"#,
    );
    match pad.poll_reply() {
        Some((done, Ok(PadReply::Calibration(r)))) => {
            assert_eq!(done, id);
            assert_eq!(r.status, OutcomeStatus::Success);
        }
        other => panic!("{other:?}"),
    }
}
