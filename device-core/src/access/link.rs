//! What both access sessions share: framing, the bounded outbox, correlation of this side's requests, and the
//! peer's requests waiting for this side's answer.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use access_proto::{
    Code, Codec, CodecConfig, DecodeError, Decoder, DeviceInfoReply, Encoder, JsonSplitter,
    Message, MessageCodec, Mod, PairKey, Request, RequestBody, Response, ResponseBody, SessionId,
    UnknownMessage,
};
use bytes::{Bytes, BytesMut};

use super::{Framing, SessionError};
use crate::correlation::Correlator;
use crate::outbox::Outbox;
use crate::rng::RandomSource;
use crate::session::Shared;
use crate::session::{RequestError, RequestId, SendError};

/// The correlation key, `(mod, session_id)`, printable for [`SendError::DuplicateKey`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key(pub(super) PairKey);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.module, self.0.session_id)
    }
}

/// One piece of decoded input.
pub(super) enum Input {
    /// A whole message (boxed: a decoded message is large, the other variants are not).
    Message(Box<Message>),
    /// A whole message that did not decode; the connection goes on. A request among them whose `mod` and
    /// `session_id` could be read was answered `-1` ([`SessionError::MalformedRequest`]).
    Malformed(SessionError),
    /// The framing broke (garbage between objects, an over-long message): the connection must close.
    Fatal(SessionError),
}

/// What became of a request received from the peer.
pub(super) enum Inbound {
    /// It waits for the application's answer.
    Accepted,
    /// Too many requests were waiting: it was answered `-1` at once.
    Busy,
    /// A request with the same `(mod, session_id)` is still waiting: not answered a second time.
    Duplicate,
}

/// Limits of a [`Link`].
pub(super) struct Limits {
    pub codec: CodecConfig,
    pub request_timeout: Duration,
    pub answer_timeout: Duration,
    pub max_in_flight: usize,
    pub max_pending_answers: usize,
    pub outbox_capacity: usize,
}

/// The connection-independent core of both sessions.
pub(super) struct Link {
    framing: Framing,
    codec_config: CodecConfig,
    splitter: JsonSplitter,
    rx: BytesMut,
    outbox: Outbox,
    outbox_capacity: usize,
    /// This side's requests waiting for the peer's response.
    requests: Correlator<Key>,
    replies: VecDeque<(RequestId, Result<Response, RequestError>)>,
    /// The peer's requests waiting for this side's answer, with the `-1` answer to send if none comes.
    inbound: Correlator<Key>,
    fallbacks: HashMap<RequestId, Response>,
    answer_timeout: Duration,
    rng: Box<dyn RandomSource>,
}

impl Link {
    pub(super) fn new(limits: &Limits, rng: Box<dyn RandomSource>) -> Self {
        Self {
            framing: Framing::Stream,
            codec_config: limits.codec,
            splitter: JsonSplitter::new(&limits.codec),
            rx: BytesMut::new(),
            outbox: Outbox::new(limits.outbox_capacity),
            outbox_capacity: limits.outbox_capacity,
            requests: Correlator::new(limits.request_timeout, limits.max_in_flight),
            replies: VecDeque::new(),
            inbound: Correlator::new(limits.answer_timeout, limits.max_pending_answers),
            fallbacks: HashMap::new(),
            answer_timeout: limits.answer_timeout,
            rng,
        }
    }

    /// Replaces the random source of `session_id`s.
    pub(super) fn set_rng(&mut self, rng: Box<dyn RandomSource>) {
        self.rng = rng;
    }

    /// The framing of the transport the link runs on (the driver's [`crate::Session::use_framing`]).
    pub(super) fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// A new connection: framing state and queued bytes of the old one are dropped.
    pub(super) fn reset(&mut self) {
        self.splitter = JsonSplitter::new(&self.codec_config);
        self.rx.clear();
        self.outbox.clear();
    }

    /// Decodes what `data` completes. After a [`Input::Fatal`] nothing more is decoded.
    pub(super) fn receive(&mut self, data: &[u8]) -> Vec<Input> {
        match self.framing {
            Framing::Message => vec![self.decode_one(data)],
            Framing::Stream => {
                self.rx.extend_from_slice(data);
                let mut out = Vec::new();
                loop {
                    match self.splitter.decode(&mut self.rx) {
                        Ok(Some(frame)) => out.push(self.parse(&frame)),
                        Ok(None) => break,
                        Err(e) => {
                            self.rx.clear();
                            out.push(Input::Fatal(SessionError::Decode(e.into())));
                            break;
                        }
                    }
                }
                // Between messages (most of a connection's life) the buffer holds nothing: free it.
                if self.rx.is_empty() && self.rx.capacity() > 0 {
                    self.rx = BytesMut::new();
                }
                out
            }
        }
    }

    /// One whole message (a WebSocket text frame), whitespace around it allowed.
    fn decode_one(&mut self, data: &[u8]) -> Input {
        match MessageCodec::new(self.codec_config).decode_text(data) {
            Ok(message) => Input::Message(Box::new(message)),
            Err(e) if e.is_fatal() => Input::Fatal(SessionError::Decode(e.into())),
            Err(e) => self.malformed(data, e),
        }
    }

    /// One whole JSON object split off the stream.
    fn parse(&mut self, frame: &[u8]) -> Input {
        match Message::from_json(frame) {
            Ok(message) => Input::Message(Box::new(message)),
            Err(e) => self.malformed(frame, e),
        }
    }

    /// A whole message that did not decode: a request whose `mod` and `session_id` can still be read is
    /// answered `-1` with the error naming the field (DECISIONS.md: such a request is always answered).
    fn malformed(&mut self, frame: &[u8], error: DecodeError) -> Input {
        let error: Shared<DecodeError> = error.into();
        let Some(key) = request_key(frame) else {
            return Input::Malformed(SessionError::Decode(error));
        };
        let answer = fallback_answer(&key, error.to_string());
        // A `-1` without fields always encodes (the message is the error text, far below the limit).
        let _ = self.send_control(&Message::Response(answer));
        Input::Malformed(SessionError::MalformedRequest { key, error })
    }

    /// Bytes received and not yet decoded (stream framing): at most the maximum message length after each
    /// [`Link::receive`].
    pub(super) fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    /// The bytes of one message in this link's framing.
    pub(super) fn encode(&self, message: &Message) -> Result<Bytes, SendError> {
        match self.framing {
            Framing::Stream => {
                let mut buf = BytesMut::new();
                Codec::new(self.codec_config)
                    .encode(message, &mut buf)
                    .map_err(|e| SessionError::Encode(e.into()))?;
                Ok(buf.freeze())
            }
            Framing::Message => MessageCodec::new(self.codec_config)
                .encode_text(message)
                .map(Bytes::from)
                .map_err(|e| SessionError::Encode(e.into()).into()),
        }
    }

    /// A fresh UUID (version 4) from the injected randomness.
    pub(super) fn new_session_id(&mut self) -> SessionId {
        let mut bytes = [0u8; 16];
        crate::rng::fill_bytes(&mut *self.rng, &mut bytes);
        SessionId::from_random_bytes(bytes)
    }

    /// Queues protocol traffic of the session itself (answers, probes).
    pub(super) fn send_control(&mut self, message: &Message) -> Result<(), SendError> {
        let bytes = self.encode(message)?;
        self.outbox.push_control(bytes);
        Ok(())
    }

    /// Sends an application request with a fresh `session_id` and waits for its response.
    pub(super) fn send_request(
        &mut self,
        now: Instant,
        body: RequestBody,
    ) -> Result<RequestId, SendError> {
        if !self.outbox.has_room() {
            return Err(SendError::Full {
                capacity: self.outbox_capacity,
            });
        }
        let request = Request::new(self.new_session_id(), body);
        let bytes = self.encode(&Message::Request(request.clone()))?;
        let id = self.requests.start(now, Key(request.pair_key()))?;
        self.outbox.push_app(bytes)?;
        Ok(id)
    }

    /// A response from the peer: finishes its request, or is counted (late or unmatched) and dropped.
    pub(super) fn on_response(&mut self, response: Response) {
        if let Some(id) = self.requests.finish(&Key(response.pair_key())) {
            self.replies.push_back((id, Ok(response)));
        }
    }

    /// A request from the peer: files it for the application's answer, or answers `-1` at once when too many
    /// wait already.
    pub(super) fn on_request(&mut self, now: Instant, request: &Request) -> Inbound {
        match self.inbound.start(now, Key(request.pair_key())) {
            Ok(id) => {
                let message = format!("not answered within {:?}", self.answer_timeout);
                self.fallbacks
                    .insert(id, request.reply(Code::GeneralError, message));
                Inbound::Accepted
            }
            Err(SendError::DuplicateKey { .. }) => Inbound::Duplicate,
            Err(e) => {
                let busy = request.reply(Code::GeneralError, format!("busy: {e}"));
                // A `-1` without fields always encodes; if it did not, the peer's request would time out.
                let _ = self.send_control(&Message::Response(busy));
                Inbound::Busy
            }
        }
    }

    /// Whether the peer's request with this key waits for an answer.
    pub(super) fn is_pending(&self, key: &PairKey) -> bool {
        self.inbound.is_waiting(&Key(key.clone()))
    }

    /// The application's answer to a request of the peer; never refused for lack of room.
    pub(super) fn answer(&mut self, response: Response) -> Result<(), SendError> {
        let key = Key(response.pair_key());
        if !self.inbound.is_waiting(&key) {
            return Err(SessionError::NotWaiting { key: key.0 }.into());
        }
        let bytes = self.encode(&Message::Response(response))?;
        if let Some(id) = self.inbound.finish(&key) {
            self.fallbacks.remove(&id);
            self.release_fallbacks();
        }
        self.outbox.push_control(bytes);
        Ok(())
    }

    /// Times out this side's requests and answers the peer's overdue ones with `-1`; returns their keys.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<PairKey> {
        self.requests.expire(now, &mut self.replies);
        let mut expired: VecDeque<(RequestId, Result<(), RequestError>)> = VecDeque::new();
        self.inbound.expire(now, &mut expired);
        let mut keys = Vec::with_capacity(expired.len());
        for (id, _) in expired {
            if let Some(fallback) = self.fallbacks.remove(&id) {
                keys.push(fallback.pair_key());
                let _ = self.send_control(&Message::Response(fallback));
            }
        }
        self.release_fallbacks();
        keys
    }

    /// No answer is owed: give the table's memory back.
    fn release_fallbacks(&mut self) {
        if self.fallbacks.is_empty() && self.fallbacks.capacity() > 0 {
            self.fallbacks = HashMap::new();
        }
    }

    /// The connection is gone: this side's requests end with `ConnectionLost`, the peer's can no longer be
    /// answered.
    pub(super) fn fail_all(&mut self) {
        self.requests.fail_all(&mut self.replies);
        self.inbound.fail_all::<()>(&mut VecDeque::new());
        self.fallbacks.clear();
        self.reset();
    }

    /// The earliest request or answer deadline.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        [self.requests.next_deadline(), self.inbound.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.pop()
    }

    pub(super) fn poll_reply(&mut self) -> Option<(RequestId, Result<Response, RequestError>)> {
        crate::outbox::pop_release(&mut self.replies)
    }

    pub(super) fn in_flight(&self) -> usize {
        self.requests.len()
    }

    pub(super) fn pending_answers(&self) -> usize {
        self.inbound.len()
    }

    pub(super) fn late_responses(&self) -> u64 {
        self.requests.late_responses()
    }

    pub(super) fn unmatched_responses(&self) -> u64 {
        self.requests.unmatched_responses()
    }
}

/// The `(mod, session_id)` of a message that did not decode, when it is a request (`type` 1, or no `type`
/// and no `code`) and both are strings.
fn request_key(frame: &[u8]) -> Option<PairKey> {
    let value: serde_json::Value = proto_common::json::from_slice_lenient(frame).ok()?;
    let object = value.as_object()?;
    let is_request = match object.get("type") {
        Some(t) => t.as_i64() == Some(1) || t.as_str() == Some("1"),
        None => !object.contains_key("code"),
    };
    if !is_request {
        return None;
    }
    let module = object.get("mod")?.as_str()?;
    let session_id = object.get("session_id")?.as_str()?;
    Some(PairKey {
        module: Mod::from_name(module),
        session_id: SessionId::from(session_id),
    })
}

/// The `-1` answer to the request with `key`, with no fields.
fn fallback_answer(key: &PairKey, message: String) -> Response {
    let body = match &key.module {
        Mod::GetDeviceInfo => ResponseBody::GetDeviceInfo(DeviceInfoReply::default()),
        Mod::SetDeviceInfo => ResponseBody::SetDeviceInfo,
        Mod::DownloadPerson => ResponseBody::DownloadPerson,
        Mod::UploadAccessInfo => ResponseBody::UploadAccessInfo,
        Mod::SendUserCommand => ResponseBody::SendUserCommand,
        Mod::SendDeviceCommand => ResponseBody::SendDeviceCommand,
        other => ResponseBody::Unknown(UnknownMessage {
            name: other.to_string(),
            fields: serde_json::Map::new(),
        }),
    };
    Response {
        session_id: key.session_id.clone(),
        code: Code::GeneralError,
        message,
        body,
    }
}
