//! The WebSvr's session of the binary link (TCP client of a svrInstance).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kingxun_proto::{
    CodecConfig, Connect, DecodeError, Encoder as _, FileDeliver, Guard, Heartbeat,
    HeartbeatStatus, LightCtrl, LinkCipher, Lock, Message, MsgId, OpenElecLock, Packet, RawRequest,
    Reply, Request, RespCode, SetLogLevel, SetPacketLog, TimestampWindow, Unlock,
    HEARTBEAT_SVR_HOST,
};

use super::{
    encode_packet, next_frame, SessionError, Step, DEFAULT_LOGIN_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    HEARTBEAT_INTERVAL, PEER_TIMEOUT, REDACTED,
};
use crate::clock::{SystemClock, WallClock};
use crate::correlation::Correlator;
use crate::liveness::Liveness;
use crate::outbox::Outbox;
use crate::session::{CloseReason, RequestError, RequestId, SendError, Session, Wire};

/// How many heartbeats may wait for their reply at once; an older one is forgotten (its reply is then counted
/// as unmatched). Three fit in the 90 s liveness window.
const MAX_PENDING_HEARTBEATS: usize = 8;

/// Settings of a [`WebSvrSession`].
///
/// `Debug` never prints the KEY or the IV.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebSvrConfig {
    /// The initial KEY, configured on both ends (DECISIONS.md 9001).
    pub key: [u8; 16],
    /// The initial IV, configured on both ends; the 9001 reply's `newIV` replaces it for the connection.
    pub iv: [u8; 16],
    /// `svrHost` sent in 9001. Default [`HEARTBEAT_SVR_HOST`] (`kingxun.site`).
    pub svr_host: String,
    /// `svrHost` sent in 9002; kingxun.md accepts only `kingxun.site`. Default [`HEARTBEAT_SVR_HOST`].
    pub heartbeat_host: String,
    /// Heartbeat (9002) interval once verified. Default [`HEARTBEAT_INTERVAL`] (30 s).
    pub heartbeat: Duration,
    /// Silence after which the instance is declared gone. Default [`PEER_TIMEOUT`] (90 s).
    pub peer_timeout: Duration,
    /// How long the 9001 reply may take. Default [`DEFAULT_LOGIN_TIMEOUT`] (30 s).
    pub login_timeout: Duration,
    /// How long a device command waits for its reply. Default [`DEFAULT_REQUEST_TIMEOUT`] (30 s).
    pub request_timeout: Duration,
    /// How far the 9001 reply's `timestamp` may be from [`WebSvrConfig::clock`]; a reply outside it is a
    /// replayed or forged verification and closes the connection. Default 300 s (the spec's 9001 window).
    pub reply_window: TimestampWindow,
    /// Whether the session writes [`WebSvrConfig::clock`]'s Unix milliseconds into each command's `timestamp`
    /// when sending it, so the instance's replay window sees the time of sending. Default `true`.
    pub stamp_timestamps: bool,
    /// Most device commands waiting for replies at once. Default 64.
    pub max_in_flight: usize,
    /// Most device commands queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Framing limits.
    pub codec: CodecConfig,
    /// Source of every `timestamp` the session writes or checks.
    pub clock: Arc<dyn WallClock>,
}

impl fmt::Debug for WebSvrConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSvrConfig")
            .field("key", &REDACTED)
            .field("iv", &REDACTED)
            .field("svr_host", &self.svr_host)
            .field("heartbeat_host", &self.heartbeat_host)
            .field("heartbeat", &self.heartbeat)
            .field("peer_timeout", &self.peer_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("reply_window", &self.reply_window)
            .field("stamp_timestamps", &self.stamp_timestamps)
            .field("max_in_flight", &self.max_in_flight)
            .field("outbox_capacity", &self.outbox_capacity)
            .finish_non_exhaustive()
    }
}

impl WebSvrConfig {
    /// Settings with the initial KEY and IV, other values at their defaults.
    #[must_use]
    pub fn new(key: [u8; 16], iv: [u8; 16]) -> Self {
        Self {
            key,
            iv,
            svr_host: HEARTBEAT_SVR_HOST.to_owned(),
            heartbeat_host: HEARTBEAT_SVR_HOST.to_owned(),
            heartbeat: HEARTBEAT_INTERVAL,
            peer_timeout: PEER_TIMEOUT,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            reply_window: TimestampWindow::default(),
            stamp_timestamps: true,
            max_in_flight: 64,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets [`WebSvrConfig::svr_host`].
    #[must_use]
    pub fn svr_host(mut self, host: impl Into<String>) -> Self {
        self.svr_host = host.into();
        self
    }

    /// Sets [`WebSvrConfig::heartbeat_host`].
    #[must_use]
    pub fn heartbeat_host(mut self, host: impl Into<String>) -> Self {
        self.heartbeat_host = host.into();
        self
    }

    /// Sets [`WebSvrConfig::heartbeat`].
    #[must_use]
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = d;
        self
    }

    /// Sets [`WebSvrConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Duration) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`WebSvrConfig::login_timeout`].
    #[must_use]
    pub fn login_timeout(mut self, d: Duration) -> Self {
        self.login_timeout = d;
        self
    }

    /// Sets [`WebSvrConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`WebSvrConfig::reply_window`].
    #[must_use]
    pub fn reply_window(mut self, window: TimestampWindow) -> Self {
        self.reply_window = window;
        self
    }

    /// Sets [`WebSvrConfig::stamp_timestamps`].
    #[must_use]
    pub fn stamp_timestamps(mut self, stamp: bool) -> Self {
        self.stamp_timestamps = stamp;
        self
    }

    /// Sets [`WebSvrConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`WebSvrConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`WebSvrConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }

    /// Sets [`WebSvrConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the WebSvr application asks for. Every command is a request: it ends with the instance's [`Reply`]
/// (whose `RespCode` may say refused or error: that is data), a timeout, or the connection's loss.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebSvrCommand {
    /// A device command (4001-4005, 4020, 4040, 4041) or an unknown MsgId (`Request::Unknown`, sent with devId
    /// 0). The header devId is the body's `devId`; 9001 and 9002 are refused: the session sends them itself.
    Request(Request),
    /// A request with a MsgId this crate does not know, with the header devId to send it with. Its body goes
    /// out as given (a `CryptFlag` 1 body must already be sealed).
    Raw {
        /// The header devId.
        dev_id: u32,
        /// MsgId, CryptFlag and body.
        request: RawRequest,
    },
}

macro_rules! command_from {
    ($($ty:ident),*) => {$(
        impl From<$ty> for WebSvrCommand {
            fn from(command: $ty) -> Self {
                Self::Request(Request::from(command))
            }
        }
    )*};
}
command_from!(
    Unlock,
    Lock,
    Guard,
    OpenElecLock,
    LightCtrl,
    FileDeliver,
    SetPacketLog,
    SetLogLevel
);

impl From<Request> for WebSvrCommand {
    fn from(request: Request) -> Self {
        Self::Request(request)
    }
}

/// What the WebSvr session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebSvrEvent {
    /// The instance accepted the 9001; the link now uses its `newIV` and carries commands.
    LoggedIn {
        /// `sessionId` from the 9001 reply.
        session_id: u32,
        /// The instance's `timestamp` from the 9001 reply, Unix milliseconds.
        instance_time: u64,
    },
    /// The instance refused the 9001 (RespCode 1 or other); the connection closes and a driver reconnects with
    /// backoff.
    LoginRejected {
        /// The instance's `RespCode`.
        code: RespCode,
    },
    /// A 9002 reply: the instance's device count and start time.
    Status(HeartbeatStatus),
    /// A 9002 reply with a `RespCode` other than 0 (the instance did not accept the heartbeat's `svrHost`).
    HeartbeatRefused {
        /// The instance's `RespCode`.
        code: RespCode,
    },
    /// A request frame from the instance (the spec defines none in that direction), passed through as decoded;
    /// the session answered it RespCode 0xFF (DECISIONS.md: a request matched by its `seq` is always answered,
    /// and this side has nothing to answer it with).
    Unsolicited(Packet),
    /// A whole frame whose body did not decode (a request among them was answered RespCode 0xFF with its own
    /// CryptFlag; a reply it carried is not delivered: its request times out), or a reply without its fields;
    /// the connection goes on.
    Malformed(SessionError),
    /// The connection closed; waiting requests ended with [`RequestError::ConnectionLost`].
    Disconnected(Option<CloseReason>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disconnected,
    Verifying { seq: u32, deadline: Instant },
    Ready,
}

/// What a reply must echo to end a request: its `seq` and MsgId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    seq: u32,
    msg_id: MsgId,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} (MsgId {})", self.seq, self.msg_id)
    }
}

/// The WebSvr side of a kingxun link. Call order: see [`Session`].
///
/// On [`Session::connection_opened`] it sends 9001 (its `timestamp` from the configured clock, sealed with the
/// initial KEY and IV) and refuses commands ([`SendError::NotReady`]) until the instance accepts it; any frame
/// other than that reply closes the connection. Once verified it seals with the reply's `newIV`, sends 9002
/// every 30 s and sends device commands, each correlated with its reply by `seq` and MsgId, ending in exactly
/// one outcome. Silence from the instance for 90 s, a refused or stale 9001, or a sealed body that fails its
/// check close the connection; a [`crate::runtime`] client then reconnects with backoff and verifies again,
/// from the initial IV.
pub struct WebSvrSession {
    config: WebSvrConfig,
    cipher: LinkCipher,
    state: State,
    close: Option<CloseReason>,
    shutdown: bool,
    rx: BytesMut,
    outbox: Outbox,
    liveness: Option<Liveness>,
    requests: Correlator<Key>,
    heartbeats: VecDeque<u32>,
    unmatched_heartbeats: u64,
    next_seq: u32,
    session_id: Option<u32>,
    events: VecDeque<WebSvrEvent>,
    replies: VecDeque<(RequestId, Result<Reply, RequestError>)>,
}

impl fmt::Debug for WebSvrSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSvrSession")
            .field("svr_host", &self.config.svr_host)
            .field("state", &self.state)
            .field("session_id", &self.session_id)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl WebSvrSession {
    /// A session that is not connected yet.
    #[must_use]
    pub fn new(config: WebSvrConfig) -> Self {
        Self {
            cipher: LinkCipher::new(config.key, config.iv),
            outbox: Outbox::new(config.outbox_capacity),
            requests: Correlator::new(config.request_timeout, config.max_in_flight),
            config,
            state: State::Disconnected,
            close: None,
            shutdown: false,
            rx: BytesMut::new(),
            liveness: None,
            heartbeats: VecDeque::new(),
            unmatched_heartbeats: 0,
            next_seq: 0,
            session_id: None,
            events: VecDeque::new(),
            replies: VecDeque::new(),
        }
    }

    /// `sessionId` of the current verified connection.
    #[must_use]
    pub fn session_id(&self) -> Option<u32> {
        self.session_id
    }

    /// Replies that arrived after their request had timed out (dropped).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.requests.late_responses()
    }

    /// Replies that matched no waiting request or heartbeat by `seq` and MsgId (dropped).
    #[must_use]
    pub fn unmatched_responses(&self) -> u64 {
        self.requests.unmatched_responses() + self.unmatched_heartbeats
    }

    /// Device commands waiting for their replies.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.requests.len()
    }

    /// Bytes received and not yet decoded: at most one frame (19 bytes plus the codec's body limit).
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn take_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    fn on_frame(&mut self, now: Instant, frame: &kingxun_proto::Frame) {
        match Packet::decode(frame, Some(&self.cipher)) {
            Ok(packet) => {
                if self.state == State::Ready && !frame.header.reply {
                    self.answer_error(&frame.header);
                }
                self.on_packet(now, packet);
            }
            Err(e @ DecodeError::Unseal { .. }) => {
                self.close_with(SessionError::Decode(e.into()).into());
            }
            Err(e) if self.state != State::Ready => {
                self.close_with(SessionError::Connect(e.into()).into());
            }
            Err(e) => {
                let header = frame.header;
                if !header.reply {
                    self.answer_error(&header);
                }
                self.events
                    .push_back(WebSvrEvent::Malformed(SessionError::MalformedFrame {
                        msg_id: header.msg_id,
                        seq: header.seq,
                        answered: !header.reply,
                        error: e.into(),
                    }));
            }
        }
    }

    /// Answers a request of the instance RespCode 0xFF, built from its header alone: same MsgId, devId, `seq`
    /// and CryptFlag, a body of the RespCode only (DECISIONS.md: such a reply has no sealed part).
    fn answer_error(&mut self, header: &kingxun_proto::Header) {
        let frame = kingxun_proto::Frame {
            header: kingxun_proto::Header {
                reply: true,
                ..*header
            },
            body: Bytes::from_static(&[0xFF]),
        };
        let mut buf = bytes::BytesMut::new();
        match kingxun_proto::FrameCodec::new(self.config.codec).encode(&frame, &mut buf) {
            Ok(()) => self.outbox.push_control(buf.freeze()),
            Err(e) => self.close_with(SessionError::Encode(e.into()).into()),
        }
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        if let State::Verifying { seq, .. } = self.state {
            self.on_connect_reply(now, seq, packet);
            return;
        }
        match packet.message {
            Message::Request(_) => self.events.push_back(WebSvrEvent::Unsolicited(packet)),
            Message::Reply(Reply::Connect(_)) => {
                self.close_with(SessionError::SecondConnect.into());
            }
            Message::Reply(Reply::Heartbeat(reply)) => {
                let Some(at) = self.heartbeats.iter().position(|&s| s == packet.seq) else {
                    self.unmatched_heartbeats += 1;
                    return;
                };
                self.heartbeats.remove(at);
                match (reply.code, reply.status) {
                    (RespCode::Ok, Some(status)) => {
                        self.events.push_back(WebSvrEvent::Status(status));
                    }
                    (RespCode::Ok, None) => {
                        self.events.push_back(WebSvrEvent::Malformed(
                            SessionError::MissingFields {
                                msg_id: MsgId::Heartbeat,
                                seq: packet.seq,
                            },
                        ));
                    }
                    (code, _) => self
                        .events
                        .push_back(WebSvrEvent::HeartbeatRefused { code }),
                }
            }
            Message::Reply(reply) => {
                let key = Key {
                    seq: packet.seq,
                    msg_id: reply.msg_id(),
                };
                if let Some(id) = self.requests.finish(&key) {
                    self.replies.push_back((id, Ok(reply)));
                }
            }
        }
    }

    fn on_connect_reply(&mut self, now: Instant, seq: u32, packet: Packet) {
        // `next_frame` let only a 9001 reply through.
        let Message::Reply(Reply::Connect(reply)) = packet.message else {
            self.close_with(
                SessionError::BeforeConnect {
                    msg_id: packet.message.msg_id(),
                    reply: matches!(packet.message, Message::Reply(_)),
                }
                .into(),
            );
            return;
        };
        if packet.seq != seq {
            self.close_with(
                SessionError::ConnectSeqMismatch {
                    expected: seq,
                    found: packet.seq,
                }
                .into(),
            );
            return;
        }
        match (reply.code, reply.session) {
            (RespCode::Ok, Some(session)) => {
                let clock_ms = self.config.clock.unix_ms();
                if let Err(e) = self.config.reply_window.check(session.timestamp, clock_ms) {
                    self.close_with(CloseReason::LoginRejected(
                        SessionError::ConnectReplyStale(e).into(),
                    ));
                    return;
                }
                self.cipher.set_iv(session.new_iv);
                self.state = State::Ready;
                self.session_id = Some(session.session_id);
                if let Some(l) = self.liveness.as_mut() {
                    l.set_heartbeat(now, Some(self.config.heartbeat));
                }
                self.events.push_back(WebSvrEvent::LoggedIn {
                    session_id: session.session_id,
                    instance_time: session.timestamp,
                });
            }
            (RespCode::Ok, None) => self.close_with(
                SessionError::MissingFields {
                    msg_id: MsgId::Connect,
                    seq,
                }
                .into(),
            ),
            (code, _) => {
                self.events.push_back(WebSvrEvent::LoginRejected { code });
                self.close_with(CloseReason::LoginRejected(
                    SessionError::ConnectRefused { code }.into(),
                ));
            }
        }
    }

    fn send_heartbeat(&mut self) {
        let seq = self.take_seq();
        let heartbeat = Heartbeat {
            timestamp: self.config.clock.unix_ms(),
            svr_host: self.config.heartbeat_host.clone(),
        };
        match encode_packet(
            &self.config.codec,
            &self.cipher,
            &Packet::request(seq, heartbeat),
        ) {
            Ok(bytes) => {
                if self.heartbeats.len() == MAX_PENDING_HEARTBEATS {
                    self.heartbeats.pop_front();
                }
                self.heartbeats.push_back(seq);
                self.outbox.push_control(bytes);
            }
            Err(e) => self.close_with(e.into()),
        }
    }

    /// The packet a command goes out as, with a fresh `seq`.
    fn packet_for(&mut self, command: WebSvrCommand) -> Result<Packet, SendError> {
        let (dev_id, mut request) = match command {
            WebSvrCommand::Request(request @ (Request::Connect(_) | Request::Heartbeat(_))) => {
                return Err(SessionError::SentBySession {
                    msg_id: request.msg_id(),
                }
                .into());
            }
            WebSvrCommand::Request(request) => (request.expected_dev_id().unwrap_or(0), request),
            WebSvrCommand::Raw { dev_id, request } => (dev_id, Request::Unknown(request)),
        };
        if self.config.stamp_timestamps {
            stamp(&mut request, self.config.clock.unix_ms());
        }
        Ok(Packet::new(dev_id, self.take_seq(), request))
    }
}

/// Writes `ms` into the request's `timestamp` field.
fn stamp(request: &mut Request, ms: u64) {
    let field = match request {
        Request::Connect(m) => &mut m.timestamp,
        Request::Heartbeat(m) => &mut m.timestamp,
        Request::Unlock(m) => &mut m.timestamp,
        Request::Lock(m) => &mut m.timestamp,
        Request::Guard(m) => &mut m.timestamp,
        Request::OpenElecLock(m) => &mut m.timestamp,
        Request::LightCtrl(m) => &mut m.timestamp,
        Request::FileDeliver(m) => &mut m.timestamp,
        Request::SetPacketLog(m) => &mut m.timestamp,
        Request::SetLogLevel(m) => &mut m.timestamp,
        Request::Unknown(_) => return,
    };
    *field = ms;
}

impl Session for WebSvrSession {
    type Command = WebSvrCommand;
    type Reply = Reply;
    type Event = WebSvrEvent;
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
        self.heartbeats.clear();
        self.close = None;
        self.cipher = LinkCipher::new(self.config.key, self.config.iv);
        self.liveness = Some(Liveness::new(now, None, self.config.peer_timeout));
        let seq = self.take_seq();
        self.state = State::Verifying {
            seq,
            deadline: now + self.config.login_timeout,
        };
        let connect = Connect {
            timestamp: self.config.clock.unix_ms(),
            svr_host: self.config.svr_host.clone(),
        };
        match encode_packet(
            &self.config.codec,
            &self.cipher,
            &Packet::request(seq, connect),
        ) {
            Ok(bytes) => self.outbox.push_control(bytes),
            Err(e) => self.close_with(e.into()),
        }
    }

    fn connection_lost(&mut self, _now: Instant) {
        let reason = self.close.take();
        self.state = State::Disconnected;
        self.session_id = None;
        self.liveness = None;
        self.rx.clear();
        self.outbox.clear();
        self.heartbeats.clear();
        self.requests.fail_all(&mut self.replies);
        self.events.push_back(WebSvrEvent::Disconnected(reason));
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
            let first = matches!(self.state, State::Verifying { .. }).then_some(true);
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
        if self.state == State::Disconnected || self.close.is_some() {
            return;
        }
        if let State::Verifying { deadline, .. } = self.state {
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
            if l.heartbeat_due(now) && self.state == State::Ready {
                self.send_heartbeat();
            }
        }
        self.requests.expire(now, &mut self.replies);
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: WebSvrCommand,
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
        let packet = self.packet_for(command)?;
        let bytes: Bytes = encode_packet(&self.config.codec, &self.cipher, &packet)?;
        let key = Key {
            seq: packet.seq,
            msg_id: packet.message.msg_id(),
        };
        let id = self.requests.start(now, key)?;
        self.outbox.push_app(bytes)?;
        Ok(Some(id))
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Disconnected || self.close.is_some() {
            return None;
        }
        let login = match self.state {
            State::Verifying { deadline, .. } => Some(deadline),
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

    fn poll_event(&mut self) -> Option<WebSvrEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Reply, RequestError>)> {
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
