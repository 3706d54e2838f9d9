//! The meeting terminal's session (WebSocket client).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use best_proto::exchange::{self, KeyPair, SharedSecret};
use best_proto::upload::UploadSender;
use best_proto::{
    crypto, Accredit, AccreditResults, CmdResponse, Code, CodecConfig, DecodeError, DevType,
    DeviceMessage, Envelope, FileId, Heartbeat, Login, PlatformMessage, ProtType, Register, Report,
    ReportResults, Response, Results,
};
use bytes::Bytes;

use super::{
    encode, random_array, HandshakeStep, MidGen, Readable, SessionError,
    DEFAULT_HEARTBEAT_INTERVAL, MISSED_HEARTBEATS,
};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::rng::RandomSource;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// Most offset corrections (`30000002`) one upload follows before it ends with the platform's answer.
const MAX_RESUMES: u32 = 16;

/// Most heartbeat `mid`s remembered, so their answers are recognised.
const REMEMBERED_HEARTBEATS: usize = 4;

/// Settings of a [`DeviceSession`].
#[derive(Clone)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// Serial number, written as the envelope `sn` of every message.
    pub sn: String,
    /// The product id: the devKey salt, sent in register, accredit and login.
    pub product_id: String,
    /// The secret key written at production; only its PBKDF2 digest (devKey) goes on the wire.
    pub secret_key: String,
    /// `devType` sent at registration. Default [`DevType::Meeting`].
    pub dev_type: DevType,
    /// `protVer` sent at registration. Default `1.0.0`.
    pub prot_ver: String,
    /// The `dev.report` sent after login; its `maxPackageSize` sizes upload chunks.
    pub report: Box<Report>,
    /// An `authCode` from an earlier registration: the chain then starts at accredit. Default none.
    pub auth_code: Option<String>,
    /// A `secret` from an earlier accreditation (with `auth_code`): the chain then starts at login.
    pub secret: Option<String>,
    /// Runs the key exchange (X25519 public keys, then factors) at the start of every connection, before the
    /// onboarding chain; the result arrives as [`DeviceEvent::KeyExchanged`]. Default off (the spec makes it
    /// optional).
    pub key_exchange: bool,
    /// How long each onboarding step waits for its reply. Default 30 s.
    pub handshake_timeout: Duration,
    /// How long a request (or one upload step) waits for its reply. Default 30 s.
    pub request_timeout: Duration,
    /// Most application requests waiting at once. Default 16.
    pub max_in_flight: usize,
    /// Most application messages queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Most file uploads at once. Default 4 (the reference platform's limit per device).
    pub max_uploads: usize,
    /// Most platform commands waiting for the application's `dev.cmd.response`; the platform must never exceed
    /// the report's `maxPendingCmdCount`, so more is a protocol error. Default 64.
    pub max_pending_commands: usize,
    /// Message limits.
    pub codec: CodecConfig,
}

impl std::fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("sn", &self.sn)
            .field("product_id", &self.product_id)
            .field("dev_type", &self.dev_type)
            .field("has_auth_code", &self.auth_code.is_some())
            .field("has_secret", &self.secret.is_some())
            .field("key_exchange", &self.key_exchange)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl DeviceConfig {
    /// Settings for device `sn` of `product_id` with its secret key and its report, others at their defaults.
    #[must_use]
    pub fn new(
        sn: impl Into<String>,
        product_id: impl Into<String>,
        secret_key: impl Into<String>,
        report: Report,
    ) -> Self {
        Self {
            sn: sn.into(),
            product_id: product_id.into(),
            secret_key: secret_key.into(),
            dev_type: DevType::Meeting,
            prot_ver: "1.0.0".into(),
            report: Box::new(report),
            auth_code: None,
            secret: None,
            key_exchange: false,
            handshake_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 16,
            outbox_capacity: 64,
            max_uploads: 4,
            max_pending_commands: 64,
            codec: CodecConfig::default(),
        }
    }

    /// Sets [`DeviceConfig::auth_code`] and [`DeviceConfig::secret`] (credentials kept from earlier).
    #[must_use]
    pub fn credentials(mut self, auth_code: impl Into<String>, secret: Option<String>) -> Self {
        self.auth_code = Some(auth_code.into());
        self.secret = secret;
        self
    }

    /// Sets [`DeviceConfig::key_exchange`].
    #[must_use]
    pub fn key_exchange(mut self, on: bool) -> Self {
        self.key_exchange = on;
        self
    }

    /// Sets [`DeviceConfig::dev_type`].
    #[must_use]
    pub fn dev_type(mut self, t: DevType) -> Self {
        self.dev_type = t;
        self
    }

    /// Sets [`DeviceConfig::handshake_timeout`].
    #[must_use]
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// Sets [`DeviceConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`DeviceConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`DeviceConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`DeviceConfig::max_uploads`].
    #[must_use]
    pub fn max_uploads(mut self, n: usize) -> Self {
        self.max_uploads = n;
        self
    }

    /// Sets [`DeviceConfig::max_pending_commands`].
    #[must_use]
    pub fn max_pending_commands(mut self, n: usize) -> Self {
        self.max_pending_commands = n;
        self
    }

    /// Sets [`DeviceConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }
}

/// What the device application asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DeviceCommand {
    /// A request answered by `cmd.dev.response`: a `dev.data.upload.*`, `dev.system.sync.time` or an unknown
    /// message. The session's own messages (onboarding, heartbeat, file upload, `dev.cmd.response`) are refused.
    Request(DeviceMessage),
    /// Answers a platform command ([`DeviceEvent::Command`]) with `dev.cmd.response`: same `mid`, `cmdId`
    /// echoed. Refused when no command with that `cmdId` waits.
    Respond(CmdResponse),
    /// Uploads a file in chunks of the report's `maxPackageSize` KB; the request ends with the platform's answer
    /// to `dev.file.upload.end`, or with the first refusal it cannot recover from. A `30000002` answer makes the
    /// upload resume from the offset the platform expects.
    Upload {
        /// The file id.
        file_id: FileId,
        /// The whole file.
        data: Bytes,
    },
}

/// What the device session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeviceEvent {
    /// The key exchange completed ([`DeviceConfig::key_exchange`]): the platform holds the same secret. A new
    /// one is agreed on every connection.
    KeyExchanged(SharedSecret),
    /// `dev.register` succeeded; keep the `authCode` to skip registration next time.
    Registered {
        /// The platform's authorisation code.
        auth_code: String,
    },
    /// `dev.accredit` succeeded; keep the `secret` to log in directly next time.
    Accredited(AccreditResults),
    /// Login and report are done: the session is ready and heartbeats run at the interval given here.
    LoggedIn(ReportResults),
    /// A step of the onboarding chain was refused; the connection closes. A refused login (`10000001`) also
    /// forgets the stored `authCode` and `secret`, so the next connection registers again.
    HandshakeRejected {
        /// The refused step.
        step: HandshakeStep,
        /// The platform's answer (its code and message).
        response: Response,
    },
    /// A platform command: answer it with [`DeviceCommand::Respond`] and the same `cmdId`.
    Command {
        /// The command message's `mid`, which the answer repeats.
        mid: String,
        /// The command.
        command: PlatformMessage,
    },
    /// A platform message that is neither a command nor an awaited reply (an unknown message without `cmdId`).
    Other(Envelope<PlatformMessage>),
    /// A message that did not decode (a command among them with a readable `mid` was answered
    /// `dev.cmd.response` `20000001`, see [`SessionError::MalformedRequest`]), or a command refused; the
    /// connection goes on.
    Malformed(SessionError),
    /// An upload ([`DeviceCommand::Upload`]) moved on: the platform accepted the bytes before `offset`, or
    /// answered `30000002` and the upload resumes at `offset`. The next chunk starts there.
    UploadProgress {
        /// The file.
        file_id: FileId,
        /// Bytes the platform holds.
        offset: u64,
        /// The file's size.
        size: u64,
    },
    /// The connection closed; waiting requests ended with `ConnectionLost`.
    Disconnected(Option<CloseReason>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Disconnected,
    Handshake {
        step: HandshakeStep,
        mid: String,
        deadline: Instant,
    },
    Ready,
}

/// One connection's key exchange: the key pair until the platform's key arrives, the X25519 secret and our
/// factor until the platform's factor arrives, then the agreed secret.
#[derive(Debug, Default)]
struct Exchange {
    key_pair: Option<KeyPair>,
    agreed: Option<[u8; exchange::KEY_LEN]>,
    device_factor: Option<[u8; exchange::FACTOR_LEN]>,
    secret: Option<SharedSecret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Package(u64),
    End,
}

#[derive(Debug)]
struct Upload {
    id: RequestId,
    sender: UploadSender,
    size: u64,
    phase: Phase,
    mid: String,
    deadline: Instant,
    resumes: u32,
}

/// The device side of a best-w connection. Call order: see [`Session`].
///
/// On [`Session::connection_opened`] it runs the onboarding chain from the first step it lacks credentials for
/// (register, accredit, login; then report), each step waiting for its `cmd.dev.response`. Once the report is
/// answered it sends `dev.heartbeat` at the returned interval and accepts [`DeviceCommand`]s; a platform silent
/// for 3 intervals, a refused step or a step without answer close the connection, and a
/// [`crate::runtime`] client reconnects and logs in again. Message ids come from the injected
/// [`RandomSource`] and a counter: unique per device and at most 32 characters. When the report reply says
/// `supportHeartbeat` 0, no heartbeats are sent and liveness is left to the transport (WebSocket ping/pong).
pub struct DeviceSession {
    config: DeviceConfig,
    rng: Box<dyn RandomSource>,
    mids: MidGen,
    /// This connection's key exchange.
    exchange: Exchange,
    state: State,
    close: Option<CloseReason>,
    shutdown: bool,
    outbox: Outbox,
    liveness: Option<Liveness>,
    heartbeats: VecDeque<String>,
    requests: Correlator<String>,
    uploads: Vec<Upload>,
    commands: HashMap<String, String>,
    events: VecDeque<DeviceEvent>,
    replies: VecDeque<(RequestId, Result<Response, RequestError>)>,
}

impl std::fmt::Debug for DeviceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSession")
            .field("sn", &self.config.sn)
            .field("state", &self.state)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl DeviceSession {
    /// Replaces the random source ([`OsRandom`](crate::OsRandom) by default): tests pass a seeded
    /// [`SplitMix64`](crate::SplitMix64) to make the session deterministic.
    #[must_use]
    pub fn with_rng(mut self, mut rng: Box<dyn RandomSource>) -> Self {
        self.mids = MidGen::new(&mut *rng);
        self.rng = rng;
        self
    }

    /// A session that is not connected yet. Message ids and, with [`DeviceConfig::key_exchange`], the X25519
    /// keys and factors come from [`OsRandom`](crate::OsRandom) (see [`DeviceSession::with_rng`]).
    #[must_use]
    pub fn new(config: DeviceConfig) -> Self {
        let mut rng: Box<dyn RandomSource> = Box::new(crate::OsRandom);
        Self {
            mids: MidGen::new(&mut *rng),
            rng,
            exchange: Exchange::default(),
            outbox: Outbox::new(config.outbox_capacity),
            requests: Correlator::new(config.request_timeout, config.max_in_flight),
            config,
            state: State::Disconnected,
            close: None,
            shutdown: false,
            liveness: None,
            heartbeats: VecDeque::new(),
            uploads: Vec::new(),
            commands: HashMap::new(),
            events: VecDeque::new(),
            replies: VecDeque::new(),
        }
    }

    /// The `authCode` and `secret` held now (from the config or the last register/accredit).
    #[must_use]
    pub fn credentials(&self) -> (Option<&str>, Option<&str>) {
        (
            self.config.auth_code.as_deref(),
            self.config.secret.as_deref(),
        )
    }

    /// The secret agreed by this connection's key exchange, once done.
    #[must_use]
    pub fn shared_secret(&self) -> Option<&SharedSecret> {
        self.exchange.secret.as_ref()
    }

    /// Platform commands waiting for the application's answer.
    #[must_use]
    pub fn pending_commands(&self) -> usize {
        self.commands.len()
    }

    /// Replies that arrived after their request timed out (dropped).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.requests.late_responses()
    }

    /// Replies naming no request this session sent (dropped).
    #[must_use]
    pub fn unmatched_responses(&self) -> u64 {
        self.requests.unmatched_responses()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn envelope(&mut self, message: DeviceMessage) -> Envelope<DeviceMessage> {
        Envelope::new(self.mids.next(), message).with_sn(self.config.sn.clone())
    }

    /// Queues a message of the session's own; returns its `mid`.
    fn send_control(&mut self, message: DeviceMessage) -> String {
        let envelope = self.envelope(message);
        match encode(&self.config.codec, &envelope) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
        envelope.mid
    }

    fn dev_key(&self) -> String {
        crypto::dev_key(&self.config.secret_key, &self.config.product_id)
    }

    fn begin_step(&mut self, now: Instant, step: HandshakeStep) {
        let product_id = Some(self.config.product_id.clone());
        let auth_code = self.config.auth_code.clone().unwrap_or_default();
        let message = match step {
            HandshakeStep::ExchangePublicKey => {
                let pair = KeyPair::from_secret_bytes(random_array(&mut *self.rng));
                let message = DeviceMessage::ExchangePublicKey(pair.public_key_message());
                self.exchange.key_pair = Some(pair);
                message
            }
            HandshakeStep::ExchangeFactor => {
                let factor = random_array(&mut *self.rng);
                self.exchange.device_factor = Some(factor);
                DeviceMessage::ExchangeFactor(exchange::factor_message(factor))
            }
            HandshakeStep::Register => DeviceMessage::Register(Register {
                prot_type: ProtType::BestW,
                prot_ver: self.config.prot_ver.clone(),
                product_id,
                dev_key: self.dev_key(),
                dev_type: self.config.dev_type.clone(),
            }),
            HandshakeStep::Accredit => DeviceMessage::Accredit(Accredit {
                product_id,
                dev_key: self.dev_key(),
                auth_code,
            }),
            HandshakeStep::Login => DeviceMessage::Login(Login {
                product_id,
                dev_key: self.dev_key(),
                auth_code,
                secret: self.config.secret.clone().unwrap_or_default(),
            }),
            HandshakeStep::Report => DeviceMessage::Report(self.config.report.clone()),
        };
        let mid = self.send_control(message);
        self.state = State::Handshake {
            step,
            mid,
            deadline: now + self.config.handshake_timeout,
        };
    }

    fn on_handshake_reply(&mut self, now: Instant, step: HandshakeStep, response: Response) {
        if !response.code.is_success() {
            if step == HandshakeStep::Login && response.code == Code::BadCredentials {
                self.config.auth_code = None;
                self.config.secret = None;
            }
            let why = SessionError::HandshakeRefused {
                step,
                code: response.code.clone(),
                message: response.message.clone().unwrap_or_default(),
            };
            self.events
                .push_back(DeviceEvent::HandshakeRejected { step, response });
            self.close_with(CloseReason::LoginRejected(why.into()));
            return;
        }
        match (step, response.results) {
            (HandshakeStep::ExchangePublicKey, Some(Results::PublicKey(p))) => {
                let agreed = self
                    .exchange
                    .key_pair
                    .take()
                    .map(|pair| pair.agree(&p.public_key));
                match agreed {
                    Some(Ok(shared)) => {
                        self.exchange.agreed = Some(shared);
                        self.begin_step(now, HandshakeStep::ExchangeFactor);
                    }
                    Some(Err(e)) => self.close_with(SessionError::KeyExchange(e).into()),
                    None => self.close_with(SessionError::ExchangeOutOfOrder { step }.into()),
                }
            }
            (HandshakeStep::ExchangeFactor, Some(Results::Factor(f))) => {
                match (
                    exchange::parse_factor(&f.factor),
                    self.exchange.agreed.take(),
                    self.exchange.device_factor.take(),
                ) {
                    (Ok(platform_factor), Some(shared), Some(device_factor)) => {
                        let secret = SharedSecret::new(shared, device_factor, platform_factor);
                        self.exchange.secret = Some(secret.clone());
                        self.events.push_back(DeviceEvent::KeyExchanged(secret));
                        let step = self.first_onboarding_step();
                        self.begin_step(now, step);
                    }
                    (Err(e), ..) => self.close_with(SessionError::KeyExchange(e).into()),
                    _ => self.close_with(SessionError::ExchangeOutOfOrder { step }.into()),
                }
            }
            (HandshakeStep::Register, Some(Results::Register(r))) => {
                self.config.auth_code = Some(r.auth_code.clone());
                self.config.secret = None;
                self.events.push_back(DeviceEvent::Registered {
                    auth_code: r.auth_code,
                });
                self.begin_step(now, HandshakeStep::Accredit);
            }
            (HandshakeStep::Accredit, Some(Results::Accredit(r))) => {
                self.config.secret = Some(r.secret.clone());
                self.events.push_back(DeviceEvent::Accredited(r));
                self.begin_step(now, HandshakeStep::Login);
            }
            (HandshakeStep::Login, _) => self.begin_step(now, HandshakeStep::Report),
            (HandshakeStep::Report, results) => {
                let results = match results {
                    Some(Results::Report(r)) => r,
                    _ => ReportResults::default(),
                };
                let interval = results
                    .heartbeat_interval
                    .map_or(DEFAULT_HEARTBEAT_INTERVAL, |s| {
                        Duration::from_secs(u64::from(s.max(1)))
                    });
                self.liveness = (results.support_heartbeat != Some(false))
                    .then(|| Liveness::new(now, Some(interval), interval * MISSED_HEARTBEATS));
                self.state = State::Ready;
                self.events.push_back(DeviceEvent::LoggedIn(results));
            }
            (step, _) => self.close_with(SessionError::MissingResults { step }.into()),
        }
    }

    fn upload_message(&self, i: usize) -> Option<DeviceMessage> {
        let u = &self.uploads[i];
        Some(match u.phase {
            Phase::Start => DeviceMessage::FileUploadStart(u.sender.start()),
            Phase::Package(offset) => {
                DeviceMessage::FileUploadPackage(u.sender.package_at(offset)?)
            }
            Phase::End => DeviceMessage::FileUploadEnd(u.sender.end()),
        })
    }

    /// Sends the current step of upload `i` (its message was admitted when the upload began).
    fn send_upload_step(&mut self, now: Instant, i: usize) {
        let Some(message) = self.upload_message(i) else {
            return;
        };
        let mid = self.send_control(message);
        let u = &mut self.uploads[i];
        u.mid = mid;
        u.deadline = now + self.config.request_timeout;
    }

    fn on_upload_reply(&mut self, now: Instant, i: usize, response: Response) {
        let u = &mut self.uploads[i];
        let accepted_start = response.code.is_success() && u.phase == Phase::Start;
        let next = match (response.code.is_success(), response.expected_offset()) {
            (true, _) => match u.phase {
                Phase::Start => Some(0),
                Phase::Package(offset) => u
                    .sender
                    .package_at(offset)
                    .map(|p| offset + p.content.len() as u64),
                Phase::End => None,
            },
            (false, Some(expected)) if expected <= u.size && u.resumes < MAX_RESUMES => {
                u.resumes += 1;
                Some(expected)
            }
            (false, _) => None,
        };
        match next {
            Some(offset) => {
                if !accepted_start {
                    self.events.push_back(DeviceEvent::UploadProgress {
                        file_id: u.sender.start().file_id,
                        offset,
                        size: u.size,
                    });
                }
                u.phase = if offset >= u.size {
                    Phase::End
                } else {
                    Phase::Package(offset)
                };
                self.send_upload_step(now, i);
            }
            None => {
                let u = self.uploads.remove(i);
                self.replies.push_back((u.id, Ok(response)));
            }
        }
    }

    fn on_response(&mut self, now: Instant, mid: String, response: Response) {
        if let State::Handshake { step, mid: m, .. } = &self.state {
            if *m == mid {
                let step = *step;
                self.on_handshake_reply(now, step, response);
                return;
            }
        }
        if let Some(pos) = self.heartbeats.iter().position(|m| *m == mid) {
            self.heartbeats.remove(pos);
            // The platform no longer holds this device's login (over MQTT it cannot see a reconnect or its
            // own restart): start a new connection, which logs in again.
            if response.code == Code::NotLoggedIn {
                self.close_with(SessionError::LoggedOut.into());
            }
            return;
        }
        if let Some(i) = self.uploads.iter().position(|u| u.mid == mid) {
            self.on_upload_reply(now, i, response);
            return;
        }
        if let Some(id) = self.requests.finish(&mid) {
            self.replies.push_back((id, Ok(response)));
        }
    }

    fn on_message(&mut self, now: Instant, envelope: Envelope<PlatformMessage>) {
        let Envelope { mid, message, .. } = envelope;
        match message {
            PlatformMessage::Response(response) => self.on_response(now, mid, response),
            command => match command.cmd_id().map(str::to_owned) {
                Some(cmd_id) => {
                    if self.commands.contains_key(&cmd_id) {
                        self.events.push_back(DeviceEvent::Malformed(
                            SessionError::DuplicateCommand { cmd_id },
                        ));
                    } else if self.commands.len() >= self.config.max_pending_commands {
                        let limit = self.config.max_pending_commands;
                        self.close_with(SessionError::TooManyCommands { limit }.into());
                    } else {
                        self.commands.insert(cmd_id, mid.clone());
                        self.events.push_back(DeviceEvent::Command { mid, command });
                    }
                }
                None => self
                    .events
                    .push_back(DeviceEvent::Other(Envelope::new(mid, command))),
            },
        }
    }

    /// A platform message that did not decode (DECISIONS.md, the answer rule): a `mid` over the limit cannot
    /// be matched and closes the connection; a command with a readable `mid` is answered `dev.cmd.response`
    /// `20000001` naming the field, with its `cmdId` echoed when readable; anything else (a reply) is reported.
    fn on_malformed(&mut self, data: &[u8], e: DecodeError) {
        let readable = Readable::of(data);
        if let Some(unmatchable) = readable.unmatchable_mid(&e) {
            return self.close_with(unmatchable.into());
        }
        let error: crate::Shared<DecodeError> = e.into();
        let func_id = readable.func_id.unwrap_or_else(|| "?".to_owned());
        let is_reply = func_id == "cmd.dev.response";
        let error = match readable.mid {
            Some(mid)
                if !is_reply && !matches!(error.get(), DecodeError::MessageTooLarge { .. }) =>
            {
                let answer = CmdResponse {
                    code: Code::MalformedParams,
                    message: Some(error.to_string()),
                    cmd_id: readable.cmd_id.clone().unwrap_or_default(),
                };
                let envelope =
                    Envelope::<DeviceMessage>::new(mid.clone(), DeviceMessage::CmdResponse(answer))
                        .with_sn(self.config.sn.clone());
                match encode(&self.config.codec, &envelope) {
                    Ok(bytes) => self.outbox.push_control(bytes),
                    Err(e) => self.close_with(e.into()),
                }
                SessionError::MalformedRequest {
                    func_id,
                    mid,
                    cmd_id: readable.cmd_id,
                    error,
                }
            }
            _ => SessionError::Decode(error),
        };
        self.events.push_back(DeviceEvent::Malformed(error));
    }

    /// The first onboarding step the stored credentials allow.
    fn first_onboarding_step(&self) -> HandshakeStep {
        match (&self.config.auth_code, &self.config.secret) {
            (Some(_), Some(_)) => HandshakeStep::Login,
            (Some(_), None) => HandshakeStep::Accredit,
            _ => HandshakeStep::Register,
        }
    }

    fn connected(&self) -> bool {
        self.state != State::Disconnected && self.close.is_none()
    }
}

impl Session for DeviceSession {
    type Command = DeviceCommand;
    type Reply = Response;
    type Event = DeviceEvent;
    type Peer = ();

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, now: Instant) {
        if self.shutdown {
            return;
        }
        self.outbox.clear();
        self.close = None;
        self.liveness = None;
        self.heartbeats.clear();
        self.exchange = Exchange::default();
        let step = if self.config.key_exchange {
            HandshakeStep::ExchangePublicKey
        } else {
            self.first_onboarding_step()
        };
        self.begin_step(now, step);
    }

    fn connection_lost(&mut self, _now: Instant) {
        let reason = self.close.take();
        self.state = State::Disconnected;
        self.exchange = Exchange::default();
        self.liveness = None;
        self.heartbeats.clear();
        self.outbox.clear();
        self.commands.clear();
        self.requests.fail_all(&mut self.replies);
        for u in self.uploads.drain(..) {
            self.replies
                .push_back((u.id, Err(RequestError::ConnectionLost)));
        }
        self.events.push_back(DeviceEvent::Disconnected(reason));
        if self.shutdown {
            self.close = Some(CloseReason::Requested);
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.connected() {
            return;
        }
        if let Some(l) = self.liveness.as_mut() {
            l.on_receive(now);
        }
        match best_proto::DeviceCodec::new(self.config.codec).decode_text(data) {
            Ok(envelope) => self.on_message(now, envelope),
            Err(e) => self.on_malformed(data, e),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.connected() {
            return;
        }
        if let State::Handshake { deadline, .. } = self.state {
            if now >= deadline {
                self.close_with(CloseReason::LoginTimeout);
                return;
            }
        }
        if let Some(l) = self.liveness.as_mut() {
            if l.peer_dead(now) {
                let after = l.peer_timeout();
                self.close_with(CloseReason::PeerSilent { after });
                return;
            }
            if l.heartbeat_due(now) {
                let is_free = Some(self.commands.is_empty());
                let mid = self.send_control(DeviceMessage::Heartbeat(Heartbeat { is_free }));
                if self.heartbeats.len() == REMEMBERED_HEARTBEATS {
                    self.heartbeats.pop_front();
                }
                self.heartbeats.push_back(mid);
            }
        }
        self.requests.expire(now, &mut self.replies);
        let timeout = self.config.request_timeout;
        let mut i = 0;
        while i < self.uploads.len() {
            if self.uploads[i].deadline <= now {
                let u = self.uploads.remove(i);
                self.replies
                    .push_back((u.id, Err(RequestError::TimedOut(timeout))));
            } else {
                i += 1;
            }
        }
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: DeviceCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.shutdown || self.close.is_some() {
            return Err(SendError::Closed);
        }
        if self.state == State::Disconnected {
            return Err(SendError::NotReady);
        }
        if let DeviceCommand::Respond(answer) = command {
            let Some(mid) = self.commands.get(&answer.cmd_id).cloned() else {
                return Err(SessionError::NotWaiting {
                    key: answer.cmd_id.clone(),
                }
                .into());
            };
            let envelope = Envelope::<DeviceMessage>::new(mid, DeviceMessage::CmdResponse(answer))
                .with_sn(self.config.sn.clone());
            let bytes = encode(&self.config.codec, &envelope)?;
            // The platform waits for this answer: never refused for lack of room.
            self.outbox.push_control(bytes);
            if let DeviceMessage::CmdResponse(a) = &envelope.message {
                self.commands.remove(&a.cmd_id);
            }
            return Ok(None);
        }
        if self.state != State::Ready {
            return Err(SendError::NotReady);
        }
        if !self.outbox.has_room() {
            return Err(SendError::Full {
                capacity: self.config.outbox_capacity,
            });
        }
        match command {
            DeviceCommand::Request(message) => {
                match &message {
                    DeviceMessage::ExchangePublicKey(_)
                    | DeviceMessage::ExchangeFactor(_)
                    | DeviceMessage::Register(_)
                    | DeviceMessage::Accredit(_)
                    | DeviceMessage::Login(_)
                    | DeviceMessage::Report(_)
                    | DeviceMessage::Heartbeat(_)
                    | DeviceMessage::FileUploadStart(_)
                    | DeviceMessage::FileUploadPackage(_)
                    | DeviceMessage::FileUploadEnd(_)
                    | DeviceMessage::CmdResponse(_) => {
                        return Err(SessionError::SentBySession {
                            func_id: message.name().to_owned(),
                        }
                        .into())
                    }
                    _ => {}
                }
                let envelope = Envelope::<DeviceMessage>::new(self.mids.next(), message)
                    .with_sn(self.config.sn.clone());
                let bytes = encode(&self.config.codec, &envelope)?;
                let id = self.requests.start(now, envelope.mid)?;
                self.outbox.push_app(bytes)?;
                Ok(Some(id))
            }
            DeviceCommand::Upload { file_id, data } => {
                if self.uploads.len() >= self.config.max_uploads {
                    return Err(SendError::TooManyInFlight {
                        capacity: self.config.max_uploads,
                    });
                }
                if self
                    .uploads
                    .iter()
                    .any(|u| u.sender.start().file_id == file_id)
                {
                    return Err(SendError::DuplicateKey {
                        key: format!("{file_id:?}"),
                    });
                }
                let size = data.len() as u64;
                let sender = UploadSender::new(file_id, data, self.config.report.max_package_kb());
                let envelope = Envelope::<DeviceMessage>::new(
                    self.mids.next(),
                    DeviceMessage::FileUploadStart(sender.start()),
                )
                .with_sn(self.config.sn.clone());
                let bytes = encode(&self.config.codec, &envelope)?;
                self.outbox.push_app(bytes)?;
                let id = self.requests.next_id();
                self.uploads.push(Upload {
                    id,
                    sender,
                    size,
                    phase: Phase::Start,
                    mid: envelope.mid,
                    deadline: now + self.config.request_timeout,
                    resumes: 0,
                });
                Ok(Some(id))
            }
            DeviceCommand::Respond(_) => unreachable!("answered above"),
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !self.connected() {
            return None;
        }
        let handshake = match self.state {
            State::Handshake { deadline, .. } => Some(deadline),
            _ => None,
        };
        [
            handshake,
            self.liveness.as_ref().map(Liveness::next_deadline),
            self.requests.next_deadline(),
            self.uploads.iter().map(|u| u.deadline).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<DeviceEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Response, RequestError>)> {
        crate::outbox::pop_release(&mut self.replies)
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.state == State::Ready
    }

    fn peer(&self) -> Option<&()> {
        self.is_established().then_some(&())
    }

    fn close(&mut self, _now: Instant) {
        self.shutdown = true;
        self.close_with(CloseReason::Requested);
    }
}
