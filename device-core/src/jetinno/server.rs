//! The operator server's session for one machine connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::NaiveDate;
use jetinno_proto::{
    CodecConfig, DecodeError, ErrorReport, Login, LoginReply, MachineCode, MachineMessage,
    MachineStatus, ProductDone, QrCodeRequest, ServerHeartbeat, ServerMessage, UnknownMessage,
};

use super::{encode_packet, next_message, SessionError, Step, PEER_TIMEOUT};
use crate::clock::{SystemClock, WallClock};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// `login_r.ret` for a machine number the registry does not know (devproto's choice; the spec only says
/// "non-zero = failure code").
pub const LOGIN_UNKNOWN_MACHINE: i32 = 1;

/// `login_r.ret` for a wrong signature or a login date outside the window (DECISIONS.md, jetinno: "refuses
/// (`login_r` with `ret` 2, then closes)").
pub const LOGIN_BAD_SIGN: i32 = 2;

/// How many days a login's `timestamp` may be from the server's own local date (DECISIONS.md, jetinno:
/// yesterday, today and tomorrow are accepted).
pub const DEFAULT_LOGIN_DATE_WINDOW: u32 = 1;

/// Where the server looks up each machine's 8-character code.
pub trait MachineRegistry: Send + Sync {
    /// The code of machine `vmc_no`, or `None` when the machine is unknown.
    fn machine_code(&self, vmc_no: u64) -> Option<MachineCode>;
}

impl<R: MachineRegistry + ?Sized> MachineRegistry for Arc<R> {
    fn machine_code(&self, vmc_no: u64) -> Option<MachineCode> {
        (**self).machine_code(vmc_no)
    }
}

impl<F: Fn(u64) -> Option<MachineCode> + Send + Sync> MachineRegistry for F {
    fn machine_code(&self, vmc_no: u64) -> Option<MachineCode> {
        self(vmc_no)
    }
}

/// Settings of a [`ServerSession`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Silence after which the machine is declared gone. Default 120 s.
    pub peer_timeout: Duration,
    /// How long a connection may stay without a successful login. Default 30 s.
    pub login_timeout: Duration,
    /// How long the application has to answer a `qrcode` with `qrcode_r`. Default 30 s.
    pub qrcode_timeout: Duration,
    /// Most `qrcode` requests waiting for the application at once. Default 16.
    pub max_pending_qrcodes: usize,
    /// Most application messages queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Framing limits.
    pub codec: CodecConfig,
    /// Most days a login's `timestamp` (`yyyyMMdd`) may lie before or after the server's local date, by
    /// [`ServerConfig::clock`]; a login dated further away, or not a valid date, is refused with `ret` 2.
    /// Default [`DEFAULT_LOGIN_DATE_WINDOW`] (1: yesterday, today and tomorrow).
    pub login_date_window: u32,
    /// Source of the `login_r.date_time` and of the date logins are checked against.
    pub clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("peer_timeout", &self.peer_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("qrcode_timeout", &self.qrcode_timeout)
            .field("max_pending_qrcodes", &self.max_pending_qrcodes)
            .field("outbox_capacity", &self.outbox_capacity)
            .field("login_date_window", &self.login_date_window)
            .finish_non_exhaustive()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            peer_timeout: PEER_TIMEOUT,
            login_timeout: Duration::from_secs(30),
            qrcode_timeout: Duration::from_secs(30),
            max_pending_qrcodes: 16,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
            login_date_window: DEFAULT_LOGIN_DATE_WINDOW,
            clock: Arc::new(SystemClock),
        }
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Duration) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`ServerConfig::login_timeout`].
    #[must_use]
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Sets [`ServerConfig::qrcode_timeout`].
    #[must_use]
    pub fn qrcode_timeout(mut self, d: Duration) -> Self {
        self.qrcode_timeout = d;
        self
    }

    /// Sets [`ServerConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`ServerConfig::login_date_window`] (days).
    #[must_use]
    pub fn login_date_window(mut self, days: u32) -> Self {
        self.login_date_window = days;
        self
    }

    /// Sets [`ServerConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the server application asks for on one machine's connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerCommand {
    /// Send a server message: `pay_done`, `products`, `reboot`, `opendoor`, `upgrade`, `rinsing`, `priceset`,
    /// `discount`, or the `qrcode_r` answering a pending `qrcode` (refused when no such order waits).
    Send(ServerMessage),
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginFailure {
    /// The registry does not know the machine.
    #[error("unknown machine")]
    UnknownMachine,
    /// The signature is wrong for the machine's code and the login date.
    #[error("wrong sign")]
    BadSign,
    /// The login's `timestamp` is not a valid `yyyyMMdd` date.
    #[error("field `timestamp`: {timestamp} is not a valid yyyyMMdd date")]
    InvalidDate {
        /// The `timestamp` received.
        timestamp: u32,
    },
    /// The login's `timestamp` lies more than the window away from the server's local date.
    #[error(
        "field `timestamp`: {timestamp} is more than {window_days} day(s) from the server's date {server_date}"
    )]
    DateOutOfWindow {
        /// The `timestamp` received.
        timestamp: u32,
        /// The server's local date, `yyyyMMdd`.
        server_date: u32,
        /// [`ServerConfig::login_date_window`].
        window_days: u32,
    },
}

/// Checks a login date (`yyyyMMdd`) against the server's local date and the window in days.
fn check_login_date(
    timestamp: u32,
    today: NaiveDate,
    window_days: u32,
) -> Result<(), LoginFailure> {
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(timestamp / 10_000).unwrap_or(0),
        (timestamp / 100) % 100,
        timestamp % 100,
    )
    .filter(|_| (10_000_000..=99_999_999).contains(&timestamp))
    .ok_or(LoginFailure::InvalidDate { timestamp })?;
    let off = (date - today).num_days().unsigned_abs();
    if off > u64::from(window_days) {
        let server_date = today.format("%Y%m%d").to_string().parse().unwrap_or(0);
        return Err(LoginFailure::DateOutOfWindow {
            timestamp,
            server_date,
            window_days,
        });
    }
    Ok(())
}

/// What the server session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A machine logged in; the connection now carries its traffic.
    LoggedIn(Login),
    /// The logged-in machine sent `hb` (already answered by the session): it is alive.
    Heartbeat,
    /// A login was refused (answered with `login_r` and a non-zero `ret`, then closed).
    LoginFailed {
        /// The machine number it claimed.
        vmc_no: u64,
        /// Why.
        reason: LoginFailure,
    },
    /// The machine asks for a QR code: answer with [`ServerCommand::Send`] of a `qrcode_r` for the same order.
    QrCodeRequested(QrCodeRequest),
    /// A `qrcode` was not answered within the timeout; a later `qrcode_r` for it is refused.
    QrCodeExpired {
        /// The order.
        order_no: String,
    },
    /// A state report.
    Status(MachineStatus),
    /// An error set or cleared.
    Error(ErrorReport),
    /// A product was made.
    ProductDone(ProductDone),
    /// A message this crate does not know, kept raw.
    Unknown(UnknownMessage),
    /// A packet whose body did not decode, or a `qrcode` that cannot be taken; the connection goes on.
    Malformed(SessionError),
    /// The connection closed.
    Disconnected(Option<CloseReason>),
}

/// The server side of one jetinno connection. Call order: see [`Session`].
///
/// Verifies the login against a [`MachineRegistry`], answers every `hb`, declares the machine gone after 120 s
/// of silence, hands `qrcode` requests to the application and makes sure each is answered at most once and in
/// time. Anything but `login` or `hb` before a successful login closes the connection.
pub struct ServerSession<R> {
    config: ServerConfig,
    registry: R,
    vmc_no: Option<u64>,
    login_deadline: Option<Instant>,
    close: Option<CloseReason>,
    connected: bool,
    rx: BytesMut,
    outbox: Outbox,
    liveness: Option<Liveness>,
    qrcodes: Correlator<String>,
    qrcode_orders: HashMap<RequestId, String>,
    expired: VecDeque<(RequestId, Result<(), RequestError>)>,
    events: VecDeque<ServerEvent>,
}

impl<R> std::fmt::Debug for ServerSession<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("vmc_no", &self.vmc_no)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl<R: MachineRegistry> ServerSession<R> {
    /// A session for a connection that was just accepted.
    #[must_use]
    pub fn new(config: ServerConfig, registry: R) -> Self {
        Self {
            outbox: Outbox::new(config.outbox_capacity),
            qrcodes: Correlator::new(config.qrcode_timeout, config.max_pending_qrcodes),
            config,
            registry,
            vmc_no: None,
            login_deadline: None,
            close: None,
            connected: false,
            rx: BytesMut::new(),
            liveness: None,
            qrcode_orders: HashMap::new(),
            expired: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Bytes received and not yet decoded: never more than one packet (the codec's maximum), whatever a peer
    /// sends.
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    /// The machine number, once logged in.
    #[must_use]
    pub fn vmc_no(&self) -> Option<u64> {
        self.vmc_no
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn send_control(&mut self, msg: ServerMessage) {
        match encode_packet(&self.config.codec, &msg) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
    }

    fn login(&mut self, login: Login) {
        let now = self.config.clock.now();
        let failure = match self.registry.machine_code(login.vmc_no) {
            None => Some((LoginFailure::UnknownMachine, LOGIN_UNKNOWN_MACHINE)),
            Some(code) => match check_login_date(
                login.timestamp,
                now.date_naive(),
                self.config.login_date_window,
            ) {
                Err(failure) => Some((failure, LOGIN_BAD_SIGN)),
                Ok(()) if !login.verify(&code) => Some((LoginFailure::BadSign, LOGIN_BAD_SIGN)),
                Ok(()) => None,
            },
        };
        let date_time = now.format("%Y-%m-%d %H:%M:%S").to_string();
        let vmc_no = login.vmc_no;
        let ret = failure.map_or(LoginReply::OK, |(_, ret)| ret);
        self.send_control(
            LoginReply {
                vmc_no: Some(vmc_no),
                date_time,
                ret,
            }
            .into(),
        );
        match failure {
            None => {
                self.vmc_no = Some(vmc_no);
                self.login_deadline = None;
                self.events.push_back(ServerEvent::LoggedIn(login));
            }
            Some((reason, ret)) => {
                self.events
                    .push_back(ServerEvent::LoginFailed { vmc_no, reason });
                self.close_with(CloseReason::LoginRejected(
                    SessionError::LoginDenied {
                        vmc_no,
                        reason,
                        ret,
                    }
                    .into(),
                ));
            }
        }
    }

    fn on_message(&mut self, now: Instant, msg: MachineMessage) {
        match msg {
            MachineMessage::Heartbeat(_) => {
                self.send_control(ServerHeartbeat::default().into());
                if self.vmc_no.is_some() {
                    self.events.push_back(ServerEvent::Heartbeat);
                }
            }
            MachineMessage::Login(login) if self.vmc_no.is_none() => self.login(login),
            MachineMessage::Login(_) => self.close_with(SessionError::SecondLogin.into()),
            other if self.vmc_no.is_none() => {
                let cmd = other.name().to_owned();
                self.close_with(SessionError::BeforeLogin { cmd }.into());
            }
            MachineMessage::QrCode(request) => {
                match self.qrcodes.start(now, request.order_no.clone()) {
                    Ok(id) => {
                        self.qrcode_orders.insert(id, request.order_no.clone());
                        self.events.push_back(ServerEvent::QrCodeRequested(request));
                    }
                    // A repeated order number or too many waiting: the machine will time out and retry.
                    Err(e) => {
                        let order_no = request.order_no;
                        let error = match e {
                            SendError::TooManyInFlight { capacity } => {
                                SessionError::TooManyQrCodes {
                                    order_no,
                                    limit: capacity,
                                }
                            }
                            _ => SessionError::DuplicateQrCode { order_no },
                        };
                        self.events.push_back(ServerEvent::Malformed(error));
                    }
                }
            }
            MachineMessage::MachineStatus(s) => self.events.push_back(ServerEvent::Status(s)),
            MachineMessage::Error(e) => self.events.push_back(ServerEvent::Error(e)),
            MachineMessage::ProductDone(p) => self.events.push_back(ServerEvent::ProductDone(p)),
            MachineMessage::Unknown(u) => self.events.push_back(ServerEvent::Unknown(u)),
            other => self
                .events
                .push_back(ServerEvent::Malformed(SessionError::Unexpected {
                    cmd: other.name().to_owned(),
                })),
        }
    }
}

impl<R: MachineRegistry> Session for ServerSession<R> {
    type Command = ServerCommand;
    type Reply = std::convert::Infallible;
    type Event = ServerEvent;
    type Peer = u64;

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, now: Instant) {
        self.connected = true;
        self.login_deadline = Some(now + self.config.login_timeout);
        self.liveness = Some(Liveness::new(now, None, self.config.peer_timeout));
    }

    fn connection_lost(&mut self, _now: Instant) {
        self.connected = false;
        self.outbox.clear();
        self.rx.clear();
        let mut lost = VecDeque::new();
        self.qrcodes.fail_all::<()>(&mut lost);
        self.qrcode_orders.clear();
        let reason = self.close.clone();
        self.events.push_back(ServerEvent::Disconnected(reason));
        self.close.get_or_insert(CloseReason::Requested);
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.connected || self.close.is_some() {
            return;
        }
        self.rx.extend_from_slice(data);
        loop {
            match next_message::<MachineMessage>(&self.config.codec, &mut self.rx) {
                Step::Message(msg) => {
                    if let Some(l) = self.liveness.as_mut() {
                        l.on_receive(now);
                    }
                    self.on_message(now, msg);
                }
                Step::Malformed(e) => {
                    if let Some(l) = self.liveness.as_mut() {
                        l.on_receive(now);
                    }
                    if self.vmc_no.is_none() {
                        // A `login` whose fields do not decode (e.g. a `timestamp` that is no number) is
                        // refused like a bad date: `login_r` with ret 2, then the close.
                        if matches!(e.get(), DecodeError::Json { name, .. } if name == "login") {
                            let date_time = self.config.clock.now().format("%Y-%m-%d %H:%M:%S");
                            self.send_control(
                                LoginReply {
                                    vmc_no: None,
                                    date_time: date_time.to_string(),
                                    ret: LOGIN_BAD_SIGN,
                                }
                                .into(),
                            );
                        }
                        self.close_with(SessionError::MalformedBeforeLogin(e).into());
                    } else {
                        self.events
                            .push_back(ServerEvent::Malformed(SessionError::Decode(e)));
                    }
                }
                Step::Fatal(e) => self.close_with(SessionError::Decode(e).into()),
                Step::NeedMore => break,
            }
            if self.close.is_some() {
                break;
            }
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
                self.close_with(CloseReason::PeerSilent { after });
                return;
            }
        }
        self.qrcodes.expire(now, &mut self.expired);
        while let Some((id, _)) = self.expired.pop_front() {
            if let Some(order_no) = self.qrcode_orders.remove(&id) {
                self.events
                    .push_back(ServerEvent::QrCodeExpired { order_no });
            }
        }
    }

    fn handle_command(
        &mut self,
        _now: Instant,
        command: ServerCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.close.is_some() || !self.connected {
            return Err(SendError::Closed);
        }
        if self.vmc_no.is_none() {
            return Err(SendError::NotReady);
        }
        let ServerCommand::Send(msg) = command;
        let bytes = encode_packet(&self.config.codec, &msg)?;
        match &msg {
            ServerMessage::QrCodeReply(reply) => {
                if !self.qrcodes.is_waiting(&reply.order_no) {
                    return Err(SessionError::NoQrCodeWaiting {
                        order_no: reply.order_no.clone(),
                    }
                    .into());
                }
                // The answer is never refused for lack of room: the machine is waiting for it.
                if let Some(id) = self.qrcodes.finish(&reply.order_no) {
                    self.qrcode_orders.remove(&id);
                }
                self.outbox.push_control(bytes);
            }
            ServerMessage::LoginReply(_) | ServerMessage::Heartbeat(_) => {
                return Err(SessionError::SentBySession {
                    cmd: msg.name().to_owned(),
                }
                .into());
            }
            _ => self.outbox.push_app(bytes)?,
        }
        Ok(None)
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
            self.qrcodes.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Self::Reply, RequestError>)> {
        None
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.vmc_no.is_some()
    }

    fn peer(&self) -> Option<&u64> {
        self.vmc_no.as_ref()
    }

    fn close(&mut self, _now: Instant) {
        self.close_with(CloseReason::Requested);
    }
}
