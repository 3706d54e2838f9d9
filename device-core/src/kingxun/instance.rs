//! The svrInstance's session for one WebSvr connection.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kingxun_proto::{
    CodecConfig, Connect, ConnectReply, CryptFlag, DecodeError, Encoder, Frame, FrameCodec, Header,
    Heartbeat, HeartbeatReply, HeartbeatStatus, LinkCipher, Message, MsgId, Packet, RawReply,
    Reply, Request, RespCode, TimestampError, TimestampWindow, HEARTBEAT_SVR_HOST,
};

use super::WebSvrPeer;
use super::{
    draw_session, encode_packet, next_frame, SessionError, Step, DEFAULT_ANSWER_TIMEOUT,
    DEFAULT_LOGIN_TIMEOUT, PEER_TIMEOUT, REDACTED,
};
use crate::clock::{SystemClock, WallClock};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::rng::RandomSource;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// Settings of an [`InstanceSession`].
///
/// `Debug` never prints the KEY or the IV.
#[derive(Clone)]
#[non_exhaustive]
pub struct InstanceConfig {
    /// The initial KEY, configured on both ends (DECISIONS.md 9001).
    pub key: [u8; 16],
    /// The initial IV, configured on both ends; each accepted 9001 replaces it with a fresh `newIV`.
    pub iv: [u8; 16],
    /// `svrHost` values a 9001 may carry; empty accepts any. Default `["kingxun.site"]`
    /// ([`HEARTBEAT_SVR_HOST`], the only host 9002 accepts).
    pub allowed_hosts: Vec<String>,
    /// How far a 9001 `timestamp` may be from [`InstanceConfig::clock`] (DECISIONS.md: more than 300 s off is
    /// answered RespCode 1). Default 300 s.
    pub login_window: TimestampWindow,
    /// How far a device command's `timestamp` may be from [`InstanceConfig::clock`]; a command outside it is
    /// answered RespCode 1 without reaching the handler (a replayed unlock opens nothing). `None` checks none.
    /// Default 300 s, the 9001 window.
    pub command_window: Option<TimestampWindow>,
    /// `svrStartTime` of 9002 replies, Unix milliseconds. Default: the moment [`InstanceConfig::new`] ran, by
    /// the system clock (build the config once at startup, or set it).
    pub svr_start_time: u64,
    /// Silence after which the WebSvr is declared gone. Default [`PEER_TIMEOUT`] (90 s).
    pub peer_timeout: Duration,
    /// How long a connection may stay without a successful 9001. Default [`DEFAULT_LOGIN_TIMEOUT`] (30 s).
    pub login_timeout: Duration,
    /// How long the application has to answer a deferred command before the session answers `RespCode` 0xFF.
    /// Default [`DEFAULT_ANSWER_TIMEOUT`] (20 s).
    pub answer_timeout: Duration,
    /// Most deferred commands waiting for the application at once; beyond it a deferred command is answered
    /// 0xFF. Default 64.
    pub max_pending_answers: usize,
    /// Framing limits.
    pub codec: CodecConfig,
    /// Source of the 9001 reply's `timestamp` and of the clock the windows are checked against.
    pub clock: Arc<dyn WallClock>,
}

impl fmt::Debug for InstanceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceConfig")
            .field("key", &REDACTED)
            .field("iv", &REDACTED)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("login_window", &self.login_window)
            .field("command_window", &self.command_window)
            .field("svr_start_time", &self.svr_start_time)
            .field("peer_timeout", &self.peer_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("answer_timeout", &self.answer_timeout)
            .field("max_pending_answers", &self.max_pending_answers)
            .finish_non_exhaustive()
    }
}

impl InstanceConfig {
    /// Settings with the initial KEY and IV, other values at their defaults.
    #[must_use]
    pub fn new(key: [u8; 16], iv: [u8; 16]) -> Self {
        Self {
            key,
            iv,
            allowed_hosts: vec![HEARTBEAT_SVR_HOST.to_owned()],
            login_window: TimestampWindow::default(),
            command_window: Some(TimestampWindow::default()),
            svr_start_time: SystemClock.unix_ms(),
            peer_timeout: PEER_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            answer_timeout: DEFAULT_ANSWER_TIMEOUT,
            max_pending_answers: 64,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets [`InstanceConfig::allowed_hosts`].
    #[must_use]
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`InstanceConfig::login_window`].
    #[must_use]
    pub fn login_window(mut self, window: TimestampWindow) -> Self {
        self.login_window = window;
        self
    }

    /// Sets [`InstanceConfig::command_window`].
    #[must_use]
    pub fn command_window(mut self, window: Option<TimestampWindow>) -> Self {
        self.command_window = window;
        self
    }

    /// Sets [`InstanceConfig::svr_start_time`].
    #[must_use]
    pub fn svr_start_time(mut self, unix_ms: u64) -> Self {
        self.svr_start_time = unix_ms;
        self
    }

    /// Sets [`InstanceConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Duration) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`InstanceConfig::login_timeout`].
    #[must_use]
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Sets [`InstanceConfig::answer_timeout`].
    #[must_use]
    pub fn answer_timeout(mut self, d: Duration) -> Self {
        self.answer_timeout = d;
        self
    }

    /// Sets [`InstanceConfig::max_pending_answers`].
    #[must_use]
    pub fn max_pending_answers(mut self, n: usize) -> Self {
        self.max_pending_answers = n;
        self
    }

    /// Sets [`InstanceConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }

    /// Sets [`InstanceConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// A device command as it arrived: the header's `seq` and devId and the decoded request (4001-4005, 4020,
/// 4040, 4041, or an unknown MsgId kept raw; never 9001 or 9002, which the session handles itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCommand {
    /// The header's `seq`, echoed by the answer.
    pub seq: u32,
    /// The header's devId.
    pub dev_id: u32,
    /// The request.
    pub request: Request,
}

/// How the handler answers a device command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// Answer now with this `RespCode` (0 ok, 1 refused, 0xFF error, or any other code).
    Answer(RespCode),
    /// Answer later with [`InstanceCommand::Answer`] for the command's `seq`, within
    /// [`InstanceConfig::answer_timeout`]; the session answers 0xFF itself when that runs out.
    Defer,
}

/// The svrInstance application: where device commands go and where the device count comes from.
///
/// A [`crate::runtime::server::Server`] makes one session per connection, so a handler is usually a cheap
/// handle on state shared by all connections.
pub trait InstanceHandler: Send {
    /// `totalDevCount` for 9002 replies: devices connected to this instance.
    fn device_count(&self) -> u32;

    /// A device command from the WebSvr; its `RespCode` answer is data (refused, error), never a failure of the
    /// link.
    fn command(&mut self, command: &DeviceCommand) -> Dispatch;
}

impl<H: InstanceHandler + ?Sized> InstanceHandler for Box<H> {
    fn device_count(&self) -> u32 {
        (**self).device_count()
    }

    fn command(&mut self, command: &DeviceCommand) -> Dispatch {
        (**self).command(command)
    }
}

/// What the svrInstance application asks for on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceCommand {
    /// Answers the deferred command with this `seq` (refused with [`SendError::Refused`] when none waits).
    Answer {
        /// The command's `seq`.
        seq: u32,
        /// The answer.
        code: RespCode,
    },
}

/// Why a 9001 was refused (answered RespCode 1, then the connection closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginRefusal {
    /// The `timestamp` is outside [`InstanceConfig::login_window`].
    #[error("field `timestamp`: {0}")]
    Timestamp(TimestampError),
    /// The `svrHost` is not in [`InstanceConfig::allowed_hosts`].
    #[error("field `svrHost`: not allowed")]
    Host,
}

/// What the svrInstance session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InstanceEvent {
    /// A WebSvr passed 9001; the link now uses the `newIV` sent to it.
    LoggedIn {
        /// Its `svrHost`.
        svr_host: String,
        /// The `sessionId` given to it.
        session_id: u32,
    },
    /// A 9001 was refused (answered RespCode 1, then closed).
    LoginRefused {
        /// The `svrHost` it claimed.
        svr_host: String,
        /// Why.
        reason: LoginRefusal,
    },
    /// A device command reached the handler; `answer` is what was sent, `None` when the handler deferred it.
    Command {
        /// The command.
        command: DeviceCommand,
        /// The `RespCode` sent, or `None` while deferred.
        answer: Option<RespCode>,
    },
    /// A device command outside [`InstanceConfig::command_window`]: answered RespCode 1, never handled.
    StaleCommand {
        /// The command.
        command: DeviceCommand,
        /// How far off its timestamp was.
        error: TimestampError,
    },
    /// A deferred command was not answered in time; the session answered RespCode 0xFF.
    AnswerExpired {
        /// The command's `seq`.
        seq: u32,
        /// The command's MsgId.
        msg_id: MsgId,
    },
    /// A 9002 whose `svrHost` is not `kingxun.site`: answered RespCode 1.
    HeartbeatRefused {
        /// The `svrHost` it carried.
        svr_host: String,
    },
    /// A reply frame from the WebSvr (the instance sends no requests), passed through as decoded.
    Unexpected(Packet),
    /// A whole frame whose body did not decode (wrong length, wrong CryptFlag, devId mismatch, a 4020 whose MD5
    /// does not match, ...), or a command reusing the `seq` of one still deferred. A request is answered
    /// RespCode 0xFF with its own CryptFlag; the connection goes on.
    Malformed(SessionError),
    /// The connection closed.
    Disconnected(Option<CloseReason>),
}

/// A deferred command's header, to answer it later.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u32,
    dev_id: u32,
    msg_id: MsgId,
    crypt: CryptFlag,
}

/// The svrInstance side of one kingxun link. Call order: see [`Session`].
///
/// The first frame must be a 9001 sealed with the initial KEY and IV; anything else, or one that fails to open,
/// closes the connection unanswered. A 9001 whose `timestamp` is outside the window or whose `svrHost` is not
/// allowed is answered RespCode 1 and closed; an accepted one is answered with a `sessionId` and a `newIV` drawn
/// from the injected [`RandomSource`], and both directions seal with `newIV` from then on. 9002 is answered
/// with the handler's device count; a link silent for 90 s is closed; device commands go to the
/// [`InstanceHandler`] and every one is answered exactly once, with its request's `seq`, devId and CryptFlag.
///
/// Once verified, [`Session::peer`] is `svrHost#sessionId` (unique per connection even when several WebSvr
/// connections announce the same host), so a [`crate::runtime::server::Server`] routes
/// [`InstanceCommand::Answer`] to the right connection.
pub struct InstanceSession<H> {
    config: InstanceConfig,
    handler: H,
    rng: Box<dyn RandomSource>,
    cipher: LinkCipher,
    connected: bool,
    close: Option<CloseReason>,
    login_deadline: Option<Instant>,
    peer: Option<WebSvrPeer>,
    rx: BytesMut,
    outbox: Outbox,
    liveness: Option<Liveness>,
    pending: Correlator<u32>,
    pending_by_id: HashMap<RequestId, Pending>,
    expired: VecDeque<(RequestId, Result<(), RequestError>)>,
    events: VecDeque<InstanceEvent>,
}

impl<H> fmt::Debug for InstanceSession<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceSession")
            .field("peer", &self.peer)
            .field("connected", &self.connected)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl<H: InstanceHandler> InstanceSession<H> {
    /// A session for a connection that was just accepted, drawing `sessionId` and `newIV` (the link's IV)
    /// from [`OsRandom`](crate::OsRandom) (see [`InstanceSession::with_rng`]).
    #[must_use]
    pub fn new(config: InstanceConfig, handler: H) -> Self {
        let rng: Box<dyn RandomSource> = Box::new(crate::OsRandom);
        Self {
            cipher: LinkCipher::new(config.key, config.iv),
            outbox: Outbox::new(0),
            pending: Correlator::new(config.answer_timeout, config.max_pending_answers),
            config,
            handler,
            rng,
            connected: false,
            close: None,
            login_deadline: None,
            peer: None,
            rx: BytesMut::new(),
            liveness: None,
            pending_by_id: HashMap::new(),
            expired: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The handler.
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Replaces the random source ([`OsRandom`](crate::OsRandom) by default): tests pass a seeded
    /// [`SplitMix64`](crate::SplitMix64) to make the session deterministic.
    #[must_use]
    pub fn with_rng(mut self, rng: Box<dyn RandomSource>) -> Self {
        self.rng = rng;
        self
    }

    /// The WebSvr's `svrHost`, once verified.
    #[must_use]
    pub fn svr_host(&self) -> Option<&str> {
        self.peer.as_ref().map(|p| p.svr_host.as_str())
    }

    /// The `sessionId` given to the WebSvr, once verified.
    #[must_use]
    pub fn session_id(&self) -> Option<u32> {
        self.peer.as_ref().map(|p| p.session_id)
    }

    /// Deferred commands waiting for the application.
    #[must_use]
    pub fn pending_answers(&self) -> usize {
        self.pending.len()
    }

    /// Bytes received and not yet decoded: at most one frame (19 bytes plus the codec's body limit; before
    /// 9001, plus a 9001's body).
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn send(&mut self, packet: &Packet) {
        match encode_packet(&self.config.codec, &self.cipher, packet) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
    }

    /// Answers a command by its header: a bare `RespCode` reply with the request's MsgId, devId, seq and
    /// CryptFlag.
    fn answer(&mut self, pending: Pending, code: RespCode) {
        let reply = Reply::ack(pending.msg_id, code).unwrap_or_else(|| {
            Reply::Unknown(RawReply {
                msg_id: pending.msg_id.into(),
                crypt: pending.crypt,
                code,
                rest: Bytes::new(),
            })
        });
        self.send(&Packet::new(pending.dev_id, pending.seq, reply));
    }

    /// Answers a request whose body did not decode: built from its header alone, so it carries the request's
    /// CryptFlag even when that flag was the wrong one for the MsgId.
    fn answer_malformed(&mut self, header: &Header) {
        let frame = Frame {
            header: Header {
                reply: true,
                ..*header
            },
            body: Bytes::from_static(&[0xFF]),
        };
        let mut buf = BytesMut::new();
        match FrameCodec::new(self.config.codec).encode(&frame, &mut buf) {
            Ok(()) => self.outbox.push_control(buf.freeze()),
            Err(e) => self.close_with(SessionError::Encode(e.into()).into()),
        }
    }

    fn on_frame(&mut self, now: Instant, frame: &Frame) {
        let packet = match Packet::decode(frame, Some(&self.cipher)) {
            Ok(packet) => packet,
            // No answer, whatever failed: a peer learns nothing about the plaintext (DECISIONS.md).
            Err(e @ DecodeError::Unseal { .. }) => {
                self.close_with(SessionError::Decode(e.into()).into());
                return;
            }
            Err(e) if self.peer.is_none() => {
                self.close_with(SessionError::Connect(e.into()).into());
                return;
            }
            Err(e) => {
                let header = frame.header;
                if !header.reply {
                    self.answer_malformed(&header);
                }
                self.events
                    .push_back(InstanceEvent::Malformed(SessionError::MalformedFrame {
                        msg_id: header.msg_id,
                        seq: header.seq,
                        answered: !header.reply,
                        error: e.into(),
                    }));
                return;
            }
        };
        let (dev_id, seq) = (packet.dev_id, packet.seq);
        match packet.message {
            Message::Request(Request::Connect(connect)) if self.peer.is_none() => {
                self.login(seq, connect);
            }
            Message::Request(Request::Connect(_)) => {
                self.close_with(SessionError::SecondConnect.into());
            }
            Message::Request(Request::Heartbeat(heartbeat)) => self.heartbeat(seq, heartbeat),
            Message::Request(request) => self.dispatch(
                now,
                DeviceCommand {
                    seq,
                    dev_id,
                    request,
                },
            ),
            Message::Reply(_) => self.events.push_back(InstanceEvent::Unexpected(packet)),
        }
    }

    fn login(&mut self, seq: u32, connect: Connect) {
        let clock_ms = self.config.clock.unix_ms();
        let host_ok = self.config.allowed_hosts.is_empty()
            || self.config.allowed_hosts.contains(&connect.svr_host);
        let refusal = match self.config.login_window.check(connect.timestamp, clock_ms) {
            Err(e) => Some(LoginRefusal::Timestamp(e)),
            Ok(()) if !host_ok => Some(LoginRefusal::Host),
            Ok(()) => None,
        };
        if let Some(reason) = refusal {
            self.send(&Packet::new(
                0,
                seq,
                Reply::Connect(ConnectReply::refused()),
            ));
            let why = SessionError::ConnectDenied {
                svr_host: connect.svr_host.clone(),
                reason: reason.clone(),
            };
            self.events.push_back(InstanceEvent::LoginRefused {
                svr_host: connect.svr_host,
                reason,
            });
            self.close_with(CloseReason::LoginRejected(why.into()));
            return;
        }
        let session = draw_session(&mut *self.rng, clock_ms);
        let new_iv = session.new_iv;
        let session_id = session.session_id;
        // Sealed with the IV in force before it; the switch follows.
        self.send(&Packet::new(
            0,
            seq,
            Reply::Connect(ConnectReply::accepted(session)),
        ));
        if self.close.is_some() {
            return;
        }
        self.cipher.set_iv(new_iv);
        self.login_deadline = None;
        self.peer = Some(WebSvrPeer {
            svr_host: connect.svr_host.clone(),
            session_id,
        });
        self.events.push_back(InstanceEvent::LoggedIn {
            svr_host: connect.svr_host,
            session_id,
        });
    }

    fn heartbeat(&mut self, seq: u32, heartbeat: Heartbeat) {
        let reply = if heartbeat.svr_host == HEARTBEAT_SVR_HOST {
            HeartbeatReply {
                code: RespCode::Ok,
                status: Some(HeartbeatStatus {
                    total_dev_count: self.handler.device_count(),
                    svr_start_time: self.config.svr_start_time,
                }),
            }
        } else {
            self.events.push_back(InstanceEvent::HeartbeatRefused {
                svr_host: heartbeat.svr_host,
            });
            HeartbeatReply {
                code: RespCode::Refused,
                status: None,
            }
        };
        self.send(&Packet::new(0, seq, Reply::Heartbeat(reply)));
    }

    fn dispatch(&mut self, now: Instant, command: DeviceCommand) {
        let msg_id = command.request.msg_id();
        let pending = Pending {
            seq: command.seq,
            dev_id: command.dev_id,
            msg_id,
            crypt: match &command.request {
                Request::Unknown(raw) => raw.crypt,
                _ => msg_id.crypt_flag().unwrap_or(CryptFlag::Plain),
            },
        };
        if let (Some(window), Some(timestamp)) =
            (self.config.command_window, command.request.timestamp())
        {
            if let Err(error) = window.check(timestamp, self.config.clock.unix_ms()) {
                self.answer(pending, RespCode::Refused);
                self.events
                    .push_back(InstanceEvent::StaleCommand { command, error });
                return;
            }
        }
        if self.pending.is_waiting(&command.seq) {
            // The WebSvr reused a seq that is still waiting for its answer.
            self.answer(pending, RespCode::Error);
            self.events
                .push_back(InstanceEvent::Malformed(SessionError::DuplicateSeq {
                    msg_id,
                    seq: command.seq,
                }));
            return;
        }
        let answer = match self.handler.command(&command) {
            Dispatch::Answer(code) => Some(code),
            Dispatch::Defer => match self.pending.start(now, command.seq) {
                Ok(id) => {
                    self.pending_by_id.insert(id, pending);
                    None
                }
                Err(_) => Some(RespCode::Error),
            },
        };
        if let Some(code) = answer {
            self.answer(pending, code);
        }
        self.events
            .push_back(InstanceEvent::Command { command, answer });
    }
}

impl<H: InstanceHandler> Session for InstanceSession<H> {
    type Command = InstanceCommand;
    type Reply = std::convert::Infallible;
    type Event = InstanceEvent;
    type Peer = WebSvrPeer;

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn connection_opened(&mut self, now: Instant) {
        if self.close.is_some() {
            return;
        }
        self.connected = true;
        self.login_deadline = Some(now + self.config.login_timeout);
        self.liveness = Some(Liveness::new(now, None, self.config.peer_timeout));
    }

    fn connection_lost(&mut self, _now: Instant) {
        self.connected = false;
        self.login_deadline = None;
        self.liveness = None;
        self.outbox.clear();
        self.rx.clear();
        self.pending.fail_all::<()>(&mut VecDeque::new());
        self.pending_by_id.clear();
        self.events
            .push_back(InstanceEvent::Disconnected(self.close.clone()));
        // One session per connection: it never verifies a link again.
        self.close.get_or_insert(CloseReason::Requested);
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.connected || self.close.is_some() {
            return;
        }
        self.rx.extend_from_slice(data);
        loop {
            let first = self.peer.is_none().then_some(false);
            match next_frame(&self.config.codec, &mut self.rx, first) {
                Step::Frame(frame) => {
                    if let Some(l) = self.liveness.as_mut() {
                        l.on_receive(now);
                    }
                    self.on_frame(now, &frame);
                }
                Step::Fatal(e) => self.close_with(e.into()),
                Step::NeedMore => break,
            }
            if self.close.is_some() {
                // The connection is going away: what follows is never read.
                self.rx.clear();
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
        self.pending.expire(now, &mut self.expired);
        while let Some((id, _)) = self.expired.pop_front() {
            if let Some(pending) = self.pending_by_id.remove(&id) {
                self.answer(pending, RespCode::Error);
                self.events.push_back(InstanceEvent::AnswerExpired {
                    seq: pending.seq,
                    msg_id: pending.msg_id,
                });
            }
        }
    }

    fn handle_command(
        &mut self,
        _now: Instant,
        command: InstanceCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.close.is_some() || !self.connected {
            return Err(SendError::Closed);
        }
        if self.peer.is_none() {
            return Err(SendError::NotReady);
        }
        let InstanceCommand::Answer { seq, code } = command;
        if !self.pending.is_waiting(&seq) {
            return Err(SessionError::NotWaiting { seq }.into());
        }
        if let Some(pending) = self
            .pending
            .finish(&seq)
            .and_then(|id| self.pending_by_id.remove(&id))
        {
            self.answer(pending, code);
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
            self.pending.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<InstanceEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Self::Reply, RequestError>)> {
        None
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.peer.is_some()
    }

    fn peer(&self) -> Option<&WebSvrPeer> {
        self.peer.as_ref()
    }

    fn close(&mut self, _now: Instant) {
        self.close_with(CloseReason::Requested);
    }
}
