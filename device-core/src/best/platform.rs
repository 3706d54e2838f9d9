//! The platform's session for one device connection.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use best_proto::exchange::{self, KeyPair, SharedSecret};
use best_proto::upload::{CompletedFile, UploadError, UploadReceiver};
use best_proto::{
    crypto, AccreditResults, BioVector, CmdResponse, Code, CodecConfig, DecodeError, DeviceMessage,
    Envelope, Heartbeat, PlatformMessage, RegisterResults, Report, ReportResults, Response,
    Results, UploadConfig,
};
use bytes::Bytes;
use chrono::Offset;

use super::{
    encode, random_array, random_hex, same_secret, HandshakeStep, MidGen, Readable, SessionError,
    DEFAULT_HEARTBEAT_INTERVAL, MISSED_HEARTBEATS,
};
use crate::clock::{SystemClock, WallClock};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::rng::RandomSource;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// `multiBioDataSupport` of the `dev.report` reply by default: fingerprint and near-infrared face templates
/// (positions 1 and 2, DECISIONS.md bio types), as in best.md 3.5's example `0:1:1:0:0:0:0:0:0`.
pub const DEFAULT_MULTI_BIO_DATA_SUPPORT: [bool; 9] =
    [false, true, true, false, false, false, false, false, false];

/// `multiBioPhotoSupport` of the `dev.report` reply by default: fingerprint and near-infrared face photos, as
/// in best.md 3.5's example `0:1:1:0:0:0:0:0:0`.
pub const DEFAULT_MULTI_BIO_PHOTO_SUPPORT: [bool; 9] =
    [false, true, true, false, false, false, false, false, false];

/// What the platform knows of one device.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceRecord {
    /// The product id (the devKey salt).
    pub product_id: String,
    /// The device's secret key (devKey = PBKDF2 of it, DECISIONS.md, best).
    pub secret_key: String,
    /// The `authCode` issued at registration, if any.
    pub auth_code: Option<String>,
    /// The `secret` issued at accreditation, if any.
    pub secret: Option<String>,
}

impl DeviceRecord {
    /// A device of `product_id` with its secret key, not registered yet.
    #[must_use]
    pub fn new(product_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            product_id: product_id.into(),
            secret_key: secret_key.into(),
            auth_code: None,
            secret: None,
        }
    }
}

impl std::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("product_id", &self.product_id)
            .field("has_auth_code", &self.auth_code.is_some())
            .field("has_secret", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the platform looks devices up and keeps the credentials it issues. Shared by every connection.
pub trait DeviceRegistry: Send + Sync {
    /// The device with serial number `sn`, or `None` when it is unknown.
    fn device(&self, sn: &str) -> Option<DeviceRecord>;
    /// Stores the `authCode` issued to `sn` (it replaces any earlier one and its `secret`).
    fn store_auth_code(&self, sn: &str, auth_code: &str);
    /// Stores the `secret` issued to `sn`.
    fn store_secret(&self, sn: &str, secret: &str);
}

impl<R: DeviceRegistry + ?Sized> DeviceRegistry for Arc<R> {
    fn device(&self, sn: &str) -> Option<DeviceRecord> {
        (**self).device(sn)
    }
    fn store_auth_code(&self, sn: &str, auth_code: &str) {
        (**self).store_auth_code(sn, auth_code);
    }
    fn store_secret(&self, sn: &str, secret: &str) {
        (**self).store_secret(sn, secret);
    }
}

/// A [`DeviceRegistry`] in memory.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    devices: Mutex<HashMap<String, DeviceRecord>>,
}

impl MemoryRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) device `sn`.
    pub fn insert(&self, sn: impl Into<String>, record: DeviceRecord) {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sn.into(), record);
    }
}

impl DeviceRegistry for MemoryRegistry {
    fn device(&self, sn: &str) -> Option<DeviceRecord> {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sn)
            .cloned()
    }

    fn store_auth_code(&self, sn: &str, auth_code: &str) {
        if let Some(d) = self
            .devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(sn)
        {
            d.auth_code = Some(auth_code.to_owned());
            d.secret = None;
        }
    }

    fn store_secret(&self, sn: &str, secret: &str) {
        if let Some(d) = self
            .devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(sn)
        {
            d.secret = Some(secret.to_owned());
        }
    }
}

/// Who handles a device's `dev.file.upload.start`, `.package` and `.end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UploadHandling {
    /// The session reassembles each file in memory with the proto crate's [`UploadReceiver`] (limits from
    /// [`PlatformConfig::upload`]) and hands it over as [`PlatformEvent::FileReceived`]. Progress lives in the
    /// session: an upload cut by a reconnect starts over.
    #[default]
    Reassemble,
    /// The upload messages reach the application as [`PlatformEvent::Request`]s, answered with
    /// [`PlatformCommand::Respond`] like any device request (within [`PlatformConfig::request_timeout`] and
    /// [`PlatformConfig::max_pending_requests`]). The application keeps the bytes where it likes (a file on
    /// disk, an object store), so an upload can resume at the expected offset on a later connection, or on
    /// another platform instance.
    Application,
}

/// Settings of a [`PlatformSession`].
#[derive(Clone)]
#[non_exhaustive]
pub struct PlatformConfig {
    /// `heartbeatInterval` returned in the `dev.report` reply. Default 60 s (best.md 3.5), whole seconds.
    pub heartbeat_interval: Duration,
    /// `supportHeartbeat` returned in the `dev.report` reply. Default true.
    pub support_heartbeat: bool,
    /// `multiBioDataSupport` returned in the `dev.report` reply (required there, best.md 3.5): which bio
    /// template types the platform accepts, by bio type position. Default
    /// [`DEFAULT_MULTI_BIO_DATA_SUPPORT`] (`0:1:1:0:0:0:0:0:0`).
    pub multi_bio_data_support: BioVector<bool>,
    /// `multiBioPhotoSupport` returned in the `dev.report` reply (required there, best.md 3.5): which bio
    /// photo types the platform accepts. Default [`DEFAULT_MULTI_BIO_PHOTO_SUPPORT`] (`0:1:1:0:0:0:0:0:0`).
    pub multi_bio_photo_support: BioVector<bool>,
    /// Missed heartbeat intervals after which the device is offline. Default 3 (DECISIONS.md, best).
    pub missed_heartbeats: u32,
    /// How long a connection may stay without a successful login. Default 60 s.
    pub login_timeout: Duration,
    /// How long a command waits for its `dev.cmd.response` once sent. Default 30 s.
    pub command_timeout: Duration,
    /// Commands in flight when the report names no `maxPendingCmdCount`. Default 1.
    pub default_max_pending_commands: u32,
    /// Upper bound on commands in flight whatever the device reports. Default 64.
    pub max_pending_commands: usize,
    /// Most commands queued (not yet sent) per device. Default 64.
    pub command_queue_capacity: usize,
    /// How long the application has to answer a device request ([`PlatformEvent::Request`]). Default 30 s.
    pub request_timeout: Duration,
    /// Most device requests waiting for the application at once. Default 64.
    pub max_pending_requests: usize,
    /// Upload reassembly limits (with [`UploadHandling::Reassemble`]).
    pub upload: UploadConfig,
    /// Who handles `dev.file.upload.*`. Default [`UploadHandling::Reassemble`].
    pub uploads: UploadHandling,
    /// Message limits.
    pub codec: CodecConfig,
    /// Source of the `timezone` in the report reply.
    pub clock: Arc<dyn WallClock>,
    /// Answers a key exchange a device starts before login ([`PlatformEvent::KeyExchanged`]); when off, both
    /// exchange messages are answered `20000002` (unsupported). Default on.
    pub key_exchange: bool,
}

impl std::fmt::Debug for PlatformConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformConfig")
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("multi_bio_data_support", &self.multi_bio_data_support)
            .field("multi_bio_photo_support", &self.multi_bio_photo_support)
            .field("missed_heartbeats", &self.missed_heartbeats)
            .field("login_timeout", &self.login_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("max_pending_commands", &self.max_pending_commands)
            .field("key_exchange", &self.key_exchange)
            .finish_non_exhaustive()
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            support_heartbeat: true,
            multi_bio_data_support: BioVector(DEFAULT_MULTI_BIO_DATA_SUPPORT.to_vec()),
            multi_bio_photo_support: BioVector(DEFAULT_MULTI_BIO_PHOTO_SUPPORT.to_vec()),
            missed_heartbeats: MISSED_HEARTBEATS,
            login_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(30),
            default_max_pending_commands: 1,
            max_pending_commands: 64,
            command_queue_capacity: 64,
            request_timeout: Duration::from_secs(30),
            max_pending_requests: 64,
            upload: UploadConfig::default(),
            uploads: UploadHandling::Reassemble,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
            key_exchange: true,
        }
    }
}

impl PlatformConfig {
    /// Defaults: see each field.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`PlatformConfig::heartbeat_interval`].
    #[must_use]
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }

    /// Sets [`PlatformConfig::support_heartbeat`].
    #[must_use]
    pub fn support_heartbeat(mut self, on: bool) -> Self {
        self.support_heartbeat = on;
        self
    }

    /// Sets [`PlatformConfig::multi_bio_data_support`].
    #[must_use]
    pub fn multi_bio_data_support(mut self, support: BioVector<bool>) -> Self {
        self.multi_bio_data_support = support;
        self
    }

    /// Sets [`PlatformConfig::multi_bio_photo_support`].
    #[must_use]
    pub fn multi_bio_photo_support(mut self, support: BioVector<bool>) -> Self {
        self.multi_bio_photo_support = support;
        self
    }

    /// Sets [`PlatformConfig::missed_heartbeats`].
    #[must_use]
    pub fn missed_heartbeats(mut self, n: u32) -> Self {
        self.missed_heartbeats = n;
        self
    }

    /// Sets [`PlatformConfig::login_timeout`].
    #[must_use]
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Sets [`PlatformConfig::command_timeout`].
    #[must_use]
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = d;
        self
    }

    /// Sets [`PlatformConfig::default_max_pending_commands`].
    #[must_use]
    pub fn default_max_pending_commands(mut self, n: u32) -> Self {
        self.default_max_pending_commands = n;
        self
    }

    /// Sets [`PlatformConfig::max_pending_commands`].
    #[must_use]
    pub fn max_pending_commands(mut self, n: usize) -> Self {
        self.max_pending_commands = n;
        self
    }

    /// Sets [`PlatformConfig::command_queue_capacity`].
    #[must_use]
    pub fn command_queue_capacity(mut self, n: usize) -> Self {
        self.command_queue_capacity = n;
        self
    }

    /// Sets [`PlatformConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`PlatformConfig::upload`].
    #[must_use]
    pub fn upload(mut self, upload: UploadConfig) -> Self {
        self.upload = upload;
        self
    }

    /// Sets [`PlatformConfig::uploads`].
    #[must_use]
    pub fn uploads(mut self, uploads: UploadHandling) -> Self {
        self.uploads = uploads;
        self
    }

    /// Sets [`PlatformConfig::key_exchange`].
    #[must_use]
    pub fn key_exchange(mut self, on: bool) -> Self {
        self.key_exchange = on;
        self
    }

    /// Sets [`PlatformConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the platform application asks for on one device's connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PlatformCommand {
    /// Queues a command (a `cmd.*` message with a `cmdId`). It is sent once fewer than the device's
    /// `maxPendingCmdCount` commands are in flight and ends with the device's `dev.cmd.response` (by `cmdId`).
    Send(PlatformMessage),
    /// Answers a device request ([`PlatformEvent::Request`]) with `cmd.dev.response` and the same `mid`.
    Respond {
        /// The request's `mid`.
        mid: String,
        /// The answer.
        response: Response,
    },
}

/// What the platform session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PlatformEvent {
    /// The device completed a key exchange: it holds the same secret.
    KeyExchanged {
        /// The device it says it is (envelope `sn`), not yet authenticated: login comes after the exchange.
        sn: Option<String>,
        /// The agreed secret and both factors.
        secret: SharedSecret,
    },
    /// `dev.register` succeeded: an `authCode` was issued and stored.
    Registered {
        /// The device.
        sn: String,
    },
    /// `dev.accredit` succeeded: a `secret` was issued and stored.
    Accredited {
        /// The device.
        sn: String,
    },
    /// `dev.login` succeeded; the connection now carries this device's traffic.
    LoggedIn {
        /// The device.
        sn: String,
    },
    /// A step of the onboarding chain was refused (answered with the code, then closed).
    LoginFailed {
        /// The device it claimed to be, if it said.
        sn: Option<String>,
        /// The refused step.
        step: HandshakeStep,
        /// The code it was answered with.
        code: Code,
    },
    /// `dev.report`: the device's capabilities; commands flow from now on.
    Reported(Box<Report>),
    /// `dev.heartbeat` (answered by the session).
    Heartbeat(Heartbeat),
    /// A device request for the application (`dev.data.upload.*`, `dev.system.sync.time`, unknown, and
    /// `dev.file.upload.*` with [`UploadHandling::Application`]): answer with [`PlatformCommand::Respond`].
    Request {
        /// Its `mid`.
        mid: String,
        /// The request.
        message: DeviceMessage,
    },
    /// A device request was not answered in time; a later answer is refused.
    RequestExpired {
        /// Its `mid`.
        mid: String,
    },
    /// A file upload completed and verified.
    FileReceived(CompletedFile),
    /// An upload message was refused (answered with the error's code).
    UploadRefused(UploadError),
    /// No message for `missed` heartbeat intervals: the device is offline and the connection closes.
    Offline {
        /// Missed intervals.
        missed: u32,
    },
    /// A message that did not decode (a request among them with a readable `mid` was answered `20000001`,
    /// see [`SessionError::MalformedRequest`]), or one refused; the connection goes on.
    Malformed(SessionError),
    /// The connection closed; queued and waiting commands ended with `ConnectionLost`.
    Disconnected(Option<CloseReason>),
}

#[derive(Debug)]
struct Queued {
    id: RequestId,
    cmd_id: String,
    bytes: Bytes,
}

/// The platform side of one best-w connection. Call order: see [`Session`].
///
/// Checks register, accredit and login against a [`DeviceRegistry`] (devKey derivation, `authCode`,
/// `secret`), issuing `authCode` and `secret` from the injected [`RandomSource`]; answers `dev.report` with the
/// heartbeat settings and `dev.heartbeat` with success; declares the device offline after 3 missed intervals.
/// Commands go through a per-device queue with never more than the device's `maxPendingCmdCount` in flight,
/// each correlated by `cmdId` with a timeout. Uploads are reassembled by the proto crate's
/// [`UploadReceiver`]. Anything but onboarding before login is answered `10000003` and closes the connection.
pub struct PlatformSession<R> {
    config: PlatformConfig,
    registry: R,
    rng: Box<dyn RandomSource>,
    mids: MidGen,
    /// The X25519 secret agreed by `device.exchange.publicKey`, waiting for the factors.
    agreed: Option<[u8; exchange::KEY_LEN]>,
    shared_secret: Option<SharedSecret>,
    sn: Option<String>,
    connected: bool,
    close: Option<CloseReason>,
    login_deadline: Option<Instant>,
    liveness: Option<Liveness>,
    outbox: Outbox,
    max_in_flight: Option<usize>,
    queue: VecDeque<Queued>,
    commands: Correlator<String>,
    command_ids: HashMap<RequestId, RequestId>,
    requests: Correlator<String>,
    request_mids: HashMap<RequestId, String>,
    uploads: UploadReceiver,
    upload_deadline: Option<Instant>,
    events: VecDeque<PlatformEvent>,
    replies: VecDeque<(RequestId, Result<CmdResponse, RequestError>)>,
}

impl<R> std::fmt::Debug for PlatformSession<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSession")
            .field("sn", &self.sn)
            .field("close", &self.close)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<R: DeviceRegistry> PlatformSession<R> {
    /// A session for one connection. Message ids, `authCode`s, `secret`s and key exchange keys come from
    /// [`OsRandom`](crate::OsRandom) (see [`PlatformSession::with_rng`]).
    #[must_use]
    pub fn new(config: PlatformConfig, registry: R) -> Self {
        let mut rng: Box<dyn RandomSource> = Box::new(crate::OsRandom);
        Self {
            mids: MidGen::new(&mut *rng),
            rng,
            agreed: None,
            shared_secret: None,
            // Only the session's own traffic goes here: commands wait in the bounded queue instead.
            outbox: Outbox::new(0),
            commands: Correlator::new(config.command_timeout, config.max_pending_commands),
            requests: Correlator::new(config.request_timeout, config.max_pending_requests),
            uploads: UploadReceiver::new(config.upload),
            config,
            registry,
            sn: None,
            connected: false,
            close: None,
            login_deadline: None,
            liveness: None,
            max_in_flight: None,
            queue: VecDeque::new(),
            command_ids: HashMap::new(),
            request_mids: HashMap::new(),
            upload_deadline: None,
            events: VecDeque::new(),
            replies: VecDeque::new(),
        }
    }

    /// Replaces the random source ([`OsRandom`](crate::OsRandom) by default): tests pass a seeded
    /// [`SplitMix64`](crate::SplitMix64) to make the session deterministic.
    #[must_use]
    pub fn with_rng(mut self, mut rng: Box<dyn RandomSource>) -> Self {
        self.mids = MidGen::new(&mut *rng);
        self.rng = rng;
        self
    }

    /// The logged-in device's serial number.
    #[must_use]
    pub fn sn(&self) -> Option<&str> {
        self.sn.as_deref()
    }

    /// The secret agreed by the device's key exchange on this connection, if it ran one.
    #[must_use]
    pub fn shared_secret(&self) -> Option<&SharedSecret> {
        self.shared_secret.as_ref()
    }

    /// Commands sent and waiting for their answer.
    #[must_use]
    pub fn commands_in_flight(&self) -> usize {
        self.commands.len()
    }

    /// Commands queued, not sent yet.
    #[must_use]
    pub fn commands_queued(&self) -> usize {
        self.queue.len()
    }

    /// The most commands in flight for this device, once it reported.
    #[must_use]
    pub fn max_commands_in_flight(&self) -> Option<usize> {
        self.max_in_flight
    }

    /// `dev.cmd.response`s that came after their command timed out (dropped).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.commands.late_responses()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn reply(&mut self, mid: String, response: Response) {
        let envelope = Envelope::<PlatformMessage>::new(mid, PlatformMessage::Response(response));
        match encode(&self.config.codec, &envelope) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
    }

    fn refuse(&mut self, mid: String, sn: Option<String>, step: HandshakeStep, code: Code) {
        let text = match code {
            Code::UnknownDevice => "unknown device",
            Code::MalformedParams => "sn missing",
            _ => "bad credentials",
        };
        self.reply(mid, Response::error(code.clone(), text));
        self.events.push_back(PlatformEvent::LoginFailed {
            sn: sn.clone(),
            step,
            code: code.clone(),
        });
        self.close_with(CloseReason::LoginRejected(
            SessionError::HandshakeDenied { sn, step, code }.into(),
        ));
    }

    /// The record of `sn` when its devKey (and product id, if sent) check out.
    fn check_device(
        &self,
        sn: &str,
        product_id: Option<&str>,
        dev_key: &str,
    ) -> Result<DeviceRecord, Code> {
        let record = self.registry.device(sn).ok_or(Code::UnknownDevice)?;
        if product_id.is_some_and(|p| p != record.product_id)
            || !crypto::verify_dev_key(&record.secret_key, &record.product_id, dev_key)
        {
            return Err(Code::BadCredentials);
        }
        Ok(record)
    }

    fn onboard(&mut self, now: Instant, mid: String, sn: Option<String>, message: DeviceMessage) {
        let step = match &message {
            DeviceMessage::Register(_) => HandshakeStep::Register,
            DeviceMessage::Accredit(_) => HandshakeStep::Accredit,
            _ => HandshakeStep::Login,
        };
        let Some(sn) = sn else {
            return self.refuse(mid, None, step, Code::MalformedParams);
        };
        let outcome = match &message {
            DeviceMessage::Register(r) => self
                .check_device(&sn, r.product_id.as_deref(), &r.dev_key)
                .map(|_| {
                    let auth_code = random_hex(&mut *self.rng, 16);
                    self.registry.store_auth_code(&sn, &auth_code);
                    self.events
                        .push_back(PlatformEvent::Registered { sn: sn.clone() });
                    Some(Results::Register(RegisterResults { auth_code }))
                }),
            DeviceMessage::Accredit(a) => self
                .check_device(&sn, a.product_id.as_deref(), &a.dev_key)
                .and_then(|record| {
                    match record.auth_code {
                        Some(code) if same_secret(&code, &a.auth_code) => {}
                        _ => return Err(Code::BadCredentials),
                    }
                    let secret = random_hex(&mut *self.rng, 16);
                    self.registry.store_secret(&sn, &secret);
                    self.events
                        .push_back(PlatformEvent::Accredited { sn: sn.clone() });
                    Ok(Some(Results::Accredit(AccreditResults { secret })))
                }),
            DeviceMessage::Login(l) => self
                .check_device(&sn, l.product_id.as_deref(), &l.dev_key)
                .and_then(|record| {
                    let auth_ok = record
                        .auth_code
                        .is_some_and(|c| same_secret(&c, &l.auth_code));
                    let secret_ok = record.secret.is_some_and(|s| same_secret(&s, &l.secret));
                    if !(auth_ok && secret_ok) {
                        return Err(Code::BadCredentials);
                    }
                    Ok(None)
                }),
            _ => Ok(None),
        };
        match outcome {
            Ok(results) => {
                self.reply(mid, Response::ok(results));
                if step == HandshakeStep::Login {
                    self.login_deadline = None;
                    let interval = self.heartbeat_interval();
                    self.liveness = Some(Liveness::new(
                        now,
                        None,
                        interval * self.config.missed_heartbeats.max(1),
                    ));
                    self.events
                        .push_back(PlatformEvent::LoggedIn { sn: sn.clone() });
                    self.sn = Some(sn);
                }
            }
            Err(code) => self.refuse(mid, Some(sn), step, code),
        }
    }

    /// `device.exchange.publicKey` or `device.exchange.factor` before login. A bad key or factor is answered
    /// `20000001` and the exchange starts over; the connection stays open (login does not depend on it).
    fn on_exchange(&mut self, mid: String, sn: Option<String>, message: DeviceMessage) {
        if !self.config.key_exchange {
            return self.reply(
                mid,
                Response::error(Code::UnsupportedFuncId, "key exchange is not supported"),
            );
        }
        let outcome = match message {
            DeviceMessage::ExchangePublicKey(p) => {
                let pair = KeyPair::from_secret_bytes(random_array(&mut *self.rng));
                pair.agree(&p.public_key).map(|shared| {
                    self.agreed = Some(shared);
                    self.shared_secret = None;
                    Results::PublicKey(pair.public_key_message())
                })
            }
            DeviceMessage::ExchangeFactor(f) => match self.agreed.take() {
                None => {
                    return self.reply(
                        mid,
                        Response::error(
                            Code::MalformedParams,
                            "`device.exchange.factor` before `device.exchange.publicKey`",
                        ),
                    )
                }
                Some(shared) => exchange::parse_factor(&f.factor).map(|device_factor| {
                    let platform_factor = random_array(&mut *self.rng);
                    let secret = SharedSecret::new(shared, device_factor, platform_factor);
                    self.shared_secret = Some(secret.clone());
                    self.events
                        .push_back(PlatformEvent::KeyExchanged { sn, secret });
                    Results::Factor(exchange::factor_message(platform_factor))
                }),
            },
            _ => return,
        };
        match outcome {
            Ok(results) => self.reply(mid, Response::ok(Some(results))),
            Err(e) => {
                self.agreed = None;
                self.reply(mid, Response::error(Code::MalformedParams, e.to_string()));
            }
        }
    }

    fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.config.heartbeat_interval.as_secs().max(1))
    }

    fn on_report(&mut self, now: Instant, mid: String, report: Box<Report>) {
        let max = report
            .max_pending_cmd_count
            .unwrap_or(self.config.default_max_pending_commands);
        let max = usize::try_from(max)
            .unwrap_or(usize::MAX)
            .clamp(1, self.config.max_pending_commands.max(1));
        self.max_in_flight = Some(max);
        let interval = self.heartbeat_interval();
        let results = ReportResults {
            timezone: Some(self.config.clock.now().offset().fix()),
            support_heartbeat: Some(self.config.support_heartbeat),
            heartbeat_interval: Some(u32::try_from(interval.as_secs()).unwrap_or(u32::MAX)),
            multi_bio_data_support: Some(self.config.multi_bio_data_support.clone()),
            multi_bio_photo_support: Some(self.config.multi_bio_photo_support.clone()),
            ..ReportResults::default()
        };
        self.reply(mid, Response::ok(Some(Results::Report(results))));
        self.events.push_back(PlatformEvent::Reported(report));
        self.dispatch(now);
    }

    /// Sends queued commands while the device has room for them.
    fn dispatch(&mut self, now: Instant) {
        let Some(max) = self.max_in_flight else {
            return;
        };
        while self.commands.len() < max {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            match self.commands.start(now, q.cmd_id) {
                Ok(corr) => {
                    self.command_ids.insert(corr, q.id);
                    self.outbox.push_control(q.bytes);
                }
                Err(_) => {
                    // Unreachable by construction (keys are unique, room was checked); fail it rather than drop it.
                    self.replies
                        .push_back((q.id, Err(RequestError::ConnectionLost)));
                }
            }
        }
    }

    fn on_upload(&mut self, now: Instant, mid: String, message: &DeviceMessage) {
        let Some(outcome) = self.uploads.handle(now, message) else {
            return;
        };
        self.reply(mid, UploadReceiver::reply(&outcome));
        match outcome {
            Ok(best_proto::upload::UploadEvent::Completed(file)) => {
                self.events.push_back(PlatformEvent::FileReceived(file));
            }
            Ok(_) => {}
            Err(e) => self.events.push_back(PlatformEvent::UploadRefused(e)),
        }
        self.upload_deadline =
            (self.uploads.in_progress() > 0).then(|| now + self.config.upload.idle_timeout);
    }

    /// A device message that did not decode (DECISIONS.md, the answer rule): a `mid` over the limit cannot
    /// be matched and closes the connection at once; a request with a readable `mid` is answered
    /// `cmd.dev.response` `20000001` naming the field (and, before login, the connection then closes as for
    /// any refused onboarding); anything else is reported.
    fn on_malformed(&mut self, data: &[u8], e: DecodeError) {
        let readable = Readable::of(data);
        if let Some(unmatchable) = readable.unmatchable_mid(&e) {
            return self.close_with(unmatchable.into());
        }
        let error: crate::Shared<DecodeError> = e.into();
        let func_id = readable.func_id.unwrap_or_else(|| "?".to_owned());
        let is_reply = func_id == "dev.cmd.response";
        let error = match readable.mid {
            Some(mid)
                if !is_reply && !matches!(error.get(), DecodeError::MessageTooLarge { .. }) =>
            {
                self.reply(
                    mid.clone(),
                    Response::error(Code::MalformedParams, error.to_string()),
                );
                SessionError::MalformedRequest {
                    func_id,
                    mid,
                    cmd_id: None,
                    error,
                }
            }
            _ => SessionError::Decode(error),
        };
        if self.sn.is_none() {
            self.close_with(error.into());
        } else {
            self.events.push_back(PlatformEvent::Malformed(error));
        }
    }

    fn on_message(&mut self, now: Instant, envelope: Envelope<DeviceMessage>) {
        let Envelope {
            mid, sn, message, ..
        } = envelope;
        match message {
            m @ (DeviceMessage::ExchangePublicKey(_) | DeviceMessage::ExchangeFactor(_)) => {
                if self.sn.is_some() {
                    let func_id = m.name().to_owned();
                    self.close_with(SessionError::AfterLogin { func_id }.into());
                } else {
                    self.on_exchange(mid, sn, m);
                }
            }
            m @ (DeviceMessage::Register(_)
            | DeviceMessage::Accredit(_)
            | DeviceMessage::Login(_)) => {
                if self.sn.is_some() {
                    let func_id = m.name().to_owned();
                    self.close_with(SessionError::AfterLogin { func_id }.into());
                } else {
                    self.onboard(now, mid, sn, m);
                }
            }
            other if self.sn.is_none() => {
                self.reply(mid, Response::error(Code::NotLoggedIn, "not logged in"));
                let func_id = other.name().to_owned();
                self.close_with(SessionError::BeforeLogin { func_id }.into());
            }
            DeviceMessage::Report(report) => self.on_report(now, mid, report),
            DeviceMessage::Heartbeat(hb) => {
                self.reply(mid, Response::ok(None));
                self.events.push_back(PlatformEvent::Heartbeat(hb));
            }
            m @ (DeviceMessage::FileUploadStart(_)
            | DeviceMessage::FileUploadPackage(_)
            | DeviceMessage::FileUploadEnd(_))
                if self.config.uploads == UploadHandling::Reassemble =>
            {
                self.on_upload(now, mid, &m);
            }
            DeviceMessage::CmdResponse(answer) => {
                if let Some(corr) = self.commands.finish(&answer.cmd_id) {
                    if let Some(id) = self.command_ids.remove(&corr) {
                        self.replies.push_back((id, Ok(answer)));
                    }
                    self.dispatch(now);
                }
            }
            message => match self.requests.start(now, mid.clone()) {
                Ok(id) => {
                    self.request_mids.insert(id, mid.clone());
                    self.events
                        .push_back(PlatformEvent::Request { mid, message });
                }
                Err(e) => {
                    let func_id = message.name().to_owned();
                    let error = match e {
                        SendError::TooManyInFlight { capacity } => SessionError::TooManyRequests {
                            func_id,
                            mid,
                            limit: capacity,
                        },
                        _ => SessionError::DuplicateMid { func_id, mid },
                    };
                    self.events.push_back(PlatformEvent::Malformed(error));
                }
            },
        }
    }
}

impl<R: DeviceRegistry> Session for PlatformSession<R> {
    type Command = PlatformCommand;
    type Reply = CmdResponse;
    type Event = PlatformEvent;
    type Peer = String;

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, now: Instant) {
        self.connected = true;
        self.login_deadline = Some(now + self.config.login_timeout);
    }

    fn connection_lost(&mut self, _now: Instant) {
        self.connected = false;
        self.outbox.clear();
        self.liveness = None;
        for q in self.queue.drain(..) {
            self.replies
                .push_back((q.id, Err(RequestError::ConnectionLost)));
        }
        let mut lost = VecDeque::new();
        self.commands.fail_all::<CmdResponse>(&mut lost);
        for (corr, outcome) in lost {
            if let Some(id) = self.command_ids.remove(&corr) {
                self.replies.push_back((id, outcome));
            }
        }
        let mut dropped = VecDeque::new();
        self.requests.fail_all::<()>(&mut dropped);
        self.request_mids.clear();
        let reason = self.close.clone();
        self.events.push_back(PlatformEvent::Disconnected(reason));
        self.close.get_or_insert(CloseReason::Requested);
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.connected || self.close.is_some() {
            return;
        }
        if let Some(l) = self.liveness.as_mut() {
            l.on_receive(now);
        }
        match best_proto::PlatformCodec::new(self.config.codec).decode_text(data) {
            Ok(envelope) => self.on_message(now, envelope),
            Err(e) => self.on_malformed(data, e),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.connected || self.close.is_some() {
            return;
        }
        if self.login_deadline.is_some_and(|d| now >= d) {
            self.close_with(CloseReason::LoginTimeout);
            return;
        }
        if let Some(l) = &self.liveness {
            if l.peer_dead(now) {
                let after = l.peer_timeout();
                self.events.push_back(PlatformEvent::Offline {
                    missed: self.config.missed_heartbeats,
                });
                self.close_with(CloseReason::PeerSilent { after });
                return;
            }
        }
        let mut expired = VecDeque::new();
        self.commands.expire::<CmdResponse>(now, &mut expired);
        for (corr, outcome) in expired {
            if let Some(id) = self.command_ids.remove(&corr) {
                self.replies.push_back((id, outcome));
            }
        }
        let mut expired = VecDeque::new();
        self.requests.expire::<()>(now, &mut expired);
        for (id, _) in expired {
            if let Some(mid) = self.request_mids.remove(&id) {
                self.events.push_back(PlatformEvent::RequestExpired { mid });
            }
        }
        if self.upload_deadline.is_some_and(|d| now >= d) {
            for file_id in self.uploads.expire(now) {
                self.events
                    .push_back(PlatformEvent::Malformed(SessionError::UploadIdle {
                        file_id,
                        idle: self.config.upload.idle_timeout,
                    }));
            }
            self.upload_deadline =
                (self.uploads.in_progress() > 0).then(|| now + self.config.upload.idle_timeout);
        }
        self.dispatch(now);
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: PlatformCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.close.is_some() || !self.connected {
            return Err(SendError::Closed);
        }
        if self.sn.is_none() {
            return Err(SendError::NotReady);
        }
        match command {
            PlatformCommand::Respond { mid, response } => {
                let Some(corr) = self.requests.finish(&mid) else {
                    return Err(SessionError::NotWaiting { key: mid }.into());
                };
                self.request_mids.remove(&corr);
                self.reply(mid, response);
                Ok(None)
            }
            PlatformCommand::Send(message) => {
                let Some(cmd_id) = message.cmd_id().map(str::to_owned) else {
                    return Err(SessionError::NotACommand {
                        func_id: message.name().to_owned(),
                    }
                    .into());
                };
                if self.commands.is_waiting(&cmd_id)
                    || self.queue.iter().any(|q| q.cmd_id == cmd_id)
                {
                    return Err(SendError::DuplicateKey { key: cmd_id });
                }
                if self.queue.len() >= self.config.command_queue_capacity {
                    return Err(SendError::Full {
                        capacity: self.config.command_queue_capacity,
                    });
                }
                let envelope = Envelope::<PlatformMessage>::new(self.mids.next(), message);
                let bytes = encode(&self.config.codec, &envelope)?;
                let id = self.commands.next_id();
                self.queue.push_back(Queued { id, cmd_id, bytes });
                self.dispatch(now);
                Ok(Some(id))
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !self.connected || self.close.is_some() {
            return None;
        }
        [
            self.login_deadline,
            self.liveness.as_ref().map(Liveness::next_deadline),
            self.commands.next_deadline(),
            self.requests.next_deadline(),
            self.upload_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<PlatformEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<CmdResponse, RequestError>)> {
        crate::outbox::pop_release(&mut self.replies)
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.sn.is_some()
    }

    fn peer(&self) -> Option<&String> {
        self.sn.as_ref()
    }

    fn close(&mut self, _now: Instant) {
        self.close_with(CloseReason::Requested);
    }
}
