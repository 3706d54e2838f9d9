//! The coffee machine's session (TCP client).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use jetinno_proto::{
    CodecConfig, Login, MachineCode, MachineHeartbeat, MachineMessage, QrCodeReply, QrCodeRequest,
    ServerMessage,
};

use super::{encode_packet, next_message, SessionError, Step, HEARTBEAT_INTERVAL, PEER_TIMEOUT};
use crate::clock::{SystemClock, WallClock};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// Settings of a [`MachineSession`].
#[derive(Clone)]
#[non_exhaustive]
pub struct MachineConfig {
    /// Machine number (`vmc_no`).
    pub vmc_no: u64,
    /// The machine's 8-character code, which signs the login.
    pub code: MachineCode,
    /// Application version sent at login.
    pub version: String,
    /// Linux driver version sent at login, if any.
    pub linux_driver_version: Option<String>,
    /// Heartbeat interval. Default 20 s.
    pub heartbeat: Duration,
    /// Silence after which the server is declared gone. Default 120 s.
    pub peer_timeout: Duration,
    /// How long to wait for `login_r`. Default 30 s.
    pub login_timeout: Duration,
    /// How long a `qrcode` waits for its `qrcode_r`. Default 30 s.
    pub request_timeout: Duration,
    /// Most `qrcode` requests waiting at once. Default 16.
    pub max_in_flight: usize,
    /// Most application messages queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Framing limits.
    pub codec: CodecConfig,
    /// Source of the login date.
    pub clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for MachineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineConfig")
            .field("vmc_no", &self.vmc_no)
            .field("code", &self.code)
            .field("version", &self.version)
            .field("heartbeat", &self.heartbeat)
            .field("peer_timeout", &self.peer_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl MachineConfig {
    /// Settings for machine `vmc_no` with its code and software version, other values at their defaults.
    #[must_use]
    pub fn new(vmc_no: u64, code: MachineCode, version: impl Into<String>) -> Self {
        Self {
            vmc_no,
            code,
            version: version.into(),
            linux_driver_version: None,
            heartbeat: HEARTBEAT_INTERVAL,
            peer_timeout: PEER_TIMEOUT,
            login_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 16,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets [`MachineConfig::heartbeat`].
    #[must_use]
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = d;
        self
    }

    /// Sets [`MachineConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Duration) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`MachineConfig::login_timeout`].
    #[must_use]
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Sets [`MachineConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`MachineConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`MachineConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`MachineConfig::linux_driver_version`].
    #[must_use]
    pub fn linux_driver_version(mut self, v: impl Into<String>) -> Self {
        self.linux_driver_version = Some(v.into());
        self
    }

    /// Sets [`MachineConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the machine application asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MachineCommand {
    /// Ask for a payment QR code; the request ends with the matching `qrcode_r` (by `order_no`).
    RequestQrCode(QrCodeRequest),
    /// Send a message that has no response: `machinestatus`, `error`, `productdone`, or an unknown one.
    Send(MachineMessage),
}

/// What the machine session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MachineEvent {
    /// `login_r` with `ret` 0: the session is ready.
    LoggedIn {
        /// The server's time.
        date_time: String,
    },
    /// `login_r` with a failure code; the session closes and the driver reconnects with backoff.
    LoginRejected {
        /// The server's code.
        ret: i32,
    },
    /// A server message for the application: `pay_done`, `products`, a control command (`reboot`, `opendoor`,
    /// `upgrade`, `rinsing`, `priceset`, `discount`) or an unknown message.
    Server(ServerMessage),
    /// A packet whose body did not decode, or a message the machine never receives; the connection goes on.
    Malformed(SessionError),
    /// The connection closed; waiting requests ended with `ConnectionLost`.
    Disconnected(Option<CloseReason>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    LoggingIn { deadline: Instant },
    Ready,
}

/// The machine side of a jetinno connection. Call order: see [`Session`].
///
/// On [`Session::connection_opened`] it sends a signed `login` dated by the configured clock and waits for
/// `login_r`; once logged in it sends `hb` every 20 s and accepts commands. Silence from the server for 120 s, a
/// refused login or a broken frame close the connection; a [`crate::runtime`] client then reconnects with backoff.
pub struct MachineSession {
    config: MachineConfig,
    state: State,
    close: Option<CloseReason>,
    shutdown: bool,
    rx: BytesMut,
    outbox: Outbox,
    liveness: Option<Liveness>,
    requests: Correlator<String>,
    events: VecDeque<MachineEvent>,
    replies: VecDeque<(RequestId, Result<QrCodeReply, RequestError>)>,
}

impl std::fmt::Debug for MachineSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineSession")
            .field("vmc_no", &self.config.vmc_no)
            .field("state", &self.state)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl MachineSession {
    /// A session that is not connected yet.
    #[must_use]
    pub fn new(config: MachineConfig) -> Self {
        Self {
            outbox: Outbox::new(config.outbox_capacity),
            requests: Correlator::new(config.request_timeout, config.max_in_flight),
            config,
            state: State::Disconnected,
            close: None,
            shutdown: false,
            rx: BytesMut::new(),
            liveness: None,
            events: VecDeque::new(),
            replies: VecDeque::new(),
        }
    }

    /// `qrcode_r` answers that arrived after their request timed out (dropped).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.requests.late_responses()
    }

    /// `qrcode_r` answers for orders never asked about (dropped).
    #[must_use]
    pub fn unmatched_responses(&self) -> u64 {
        self.requests.unmatched_responses()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn on_message(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Heartbeat(_) => {}
            ServerMessage::LoginReply(reply) => match self.state {
                State::LoggingIn { .. } if reply.is_ok() => {
                    self.state = State::Ready;
                    self.events.push_back(MachineEvent::LoggedIn {
                        date_time: reply.date_time,
                    });
                }
                State::LoggingIn { .. } => {
                    self.events
                        .push_back(MachineEvent::LoginRejected { ret: reply.ret });
                    self.close_with(CloseReason::LoginRejected(
                        SessionError::LoginRefused { ret: reply.ret }.into(),
                    ));
                }
                _ => self
                    .events
                    .push_back(MachineEvent::Server(ServerMessage::LoginReply(reply))),
            },
            ServerMessage::QrCodeReply(reply) => {
                if let Some(id) = self.requests.finish(&reply.order_no) {
                    self.replies.push_back((id, Ok(reply)));
                }
            }
            other => self.events.push_back(MachineEvent::Server(other)),
        }
    }
}

impl Session for MachineSession {
    type Command = MachineCommand;
    type Reply = QrCodeReply;
    type Event = MachineEvent;
    type Peer = ();

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, now: Instant) {
        if self.shutdown {
            return;
        }
        self.rx.clear();
        self.outbox.clear();
        self.close = None;
        self.liveness = Some(Liveness::new(
            now,
            Some(self.config.heartbeat),
            self.config.peer_timeout,
        ));
        self.state = State::LoggingIn {
            deadline: now + self.config.login_timeout,
        };
        let date = self.config.clock.now().format("%Y%m%d").to_string();
        let date: u32 = date.parse().unwrap_or_default();
        let mut login = Login::signed(
            self.config.vmc_no,
            date,
            &self.config.code,
            &*self.config.version,
        );
        login.linux_driver_version = self.config.linux_driver_version.clone();
        match encode_packet(&self.config.codec, &MachineMessage::from(login)) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
    }

    fn connection_lost(&mut self, _now: Instant) {
        let reason = self.close.take();
        self.state = State::Disconnected;
        self.liveness = None;
        self.rx.clear();
        self.outbox.clear();
        self.requests.fail_all(&mut self.replies);
        self.events.push_back(MachineEvent::Disconnected(reason));
        if self.shutdown {
            self.close = Some(CloseReason::Requested);
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.state == State::Disconnected || self.close.is_some() {
            return;
        }
        self.rx.extend_from_slice(data);
        loop {
            match next_message::<ServerMessage>(&self.config.codec, &mut self.rx) {
                Step::Message(msg) => {
                    if let Some(l) = self.liveness.as_mut() {
                        l.on_receive(now);
                    }
                    self.on_message(msg);
                }
                Step::Malformed(e) => {
                    if let Some(l) = self.liveness.as_mut() {
                        l.on_receive(now);
                    }
                    self.events
                        .push_back(MachineEvent::Malformed(SessionError::Decode(e)));
                }
                Step::Fatal(e) => {
                    self.close_with(SessionError::Decode(e).into());
                    break;
                }
                Step::NeedMore => break,
            }
            if self.close.is_some() {
                break;
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Disconnected || self.close.is_some() {
            return;
        }
        if let State::LoggingIn { deadline } = self.state {
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
            let due = l.heartbeat_due(now);
            if due && self.state == State::Ready {
                let hb = MachineMessage::from(MachineHeartbeat {
                    vmc_no: self.config.vmc_no,
                });
                if let Ok(bytes) = encode_packet(&self.config.codec, &hb) {
                    self.outbox.push_control(bytes);
                }
            }
        }
        self.requests.expire(now, &mut self.replies);
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: MachineCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.shutdown || self.close.is_some() {
            return Err(SendError::Closed);
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
            MachineCommand::RequestQrCode(request) => {
                let order_no = request.order_no.clone();
                let bytes = encode_packet(&self.config.codec, &MachineMessage::from(request))?;
                let id = self.requests.start(now, order_no)?;
                self.outbox.push_app(bytes)?;
                Ok(Some(id))
            }
            MachineCommand::Send(msg) => {
                let bytes = encode_packet(&self.config.codec, &msg)?;
                self.outbox.push_app(bytes)?;
                Ok(None)
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Disconnected || self.close.is_some() {
            return None;
        }
        let login = match self.state {
            State::LoggingIn { deadline } => Some(deadline),
            _ => None,
        };
        [
            login,
            self.liveness.as_ref().map(Liveness::next_deadline),
            self.requests.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<MachineEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<QrCodeReply, RequestError>)> {
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
