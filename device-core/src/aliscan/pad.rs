//! The pad (the tablet front-end): one WebSocket connection to the station, as a [`Session`].

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use aliscan_proto::{
    Bare, BrandInfo, CalibrationNew, CalibrationResult, CalibrationStep, CodecConfig, DebugEnable,
    DeviceInfo, Empty, Envelope, EquipmentAction, FileAction, FilesAction, FilesList, FilesRequest,
    Outcome, PadCodec, PadMessage, RecordPush, ScanAction, ScanNew, ScanPage, ScanStarted, Sex,
    StationMessage, StationState, StationStatus, Statistics, StoreBind, StoreGet, StoreInfo,
    StoreList, StoreListQuery, UDiskInfo, UpgradeResponse, Upgrading, UserInfoUpdate, WifiConnect,
    WifiList, WifiState,
};
use bytes::Bytes;

use crate::correlation::Correlator;
use crate::outbox::Outbox;
use crate::rng::RandomSource;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// Settings of a [`PadSession`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PadConfig {
    /// The pad's `padId`, sent in every message. Default `"pad"`.
    pub pad_id: String,
    /// How long a request waits for the station's answer. Default 30 s (devproto's choice: the spec gives none;
    /// every answer it describes is immediate except a calibration step, which the station bounds by its own
    /// hardware timeout of 120 s - raise this when calibrating slow hardware).
    pub request_timeout: Duration,
    /// Most requests waiting at once. Default 16.
    pub max_in_flight: usize,
    /// Most application messages queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Message size limits.
    pub codec: CodecConfig,
}

impl Default for PadConfig {
    fn default() -> Self {
        Self {
            pad_id: "pad".into(),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 16,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
        }
    }
}

impl PadConfig {
    /// The defaults with this `padId`.
    #[must_use]
    pub fn new(pad_id: impl Into<String>) -> Self {
        Self {
            pad_id: pad_id.into(),
            ..Self::default()
        }
    }

    /// Sets [`PadConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`PadConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`PadConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`PadConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }
}

/// What the pad application asks for. Every variant but [`PadCommand::Send`] is a request that ends in one
/// [`PadReply`] (or a timeout, or the connection's loss).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PadCommand {
    /// `equipment/scan/action` `status`: answered by the status.
    Status,
    /// `equipment/scan/action` `book`: answered by the status (`booking` with this pad, or a refusal).
    Book,
    /// `equipment/scan/action` `reset`: answered by the status.
    Reset,
    /// `equipment/debugEnable`: answered by the status.
    Debug(bool),
    /// `equipment/scan/new` with a fresh `requestId`: answered by `equipment/scan/result`
    /// ([`PadReply::ScanStarted`]) or a refusal. The record follows later as [`PadEvent::ScanFinished`].
    Scan {
        /// The customer's sex.
        sex: Sex,
    },
    /// `equipment/calibration/new`: answered by the step's `equipment/calibration/result` or a refusal.
    Calibrate(CalibrationStep),
    /// `files/scan/request`: answered by the record (`files/scan/result`).
    FetchRecord {
        /// The `requestId` the scan was started with.
        request_id: String,
    },
    /// `files/scan/list`: answered by the page (`files/scan/status`).
    ListRecords {
        /// 1-based page.
        page: u32,
        /// Records per page.
        page_size: u32,
    },
    /// `equipment/deviceInfo`: answered by `equipment/deviceInfoResult`.
    DeviceInfo,
    /// `equipment/net/qst`: answered by `equipment/net/result`.
    NetQuery,
    /// `equipment/wifi/list`: answered by `equipment/wifi/result` ([`PadReply::WifiNetworks`]).
    WifiNetworks,
    /// `equipment/wifi/qst`: answered by `equipment/wifi/status` ([`PadReply::Wifi`]).
    WifiStatus,
    /// `equipment/wifi/connect`: answered by `equipment/wifi/status` ([`PadReply::Wifi`]: `connected`,
    /// `noInternet`, or `unconnected` with the reason). Shares its kind with the other Wi-Fi status requests.
    WifiConnect(WifiConnect),
    /// `equipment/wifi/disconnect`: answered by `equipment/wifi/status` ([`PadReply::Wifi`]).
    WifiDisconnect,
    /// `equipment/store/brand`: answered by `equipment/store/brandresult` ([`PadReply::Brand`]).
    Brand,
    /// `equipment/info/update`: the station refetches its brand, artwork and QR prefix and answers with
    /// `equipment/store/brandresult` ([`PadReply::Brand`]). Shares its kind with [`PadCommand::Brand`].
    RefreshInfo,
    /// `equipment/store/list`: answered by `equipment/store/listresult` ([`PadReply::Stores`]).
    ListStores(StoreListQuery),
    /// `equipment/store/get`: answered by `equipment/store/getresult` ([`PadReply::Store`]).
    GetStore(StoreGet),
    /// `equipment/store/bind`: answered by `equipment/store/result` ([`PadReply::StoreBinding`]).
    BindStore(StoreBind),
    /// `equipment/store/unbind`: answered by `equipment/store/result` ([`PadReply::StoreBinding`]). Shares its
    /// kind with [`PadCommand::BindStore`].
    UnbindStore,
    /// `files/scan/uinfo`: answered by `files/scan/uinforesult` ([`PadReply::UserInfo`]).
    UpdateUserInfo(UserInfoUpdate),
    /// `files/scan/action` `statistics`: answered by `files/scan/statistics` ([`PadReply::Statistics`]).
    Statistics,
    /// `equipment/checkUDisk`: answered by `equipment/checkUDiskResult` ([`PadReply::UDisk`]).
    CheckUDisk,
    /// `equipment/copyLog`: answered by `equipment/copyLogResult` ([`PadReply::CopyLog`]).
    CopyLog,
    /// `equipment/uploadLog`: answered by `equipment/uploadLogResult` ([`PadReply::UploadLog`]).
    UploadLog,
    /// `inform/upgradeResponse` to an `inform/upgradeInform` offer. Accepting (`upgrade: true`) waits for the
    /// station's `inform/upgrading` with the same `id` ([`PadReply::Upgrading`]); declining has no answer in
    /// the spec and completes once queued, like [`PadCommand::Send`].
    UpgradeResponse(UpgradeResponse),
    /// Any other pad message, sent as is without waiting (its `padId` is set to this pad's).
    Send(PadMessage),
}

/// The answer a [`PadCommand`] request ends with. A station's refusal or failure is data here, not an error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PadReply {
    /// The station's status (answer to status, book, reset, debug).
    Status(StationState),
    /// The station refused the command and sent its status instead (busy, booked or locked by another pad,
    /// not ready).
    Refused(StationState),
    /// The scan started (`scan_id` set) or the device refused it ([`ScanStarted::failed`]).
    ScanStarted(ScanStarted),
    /// The outcome of a calibration step (a failure code is in it).
    Calibration(CalibrationResult),
    /// A record.
    Record(Box<RecordPush>),
    /// A page of records.
    Records(ScanPage),
    /// Identity and versions (boxed: the largest answer).
    DeviceInfo(Box<DeviceInfo>),
    /// Whether the back end is reachable.
    Net(bool),
    /// The Wi-Fi networks in range.
    WifiNetworks(WifiList),
    /// The Wi-Fi state (answer to status, connect and disconnect).
    Wifi(WifiState),
    /// Brand, store and artwork (answer to brand and info refresh; boxed, as it is large).
    Brand(Box<BrandInfo>),
    /// A page of the brand's stores.
    Stores(StoreList),
    /// The store looked up.
    Store(StoreInfo),
    /// The outcome of a bind or unbind.
    StoreBinding(Outcome),
    /// The outcome of a user-info update.
    UserInfo(Outcome),
    /// Record counts by upload state.
    Statistics(Statistics),
    /// The USB drive.
    UDisk(UDiskInfo),
    /// The outcome of the log copy to the USB drive.
    CopyLog(Outcome),
    /// The outcome of the log upload.
    UploadLog(Outcome),
    /// The upgrade the pad accepted has started.
    Upgrading(Upgrading),
}

/// What the pad session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PadEvent {
    /// The station answered the first status query on this connection: commands may be sent.
    Connected(StationState),
    /// A status push (every `equipment/scan/status`, answers included).
    Status(StationState),
    /// A finished scan's record that no request waited for (the result of this pad's scan).
    ScanFinished(Box<RecordPush>),
    /// Any other station message (Wi-Fi, store, upgrade, statistics, record updates, unknown topics); boxed, as
    /// a station message is large.
    Message(Box<StationMessage>),
    /// The connection ended.
    Disconnected(Option<CloseReason>),
}

/// What a waiting request waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Status,
    Scan,
    Calibration,
    Record(String),
    Records,
    DeviceInfo,
    Net,
    WifiNetworks,
    Wifi,
    Brand,
    Stores,
    Store,
    StoreBinding,
    UserInfo,
    Statistics,
    UDisk,
    CopyLog,
    UploadLog,
    Upgrade(String),
}

/// The kinds a station in debug mode refuses (with its status) when another pad asks; waiting ones of them end
/// as [`PadReply::Refused`], one per refusal, in this order.
const LOCKED_OUT: [Key; 11] = [
    Key::WifiNetworks,
    Key::Wifi,
    Key::Brand,
    Key::Stores,
    Key::Store,
    Key::StoreBinding,
    Key::UserInfo,
    Key::Statistics,
    Key::UDisk,
    Key::CopyLog,
    Key::UploadLog,
];

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status => f.write_str("status"),
            Self::Scan => f.write_str("scan"),
            Self::Calibration => f.write_str("calibration"),
            Self::Record(r) => write!(f, "record {r}"),
            Self::Records => f.write_str("records"),
            Self::DeviceInfo => f.write_str("device info"),
            Self::Net => f.write_str("net"),
            Self::WifiNetworks => f.write_str("wifi networks"),
            Self::Wifi => f.write_str("wifi status"),
            Self::Brand => f.write_str("brand"),
            Self::Stores => f.write_str("store list"),
            Self::Store => f.write_str("store"),
            Self::StoreBinding => f.write_str("store binding"),
            Self::UserInfo => f.write_str("user info"),
            Self::Statistics => f.write_str("statistics"),
            Self::UDisk => f.write_str("usb drive"),
            Self::CopyLog => f.write_str("log copy"),
            Self::UploadLog => f.write_str("log upload"),
            Self::Upgrade(id) => write!(f, "upgrade {id}"),
        }
    }
}

/// The pad side of one connection to the station. Call order: see [`Session`].
///
/// On connect it asks for the station's status and is established once the answer arrives. Requests wait for
/// their matching notification: a status addressed to this pad (`padId`) answers a waiting status-type request
/// first, otherwise it is the station's refusal of a waiting scan or calibration (DECISIONS.md: refusals are
/// answered with the current status). A `debug` status naming another pad, addressed to this one, is the debug
/// lock refusing a waiting Wi-Fi, store, user-info, statistics, USB drive or log request. The answers to those
/// requests complete them unless addressed to another pad (`padId` set and not this pad's: the spec leaves
/// `padId` empty or optional on several of them). Only one request of each kind waits at a time
/// ([`SendError::DuplicateKey`]); the three Wi-Fi status requests are one kind, as are brand and info refresh,
/// and bind and unbind, since one notification answers each group. A frame that does not decode closes the link; every waiting request then
/// ends with [`RequestError::ConnectionLost`].
pub struct PadSession {
    config: PadConfig,
    codec: PadCodec,
    rng: Box<dyn RandomSource>,
    connected: bool,
    established: bool,
    closed: bool,
    close: Option<CloseReason>,
    outbox: Outbox,
    requests: Correlator<Key>,
    replies: VecDeque<(RequestId, Result<PadReply, RequestError>)>,
    events: VecDeque<PadEvent>,
}

impl fmt::Debug for PadSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PadSession")
            .field("pad_id", &self.config.pad_id)
            .field("established", &self.established)
            .field("waiting", &self.requests.len())
            .finish_non_exhaustive()
    }
}

impl PadSession {
    /// A pad session; `requestId`s come from [`OsRandom`](crate::OsRandom) (see [`PadSession::with_rng`]).
    #[must_use]
    pub fn new(config: PadConfig) -> Self {
        let rng: Box<dyn RandomSource> = Box::new(crate::OsRandom);
        Self {
            codec: PadCodec::new(config.codec),
            outbox: Outbox::new(config.outbox_capacity),
            requests: Correlator::new(config.request_timeout, config.max_in_flight),
            config,
            rng,
            connected: false,
            established: false,
            closed: false,
            close: None,
            replies: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Replaces the random source ([`OsRandom`](crate::OsRandom) by default): tests pass a seeded
    /// [`SplitMix64`](crate::SplitMix64) to make the session deterministic.
    #[must_use]
    pub fn with_rng(mut self, rng: Box<dyn RandomSource>) -> Self {
        self.rng = rng;
        self
    }

    /// Responses that arrived after their request timed out.
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.requests.late_responses()
    }

    fn encode(&self, msg: &PadMessage) -> Result<Bytes, SendError> {
        self.codec
            .encode_text(msg)
            .map(Bytes::from)
            .map_err(|e| super::SessionError::Encode(e.into()).into())
    }

    fn env<D>(&self, data: D) -> Envelope<D> {
        Envelope::new(self.config.pad_id.clone(), data)
    }

    fn action(&self, action: ScanAction) -> PadMessage {
        PadMessage::ScanAction(self.env(EquipmentAction { action }))
    }

    fn finish(&mut self, key: &Key, reply: PadReply) -> bool {
        if !self.requests.is_waiting(key) {
            return false;
        }
        if let Some(id) = self.requests.finish(key) {
            self.replies.push_back((id, Ok(reply)));
        }
        true
    }

    /// Whether a message with this `padId` may answer this pad's request: not addressed to another pad.
    fn for_me(&self, pad_id: Option<&str>) -> bool {
        pad_id.is_none_or(|p| p.is_empty() || p == self.config.pad_id)
    }

    fn on_message(&mut self, msg: StationMessage) {
        let (key, reply) = match &msg {
            StationMessage::WifiResult(env) => {
                (Key::WifiNetworks, PadReply::WifiNetworks(env.data.clone()))
            }
            StationMessage::WifiStatus(env) => (Key::Wifi, PadReply::Wifi(env.data.clone())),
            StationMessage::StoreBrandResult(env) => {
                (Key::Brand, PadReply::Brand(Box::new(env.data.clone())))
            }
            StationMessage::StoreListResult(env) => {
                (Key::Stores, PadReply::Stores(env.data.clone()))
            }
            StationMessage::StoreGetResult(env) => (Key::Store, PadReply::Store(env.data.clone())),
            StationMessage::StoreResult(env) => {
                (Key::StoreBinding, PadReply::StoreBinding(env.data.clone()))
            }
            StationMessage::UserInfoResult(env) => {
                (Key::UserInfo, PadReply::UserInfo(env.data.clone()))
            }
            StationMessage::FilesStatistics(env) => {
                (Key::Statistics, PadReply::Statistics(env.data))
            }
            StationMessage::CheckUDiskResult(env) => {
                (Key::UDisk, PadReply::UDisk(env.data.clone()))
            }
            StationMessage::CopyLogResult(env) => {
                (Key::CopyLog, PadReply::CopyLog(env.data.clone()))
            }
            StationMessage::UploadLogResult(env) => {
                (Key::UploadLog, PadReply::UploadLog(env.data.clone()))
            }
            StationMessage::Upgrading(env) => (
                Key::Upgrade(env.data.id.clone()),
                PadReply::Upgrading(env.data.clone()),
            ),
            _ => return self.on_session_message(msg),
        };
        // Finished when addressed to this pad (or to nobody); otherwise the message is an event.
        if !(self.for_me(msg.pad_id()) && self.finish(&key, reply)) {
            self.events.push_back(PadEvent::Message(Box::new(msg)));
        }
    }

    fn on_session_message(&mut self, msg: StationMessage) {
        match msg {
            StationMessage::ScanStatus(env) => {
                let state = env.data;
                let mine = env.pad_id.as_deref() == Some(self.config.pad_id.as_str());
                if mine && !self.established {
                    // The answer to the status query sent on connect.
                    self.established = true;
                    self.events.push_back(PadEvent::Connected(state.clone()));
                } else if mine {
                    // A running calibration is the accepted step's own push, not a refusal.
                    let calibrating = state.status == StationStatus::Calibrating;
                    // Nor is `free`: a refusal carries the state that blocked the command (busy, booked, locked,
                    // not ready); `free` addressed to this pad ends its previous step or scan, and may arrive
                    // after the pad sent its next command.
                    let settled = state.status == StationStatus::Free;
                    // Debug mode names its pad: naming another one, it is the lock refusing this pad.
                    let locked_out = state.status == StationStatus::Debug
                        && state.current_pad.as_deref() != Some(self.config.pad_id.as_str());
                    let _ = self.finish(&Key::Status, PadReply::Status(state.clone()))
                        || (!settled && self.finish(&Key::Scan, PadReply::Refused(state.clone())))
                        || (!calibrating
                            && !settled
                            && self.finish(&Key::Calibration, PadReply::Refused(state.clone())))
                        || (locked_out
                            && LOCKED_OUT
                                .iter()
                                .any(|k| self.finish(k, PadReply::Refused(state.clone()))));
                }
                self.events.push_back(PadEvent::Status(state));
            }
            StationMessage::ScanResult(started) => {
                if !self.finish(&Key::Scan, PadReply::ScanStarted(started.clone())) {
                    self.events
                        .push_back(PadEvent::Message(Box::new(StationMessage::ScanResult(
                            started,
                        ))));
                }
            }
            StationMessage::CalibrationResult(env) => {
                if !self.finish(&Key::Calibration, PadReply::Calibration(env.data.clone())) {
                    self.events.push_back(PadEvent::Message(Box::new(
                        StationMessage::CalibrationResult(env),
                    )));
                }
            }
            StationMessage::FilesResult(push) => {
                let key = Key::Record(push.data.request_id.clone().unwrap_or_default());
                if !self.finish(&key, PadReply::Record(Box::new(push.clone()))) {
                    self.events
                        .push_back(PadEvent::ScanFinished(Box::new(push)));
                }
            }
            StationMessage::FilesStatus(env) => {
                if !self.finish(&Key::Records, PadReply::Records(env.data.clone())) {
                    self.events.push_back(PadEvent::Message(Box::new(
                        StationMessage::FilesStatus(env),
                    )));
                }
            }
            StationMessage::DeviceInfoResult(env) => {
                if !self.finish(
                    &Key::DeviceInfo,
                    PadReply::DeviceInfo(Box::new(env.data.clone())),
                ) {
                    self.events.push_back(PadEvent::Message(Box::new(
                        StationMessage::DeviceInfoResult(env),
                    )));
                }
            }
            StationMessage::NetResult(env) => {
                if !self.finish(&Key::Net, PadReply::Net(env.data)) {
                    self.events
                        .push_back(PadEvent::Message(Box::new(StationMessage::NetResult(env))));
                }
            }
            other => self.events.push_back(PadEvent::Message(Box::new(other))),
        }
    }
}

impl Session for PadSession {
    type Command = PadCommand;
    type Reply = PadReply;
    type Event = PadEvent;
    type Peer = ();

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, _now: Instant) {
        if self.closed {
            return;
        }
        self.connected = true;
        self.established = false;
        self.close = None;
        if let Ok(bytes) = self.encode(&self.action(ScanAction::Status)) {
            self.outbox.push_control(bytes);
        }
    }

    fn connection_lost(&mut self, _now: Instant) {
        let was = self.connected;
        self.connected = false;
        self.established = false;
        self.outbox.clear();
        self.requests.fail_all(&mut self.replies);
        if was {
            self.events
                .push_back(PadEvent::Disconnected(self.close.clone()));
        }
    }

    fn handle_input(&mut self, _now: Instant, data: &[u8]) {
        if !self.connected || self.close.is_some() {
            return;
        }
        match self.codec.decode_text(data) {
            Ok(msg) => self.on_message(msg),
            Err(e) => self.close = Some(super::SessionError::Decode(e.into()).into()),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.requests.expire(now, &mut self.replies);
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: PadCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.closed || self.close.is_some() {
            return Err(SendError::Closed);
        }
        if !self.established {
            return Err(SendError::NotReady);
        }
        let (key, msg) = match command {
            PadCommand::Send(mut msg) => {
                set_pad_id(&mut msg, &self.config.pad_id);
                let bytes = self.encode(&msg)?;
                self.outbox.push_app(bytes)?;
                return Ok(None);
            }
            PadCommand::Status => (Key::Status, self.action(ScanAction::Status)),
            PadCommand::Book => (Key::Status, self.action(ScanAction::Book)),
            PadCommand::Reset => (Key::Status, self.action(ScanAction::Reset)),
            PadCommand::Debug(enable) => (
                Key::Status,
                PadMessage::DebugEnable(self.env(DebugEnable { enable })),
            ),
            PadCommand::Scan { sex } => {
                let request_id = format!("{:016x}", self.rng.next_u64());
                (
                    Key::Scan,
                    PadMessage::ScanNew(self.env(ScanNew { sex, request_id })),
                )
            }
            PadCommand::Calibrate(step) => (
                Key::Calibration,
                PadMessage::CalibrationNew(self.env(CalibrationNew { step })),
            ),
            PadCommand::FetchRecord { request_id } => (
                Key::Record(request_id.clone()),
                PadMessage::FilesRequest(self.env(FilesRequest { request_id })),
            ),
            PadCommand::ListRecords { page, page_size } => (
                Key::Records,
                PadMessage::FilesList(self.env(FilesList { page, page_size })),
            ),
            PadCommand::DeviceInfo => (Key::DeviceInfo, PadMessage::DeviceInfo(self.env(Empty))),
            PadCommand::NetQuery => (Key::Net, PadMessage::NetQuery(self.env(Empty))),
            PadCommand::WifiNetworks => (Key::WifiNetworks, PadMessage::WifiList(self.env(Empty))),
            PadCommand::WifiStatus => (Key::Wifi, PadMessage::WifiQuery(self.env(Empty))),
            PadCommand::WifiConnect(request) => {
                (Key::Wifi, PadMessage::WifiConnect(self.env(request)))
            }
            PadCommand::WifiDisconnect => (Key::Wifi, PadMessage::WifiDisconnect(self.env(Empty))),
            PadCommand::Brand => (
                Key::Brand,
                PadMessage::StoreBrand(Bare::new(self.config.pad_id.clone())),
            ),
            PadCommand::RefreshInfo => (Key::Brand, PadMessage::InfoUpdate(self.env(Empty))),
            PadCommand::ListStores(query) => (Key::Stores, PadMessage::StoreList(self.env(query))),
            PadCommand::GetStore(query) => (Key::Store, PadMessage::StoreGet(self.env(query))),
            PadCommand::BindStore(request) => {
                (Key::StoreBinding, PadMessage::StoreBind(self.env(request)))
            }
            PadCommand::UnbindStore => (
                Key::StoreBinding,
                PadMessage::StoreUnbind(Bare::new(self.config.pad_id.clone())),
            ),
            PadCommand::UpdateUserInfo(update) => {
                (Key::UserInfo, PadMessage::UserInfoUpdate(self.env(update)))
            }
            PadCommand::Statistics => (
                Key::Statistics,
                PadMessage::FilesAction(self.env(FilesAction {
                    action: FileAction::Statistics,
                    scan_ids: None,
                })),
            ),
            PadCommand::CheckUDisk => (Key::UDisk, PadMessage::CheckUDisk(self.env(Empty))),
            PadCommand::CopyLog => (Key::CopyLog, PadMessage::CopyLog(self.env(Empty))),
            PadCommand::UploadLog => (Key::UploadLog, PadMessage::UploadLog(self.env(Empty))),
            PadCommand::UpgradeResponse(response) => {
                let key = Key::Upgrade(response.id.clone());
                let accepted = response.upgrade;
                let msg = PadMessage::UpgradeResponse(self.env(response));
                if !accepted {
                    let bytes = self.encode(&msg)?;
                    self.outbox.push_app(bytes)?;
                    return Ok(None);
                }
                (key, msg)
            }
        };
        let bytes = self.encode(&msg)?;
        if !self.outbox.has_room() {
            return Err(SendError::Full {
                capacity: self.config.outbox_capacity,
            });
        }
        let id = self.requests.start(now, key)?;
        self.outbox.push_app(bytes)?;
        Ok(Some(id))
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.requests.next_deadline()
    }

    fn poll_event(&mut self) -> Option<PadEvent> {
        self.events.pop_front()
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<PadReply, RequestError>)> {
        self.replies.pop_front()
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.established
    }

    fn peer(&self) -> Option<&()> {
        self.is_established().then_some(&())
    }

    fn close(&mut self, _now: Instant) {
        self.closed = true;
        if self.close.is_none() {
            self.close = Some(CloseReason::Requested);
        }
    }
}

/// Sets the `padId` of a known message to `pad`; unknown messages are sent exactly as given.
fn set_pad_id(msg: &mut PadMessage, pad: &str) {
    let slot = match msg {
        PadMessage::WifiList(e)
        | PadMessage::WifiQuery(e)
        | PadMessage::WifiDisconnect(e)
        | PadMessage::DeviceInfo(e)
        | PadMessage::CheckUDisk(e)
        | PadMessage::CopyLog(e)
        | PadMessage::UploadLog(e)
        | PadMessage::InfoUpdate(e)
        | PadMessage::NetQuery(e) => &mut e.pad_id,
        PadMessage::WifiConnect(e) => &mut e.pad_id,
        PadMessage::ScanNew(e) => &mut e.pad_id,
        PadMessage::CalibrationNew(e) => &mut e.pad_id,
        PadMessage::StoreBrand(b) | PadMessage::StoreUnbind(b) => &mut b.pad_id,
        PadMessage::StoreList(e) => &mut e.pad_id,
        PadMessage::StoreGet(e) => &mut e.pad_id,
        PadMessage::StoreBind(e) => &mut e.pad_id,
        PadMessage::ScanAction(e) => &mut e.pad_id,
        PadMessage::FilesList(e) => &mut e.pad_id,
        PadMessage::UserInfoUpdate(e) => &mut e.pad_id,
        PadMessage::FilesAction(e) => &mut e.pad_id,
        PadMessage::UpgradeResponse(e) => &mut e.pad_id,
        PadMessage::DebugEnable(e) => &mut e.pad_id,
        PadMessage::FilesRequest(e) => &mut e.pad_id,
        _ => return,
    };
    *slot = Some(pad.to_owned());
}
