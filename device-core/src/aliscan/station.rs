//! The station program: one state machine shared by every pad connected to it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aliscan_proto::{
    CalibrationNew, CalibrationResult, CalibrationStep, CodecConfig, Envelope, ErrorCode,
    ErrorInfo, FileAction, Outcome, OutcomeStatus, PadMessage, RecordPush, ScanAction, ScanId,
    ScanNew, ScanRecord, ScanStarted, Sex, StationCodec, StationMessage, StationState,
    StationStatus, StationTime, SubmitStatus, UserInfoUpdate,
};
use bytes::Bytes;
use chrono::Timelike;

use super::hardware::{RecordStore, Scanner, Uploader};
use super::services::{Maintenance, StoreDirectory, Wifi};
use super::SessionError;
use crate::clock::{SystemClock, WallClock};
use crate::outbox::Outbox;
use crate::session::{CloseReason, SendError};

/// How long a booking lasts when the pad neither scans nor resets (`.server.json` `validBookPeriod`, whose
/// example value is `3`, a bare number meaning hours).
pub const DEFAULT_BOOK_PERIOD: Duration = Duration::from_secs(3 * 3600);

/// How long the station waits for the hardware to report the end of a scan, a computation or a calibration
/// step before failing it with `100001` (devproto's choice; the spec gives no figure).
pub const DEFAULT_HARDWARE_TIMEOUT: Duration = Duration::from_secs(120);

/// One pad's WebSocket connection to the station, numbered by the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PadConnection(u64);

impl PadConnection {
    /// The number, for logs.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Settings of a [`Station`].
#[derive(Clone)]
#[non_exhaustive]
pub struct StationConfig {
    /// The station's device id, the first part of every `scanId` (`DEVICEID-YYYYMMDD-HHmmss`). Default
    /// `"station"`.
    pub device_id: String,
    /// The status the station starts in, until the deployment reports another with
    /// [`StationCommand::SetStatus`]. Default `init`.
    pub initial_status: StationStatus,
    /// How long a booking lasts without a scan or reset; `None` = until reset. Default
    /// [`DEFAULT_BOOK_PERIOD`].
    pub book_period: Option<Duration>,
    /// How long to wait for a hardware report. Default [`DEFAULT_HARDWARE_TIMEOUT`].
    pub hardware_timeout: Duration,
    /// Most application messages ([`StationCommand::Send`], [`StationCommand::Broadcast`]) queued per
    /// connection. Default 64.
    pub outbox_capacity: usize,
    /// Message size limits.
    pub codec: CodecConfig,
    /// Source of the station's local time (scan ids, record times).
    pub clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for StationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationConfig")
            .field("device_id", &self.device_id)
            .field("initial_status", &self.initial_status)
            .field("book_period", &self.book_period)
            .field("hardware_timeout", &self.hardware_timeout)
            .field("outbox_capacity", &self.outbox_capacity)
            .finish_non_exhaustive()
    }
}

impl Default for StationConfig {
    fn default() -> Self {
        Self {
            device_id: "station".into(),
            initial_status: StationStatus::Init,
            book_period: Some(DEFAULT_BOOK_PERIOD),
            hardware_timeout: DEFAULT_HARDWARE_TIMEOUT,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl StationConfig {
    /// The defaults with this device id.
    #[must_use]
    pub fn new(device_id: impl Into<String>) -> Self {
        Self {
            device_id: device_id.into(),
            ..Self::default()
        }
    }

    /// Sets [`StationConfig::initial_status`].
    #[must_use]
    pub fn initial_status(mut self, status: StationStatus) -> Self {
        self.initial_status = status;
        self
    }

    /// Sets [`StationConfig::book_period`].
    #[must_use]
    pub fn book_period(mut self, d: Option<Duration>) -> Self {
        self.book_period = d;
        self
    }

    /// Sets [`StationConfig::hardware_timeout`].
    #[must_use]
    pub fn hardware_timeout(mut self, d: Duration) -> Self {
        self.hardware_timeout = d;
        self
    }

    /// Sets [`StationConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`StationConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }

    /// Sets [`StationConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the hardware reports back after [`Scanner`] started something.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HardwareReport {
    /// The scan finished capturing (`scanning` -> `computing`), or failed with a code.
    ScanDone(Result<(), ErrorCode>),
    /// The scan's results are computed: the record (the station fills in `scanId`, `requestId`, `createPadId`,
    /// `sex` and `createTime`), or a failure code.
    ComputeDone(Result<Box<ScanRecord>, ErrorCode>),
    /// The running calibration step finished, or failed with a code.
    CalibrationDone(Result<(), ErrorCode>),
}

/// What the deployment asks the station to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StationCommand {
    /// Send a message to one connection (answers to [`StationEvent::Message`]: Wi-Fi, store, device info...).
    Send {
        /// The connection.
        to: PadConnection,
        /// The message.
        message: StationMessage,
    },
    /// Send a message to every connection (upgrade offers, statistics, record updates).
    Broadcast(StationMessage),
    /// The station's own status changed (set-up, license, Wi-Fi, init, abnormal, ready = `free`). Pad-driven
    /// states (`booking`, `debug`, `calibrating`, `scanning`, `computing`) are kept by the station itself and
    /// are refused here.
    SetStatus {
        /// The new base status.
        status: StationStatus,
        /// Why (code 0 when nothing is wrong).
        error: ErrorInfo,
    },
    /// A report from the hardware.
    Hardware(HardwareReport),
}

/// What the station tells the deployment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StationEvent {
    /// A pad connected.
    Connected(PadConnection),
    /// A pad's connection ended.
    Disconnected {
        /// The connection.
        conn: PadConnection,
        /// The pad it carried, if it said.
        pad_id: Option<String>,
    },
    /// The status pushed to every pad changed.
    StatusChanged(StationState),
    /// A scan started.
    ScanStarted {
        /// Its id.
        scan_id: String,
        /// The pad that asked.
        pad_id: String,
        /// The pad's `requestId`.
        request_id: String,
    },
    /// A scan's record is computed, stored and queued for upload.
    ScanFinished(Box<ScanRecord>),
    /// A scan failed (hardware, computation, storage, watchdog) or was reset.
    ScanFailed {
        /// Its id.
        scan_id: String,
        /// Why (`0` when a pad reset it).
        error: ErrorCode,
    },
    /// A calibration step ended.
    CalibrationFinished(CalibrationResult),
    /// A pad message the station does not handle itself (upgrade responses, device info, network state,
    /// record actions other than `upload`, `open`/`license` actions, unknown topics; Wi-Fi, store and
    /// USB drive/log requests when no such service is plugged in): the deployment answers with
    /// [`StationCommand::Send`].
    Message {
        /// The connection it came on.
        conn: PadConnection,
        /// The message.
        message: PadMessage,
    },
    /// A frame that did not decode; its connection is being closed.
    Malformed {
        /// The connection.
        conn: PadConnection,
        /// What was wrong.
        error: SessionError,
    },
}

/// Who holds the station.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Occupant {
    None,
    Booked { pad: String, until: Option<Instant> },
    Debug { pad: String },
}

/// What the hardware is doing.
#[derive(Debug, Clone)]
enum Activity {
    Idle,
    Scanning(Box<RunningScan>),
    Computing(Box<RunningScan>),
    Calibrating {
        step: CalibrationStep,
        conn: PadConnection,
        pad: String,
        deadline: Instant,
    },
}

#[derive(Debug, Clone)]
struct RunningScan {
    scan_id: String,
    conn: PadConnection,
    pad: String,
    request_id: String,
    sex: Sex,
    deadline: Instant,
}

struct Link {
    pad_id: Option<String>,
    outbox: Outbox,
    closing: bool,
}

/// The station side of the aliscan protocol: statuses and their transitions, booking, debug lock, calibration
/// step order, the scan flow, broadcasts and replies, for any number of pad connections.
///
/// Sans-io like every [`Session`](crate::Session), but one state machine for all connections, so each call
/// names the connection. Call order (the per-connection version of [`Session`](crate::Session)'s):
/// 1. [`Station::connection_opened`] when a pad connects: it returns the connection's id;
/// 2. then, in any order: [`Station::handle_input`] with each text frame of a connection,
///    [`Station::handle_timeout`] when [`Station::poll_timeout`] is reached, [`Station::handle_command`] with the
///    deployment's commands (hardware reports included);
/// 3. after each of those, drain [`Station::poll_transmit`] (or [`Station::poll_transmit_for`] per connection:
///    write each message as one text frame, in order), [`Station::poll_event`] and [`Station::poll_close`]
///    (close that connection after writing what is queued for it), and re-read [`Station::poll_timeout`];
/// 4. [`Station::connection_closed`] once a connection is gone.
///
/// Rules (aliscan.md and DECISIONS.md): scanning, calibrating, booking and debug need the base status `free` and
/// an idle device; a booked station takes scans and resets only from the booking pad; in debug mode only the
/// debug pad is served; every refused command is answered, to the asking connection only, with the current
/// `equipment/scan/status` carrying that pad's `padId`. Status changes go to every pad, with the `padId` of the
/// pad whose command caused them (`""` for changes the station or hardware caused). Wi-Fi, store and USB
/// drive/log requests are answered by the services plugged in with [`Station::wifi`], [`Station::stores`] and
/// [`Station::maintenance`], or passed to the deployment when none is; `files/scan/uinfo` updates the stored
/// record.
pub struct Station {
    config: StationConfig,
    codec: StationCodec,
    scanner: Box<dyn Scanner>,
    store: Box<dyn RecordStore>,
    uploader: Box<dyn Uploader>,
    wifi: Option<Box<dyn Wifi>>,
    stores: Option<Box<dyn StoreDirectory>>,
    maintenance: Option<Box<dyn Maintenance>>,
    base: StationStatus,
    base_error: ErrorInfo,
    occupant: Occupant,
    activity: Activity,
    calibrated: Option<CalibrationStep>,
    last_pushed: Option<StationState>,
    links: BTreeMap<PadConnection, Link>,
    next_conn: u64,
    /// Connections given something to write since the endpoint last asked ([`Station::take_touched`]); `true`
    /// when a broadcast gave every connection something.
    touched: Vec<PadConnection>,
    touched_all: bool,
    closes: VecDeque<(PadConnection, CloseReason)>,
    events: VecDeque<StationEvent>,
}

impl std::fmt::Debug for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Station")
            .field("state", &self.state())
            .field("connections", &self.links.len())
            .finish_non_exhaustive()
    }
}

/// The step that must have succeeded before `step` may run; `Some(None)` = none needed, `None` = never valid.
fn required_before(step: &CalibrationStep) -> Option<Option<CalibrationStep>> {
    use CalibrationStep as S;
    Some(match step {
        S::Left | S::C1 => None,
        S::Right => Some(S::Left),
        S::Compute => Some(S::Right),
        S::C2 => Some(S::C1),
        S::C3 => Some(S::C2),
        S::C4 => Some(S::C3),
        S::C5 => Some(S::C4),
        S::C6 => Some(S::C5),
        S::C7 => Some(S::C6),
        S::C8 => Some(S::C7),
        S::Compute8 => Some(S::C8),
        _ => return None,
    })
}

impl Station {
    /// A station with its hardware, record store and uploader.
    #[must_use]
    pub fn new(
        config: StationConfig,
        scanner: Box<dyn Scanner>,
        store: Box<dyn RecordStore>,
        uploader: Box<dyn Uploader>,
    ) -> Self {
        Self {
            codec: StationCodec::new(config.codec),
            base: config.initial_status.clone(),
            config,
            scanner,
            store,
            uploader,
            wifi: None,
            stores: None,
            maintenance: None,
            base_error: ErrorInfo::ok(),
            occupant: Occupant::None,
            activity: Activity::Idle,
            calibrated: None,
            last_pushed: None,
            links: BTreeMap::new(),
            next_conn: 0,
            touched: Vec::new(),
            touched_all: false,
            closes: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Answers `equipment/wifi/*` with `wifi` instead of passing them to the deployment. `connect` and
    /// `disconnect` change the station for every pad, so their `equipment/wifi/status` goes to every pad (with
    /// the asking pad's `padId`); `list` and `qst` are answered to the asking connection only.
    #[must_use]
    pub fn wifi(mut self, wifi: Box<dyn Wifi>) -> Self {
        self.wifi = Some(wifi);
        self
    }

    /// Answers `equipment/store/*` and `equipment/info/update` with `stores` instead of passing them to the
    /// deployment; every answer goes to the asking connection only. Binding does not change the status by
    /// itself: the license check that follows is the deployment's ([`StationCommand::SetStatus`]).
    #[must_use]
    pub fn stores(mut self, stores: Box<dyn StoreDirectory>) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Answers `equipment/checkUDisk`, `copyLog` and `uploadLog` with `maintenance` instead of passing them to
    /// the deployment; every answer goes to the asking connection only.
    #[must_use]
    pub fn maintenance(mut self, maintenance: Box<dyn Maintenance>) -> Self {
        self.maintenance = Some(maintenance);
        self
    }

    /// The message size limits the station decodes and encodes with; a WebSocket server sets its frame limit
    /// from them.
    #[must_use]
    pub fn codec_config(&self) -> CodecConfig {
        self.config.codec
    }

    /// The status pads see now.
    #[must_use]
    pub fn state(&self) -> StationState {
        let status = match &self.activity {
            Activity::Scanning(_) => StationStatus::Scanning,
            Activity::Computing(_) => StationStatus::Computing,
            Activity::Calibrating { .. } => StationStatus::Calibrating,
            Activity::Idle => match &self.occupant {
                Occupant::Debug { .. } => StationStatus::Debug,
                Occupant::Booked { .. } => StationStatus::Booking,
                Occupant::None => self.base.clone(),
            },
        };
        let current_pad = match &self.occupant {
            Occupant::Booked { pad, .. } | Occupant::Debug { pad } => Some(pad.clone()),
            Occupant::None => match &self.activity {
                Activity::Scanning(s) | Activity::Computing(s) => Some(s.pad.clone()),
                Activity::Calibrating { pad, .. } => Some(pad.clone()),
                Activity::Idle => None,
            },
        };
        StationState {
            status,
            current_pad,
            error: self.base_error.clone(),
        }
    }

    /// The connections open now.
    #[must_use]
    pub fn connections(&self) -> Vec<PadConnection> {
        self.links.keys().copied().collect()
    }

    /// The pad a connection carries, once one of its messages named it.
    #[must_use]
    pub fn pad_id(&self, conn: PadConnection) -> Option<&str> {
        self.links.get(&conn)?.pad_id.as_deref()
    }

    /// A pad connected; returns its connection id. It is sent the current status at once.
    pub fn connection_opened(&mut self, _now: Instant) -> PadConnection {
        self.next_conn += 1;
        let conn = PadConnection(self.next_conn);
        self.links.insert(
            conn,
            Link {
                pad_id: None,
                outbox: Outbox::new(self.config.outbox_capacity),
                closing: false,
            },
        );
        self.events.push_back(StationEvent::Connected(conn));
        let state = self.state();
        self.reply(conn, StationMessage::ScanStatus(Envelope::new("", state)));
        conn
    }

    /// A connection is gone. A booking or debug lock held by its pad is released when the pad has no other
    /// connection left; a scan it started goes on (its record is stored and can be fetched with
    /// `files/scan/request`).
    pub fn connection_closed(&mut self, _now: Instant, conn: PadConnection) {
        let Some(link) = self.links.remove(&conn) else {
            return;
        };
        self.closes.retain(|(c, _)| *c != conn);
        let pad_id = link.pad_id;
        if let Some(pad) = &pad_id {
            let holds = match &self.occupant {
                Occupant::Booked { pad: p, .. } | Occupant::Debug { pad: p } => p == pad,
                Occupant::None => false,
            };
            // Only a holder's other connections matter (and only then are they looked for).
            let still_here = || {
                self.links
                    .values()
                    .any(|l| l.pad_id.as_deref() == Some(pad))
            };
            if holds && !still_here() {
                self.occupant = Occupant::None;
                self.push_status("");
            }
        }
        self.events
            .push_back(StationEvent::Disconnected { conn, pad_id });
    }

    /// One text frame from `conn`. A frame that does not decode closes that connection only.
    pub fn handle_input(&mut self, now: Instant, conn: PadConnection, data: &[u8]) {
        match self.links.get(&conn) {
            Some(link) if !link.closing => {}
            _ => return,
        }
        let message = match self.codec.decode_text(data) {
            Ok(m) => m,
            Err(e) => {
                let error = SessionError::Decode(e.into());
                self.events.push_back(StationEvent::Malformed {
                    conn,
                    error: error.clone(),
                });
                if let Some(link) = self.links.get_mut(&conn) {
                    link.closing = true;
                }
                self.closes.push_back((conn, error.into()));
                return;
            }
        };
        let pad = message
            .pad_id()
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        if let (Some(p), Some(link)) = (&pad, self.links.get_mut(&conn)) {
            link.pad_id = Some(p.clone());
        }
        // Debug mode: only the debug pad is served; everyone else gets the status.
        if let Occupant::Debug { pad: holder } = &self.occupant {
            if pad.as_deref() != Some(holder.as_str()) {
                self.refuse(conn, pad.as_deref());
                return;
            }
        }
        let Some(message) = self.serve(conn, message) else {
            return;
        };
        match message {
            PadMessage::ScanNew(env) => self.scan_new(now, conn, pad, env.data),
            PadMessage::CalibrationNew(env) => self.calibration_new(now, conn, pad, env.data),
            PadMessage::ScanAction(env) => match env.data.action {
                ScanAction::Status => {
                    let state = self.state();
                    self.reply(
                        conn,
                        StationMessage::ScanStatus(Envelope {
                            pad_id: Some(pad.unwrap_or_default()),
                            data: state,
                        }),
                    );
                }
                ScanAction::Book => self.book(now, conn, pad),
                ScanAction::Reset => self.reset(now, conn, pad),
                ScanAction::Debug => self.debug(now, conn, pad, true),
                ScanAction::Open | ScanAction::License => {
                    self.events.push_back(StationEvent::Message {
                        conn,
                        message: PadMessage::ScanAction(env),
                    })
                }
                _ => self.refuse(conn, pad.as_deref()),
            },
            PadMessage::DebugEnable(env) => self.debug(now, conn, pad, env.data.enable),
            PadMessage::FilesList(env) => {
                let page = self.store.page(env.data.page, env.data.page_size);
                self.reply(
                    conn,
                    StationMessage::FilesStatus(Envelope {
                        pad_id: env.pad_id,
                        data: page,
                    }),
                );
            }
            PadMessage::FilesRequest(env) => {
                match self.store.find_by_request(&env.data.request_id) {
                    Some(record) => {
                        let msg = StationMessage::FilesResult(RecordPush {
                            pad_id: env.pad_id,
                            scan_id: record.scan_id.clone().unwrap_or_default(),
                            data: Box::new(record),
                        });
                        self.reply(conn, msg);
                    }
                    // Not in the store: the deployment may know more (or answer nothing, as the spec allows).
                    None => self.events.push_back(StationEvent::Message {
                        conn,
                        message: PadMessage::FilesRequest(env),
                    }),
                }
            }
            PadMessage::UserInfoUpdate(env) => {
                let outcome = self.update_user_info(pad, &env.data);
                self.reply(
                    conn,
                    StationMessage::UserInfoResult(Envelope {
                        pad_id: env.pad_id,
                        data: outcome,
                    }),
                );
            }
            PadMessage::FilesAction(env) if env.data.action == FileAction::Upload => {
                for scan_id in env.data.scan_ids.iter().flatten() {
                    if let Some(record) = self.store.get(scan_id) {
                        self.uploader.enqueue(&record);
                    }
                }
            }
            message => self
                .events
                .push_back(StationEvent::Message { conn, message }),
        }
    }

    /// The deadline of [`Station::poll_timeout`] was reached: bookings expire, silent hardware fails.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Occupant::Booked {
            until: Some(until), ..
        } = &self.occupant
        {
            if *until <= now && matches!(self.activity, Activity::Idle) {
                self.occupant = Occupant::None;
                self.push_status("");
            }
        }
        if self.activity_deadline().is_some_and(|d| d <= now) {
            self.scanner.reset();
            self.hardware_failed(now, ErrorCode::DEVICE_FAULT);
        }
    }

    /// A command from the deployment.
    ///
    /// # Errors
    /// [`SendError::Full`] when a connection's queue is full (a broadcast is then sent to no one),
    /// [`SendError::Refused`] for an unknown connection or a pad-driven status in `SetStatus`,
    /// [`SendError::Encode`] for a message that cannot be encoded.
    pub fn handle_command(
        &mut self,
        now: Instant,
        command: StationCommand,
    ) -> Result<(), SendError> {
        match command {
            StationCommand::Send { to, message } => {
                let bytes = self.encode(&message)?;
                let link = self
                    .links
                    .get_mut(&to)
                    .filter(|l| !l.closing)
                    .ok_or(SessionError::NoConnection { conn: to })?;
                link.outbox.push_app(bytes)?;
                self.touch(to);
                Ok(())
            }
            StationCommand::Broadcast(message) => {
                let bytes = self.encode(&message)?;
                if self
                    .links
                    .values()
                    .any(|l| !l.closing && !l.outbox.has_room())
                {
                    return Err(SendError::Full {
                        capacity: self.config.outbox_capacity,
                    });
                }
                self.touched_all = true;
                for link in self.links.values_mut().filter(|l| !l.closing) {
                    link.outbox.push_app(bytes.clone())?;
                }
                Ok(())
            }
            StationCommand::SetStatus { status, error } => {
                if matches!(
                    status,
                    StationStatus::Booking
                        | StationStatus::Debug
                        | StationStatus::Calibrating
                        | StationStatus::Scanning
                        | StationStatus::Computing
                ) {
                    return Err(SessionError::StatusKept { status }.into());
                }
                self.base = status;
                self.base_error = error;
                self.push_status("");
                Ok(())
            }
            StationCommand::Hardware(report) => {
                self.hardware(now, report);
                Ok(())
            }
        }
    }

    /// The next message to write: the connection and one text frame's payload.
    pub fn poll_transmit(&mut self) -> Option<(PadConnection, Bytes)> {
        self.links
            .iter_mut()
            .find_map(|(conn, link)| link.outbox.pop().map(|b| (*conn, b)))
    }

    /// The next message to write on one connection.
    pub fn poll_transmit_for(&mut self, conn: PadConnection) -> Option<Bytes> {
        self.links.get_mut(&conn)?.outbox.pop()
    }

    /// Notes that `conn` has something to write. Without a driver asking, the list stays within the number of
    /// connections: past it, every connection counts as touched.
    fn touch(&mut self, conn: PadConnection) {
        if self.touched_all {
            return;
        }
        if self.touched.len() >= self.links.len() {
            self.touched.clear();
            self.touched_all = true;
        } else {
            self.touched.push(conn);
        }
    }

    /// The connections given something to write since the last call: `(true, _)` after a broadcast (every
    /// connection), else the ones named (perhaps more than once). A driver wakes only those, so a message costs
    /// the same with 10 connections open as with 10,000.
    pub(crate) fn take_touched(&mut self) -> (bool, Vec<PadConnection>) {
        (
            std::mem::take(&mut self.touched_all),
            std::mem::take(&mut self.touched),
        )
    }

    /// A connection the station wants closed, and why (after writing what is queued for it).
    pub fn poll_close(&mut self) -> Option<(PadConnection, CloseReason)> {
        self.closes.pop_front()
    }

    /// The next event for the deployment.
    pub fn poll_event(&mut self) -> Option<StationEvent> {
        self.events.pop_front()
    }

    /// When [`Station::handle_timeout`] must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let booking = match &self.occupant {
            Occupant::Booked { until, .. } if matches!(self.activity, Activity::Idle) => *until,
            _ => None,
        };
        [booking, self.activity_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn activity_deadline(&self) -> Option<Instant> {
        match &self.activity {
            Activity::Idle => None,
            Activity::Scanning(s) | Activity::Computing(s) => Some(s.deadline),
            Activity::Calibrating { deadline, .. } => Some(*deadline),
        }
    }

    /// Whether `pad` may use the station now (free or held by `pad`, device idle, base status `free`).
    fn may_use(&self, pad: Option<&str>) -> bool {
        let Some(pad) = pad else { return false };
        let holder_ok = match &self.occupant {
            Occupant::None => true,
            Occupant::Booked { pad: p, .. } | Occupant::Debug { pad: p } => p == pad,
        };
        holder_ok && self.base == StationStatus::Free && matches!(self.activity, Activity::Idle)
    }

    fn scan_new(&mut self, now: Instant, conn: PadConnection, pad: Option<String>, req: ScanNew) {
        let pad = match pad {
            Some(p) if self.may_use(Some(&p)) => p,
            other => return self.refuse(conn, other.as_deref()),
        };
        let time = self.config.clock.now().naive_local();
        let scan_id = match ScanId::new(self.config.device_id.clone(), time) {
            Ok(id) => id,
            Err(_) => return self.scan_refused_by_device(conn, &pad),
        };
        if let Err(code) = self.scanner.start_scan(&scan_id, &req.sex) {
            self.scan_refused_by_device(conn, &pad);
            self.events.push_back(StationEvent::ScanFailed {
                scan_id: scan_id.to_string(),
                error: code,
            });
            return;
        }
        let scan_id = scan_id.to_string();
        self.reply(
            conn,
            StationMessage::ScanResult(ScanStarted {
                pad_id: Some(pad.clone()),
                scan_id: scan_id.clone(),
            }),
        );
        self.events.push_back(StationEvent::ScanStarted {
            scan_id: scan_id.clone(),
            pad_id: pad.clone(),
            request_id: req.request_id.clone(),
        });
        self.activity = Activity::Scanning(Box::new(RunningScan {
            scan_id,
            conn,
            pad: pad.clone(),
            request_id: req.request_id,
            sex: req.sex,
            deadline: now + self.config.hardware_timeout,
        }));
        self.push_status(&pad);
    }

    /// Answers a request with a plugged-in service; gives the message back when no service takes it.
    fn serve(&mut self, conn: PadConnection, message: PadMessage) -> Option<PadMessage> {
        let (to_all, answer) = match message {
            PadMessage::WifiList(env) if self.wifi.is_some() => {
                let list = self.wifi.as_mut()?.networks();
                (
                    false,
                    StationMessage::WifiResult(Envelope {
                        pad_id: env.pad_id,
                        data: list,
                    }),
                )
            }
            PadMessage::WifiQuery(env) if self.wifi.is_some() => {
                let state = self.wifi.as_mut()?.state();
                (
                    false,
                    StationMessage::WifiStatus(Envelope {
                        pad_id: env.pad_id,
                        data: state,
                    }),
                )
            }
            PadMessage::WifiConnect(env) if self.wifi.is_some() => {
                let state = self.wifi.as_mut()?.connect(&env.data);
                (
                    true,
                    StationMessage::WifiStatus(Envelope {
                        pad_id: env.pad_id,
                        data: state,
                    }),
                )
            }
            PadMessage::WifiDisconnect(env) if self.wifi.is_some() => {
                let state = self.wifi.as_mut()?.disconnect();
                (
                    true,
                    StationMessage::WifiStatus(Envelope {
                        pad_id: env.pad_id,
                        data: state,
                    }),
                )
            }
            PadMessage::StoreBrand(bare) if self.stores.is_some() => {
                let brand = self.stores.as_mut()?.brand();
                let env = Envelope {
                    pad_id: bare.pad_id,
                    data: brand,
                };
                (false, StationMessage::StoreBrandResult(env))
            }
            PadMessage::InfoUpdate(env) if self.stores.is_some() => {
                let brand = self.stores.as_mut()?.refresh();
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: brand,
                };
                (false, StationMessage::StoreBrandResult(env))
            }
            PadMessage::StoreList(env) if self.stores.is_some() => {
                let list = self.stores.as_mut()?.list(&env.data);
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: list,
                };
                (false, StationMessage::StoreListResult(env))
            }
            PadMessage::StoreGet(env) if self.stores.is_some() => {
                let store = self.stores.as_mut()?.get(&env.data);
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: store,
                };
                (false, StationMessage::StoreGetResult(env))
            }
            PadMessage::StoreBind(env) if self.stores.is_some() => {
                let outcome = self.stores.as_mut()?.bind(&env.data);
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: outcome,
                };
                (false, StationMessage::StoreResult(env))
            }
            PadMessage::StoreUnbind(bare) if self.stores.is_some() => {
                let outcome = self.stores.as_mut()?.unbind();
                let env = Envelope {
                    pad_id: bare.pad_id,
                    data: outcome,
                };
                (false, StationMessage::StoreResult(env))
            }
            PadMessage::CheckUDisk(env) if self.maintenance.is_some() => {
                let info = self.maintenance.as_mut()?.check_udisk();
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: info,
                };
                (false, StationMessage::CheckUDiskResult(env))
            }
            PadMessage::CopyLog(env) if self.maintenance.is_some() => {
                let outcome = self.maintenance.as_mut()?.copy_log();
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: outcome,
                };
                (false, StationMessage::CopyLogResult(env))
            }
            PadMessage::UploadLog(env) if self.maintenance.is_some() => {
                let outcome = self.maintenance.as_mut()?.upload_log();
                let env = Envelope {
                    pad_id: env.pad_id,
                    data: outcome,
                };
                (false, StationMessage::UploadLogResult(env))
            }
            other => return Some(other),
        };
        if to_all {
            if let Ok(bytes) = self.encode(&answer) {
                self.touched_all = true;
                for link in self.links.values_mut().filter(|l| !l.closing) {
                    link.outbox.push_control(bytes.clone());
                }
            }
        } else {
            self.reply(conn, answer);
        }
        None
    }

    /// `files/scan/uinfo`: the customer's details go into the stored record, which is queued for upload again
    /// (its `userInfo.status` back to `init`, "not submitted yet").
    fn update_user_info(&mut self, pad: Option<String>, update: &UserInfoUpdate) -> Outcome {
        let fail = |code| Outcome {
            status: OutcomeStatus::Fail,
            error: ErrorInfo::from_code(code),
        };
        let Some(mut record) = self.store.get(&update.scan_id) else {
            return fail(ErrorCode::BAD_PARAMETER);
        };
        let info = record.user_info.get_or_insert_with(Default::default);
        let fields = [
            (&mut info.telephone, &update.telephone),
            (&mut info.member_num, &update.member_num),
            (&mut info.operator, &update.operator),
            (&mut info.birthday, &update.birthday),
            (&mut info.name, &update.name),
        ];
        // Only the fields sent change; the spec marks all but `scanId` optional.
        for (slot, value) in fields {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        info.status = Some(SubmitStatus::Init);
        if pad.is_some() {
            record.update_pad_id = pad;
        }
        let t = self.config.clock.now().naive_local();
        record.update_time = StationTime::new(t.with_nanosecond(0).unwrap_or(t));
        if let Err(code) = self.store.save(&record) {
            return fail(code);
        }
        self.uploader.enqueue(&record);
        Outcome::success()
    }

    /// The device refused a scan: `equipment/scan/result` with an empty `scanId` (the spec's failure signal).
    fn scan_refused_by_device(&mut self, conn: PadConnection, pad: &str) {
        self.reply(
            conn,
            StationMessage::ScanResult(ScanStarted {
                pad_id: Some(pad.to_owned()),
                scan_id: String::new(),
            }),
        );
    }

    fn calibration_new(
        &mut self,
        now: Instant,
        conn: PadConnection,
        pad: Option<String>,
        req: CalibrationNew,
    ) {
        let pad = match pad {
            Some(p) if self.may_use(Some(&p)) => p,
            other => return self.refuse(conn, other.as_deref()),
        };
        let step = req.step;
        let in_order = match required_before(&step) {
            None => false,
            Some(None) => true,
            Some(Some(before)) => self.calibrated.as_ref() == Some(&before),
        };
        if !in_order {
            return self.calibration_result(conn, &pad, step, Err(ErrorCode::BAD_PARAMETER));
        }
        if let Err(code) = self.scanner.calibrate(&step) {
            return self.calibration_result(conn, &pad, step, Err(code));
        }
        self.activity = Activity::Calibrating {
            step,
            conn,
            pad: pad.clone(),
            deadline: now + self.config.hardware_timeout,
        };
        self.push_status(&pad);
    }

    fn calibration_result(
        &mut self,
        conn: PadConnection,
        pad: &str,
        step: CalibrationStep,
        outcome: Result<(), ErrorCode>,
    ) {
        let (status, error) = match outcome {
            Ok(()) => (OutcomeStatus::Success, ErrorInfo::ok()),
            Err(code) => (OutcomeStatus::Fail, ErrorInfo::from_code(code)),
        };
        let result = CalibrationResult {
            status,
            error,
            step,
        };
        self.events
            .push_back(StationEvent::CalibrationFinished(result.clone()));
        let conn = self.route(conn, pad);
        if let Some(conn) = conn {
            self.reply(
                conn,
                StationMessage::CalibrationResult(Envelope::new(pad, result)),
            );
        }
    }

    fn book(&mut self, now: Instant, conn: PadConnection, pad: Option<String>) {
        let pad = match pad {
            Some(p) if self.may_use(Some(&p)) => p,
            other => return self.refuse(conn, other.as_deref()),
        };
        if matches!(self.occupant, Occupant::Debug { .. }) {
            // The debug pad keeps its lock; booking would weaken it.
            return self.refuse(conn, Some(&pad));
        }
        self.occupant = Occupant::Booked {
            pad: pad.clone(),
            until: self.config.book_period.map(|p| now + p),
        };
        let changed = self.push_status(&pad);
        self.answer(changed, conn, &pad);
    }

    fn reset(&mut self, _now: Instant, conn: PadConnection, pad: Option<String>) {
        let allowed = match (&self.occupant, &pad) {
            (Occupant::None, Some(_)) => true,
            (Occupant::Booked { pad: p, .. } | Occupant::Debug { pad: p }, Some(pad)) => p == pad,
            (_, None) => false,
        };
        let pad = match pad {
            Some(p) if allowed => p,
            other => return self.refuse(conn, other.as_deref()),
        };
        match std::mem::replace(&mut self.activity, Activity::Idle) {
            Activity::Idle => {}
            Activity::Scanning(s) | Activity::Computing(s) => {
                self.scanner.reset();
                self.events.push_back(StationEvent::ScanFailed {
                    scan_id: s.scan_id,
                    error: ErrorCode::OK,
                });
            }
            Activity::Calibrating { .. } => self.scanner.reset(),
        }
        self.calibrated = None;
        if matches!(self.occupant, Occupant::Booked { .. }) {
            self.occupant = Occupant::None;
        }
        let changed = self.push_status(&pad);
        self.answer(changed, conn, &pad);
    }

    fn debug(&mut self, _now: Instant, conn: PadConnection, pad: Option<String>, enable: bool) {
        let Some(pad) = pad else {
            return self.refuse(conn, None);
        };
        if enable {
            if !self.may_use(Some(&pad)) {
                return self.refuse(conn, Some(&pad));
            }
            self.occupant = Occupant::Debug { pad: pad.clone() };
        } else {
            match &self.occupant {
                Occupant::Debug { pad: p }
                    if *p == pad && matches!(self.activity, Activity::Idle) =>
                {
                    self.occupant = Occupant::None;
                }
                _ => return self.refuse(conn, Some(&pad)),
            }
        }
        let changed = self.push_status(&pad);
        self.answer(changed, conn, &pad);
    }

    fn hardware(&mut self, now: Instant, report: HardwareReport) {
        match (
            std::mem::replace(&mut self.activity, Activity::Idle),
            report,
        ) {
            (Activity::Scanning(mut s), HardwareReport::ScanDone(Ok(()))) => {
                let pad = s.pad.clone();
                s.deadline = now + self.config.hardware_timeout;
                self.activity = Activity::Computing(s);
                self.push_status(&pad);
            }
            (Activity::Scanning(s), HardwareReport::ScanDone(Err(code)))
            | (Activity::Computing(s), HardwareReport::ComputeDone(Err(code))) => {
                self.activity = Activity::Scanning(s);
                self.hardware_failed(now, code);
            }
            (Activity::Computing(s), HardwareReport::ComputeDone(Ok(mut record))) => {
                record.scan_id = Some(s.scan_id.clone());
                record.request_id = Some(s.request_id.clone());
                record.create_pad_id = Some(s.pad.clone());
                record.sex = Some(s.sex.clone());
                if record.create_time.is_none() {
                    let t = self.config.clock.now().naive_local();
                    record.create_time = StationTime::new(t.with_nanosecond(0).unwrap_or(t));
                }
                if let Err(code) = self.store.save(&record) {
                    self.activity = Activity::Computing(s);
                    return self.hardware_failed(now, code);
                }
                self.uploader.enqueue(&record);
                if let Some(conn) = self.route(s.conn, &s.pad) {
                    let msg = StationMessage::FilesResult(RecordPush {
                        pad_id: Some(s.pad.clone()),
                        scan_id: s.scan_id.clone(),
                        data: record.clone(),
                    });
                    self.reply(conn, msg);
                }
                self.events.push_back(StationEvent::ScanFinished(record));
                // The spec: "扫描完成会自动复位" - a finished scan resets the station (and ends the booking).
                self.release_booking();
                self.push_status(&s.pad);
            }
            (
                Activity::Calibrating {
                    step, conn, pad, ..
                },
                HardwareReport::CalibrationDone(outcome),
            ) => {
                if outcome.is_ok() {
                    // A finished compute ends its series; the next calibration starts from the first step.
                    self.calibrated = match step {
                        CalibrationStep::Compute | CalibrationStep::Compute8 => None,
                        ref s => Some(s.clone()),
                    };
                }
                self.calibration_result(conn, &pad, step, outcome);
                self.push_status(&pad);
            }
            // A report that matches nothing running (late, or after a reset) is ignored.
            (activity, _) => self.activity = activity,
        }
    }

    /// The running activity failed with `code`: the pads learn it from the status push.
    fn hardware_failed(&mut self, _now: Instant, code: ErrorCode) {
        match std::mem::replace(&mut self.activity, Activity::Idle) {
            Activity::Idle => {}
            Activity::Scanning(s) | Activity::Computing(s) => {
                self.events.push_back(StationEvent::ScanFailed {
                    scan_id: s.scan_id,
                    error: code,
                });
                self.release_booking();
                self.push_status_with(&s.pad, ErrorInfo::from_code(code));
            }
            Activity::Calibrating {
                step, conn, pad, ..
            } => {
                self.calibration_result(conn, &pad, step, Err(code));
                self.push_status(&pad);
            }
        }
    }

    fn release_booking(&mut self) {
        if matches!(self.occupant, Occupant::Booked { .. }) {
            self.occupant = Occupant::None;
        }
    }

    /// The connection to answer `pad` on: `conn` if still open, else another connection of that pad.
    fn route(&self, conn: PadConnection, pad: &str) -> Option<PadConnection> {
        if self.links.get(&conn).is_some_and(|l| !l.closing) {
            return Some(conn);
        }
        self.links
            .iter()
            .find(|(_, l)| !l.closing && l.pad_id.as_deref() == Some(pad))
            .map(|(c, _)| *c)
    }

    /// After an accepted command that changed nothing (book twice, reset when free), the asking pad still gets
    /// its answer: the status, to it alone.
    fn answer(&mut self, changed: bool, conn: PadConnection, pad: &str) {
        if !changed {
            let state = self.state();
            self.reply(conn, StationMessage::ScanStatus(Envelope::new(pad, state)));
        }
    }

    /// A refused command: the current status, to the asking connection only, with the asking pad's `padId`.
    fn refuse(&mut self, conn: PadConnection, pad: Option<&str>) {
        let state = self.state();
        self.reply(
            conn,
            StationMessage::ScanStatus(Envelope {
                pad_id: pad.map(str::to_owned),
                data: state,
            }),
        );
    }

    /// Pushes the status to every pad if it changed; `pad` = the pad whose command caused the change.
    fn push_status(&mut self, pad: &str) -> bool {
        let state = self.state();
        if self.last_pushed.as_ref() == Some(&state) {
            return false;
        }
        self.broadcast_status(pad, state);
        true
    }

    /// Pushes the status with a one-off error (a failed scan) to every pad.
    fn push_status_with(&mut self, pad: &str, error: ErrorInfo) {
        let mut state = self.state();
        state.error = error;
        self.broadcast_status(pad, state);
    }

    fn broadcast_status(&mut self, pad: &str, state: StationState) {
        self.last_pushed = Some(state.clone());
        self.events
            .push_back(StationEvent::StatusChanged(state.clone()));
        let msg = StationMessage::ScanStatus(Envelope::new(pad, state));
        if let Ok(bytes) = self.encode(&msg) {
            self.touched_all = true;
            for link in self.links.values_mut().filter(|l| !l.closing) {
                link.outbox.push_control(bytes.clone());
            }
        }
    }

    /// Queues the station's own answer to one connection.
    fn reply(&mut self, conn: PadConnection, msg: StationMessage) {
        if let Ok(bytes) = self.encode(&msg) {
            if let Some(link) = self.links.get_mut(&conn).filter(|l| !l.closing) {
                link.outbox.push_control(bytes);
                self.touch(conn);
            }
        }
    }

    fn encode(&self, msg: &StationMessage) -> Result<Bytes, SendError> {
        self.codec
            .encode_text(msg)
            .map(Bytes::from)
            .map_err(|e| SessionError::Encode(e.into()).into())
    }
}
