//! Kingxun sessions of the binary link between WebSvr (TCP client) and svrInstance (one session per
//! connection): kingxun.md "WebSvr <---> svrInstance" plus the kingxun section of DECISIONS.md.
//!
//! - [`WebSvrSession`] connects, sends 9001 sealed with the initial KEY and IV, switches to the reply's `newIV`,
//!   sends a 9002 heartbeat every 30 s and correlates device commands (4001-4005, 4020, 4040, 4041, unknown
//!   MsgIds) with their replies by `seq`, each with a timeout.
//! - [`InstanceSession`] validates the 9001 (replay window, `svrHost`), answers it with a fresh `sessionId` and
//!   `newIV` from the injected [`crate::RandomSource`], answers 9002 with the device count of its
//!   [`InstanceHandler`], closes a link silent for 90 s and hands every device command to the handler, which
//!   answers a `RespCode` at once or later.
//!
//! Link rules both sides enforce (DECISIONS.md): any frame before a successful 9001 closes the connection; a
//! sealed body that fails its length or CRC check closes the connection and is never answered (no oracle); a
//! reply carries its request's CryptFlag; a device's or a peer's failure code is data in the reply, never an
//! error. Keys and IVs never appear in `Debug` output. The answer rule holds both ways: a request frame whose
//! body does not decode (wrong length, wrong CryptFlag, devId mismatch, ...) is answered RespCode 0xFF with its
//! own MsgId, devId, `seq` and CryptFlag, by the instance and by the WebSvr (which also answers 0xFF the
//! requests the spec does not define in its direction); only the sealed-frame failures close unanswered.
//! Errors are typed: [`SessionError`], inside [`crate::ProtocolError::Kingxun`].
//!
//! A whole login and one unlock in memory, no I/O:
//!
//! ```
//! use std::time::Instant;
//! use device_core::kingxun::{
//!     DeviceCommand, Dispatch, InstanceConfig, InstanceHandler, InstanceSession, WebSvrCommand, WebSvrConfig,
//!     WebSvrEvent, WebSvrSession,
//! };
//! use device_core::{Session, SplitMix64};
//! use kingxun_proto::{Reply, RespCode, Unlock};
//!
//! struct Fleet;
//! impl InstanceHandler for Fleet {
//!     fn device_count(&self) -> u32 { 3 }
//!     fn command(&mut self, _command: &DeviceCommand) -> Dispatch { Dispatch::Answer(RespCode::Ok) }
//! }
//!
//! let (key, iv) = ([0x11; 16], [0x22; 16]); // the initial KEY and IV, configured on both ends
//! let mut websvr = WebSvrSession::new(WebSvrConfig::new(key, iv));
//! let mut instance = InstanceSession::new(InstanceConfig::new(key, iv), Fleet).with_rng(Box::new(SplitMix64::seeded(7)));
//! let now = Instant::now();
//! let pump = |a: &mut WebSvrSession, b: &mut InstanceSession<Fleet>| loop {
//!     let mut moved = false;
//!     while let Some(bytes) = a.poll_transmit() { b.handle_input(now, &bytes); moved = true; }
//!     while let Some(bytes) = b.poll_transmit() { a.handle_input(now, &bytes); moved = true; }
//!     if !moved { break; }
//! };
//! instance.connection_opened(now);
//! websvr.connection_opened(now);
//! pump(&mut websvr, &mut instance);
//! assert!(matches!(websvr.poll_event(), Some(WebSvrEvent::LoggedIn { .. })));
//!
//! let unlock = Unlock {
//!     dev_id: 1001, dev_type: 1, timestamp: 0, usr_id: 42, allow_time: 30, lowest_soc_p: 20, farthest_dist: 5000,
//! };
//! let id = websvr.handle_command(now, WebSvrCommand::from(unlock)).unwrap().unwrap();
//! pump(&mut websvr, &mut instance);
//! assert_eq!(websvr.poll_reply(), Some((id, Ok(Reply::Unlock(RespCode::Ok)))));
//! ```

mod instance;
mod websvr;

pub use instance::{
    DeviceCommand, Dispatch, InstanceCommand, InstanceConfig, InstanceEvent, InstanceHandler,
    InstanceSession, LoginRefusal,
};
pub use websvr::{WebSvrCommand, WebSvrConfig, WebSvrEvent, WebSvrSession};

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::session::Shared;
use kingxun_proto::{
    CodecConfig, ConnectSession, DecodeError, Decoder, EncodeError, Frame, FrameCodec, Header,
    LinkCipher, MsgId, Packet, RespCode, TimestampError, HEADER_LEN,
};

/// WebSvr heartbeat interval (kingxun.md / DECISIONS.md 9002: "WebSvr sends one every 30 s").
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// Silence after which a link is declared dead (DECISIONS.md 9002: "svrInstance closes a link silent for
/// 90 s"); the WebSvr applies the same limit to the instance.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(90);

/// Default time a connection may take to complete its 9001 (devproto's choice; the spec sets none).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a device command waits for its reply at the WebSvr (devproto's choice).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time the svrInstance application has to answer a deferred command before the session answers
/// `RespCode` 0xFF itself; shorter than [`DEFAULT_REQUEST_TIMEOUT`] so the WebSvr gets an answer, not a timeout.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Debug stand-in for a key or an IV.
const REDACTED: &str = "<redacted>";

/// Largest body a first frame may have: the sealed 9001 request (DECISIONS.md: `timestamp u64, svrHost[32]`)
/// or the 9001 reply (`RespCode`, then sealed `sessionId u32, newIV[16], timestamp u64`). Nothing larger is
/// buffered before the link is verified.
fn login_body_limit() -> u32 {
    let request = LinkCipher::sealed_len(CONNECT_FIELDS_LEN).unwrap_or(0);
    let reply = LinkCipher::sealed_len(SESSION_FIELDS_LEN)
        .and_then(|l| l.checked_add(1))
        .unwrap_or(0);
    u32::try_from(request.max(reply)).unwrap_or(u32::MAX)
}

/// Plaintext length of the 9001 reply's sealed part: `sessionId u32, newIV[16], timestamp u64`.
const SESSION_FIELDS_LEN: usize = 4 + 16 + 8;

/// Plaintext length of a 9001 request: `timestamp u64, svrHost[32]`.
const CONNECT_FIELDS_LEN: usize = 8 + kingxun_proto::SVR_HOST_LEN;

/// What went wrong in a kingxun link session: a codec error (which names the field, the bytes and the limit)
/// or a session-level violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The framing broke, or a sealed body failed its length or CRC check (DECISIONS.md: the connection closes
    /// and the frame is never answered), or a frame's body did not decode and it could not be answered.
    #[error(transparent)]
    Decode(Shared<DecodeError>),
    /// A packet could not be encoded.
    #[error(transparent)]
    Encode(Shared<EncodeError>),
    /// A frame other than the 9001 the link must start with.
    #[error("{} with MsgId {msg_id} before a successful 9001", if *reply { "reply" } else { "request" })]
    BeforeConnect {
        /// The frame's MsgId.
        msg_id: MsgId,
        /// Whether it was a reply.
        reply: bool,
    },
    /// The 9001 (request or reply) did not decode.
    #[error("9001: {0}")]
    Connect(Shared<DecodeError>),
    /// A whole frame whose body did not decode; a request among them was answered RespCode 0xFF with its own
    /// CryptFlag (`answered`).
    #[error("MsgId {msg_id} seq {seq}{}: {error}", if *answered { " answered 0xFF" } else { "" })]
    MalformedFrame {
        /// The frame's MsgId.
        msg_id: MsgId,
        /// The frame's `seq`.
        seq: u32,
        /// Whether the session answered it RespCode 0xFF (a request).
        answered: bool,
        /// What did not decode.
        error: Shared<DecodeError>,
    },
    /// A command reused the `seq` of one still waiting for its answer (answered RespCode 0xFF).
    #[error("MsgId {msg_id} seq {seq}: the seq of a command still waiting for its answer")]
    DuplicateSeq {
        /// The command's MsgId.
        msg_id: MsgId,
        /// The reused `seq`.
        seq: u32,
    },
    /// A second 9001 (request or reply) on a verified link.
    #[error("a second 9001 on a verified link")]
    SecondConnect,
    /// The 9001 reply echoed another `seq` than the request's.
    #[error("9001 reply echoes seq {found}, the request had seq {expected}")]
    ConnectSeqMismatch {
        /// The request's `seq`.
        expected: u32,
        /// The reply's `seq`.
        found: u32,
    },
    /// A RespCode 0 reply lacks the fields it must carry (a 9001 without `sessionId`/`newIV`, a 9002 without
    /// `totalDevCount`/`svrStartTime`).
    #[error("MsgId {msg_id} seq {seq} accepted without its fields")]
    MissingFields {
        /// The reply's MsgId.
        msg_id: MsgId,
        /// The reply's `seq`.
        seq: u32,
    },
    /// The instance refused the 9001 with this RespCode.
    #[error("9001 answered RespCode {}", u8::from(*code))]
    ConnectRefused {
        /// The instance's RespCode.
        code: RespCode,
    },
    /// The 9001 reply's `timestamp` is outside [`WebSvrConfig::reply_window`].
    #[error("9001 reply {0}")]
    ConnectReplyStale(TimestampError),
    /// This instance refused a WebSvr's 9001 (answered RespCode 1, then closed).
    #[error("9001 of `{svr_host}` refused: {reason}")]
    ConnectDenied {
        /// The `svrHost` it carried.
        svr_host: String,
        /// Why.
        reason: LoginRefusal,
    },
    /// The application answered a command no WebSvr waits for (never received, answered or expired).
    #[error("no command with seq {seq} is waiting for an answer")]
    NotWaiting {
        /// The `seq` of the answer.
        seq: u32,
    },
    /// The application tried to send 9001 or 9002, which the session sends itself.
    #[error("MsgId {msg_id} is sent by the session itself")]
    SentBySession {
        /// The MsgId.
        msg_id: MsgId,
    },
}

crate::session::session_error_conversions!(Kingxun);

/// One step of reading the receive buffer.
enum Step {
    /// A whole frame (its body not yet opened).
    Frame(Frame),
    /// More bytes are needed.
    NeedMore,
    /// The framing broke, or the first frame is not the one the link must start with; the connection closes.
    Fatal(SessionError),
}

/// Takes the next frame off `rx`.
///
/// Before the link is verified (`first` is `Some(reply)`), only a 9001 request (`reply == false`) or a 9001 reply
/// (`reply == true`) may come, and no body larger than a 9001's is buffered: the header is judged as soon as it
/// is in.
fn next_frame(config: &CodecConfig, rx: &mut BytesMut, first: Option<bool>) -> Step {
    let Some(reply) = first else {
        return match FrameCodec::new(*config).decode(rx) {
            Ok(Some(frame)) => Step::Frame(frame),
            Ok(None) => Step::NeedMore,
            Err(e) => Step::Fatal(SessionError::Decode(e.into())),
        };
    };
    let limit = login_body_limit().min(config.max_body_len);
    if let Some(head) = rx.first_chunk::<HEADER_LEN>() {
        match Header::parse(head, limit) {
            Ok((header, _)) if header.msg_id == MsgId::Connect && header.reply == reply => {}
            Ok((header, _)) => {
                return Step::Fatal(SessionError::BeforeConnect {
                    msg_id: header.msg_id,
                    reply: header.reply,
                });
            }
            Err(e) => return Step::Fatal(SessionError::Connect(e.into())),
        }
    }
    match FrameCodec::new(CodecConfig::default().max_body_len(limit)).decode(rx) {
        Ok(Some(frame)) => Step::Frame(frame),
        Ok(None) => Step::NeedMore,
        Err(e) => Step::Fatal(SessionError::Connect(e.into())),
    }
}

/// Encodes one packet as a whole frame, sealing with `cipher` where its MsgId requires it.
fn encode_packet(
    config: &CodecConfig,
    cipher: &LinkCipher,
    packet: &Packet,
) -> Result<Bytes, SessionError> {
    let mut buf = BytesMut::new();
    packet
        .encode(Some(cipher), config, &mut buf)
        .map_err(|e| SessionError::Encode(e.into()))?;
    Ok(buf.freeze())
}

/// Reads a session id and a new IV from the random source (sessionId from the high half of one draw, the IV
/// from the next two).
fn draw_session(rng: &mut dyn crate::RandomSource, timestamp: u64) -> ConnectSession {
    let [a, b, c, d, ..] = rng.next_u64().to_be_bytes();
    let mut new_iv = [0u8; 16];
    new_iv[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    new_iv[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    ConnectSession {
        session_id: u32::from_be_bytes([a, b, c, d]),
        new_iv,
        timestamp,
    }
}

/// A kingxun frame is under 100 bytes (a 19-byte header and a sealed body of a few blocks).
pub const TYPICAL_FRAME_LEN: usize = 256;

/// kingxun's transport facts: a TCP byte stream of frames of 19 header bytes plus the codec's body limit.
pub(crate) fn wire(codec: &CodecConfig) -> crate::Wire {
    let body = usize::try_from(codec.max_body_len).unwrap_or(usize::MAX);
    crate::Wire::stream(body.saturating_add(HEADER_LEN), TYPICAL_FRAME_LEN)
}

/// Who an [`InstanceSession`] is established with: the WebSvr's `svrHost` and the `sessionId` the 9001
/// handshake gave it; displayed `svrHost#sessionId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebSvrPeer {
    /// The WebSvr's `svrHost` from its 9001.
    pub svr_host: String,
    /// The `sessionId` of the 9001 reply.
    pub session_id: u32,
}

impl std::fmt::Display for WebSvrPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.svr_host, self.session_id)
    }
}
