//! The management server's session for one terminal connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use access_proto::{
    Code, CodecConfig, Command, DeviceInfo, DownloadPerson, Message, PairKey, PersonInfo, Request,
    RequestBody, Response, ResponseBody, SessionId, SetDeviceInfo,
};
use bytes::Bytes;

use super::link::{Inbound, Input, Limits, Link};
use super::{
    SessionError, ANSWER_TIMEOUT, IDENTIFY_TIMEOUT, PEER_TIMEOUT, PROBE_INTERVAL, REQUEST_TIMEOUT,
};
use crate::liveness::Liveness;
use crate::rng::RandomSource;
use crate::session::{CloseReason, Framing, RequestError, RequestId, SendError, Session, Wire};

/// Why an [`Admission`] policy refused a terminal: an access result code and a description, as a response
/// would carry them (`code` -1 general error, -2 device fault, -3 database error, or any other number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("code {}: {reason}", code.value())]
pub struct Refusal {
    /// The result code of the refusal.
    pub code: Code,
    /// Why, for the operator.
    pub reason: String,
}

impl Refusal {
    /// A refusal with `code` and `reason`.
    #[must_use]
    pub fn new(code: Code, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// A refusal with code `-1` (general error).
    #[must_use]
    pub fn general(reason: impl Into<String>) -> Self {
        Self::new(Code::GeneralError, reason)
    }
}

/// Decides whether an identified terminal may stay connected.
pub trait Admission: Send + Sync {
    /// `Ok(())` admits the terminal that reported `device_info` (its `uuid` is set and not empty);
    /// `Err(refusal)` closes the connection with [`CloseReason::LoginRejected`].
    ///
    /// # Errors
    /// The terminal is not admitted; the [`Refusal`] says why.
    fn admit(&self, device_info: &DeviceInfo) -> Result<(), Refusal>;
}

/// Admits every terminal that reports a `uuid`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdmitAll;

impl Admission for AdmitAll {
    fn admit(&self, _device_info: &DeviceInfo) -> Result<(), Refusal> {
        Ok(())
    }
}

impl<A: Admission + ?Sized> Admission for Arc<A> {
    fn admit(&self, device_info: &DeviceInfo) -> Result<(), Refusal> {
        (**self).admit(device_info)
    }
}

impl<F: Fn(&DeviceInfo) -> Result<(), Refusal> + Send + Sync> Admission for F {
    fn admit(&self, device_info: &DeviceInfo) -> Result<(), Refusal> {
        self(device_info)
    }
}

/// Settings of a [`ServerSession`].
///
/// ```
/// use std::time::Duration;
/// use device_core::access::ServerConfig;
///
/// let config = ServerConfig::new().probe_interval(None).peer_timeout(Duration::from_secs(600));
/// assert_eq!(config.identify_timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// How long the terminal has to answer the `get_device_info` sent on connect. Default 30 s
    /// ([`IDENTIFY_TIMEOUT`]).
    pub identify_timeout: Duration,
    /// Interval of the `get_device_info` liveness probes once identified. Default 60 s ([`PROBE_INTERVAL`]);
    /// `None` sends none.
    pub probe_interval: Option<Duration>,
    /// Silence after which the terminal is declared gone. Default 180 s ([`PEER_TIMEOUT`]).
    pub peer_timeout: Duration,
    /// How long a request waits for the terminal's response. Default 30 s ([`REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// How long the application has to answer a terminal request before the session answers `-1`. Default
    /// 20 s ([`ANSWER_TIMEOUT`]).
    pub answer_timeout: Duration,
    /// Most requests waiting for the terminal's response at once. Default 16.
    pub max_in_flight: usize,
    /// Most terminal requests waiting for the application's answer (held ones included); more are answered
    /// `-1` at once. Default 16.
    pub max_pending_answers: usize,
    /// Most application requests queued for writing. Default 64.
    pub outbox_capacity: usize,
    /// Message size limit, both ways. Default 16 MiB ([`super::DEFAULT_MAX_MESSAGE_LEN`]).
    pub codec: CodecConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            identify_timeout: IDENTIFY_TIMEOUT,
            probe_interval: Some(PROBE_INTERVAL),
            peer_timeout: PEER_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            answer_timeout: ANSWER_TIMEOUT,
            max_in_flight: 16,
            max_pending_answers: 16,
            outbox_capacity: 64,
            codec: CodecConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`ServerConfig::identify_timeout`].
    #[must_use]
    pub fn identify_timeout(mut self, d: Duration) -> Self {
        self.identify_timeout = d;
        self
    }

    /// Sets [`ServerConfig::probe_interval`].
    #[must_use]
    pub fn probe_interval(mut self, d: Option<Duration>) -> Self {
        self.probe_interval = d;
        self
    }

    /// Sets [`ServerConfig::peer_timeout`].
    #[must_use]
    pub fn peer_timeout(mut self, d: Duration) -> Self {
        self.peer_timeout = d;
        self
    }

    /// Sets [`ServerConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`ServerConfig::answer_timeout`].
    #[must_use]
    pub fn answer_timeout(mut self, d: Duration) -> Self {
        self.answer_timeout = d;
        self
    }

    /// Sets [`ServerConfig::max_in_flight`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets [`ServerConfig::max_pending_answers`].
    #[must_use]
    pub fn max_pending_answers(mut self, n: usize) -> Self {
        self.max_pending_answers = n;
        self
    }

    /// Sets [`ServerConfig::outbox_capacity`].
    #[must_use]
    pub fn outbox_capacity(mut self, n: usize) -> Self {
        self.outbox_capacity = n;
        self
    }

    /// Sets [`ServerConfig::codec`].
    #[must_use]
    pub fn codec(mut self, codec: CodecConfig) -> Self {
        self.codec = codec;
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

/// What the server application asks for on one terminal's connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerCommand {
    /// Send a request with a fresh `session_id`: `get_device_info`, `set_device_info`, `download_person`,
    /// `send_user_command`, or a `mod` the spec does not define. It ends with the terminal's [`Response`]
    /// (whose `code` may be a failure: data, not an error), a timeout, or a lost connection. The terminal's
    /// own requests (`upload_access_info`, `send_device_command`) are refused.
    Request(RequestBody),
    /// Answer a terminal request received as [`ServerEvent::Request`] and not answered yet (same `mod` and
    /// `session_id`; build it with [`Request::reply`]); anything else is refused.
    Answer(Response),
}

impl ServerCommand {
    /// `set_device_info` with the settings to change.
    #[must_use]
    pub fn set_device_info(device_info: DeviceInfo) -> Self {
        Self::Request(RequestBody::SetDeviceInfo(SetDeviceInfo { device_info }))
    }

    /// `download_person`.
    #[must_use]
    pub fn download_person(person_info: PersonInfo) -> Self {
        Self::Request(RequestBody::DownloadPerson(DownloadPerson { person_info }))
    }

    /// `send_user_command`.
    #[must_use]
    pub fn user_command(command: Command) -> Self {
        Self::Request(RequestBody::SendUserCommand(command))
    }

    /// The answer to `request` with `code` and `message` (and no fields).
    #[must_use]
    pub fn answer(request: &Request, code: Code, message: impl Into<String>) -> Self {
        Self::Answer(request.reply(code, message))
    }
}

/// Why a terminal was not identified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentifyFailure {
    /// The terminal answered `get_device_info` with a failure code.
    Refused {
        /// The terminal's code.
        code: Code,
        /// The terminal's message.
        message: String,
    },
    /// The answer carried no `device_info.uuid` (or an empty one).
    NoUuid,
    /// The [`Admission`] policy refused the terminal.
    NotAdmitted(Refusal),
}

impl std::fmt::Display for IdentifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { code, message } => write!(
                f,
                "get_device_info answered with code {}: {message}",
                code.value()
            ),
            Self::NoUuid => f.write_str("get_device_info answered without a uuid"),
            Self::NotAdmitted(why) => write!(f, "terminal not admitted: {why}"),
        }
    }
}

/// What the server session tells its application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The terminal answered the `get_device_info` sent on connect and was admitted: its `uuid` is now the
    /// session's [`Session::peer`] and the connection carries application traffic.
    Identified(DeviceInfo),
    /// The terminal could not be identified; the connection closes with [`CloseReason::LoginRejected`].
    IdentificationFailed(IdentifyFailure),
    /// A liveness probe reported settings different from the last known ones (the device id stays the one
    /// identified on connect).
    DeviceInfoChanged(DeviceInfo),
    /// A terminal request to answer with [`ServerCommand::Answer`]: `upload_access_info`,
    /// `send_device_command`, or a `mod` the spec does not define. Requests that arrive before
    /// identification are handed out right after [`ServerEvent::Identified`].
    Request(Request),
    /// A terminal request was not answered in time: the session answered it `-1`; a later answer is refused.
    Unanswered(PairKey),
    /// A terminal request arrived while [`ServerConfig::max_pending_answers`] were waiting: answered `-1` at
    /// once.
    Busy(Request),
    /// A message that did not decode (a request among them whose `mod` and `session_id` could be read was
    /// answered `-1`, see [`SessionError::MalformedRequest`]), or a request repeating the `(mod, session_id)`
    /// of one still waiting; the connection goes on.
    Malformed(SessionError),
    /// The connection closed; waiting requests ended with `ConnectionLost`.
    Disconnected(Option<CloseReason>),
}

/// Terminal requests a server refuses to send.
fn sent_by_terminal(body: &RequestBody) -> bool {
    matches!(
        body,
        RequestBody::UploadAccessInfo(_) | RequestBody::SendDeviceCommand(_)
    )
}

/// A `get_device_info` the session sent itself.
#[derive(Debug, Clone)]
struct Probe {
    session_id: SessionId,
    deadline: Instant,
    /// The one sent on connect, whose answer identifies the terminal.
    identify: bool,
}

/// The server side of one access connection. Call order: see [`Session`].
///
/// On [`Session::connection_opened`] it asks the terminal `get_device_info`; the answer's `uuid`, once the
/// [`Admission`] policy accepts it, identifies the terminal ([`Session::peer`], [`Session::is_established`]).
/// A failure code, a missing `uuid`, a refusal or no answer within [`ServerConfig::identify_timeout`] close the
/// connection. Once identified it probes the terminal with `get_device_info` every
/// [`ServerConfig::probe_interval`] and closes a link silent for [`ServerConfig::peer_timeout`]. Terminal
/// requests go to the application, which answers them with [`ServerCommand::Answer`]; the session answers `-1`
/// for those left unanswered. Malformed messages are reported; broken framing closes only this connection.
///
/// The device id outlives [`Session::connection_lost`], so that a driver can remove its route.
pub struct ServerSession<A = AdmitAll> {
    config: ServerConfig,
    admission: A,
    link: Link,
    connected: bool,
    close: Option<CloseReason>,
    liveness: Option<Liveness>,
    probe: Option<Probe>,
    uuid: Option<String>,
    device_info: Option<DeviceInfo>,
    established: bool,
    /// Terminal requests received before identification, handed out right after it.
    held: VecDeque<Request>,
    events: VecDeque<ServerEvent>,
}

impl<A> std::fmt::Debug for ServerSession<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("uuid", &self.uuid)
            .field("established", &self.established)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

impl ServerSession<AdmitAll> {
    /// A session for a connection that was just accepted, admitting every terminal that reports a `uuid`;
    /// `session_id`s are drawn from [`OsRandom`](crate::OsRandom) (see [`ServerSession::with_rng`]).
    #[must_use]
    pub fn new(config: ServerConfig) -> Self {
        Self::with_admission(config, AdmitAll)
    }
}

impl<A: Admission> ServerSession<A> {
    /// A session for a connection that was just accepted, admitting terminals by `admission`.
    #[must_use]
    pub fn with_admission(config: ServerConfig, admission: A) -> Self {
        Self {
            link: Link::new(&config.limits(), Box::new(crate::OsRandom)),
            config,
            admission,
            connected: false,
            close: None,
            liveness: None,
            probe: None,
            uuid: None,
            device_info: None,
            established: false,
            held: VecDeque::new(),
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

    /// The settings the terminal reported, once identified (updated by the liveness probes).
    #[must_use]
    pub fn device_info(&self) -> Option<&DeviceInfo> {
        self.device_info.as_ref()
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

    /// Requests waiting for the terminal's response.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.link.in_flight()
    }

    /// Terminal requests waiting for the application's answer (held ones included).
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

    fn send_probe(&mut self, now: Instant, identify: bool) {
        let session_id = self.link.new_session_id();
        let request = Request::new(session_id.clone(), RequestBody::GetDeviceInfo);
        match self.link.send_control(&Message::Request(request)) {
            Ok(()) => {
                let wait = if identify {
                    self.config.identify_timeout
                } else {
                    self.config.request_timeout
                };
                self.probe = Some(Probe {
                    session_id,
                    deadline: now + wait,
                    identify,
                });
            }
            Err(SendError::Encode(e) | SendError::Refused(e)) => {
                self.close_with(CloseReason::Protocol(e));
            }
            Err(_) => {}
        }
    }

    fn fail_identification(&mut self, failure: IdentifyFailure) {
        self.close_with(CloseReason::LoginRejected(
            SessionError::Identify(failure.clone()).into(),
        ));
        self.events
            .push_back(ServerEvent::IdentificationFailed(failure));
    }

    fn on_identify(&mut self, response: Response) {
        if !response.code.is_success() {
            return self.fail_identification(IdentifyFailure::Refused {
                code: response.code,
                message: response.message,
            });
        }
        let info = match response.body {
            ResponseBody::GetDeviceInfo(reply) => reply.device_info,
            _ => None,
        };
        let Some((info, uuid)) = info.and_then(|i| {
            let uuid = i.uuid.clone().filter(|u| !u.is_empty())?;
            Some((i, uuid))
        }) else {
            return self.fail_identification(IdentifyFailure::NoUuid);
        };
        if let Err(why) = self.admission.admit(&info) {
            return self.fail_identification(IdentifyFailure::NotAdmitted(why));
        }
        self.uuid = Some(uuid);
        self.established = true;
        self.device_info = Some(info.clone());
        self.events.push_back(ServerEvent::Identified(info));
        while let Some(request) = crate::outbox::pop_release(&mut self.held) {
            if self.link.is_pending(&request.pair_key()) {
                self.events.push_back(ServerEvent::Request(request));
            }
        }
    }

    fn on_probe_answer(&mut self, response: Response) {
        if let (true, ResponseBody::GetDeviceInfo(reply)) =
            (response.code.is_success(), response.body)
        {
            if let Some(info) = reply.device_info {
                if self.device_info.as_ref() != Some(&info) {
                    self.device_info = Some(info.clone());
                    self.events.push_back(ServerEvent::DeviceInfoChanged(info));
                }
            }
        }
    }

    fn on_message(&mut self, now: Instant, message: Message) {
        match message {
            Message::Response(response) => {
                let probe = self.probe.take_if(|p| {
                    p.session_id == response.session_id
                        && matches!(response.body, ResponseBody::GetDeviceInfo(_))
                });
                match probe {
                    Some(Probe { identify: true, .. }) => self.on_identify(response),
                    Some(Probe {
                        identify: false, ..
                    }) => self.on_probe_answer(response),
                    None => self.link.on_response(response),
                }
            }
            Message::Request(request) => match self.link.on_request(now, &request) {
                Inbound::Accepted if self.established => {
                    self.events.push_back(ServerEvent::Request(request));
                }
                Inbound::Accepted => self.held.push_back(request),
                Inbound::Busy => self.events.push_back(ServerEvent::Busy(request)),
                Inbound::Duplicate => {
                    self.events
                        .push_back(ServerEvent::Malformed(SessionError::DuplicateRequest {
                            key: request.pair_key(),
                        }));
                }
            },
        }
    }
}

impl<A: Admission> Session for ServerSession<A> {
    type Command = ServerCommand;
    type Reply = Response;
    type Event = ServerEvent;
    type Peer = String;

    fn wire(&self) -> Wire {
        super::wire(&self.config.codec)
    }

    fn use_framing(&mut self, framing: Framing) {
        self.link.set_framing(framing);
    }

    fn connection_opened(&mut self, now: Instant) {
        if self.close.is_some() {
            return;
        }
        self.link.reset();
        self.connected = true;
        self.liveness = Some(Liveness::new(
            now,
            self.config.probe_interval,
            self.config.peer_timeout,
        ));
        self.send_probe(now, true);
    }

    fn connection_lost(&mut self, _now: Instant) {
        self.connected = false;
        self.established = false;
        self.liveness = None;
        self.probe = None;
        self.held.clear();
        self.link.fail_all();
        let reason = self.close.clone();
        self.events.push_back(ServerEvent::Disconnected(reason));
        // One session per connection: it is never opened again.
        self.close.get_or_insert(CloseReason::Requested);
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
                Input::Malformed(why) => self.events.push_back(ServerEvent::Malformed(why)),
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
        if let Some(probe) = self.probe.as_ref().filter(|p| now >= p.deadline) {
            if probe.identify {
                self.close_with(CloseReason::LoginTimeout);
                return;
            }
            // An unanswered probe is forgotten; silence is the peer timeout's business.
            self.probe = None;
        }
        if let Some(l) = self.liveness.as_mut() {
            if l.peer_dead(now) {
                let after = l.peer_timeout();
                self.close_with(CloseReason::PeerSilent { after });
                return;
            }
            if l.heartbeat_due(now) && self.established && self.probe.is_none() {
                self.send_probe(now, false);
            }
        }
        for key in self.link.expire(now) {
            self.held.retain(|r| r.pair_key() != key);
            self.events.push_back(ServerEvent::Unanswered(key));
        }
    }

    fn handle_command(
        &mut self,
        now: Instant,
        command: ServerCommand,
    ) -> Result<Option<RequestId>, SendError> {
        if self.close.is_some() {
            return Err(SendError::Closed);
        }
        if !self.connected {
            return Err(SendError::NotReady);
        }
        match command {
            ServerCommand::Answer(response) => self.link.answer(response).map(|()| None),
            ServerCommand::Request(_) if !self.established => Err(SendError::NotReady),
            ServerCommand::Request(body) if sent_by_terminal(&body) => {
                Err(SessionError::WrongDirection {
                    module: body.module(),
                }
                .into())
            }
            ServerCommand::Request(body) => self.link.send_request(now, body).map(Some),
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
            self.probe.as_ref().map(|p| p.deadline),
            self.liveness.as_ref().map(Liveness::next_deadline),
            self.link.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_event(&mut self) -> Option<ServerEvent> {
        crate::outbox::pop_release(&mut self.events)
    }

    fn poll_reply(&mut self) -> Option<(RequestId, Result<Response, RequestError>)> {
        self.link.poll_reply()
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    fn is_established(&self) -> bool {
        self.established && self.close.is_none()
    }

    fn peer(&self) -> Option<&String> {
        self.uuid.as_ref()
    }

    fn close(&mut self, _now: Instant) {
        self.close_with(CloseReason::Requested);
    }
}
