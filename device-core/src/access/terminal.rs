//! The attendance/access terminal's session (TCP client).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use access_proto::{
    AccessInfo, Code, CodecConfig, Command, DeviceInfo, DeviceInfoReply, LocalTimestamp, Message,
    PairKey, Request, RequestBody, Response, ResponseBody, UploadAccessInfo,
};
use bytes::Bytes;

use super::link::{Inbound, Input, Limits, Link};
use super::{SessionError, ANSWER_TIMEOUT, PEER_TIMEOUT, REQUEST_TIMEOUT};
use crate::clock::{SystemClock, WallClock};
use crate::liveness::Liveness;
use crate::rng::RandomSource;
use crate::session::{CloseReason, Framing, RequestError, RequestId, SendError, Session, Wire};

/// Settings of a [`TerminalSession`].
///
/// ```
/// use std::time::Duration;
/// use access_proto::DeviceInfo;
/// use device_core::access::TerminalConfig;
///
/// let info = DeviceInfo { uuid: Some("31231412332".into()), ..DeviceInfo::default() };
/// let config = TerminalConfig::new(info).peer_timeout(None);
/// assert_eq!(config.request_timeout, Duration::from_secs(30));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct TerminalConfig {
    /// The terminal's settings. When set, the session answers the server's `get_device_info` itself with
    /// them (code 0); when `None`, `get_device_info` reaches the application like any request. Default
    /// `None`; [`TerminalCommand::ServeDeviceInfo`] changes it at run time.
    pub device_info: Option<DeviceInfo>,
    /// Silence after which the server is declared gone and the connection closed. Default 180 s
    /// ([`PEER_TIMEOUT`]), which relies on the server's `get_device_info` probes; `None` never closes.
    pub peer_timeout: Option<Duration>,
    /// How long a request waits for the server's response. Default 30 s ([`REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// How long the application has to answer a server request before the session answers `-1`. Default
    /// 20 s ([`ANSWER_TIMEOUT`]).
    pub answer_timeout: Duration,
    /// Most requests waiting for the server's response at once. Default 16.
    pub max_in_flight: usize,
    /// Most server requests waiting for the application's answer; more are answered `-1` at once. Default 16.
    pub max_pending_answers: usize,
    /// Most application requests queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Message size limit, both ways. Default 16 MiB ([`super::DEFAULT_MAX_MESSAGE_LEN`]).
    pub codec: CodecConfig,
    /// The terminal's wall clock, for the `time` of access records ([`TerminalSession::local_time`]).
    /// Default the system clock.
    pub clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for TerminalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalConfig")
            .field("device_info", &self.device_info)
            .field("peer_timeout", &self.peer_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("answer_timeout", &self.answer_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_pending_answers", &self.max_pending_answers)
            .field("outbox_capacity", &self.outbox_capacity)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            device_info: None,
            peer_timeout: Some(PEER_TIMEOUT),
            request_timeout: REQUEST_TIMEOUT,
            answer_timeout: ANSWER_TIMEOUT,
            max_in_flight: 16,
            max_pending_answers: 16,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl TerminalConfig {
    /// Settings of a terminal that answers `get_device_info` itself with `device_info`, other values at their
    /// defaults.
    #[must_use]
    pub fn new(device_info: DeviceInfo) -> Self {
        Self::default().device_info(Some(device_info))
    }

    /// Sets [`TerminalConfig::device_info`].
    #[must_use]
    pub fn device_info(mut self, info: Option<DeviceInfo>) -> Self {
        self.device_info = info;
        self
    }

    /// Sets [`TerminalConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Option<Duration>) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`TerminalConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`TerminalConfig::answer_timeout`].
    #[must_use]
    pub fn answer_timeout(mut self, d: Duration) -> Self {
        self.answer_timeout = d;
        self
    }

    /// Sets [`TerminalConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`TerminalConfig::max_pending_answers`].
    #[must_use]
    pub fn max_pending_answers(mut self, n: usize) -> Self {
        self.max_pending_answers = n;
        self
    }

    /// Sets [`TerminalConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`TerminalConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
        self
    }

    /// Sets [`TerminalConfig::clock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    fn limits(&self) -> Limits {
        Limits {
            codec: self.codec,
            request_timeout: self.request_timeout,
            answer_timeout: self.answer_timeout,
            max_in_flight: self.max_in_flight,
            max_pending_answers: self.max_pending_answers,
            outbox_capacity: self.outbox_capacity,
        }
    }
}

/// What the terminal application asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TerminalCommand {
    /// Send a request with a fresh `session_id`: `upload_access_info`, `send_device_command`, or a `mod` the
    /// spec does not define. It ends with the server's [`Response`] (whose `code` may be a failure: data, not
    /// an error), a timeout, or a lost connection. The server's own requests (`get_device_info`,
    /// `set_device_info`, `download_person`, `send_user_command`) are refused.
    Request(RequestBody),
    /// Answer a server request received as [`TerminalEvent::Request`] and not answered yet (same `mod` and
    /// `session_id`; build it with [`Request::reply`]); anything else is refused.
    Answer(Response),
    /// Replace the settings the session answers `get_device_info` with (`None`: let the application answer).
    /// Sends nothing.
    ServeDeviceInfo(Option<DeviceInfo>),
}

impl TerminalCommand {
    /// `upload_access_info` of `record`.
    #[must_use]
    pub fn upload(record: AccessInfo) -> Self {
        Self::Request(RequestBody::UploadAccessInfo(UploadAccessInfo {
            access_info: record,
        }))
    }

    /// `send_device_command`.
    #[must_use]
    pub fn device_command(command: Command) -> Self {
        Self::Request(RequestBody::SendDeviceCommand(command))
    }

    /// The answer to `request` with `code` and `message` (and no fields).
    #[must_use]
    pub fn answer(request: &Request, code: Code, message: impl Into<String>) -> Self {
        Self::Answer(request.reply(code, message))
    }
}

/// What the terminal session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TerminalEvent {
    /// The connection is up; the terminal can send requests at once (the protocol has no login).
    Connected,
    /// A server request to answer with [`TerminalCommand::Answer`]: `set_device_info`, `download_person`,
    /// `send_user_command`, `get_device_info` (when [`TerminalConfig::device_info`] is not set), or a `mod`
    /// the spec does not define.
    Request(Request),
    /// A server request was not answered in time: the session answered it `-1`; a later answer is refused.
    Unanswered(PairKey),
    /// A server request arrived while [`TerminalConfig::max_pending_answers`] were waiting: answered `-1` at
    /// once.
    Busy(Request),
    /// A message that did not decode, or a request repeating the `(mod, session_id)` of one still waiting;
    /// the connection goes on.
    Malformed(SessionError),
    /// The connection closed; waiting requests ended with `ConnectionLost`, unanswered server requests can no
    /// longer be answered.
    Disconnected(Option<CloseReason>),
}

/// Server requests a terminal refuses to send.
fn sent_by_server(body: &RequestBody) -> bool {
    matches!(
        body,
        RequestBody::GetDeviceInfo
            | RequestBody::SetDeviceInfo(_)
            | RequestBody::DownloadPerson(_)
            | RequestBody::SendUserCommand(_)
    )
}

/// The terminal side of an access connection. Call order: see [`Session`].
///
/// The protocol has no login: the session is established as soon as [`Session::connection_opened`] is called
/// and takes requests at once. It answers `get_device_info` itself when [`TerminalConfig::device_info`] is
/// set, hands every other server request to the application and answers `-1` for it if the application does
/// not within [`TerminalConfig::answer_timeout`]. Silence from the server for
/// [`TerminalConfig::peer_timeout`] or broken framing close the connection; a [`crate::runtime`] client then
/// reconnects with backoff. After [`Session::close`] it never connects again.
///
/// Request ids stay unique across reconnects; `session_id`s come from the injected [`RandomSource`].
pub struct TerminalSession {
    config: TerminalConfig,
    link: Link,
    connected: bool,
    close: Option<CloseReason>,
    shutdown: bool,
    liveness: Option<Liveness>,
    events: VecDeque<TerminalEvent>,
}

impl std::fmt::Debug for TerminalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalSession")
            .field("connected", &self.connected)
            .field("close", &self.close)
            .field("in_flight", &self.link.in_flight())
            .finish_non_exhaustive()
    }
}

impl TerminalSession {
    /// A session that is not connected yet; `session_id`s are drawn from [`OsRandom`](crate::OsRandom) (see
    /// [`TerminalSession::with_rng`]).
    #[must_use]
    pub fn new(config: TerminalConfig) -> Self {
        Self {
            link: Link::new(&config.limits(), Box::new(crate::OsRandom)),
            config,
            connected: false,
            close: None,
            shutdown: false,
            liveness: None,
            events: VecDeque::new(),
        }
    }

    /// Replaces the random source of `session_id`s ([`OsRandom`](crate::OsRandom) by default): tests pass a
    /// seeded [`SplitMix64`](crate::SplitMix64) to make the session deterministic.
    #[must_use]
    pub fn with_rng(mut self, rng: Box<dyn RandomSource>) -> Self {
        self.link.set_rng(rng);
        self
    }

    /// The terminal's local time now, by the configured clock, for an access record's `time`.
    #[must_use]
    pub fn local_time(&self) -> Option<LocalTimestamp> {
        LocalTimestamp::new(self.config.clock.now().naive_local())
    }

    /// Responses that arrived after their request had timed out (dropped, never delivered twice).
    #[must_use]
    pub fn late_responses(&self) -> u64 {
        self.link.late_responses()
    }

    /// Responses that matched no request at all (dropped).
    #[must_use]
    pub fn unmatched_responses(&self) -> u64 {
        self.link.unmatched_responses()
    }

    /// Requests waiting for the server's response.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.link.in_flight()
    }

    /// Server requests waiting for the application's answer.
    #[must_use]
    pub fn pending_answers(&self) -> usize {
        self.link.pending_answers()
    }

    /// Bytes received and not yet decoded: never more than one maximum message after an input.
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.link.buffered_input()
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
        }
    }

    fn on_message(&mut self, now: Instant, message: Message) {
        match message {
            Message::Response(response) => self.link.on_response(response),
            Message::Request(request) => {
                if let (RequestBody::GetDeviceInfo, Some(info)) =
                    (&request.body, &self.config.device_info)
                {
                    let mut reply = request.reply(Code::Success, "");
                    reply.body = ResponseBody::GetDeviceInfo(DeviceInfoReply {
                        device_info: Some(info.clone()),
                    });
                    if let Err(e) = self.link.send_control(&Message::Response(reply)) {
                        // Settings too large for the message limit: say so rather than stay silent.
                        let failed = request.reply(Code::GeneralError, e.to_string());
                        let _ = self.link.send_control(&Message::Response(failed));
                    }
                    return;
                }
                match self.link.on_request(now, &request) {
                    Inbound::Accepted => self.events.push_back(TerminalEvent::Request(request)),
                    Inbound::Busy => self.events.push_back(TerminalEvent::Busy(request)),
                    Inbound::Duplicate => {
                        self.events.push_back(TerminalEvent::Malformed(
                            SessionError::DuplicateRequest {
                                key: request.pair_key(),
                            },
                        ));
                    }
                }
            }
        }
    }
}

impl Session for TerminalSession {
    type Command = TerminalCommand;
    type Reply = Response;
    type Event = TerminalEvent;
    type Peer = ();

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn use_framing(&mut self, framing: Framing) {
        self.link.set_framing(framing);
    }

    fn connection_opened(&mut self, now: Instant) {
        if self.shutdown {
            return;
        }
        self.link.reset();
        self.close = None;
        self.connected = true;
        self.liveness = self
            .config
            .peer_timeout
            .map(|timeout| Liveness::new(now, None, timeout));
        self.events.push_back(TerminalEvent::Connected);
    }

    fn connection_lost(&mut self, _now: Instant) {
        let reason = self.close.take();
        self.connected = false;
        self.liveness = None;
        self.link.fail_all();
        self.events.push_back(TerminalEvent::Disconnected(reason));
        if self.shutdown {
            self.close = Some(CloseReason::Requested);
        }
    }

    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.connected || self.close.is_some() {
            return;
        }
        if let Some(l) = self.liveness.as_mut() {
            l.on_receive(now);
        }
        for input in self.link.receive(data) {
            match input {
                Input::Message(message) => self.on_message(now, *message),
                Input::Malformed(why) => self.events.push_back(TerminalEvent::Malformed(why)),
                Input::Fatal(why) => self.close_with(why.into()),
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
        if let Some(l) = &self.liveness {
            if l.peer_dead(now) {
                let after = l.peer_timeout();
                self.close_with(CloseReason::PeerSilent { after });
                return;
            }
        }
        for key in self.link.expire(now) {
            self.events.push_back(TerminalEvent::Unanswered(key));
        }
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: TerminalCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if let TerminalCommand::ServeDeviceInfo(info) = command {
            self.config.device_info = info;
            return Ok(None);
        }
        if self.shutdown || self.close.is_some() {
            return Err(SendError::Closed);
        }
        if !self.connected {
            return Err(SendError::NotReady);
        }
        match command {
            TerminalCommand::Request(body) if sent_by_server(&body) => {
                Err(SessionError::WrongDirection {
                    module: body.module(),
                }
                .into())
            }
            TerminalCommand::Request(body) => self.link.send_request(now, body).map(Some),
            TerminalCommand::Answer(response) => self.link.answer(response).map(|()| None),
            TerminalCommand::ServeDeviceInfo(_) => Ok(None),
        }
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.link.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if !self.connected || self.close.is_some() {
            return None;
        }
        [
            self.liveness.as_ref().map(Liveness::next_deadline),
            self.link.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<TerminalEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Response, RequestError>)> {
        self.link.poll_reply()
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.connected && self.close.is_none()
    }

    fn peer(&self) -> Option<&()> {
        self.is_established().then_some(&())
    }

    fn close(&mut self, _now: Instant) {
        self.shutdown = true;
        self.close_with(CloseReason::Requested);
    }
}
