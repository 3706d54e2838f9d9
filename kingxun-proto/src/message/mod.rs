//! Typed messages of the binary link (WebSvr <-> svrInstance).
//!
//! WebSvr sends requests ([`Request`]), svrInstance answers each with a reply ([`Reply`]) that echoes the
//! request's `seq` and carries its CryptFlag. A [`Packet`] is one frame's worth: the header's devId and seq plus
//! the typed message; [`Packet::decode`] and [`Packet::encode`] convert between it and a [`Frame`].
//!
//! | MsgId | CryptFlag | request | reply after `RespCode` |
//! |---|---|---|---|
//! | 9001 | 1 | [`Connect`] | sealed [`ConnectSession`] (when accepted) |
//! | 9002 | 0 | [`Heartbeat`] | [`HeartbeatStatus`] |
//! | 4001 | 1 | [`Unlock`] | - |
//! | 4002 | 1 | [`Lock`] | - |
//! | 4003 | 1 | [`Guard`] | - |
//! | 4004 | 1 | [`OpenElecLock`] | - |
//! | 4005 | 1 | [`LightCtrl`] | - |
//! | 4020 | 0 | [`FileDeliver`] | - |
//! | 4040 | 0 | [`SetPacketLog`] | - |
//! | 4041 | 0 | [`SetLogLevel`] | - |
//!
//! A known MsgId with the other CryptFlag is refused ([`DecodeError::WrongCryptFlag`]): a plain 4001 must never
//! open a lock. An unknown MsgId decodes to [`RawRequest`] / [`RawReply`] with the body exactly as it was on the
//! wire (a sealed one is not opened), so it re-encodes byte for byte.

mod admin;
mod control;
mod hexser;
mod json;
mod link;
pub(crate) mod wire;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

pub use admin::{
    file_names, FileDeliver, FileType, LogLevel, LogSwitch, SetLogLevel, SetPacketLog,
    FILE_DELIVER_HEAD_LEN, FILE_NAME_LEN,
};
pub use control::{
    ElecLockFlags, Guard, LightCtrl, LightFlags, Lock, MotorPowerFlag, OpenElecLock, Unlock,
};
pub use link::{
    Connect, ConnectReply, ConnectSession, Heartbeat, HeartbeatReply, HeartbeatStatus,
    HEARTBEAT_SVR_HOST, SVR_HOST_LEN,
};

use crate::config::CodecConfig;
use crate::crypto::LinkCipher;
use crate::error::{DecodeError, EncodeError};
pub use crate::frame::{CryptFlag, MsgId};
use crate::frame::{Frame, Header, HEADER_LEN};
use wire::{read_exact, with_bytes, FixedBody};

wire_enum! {
    /// `RespCode`, the first byte of every reply body. A refusal is data, not an error.
    pub enum RespCode: u8 {
        /// 0 - ok.
        Ok = 0,
        /// 1 - refused.
        Refused = 1,
        /// 0xFF - an error occurred (for example a 4020 whose MD5 does not match).
        Error = 0xFF,
    }
}

/// A request with a MsgId this crate does not know: the body exactly as it was on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// The MsgId.
    pub msg_id: u16,
    /// The header's CryptFlag; a sealed body is kept sealed.
    pub crypt: CryptFlag,
    /// The whole body.
    pub body: Bytes,
}

/// A reply with a MsgId this crate does not know: its `RespCode` and the rest of the body as on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct RawReply {
    /// The MsgId.
    pub msg_id: u16,
    /// The header's CryptFlag; a sealed part is kept sealed.
    pub crypt: CryptFlag,
    /// The first body byte.
    pub code: RespCode,
    /// The body after `RespCode`.
    pub rest: Bytes,
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRequest")
            .field("msg_id", &self.msg_id)
            .field("crypt", &self.crypt)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl fmt::Debug for RawReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawReply")
            .field("msg_id", &self.msg_id)
            .field("crypt", &self.crypt)
            .field("code", &self.code)
            .field("rest", &format_args!("<{} bytes>", self.rest.len()))
            .finish()
    }
}

/// A request, WebSvr -> svrInstance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 9001 - connection verification.
    Connect(Connect),
    /// 9002 - heartbeat.
    Heartbeat(Heartbeat),
    /// 4001 - remote unlock.
    Unlock(Unlock),
    /// 4002 - remote lock.
    Lock(Lock),
    /// 4003 - anti-theft guard.
    Guard(Guard),
    /// 4004 - open electric locks.
    OpenElecLock(OpenElecLock),
    /// 4005 - light control.
    LightCtrl(LightCtrl),
    /// 4020 - file delivery.
    FileDeliver(FileDeliver),
    /// 4040 - server packet logging.
    SetPacketLog(SetPacketLog),
    /// 4041 - device log level.
    SetLogLevel(SetLogLevel),
    /// An unknown MsgId, kept raw.
    Unknown(RawRequest),
}

/// A reply, svrInstance -> WebSvr. The device commands' replies are a bare [`RespCode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 9001 reply.
    Connect(ConnectReply),
    /// 9002 reply.
    Heartbeat(HeartbeatReply),
    /// 4001 reply.
    Unlock(RespCode),
    /// 4002 reply.
    Lock(RespCode),
    /// 4003 reply.
    Guard(RespCode),
    /// 4004 reply.
    OpenElecLock(RespCode),
    /// 4005 reply.
    LightCtrl(RespCode),
    /// 4020 reply (0xFF when the file's MD5 did not match).
    FileDeliver(RespCode),
    /// 4040 reply.
    SetPacketLog(RespCode),
    /// 4041 reply.
    SetLogLevel(RespCode),
    /// An unknown MsgId, kept raw.
    Unknown(RawReply),
}

/// A request or a reply: the content of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request (flags bit 0 clear).
    Request(Request),
    /// A reply (flags bit 0 set).
    Reply(Reply),
}

macro_rules! request_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Request {
            fn from(body: $variant) -> Self {
                Self::$variant(body)
            }
        }
    )*};
}
request_from!(
    Connect,
    Heartbeat,
    Unlock,
    Lock,
    Guard,
    OpenElecLock,
    LightCtrl,
    FileDeliver,
    SetPacketLog,
    SetLogLevel
);

impl From<RawRequest> for Request {
    fn from(raw: RawRequest) -> Self {
        Self::Unknown(raw)
    }
}

impl From<Request> for Message {
    fn from(request: Request) -> Self {
        Self::Request(request)
    }
}

impl From<Reply> for Message {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

impl Request {
    /// The MsgId.
    #[must_use]
    pub fn msg_id(&self) -> MsgId {
        match self {
            Self::Connect(_) => MsgId::Connect,
            Self::Heartbeat(_) => MsgId::Heartbeat,
            Self::Unlock(_) => MsgId::Unlock,
            Self::Lock(_) => MsgId::Lock,
            Self::Guard(_) => MsgId::Guard,
            Self::OpenElecLock(_) => MsgId::OpenElecLock,
            Self::LightCtrl(_) => MsgId::LightCtrl,
            Self::FileDeliver(_) => MsgId::FileDeliver,
            Self::SetPacketLog(_) => MsgId::SetPacketLog,
            Self::SetLogLevel(_) => MsgId::SetLogLevel,
            Self::Unknown(raw) => MsgId::from(raw.msg_id),
        }
    }

    /// The header devId this request requires: its body's `devId`, 0 for 9001/9002, `None` if unknown.
    #[must_use]
    #[inline]
    pub fn expected_dev_id(&self) -> Option<u32> {
        match self {
            Self::Connect(_) | Self::Heartbeat(_) => Some(0),
            Self::Unlock(m) => Some(m.dev_id),
            Self::Lock(m) => Some(m.dev_id),
            Self::Guard(m) => Some(m.dev_id),
            Self::OpenElecLock(m) => Some(m.dev_id),
            Self::LightCtrl(m) => Some(m.dev_id),
            Self::FileDeliver(m) => Some(m.dev_id),
            Self::SetPacketLog(m) => Some(m.dev_id),
            Self::SetLogLevel(m) => Some(m.dev_id),
            Self::Unknown(_) => None,
        }
    }

    /// The request's `timestamp` (Unix milliseconds), for the replay window check; `None` if unknown.
    #[must_use]
    pub fn timestamp(&self) -> Option<u64> {
        match self {
            Self::Connect(m) => Some(m.timestamp),
            Self::Heartbeat(m) => Some(m.timestamp),
            Self::Unlock(m) => Some(m.timestamp),
            Self::Lock(m) => Some(m.timestamp),
            Self::Guard(m) => Some(m.timestamp),
            Self::OpenElecLock(m) => Some(m.timestamp),
            Self::LightCtrl(m) => Some(m.timestamp),
            Self::FileDeliver(m) => Some(m.timestamp),
            Self::SetPacketLog(m) => Some(m.timestamp),
            Self::SetLogLevel(m) => Some(m.timestamp),
            Self::Unknown(_) => None,
        }
    }
}

impl Reply {
    /// The MsgId.
    #[must_use]
    pub fn msg_id(&self) -> MsgId {
        match self {
            Self::Connect(_) => MsgId::Connect,
            Self::Heartbeat(_) => MsgId::Heartbeat,
            Self::Unlock(_) => MsgId::Unlock,
            Self::Lock(_) => MsgId::Lock,
            Self::Guard(_) => MsgId::Guard,
            Self::OpenElecLock(_) => MsgId::OpenElecLock,
            Self::LightCtrl(_) => MsgId::LightCtrl,
            Self::FileDeliver(_) => MsgId::FileDeliver,
            Self::SetPacketLog(_) => MsgId::SetPacketLog,
            Self::SetLogLevel(_) => MsgId::SetLogLevel,
            Self::Unknown(raw) => MsgId::from(raw.msg_id),
        }
    }

    /// The reply's `RespCode`.
    #[must_use]
    pub fn code(&self) -> RespCode {
        match self {
            Self::Connect(r) => r.code,
            Self::Heartbeat(r) => r.code,
            Self::Unknown(r) => r.code,
            Self::Unlock(c)
            | Self::Lock(c)
            | Self::Guard(c)
            | Self::OpenElecLock(c)
            | Self::LightCtrl(c)
            | Self::FileDeliver(c)
            | Self::SetPacketLog(c)
            | Self::SetLogLevel(c) => *c,
        }
    }

    /// The bare-`RespCode` reply to the device command `msg_id`; `None` for 9001, 9002 and unknown MsgIds.
    #[must_use]
    pub fn ack(msg_id: MsgId, code: RespCode) -> Option<Self> {
        Some(match msg_id {
            MsgId::Unlock => Self::Unlock(code),
            MsgId::Lock => Self::Lock(code),
            MsgId::Guard => Self::Guard(code),
            MsgId::OpenElecLock => Self::OpenElecLock(code),
            MsgId::LightCtrl => Self::LightCtrl(code),
            MsgId::FileDeliver => Self::FileDeliver(code),
            MsgId::SetPacketLog => Self::SetPacketLog(code),
            MsgId::SetLogLevel => Self::SetLogLevel(code),
            MsgId::Connect | MsgId::Heartbeat | MsgId::Other(_) => return None,
        })
    }

    /// The header devId this reply requires: 0 for 9001/9002, otherwise any (it echoes the request's).
    #[must_use]
    #[inline]
    pub fn expected_dev_id(&self) -> Option<u32> {
        match self {
            Self::Connect(_) | Self::Heartbeat(_) => Some(0),
            _ => None,
        }
    }
}

impl Message {
    /// The MsgId.
    #[must_use]
    pub fn msg_id(&self) -> MsgId {
        match self {
            Self::Request(r) => r.msg_id(),
            Self::Reply(r) => r.msg_id(),
        }
    }

    /// Whether this is a reply.
    #[must_use]
    pub fn is_reply(&self) -> bool {
        matches!(self, Self::Reply(_))
    }

    /// The CryptFlag the frame carries.
    #[must_use]
    pub fn crypt_flag(&self) -> CryptFlag {
        self.crypt_flag_of(self.msg_id())
    }

    /// [`Message::crypt_flag`] when the MsgId is already at hand.
    fn crypt_flag_of(&self, msg_id: MsgId) -> CryptFlag {
        match (msg_id.crypt_flag(), self) {
            (Some(flag), _) => flag,
            (None, Self::Request(Request::Unknown(raw))) => raw.crypt,
            (None, Self::Reply(Reply::Unknown(raw))) => raw.crypt,
            (None, _) => CryptFlag::Plain,
        }
    }

    /// The header devId this message requires, if it constrains it.
    #[must_use]
    #[inline]
    pub fn expected_dev_id(&self) -> Option<u32> {
        match self {
            Self::Request(r) => r.expected_dev_id(),
            Self::Reply(r) => r.expected_dev_id(),
        }
    }

    /// Whether the crate knows the MsgId.
    #[must_use]
    pub fn is_known(&self) -> bool {
        self.msg_id().is_known()
    }

    fn check(&self) -> Result<(), EncodeError> {
        match self {
            Self::Request(Request::Connect(m)) => m.check(),
            Self::Request(Request::Heartbeat(m)) => m.check(),
            Self::Request(Request::FileDeliver(m)) => m.check(),
            _ => Ok(()),
        }
    }

    /// Body length on the wire (`None` on overflow).
    fn body_len(&self) -> Option<usize> {
        fn sealed<T: FixedBody>() -> Option<usize> {
            LinkCipher::sealed_len(T::LEN)
        }
        match self {
            Self::Request(r) => match r {
                Request::Connect(_) => sealed::<Connect>(),
                Request::Heartbeat(_) => Some(Heartbeat::LEN),
                Request::Unlock(_) => sealed::<Unlock>(),
                Request::Lock(_) => sealed::<Lock>(),
                Request::Guard(_) => sealed::<Guard>(),
                Request::OpenElecLock(_) => sealed::<OpenElecLock>(),
                Request::LightCtrl(_) => sealed::<LightCtrl>(),
                Request::FileDeliver(m) => m.body_len(),
                Request::SetPacketLog(_) => Some(SetPacketLog::LEN),
                Request::SetLogLevel(_) => Some(SetLogLevel::LEN),
                Request::Unknown(raw) => Some(raw.body.len()),
            },
            Self::Reply(r) => match r {
                Reply::Connect(ConnectReply {
                    session: Some(_), ..
                }) => sealed::<ConnectSession>()?.checked_add(1),
                Reply::Heartbeat(HeartbeatReply {
                    status: Some(_), ..
                }) => Some(1 + HeartbeatStatus::LEN),
                Reply::Unknown(raw) => raw.rest.len().checked_add(1),
                _ => Some(1),
            },
        }
    }

    /// Appends the body; `check` must have passed.
    fn put_body(
        &self,
        msg_id: MsgId,
        cipher: Option<&LinkCipher>,
        dst: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let seal = |plain: &[u8], dst: &mut BytesMut| match cipher {
            Some(cipher) => cipher.seal_into(plain, dst),
            None => Err(EncodeError::NoCipher { msg_id }),
        };
        let plain = |plain: &[u8], dst: &mut BytesMut| {
            dst.put_slice(plain);
            Ok(())
        };
        match self {
            Self::Request(r) => match r {
                Request::Connect(m) => with_bytes(m, |p| seal(p, dst)),
                Request::Heartbeat(m) => with_bytes(m, |p| plain(p, dst)),
                Request::Unlock(m) => with_bytes(m, |p| seal(p, dst)),
                Request::Lock(m) => with_bytes(m, |p| seal(p, dst)),
                Request::Guard(m) => with_bytes(m, |p| seal(p, dst)),
                Request::OpenElecLock(m) => with_bytes(m, |p| seal(p, dst)),
                Request::LightCtrl(m) => with_bytes(m, |p| seal(p, dst)),
                Request::FileDeliver(m) => {
                    m.put(dst);
                    Ok(())
                }
                Request::SetPacketLog(m) => with_bytes(m, |p| plain(p, dst)),
                Request::SetLogLevel(m) => with_bytes(m, |p| plain(p, dst)),
                Request::Unknown(raw) => plain(&raw.body, dst),
            },
            Self::Reply(r) => {
                dst.put_u8(r.code().into());
                match r {
                    Reply::Connect(ConnectReply {
                        session: Some(s), ..
                    }) => with_bytes(s, |p| seal(p, dst)),
                    Reply::Heartbeat(HeartbeatReply {
                        status: Some(s), ..
                    }) => with_bytes(s, |p| plain(p, dst)),
                    Reply::Unknown(raw) => plain(&raw.rest, dst),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// One frame's worth: the header's devId and seq, and the typed message.
///
/// ```
/// use kingxun_proto::{CodecConfig, Heartbeat, Packet, Reply, RespCode, HeartbeatReply, HeartbeatStatus};
///
/// // DECISIONS.md vector: 9002 request, seq 1, timestamp 1700000000000.
/// let request = Packet::request(1, Heartbeat::new(1_700_000_000_000));
/// let mut wire = bytes::BytesMut::new();
/// request.encode(None, &CodecConfig::default(), &mut wire).unwrap();
/// assert_eq!(hex::encode(&wire[..19]), "4b580100232a00000000000000000100000028");
///
/// let reply = request.reply_to(Reply::Heartbeat(HeartbeatReply {
///     code: RespCode::Ok,
///     status: Some(HeartbeatStatus { total_dev_count: 3, svr_start_time: 1_699_999_000_000 }),
/// }));
/// assert_eq!((reply.dev_id, reply.seq), (0, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The header's devId: the vehicle for device commands (equal to the body's `devId`), 0 for 9001/9002.
    pub dev_id: u32,
    /// The header's seq: chosen by the requester, echoed by the reply.
    pub seq: u32,
    /// The typed content.
    pub message: Message,
}

impl Packet {
    /// A packet from its parts.
    #[must_use]
    pub fn new(dev_id: u32, seq: u32, message: impl Into<Message>) -> Self {
        Self {
            dev_id,
            seq,
            message: message.into(),
        }
    }

    /// A request packet whose devId is the one the request requires (0 for an unknown MsgId).
    #[must_use]
    pub fn request(seq: u32, request: impl Into<Request>) -> Self {
        let request = request.into();
        Self {
            dev_id: request.expected_dev_id().unwrap_or(0),
            seq,
            message: Message::Request(request),
        }
    }

    /// The reply to this packet: same devId and seq.
    #[must_use]
    pub fn reply_to(&self, reply: Reply) -> Self {
        Self {
            dev_id: self.dev_id,
            seq: self.seq,
            message: Message::Reply(reply),
        }
    }

    /// The frame header this packet is sent with.
    #[must_use]
    pub fn header(&self) -> Header {
        Header {
            reply: self.message.is_reply(),
            msg_id: self.message.msg_id(),
            crypt: self.message.crypt_flag(),
            dev_id: self.dev_id,
            seq: self.seq,
        }
    }

    /// Decodes a frame's body into a typed packet, opening sealed fields with `cipher`.
    ///
    /// # Errors
    /// [`DecodeError::WrongCryptFlag`], [`DecodeError::NoCipher`], [`DecodeError::Unseal`] (length or CRC, never
    /// saying which), [`DecodeError::BodyLength`], [`DecodeError::DevIdMismatch`], a fixed-string error, or for
    /// 4020 [`DecodeError::FileLength`] / [`DecodeError::FileMd5Mismatch`].
    pub fn decode(frame: &Frame, cipher: Option<&LinkCipher>) -> Result<Self, DecodeError> {
        Self::decode_parts(&frame.header, BodyRef::Shared(&frame.body), cipher)
    }

    /// [`Packet::decode`] from a header and a body that may still sit in the read buffer.
    #[inline]
    pub(crate) fn decode_parts(
        header: &Header,
        body: BodyRef<'_>,
        cipher: Option<&LinkCipher>,
    ) -> Result<Self, DecodeError> {
        let msg_id = header.msg_id;
        if let Some(expected) = msg_id.crypt_flag() {
            if expected != header.crypt {
                return Err(DecodeError::WrongCryptFlag {
                    msg_id,
                    expected,
                    found: header.crypt,
                });
            }
        }
        let message = if header.reply {
            Message::Reply(decode_reply(header, body, cipher)?)
        } else {
            Message::Request(decode_request(header, body, cipher)?)
        };
        if let Some(expected) = message.expected_dev_id() {
            if expected != header.dev_id {
                return Err(DecodeError::DevIdMismatch {
                    msg_id,
                    header: header.dev_id,
                    expected,
                });
            }
        }
        Ok(Self {
            dev_id: header.dev_id,
            seq: header.seq,
            message,
        })
    }

    /// Appends the packet as one frame to `dst`, sealing with `cipher` where the MsgId requires it.
    ///
    /// # Errors
    /// [`EncodeError::DevIdMismatch`], [`EncodeError::NoCipher`], [`EncodeError::FrameTooLarge`], a fixed-string
    /// error, or for 4020 [`EncodeError::FileTooLarge`] / [`EncodeError::FileMd5Mismatch`]; `dst` is unchanged
    /// on error.
    pub fn encode(
        &self,
        cipher: Option<&LinkCipher>,
        config: &CodecConfig,
        dst: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        let msg_id = self.message.msg_id();
        if let Some(expected) = self.message.expected_dev_id() {
            if expected != self.dev_id {
                return Err(EncodeError::DevIdMismatch {
                    msg_id,
                    header: self.dev_id,
                    expected,
                });
            }
        }
        self.message.check()?;
        let max = config.max_body_len;
        let body_len = self.message.body_len().and_then(|len| {
            u32::try_from(len)
                .ok()
                .filter(|&l| l <= max)
                .map(|l| (len, l))
        });
        let Some((len, body_len)) = body_len else {
            return Err(EncodeError::FrameTooLarge {
                len: self.message.body_len().unwrap_or(usize::MAX),
                max,
            });
        };
        let start = dst.len();
        dst.reserve(HEADER_LEN.saturating_add(len));
        let header = Header {
            reply: self.message.is_reply(),
            msg_id,
            crypt: self.message.crypt_flag_of(msg_id),
            dev_id: self.dev_id,
            seq: self.seq,
        };
        dst.put_slice(&header.to_bytes(body_len));
        match self.message.put_body(msg_id, cipher, dst) {
            Ok(()) => {
                debug_assert_eq!(
                    dst.len() - start - HEADER_LEN,
                    len,
                    "body_len out of step with put_body"
                );
                Ok(())
            }
            Err(e) => {
                dst.truncate(start);
                Err(e)
            }
        }
    }

    /// The packet as a [`Frame`] (header and body bytes).
    ///
    /// # Errors
    /// As [`Packet::encode`].
    pub fn to_frame(
        &self,
        cipher: Option<&LinkCipher>,
        config: &CodecConfig,
    ) -> Result<Frame, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(cipher, config, &mut buf)?;
        let body = buf.split_off(HEADER_LEN).freeze();
        Ok(Frame {
            header: self.header(),
            body,
        })
    }
}

/// Opens a sealed part and parses it as exactly one `T`.
#[inline]
fn open_exact<T: FixedBody>(
    msg_id: MsgId,
    sealed: &[u8],
    cipher: Option<&LinkCipher>,
) -> Result<T, DecodeError> {
    let Some(cipher) = cipher else {
        return Err(DecodeError::NoCipher { msg_id });
    };
    cipher
        .open_with(sealed, |plain| {
            read_exact::<T>(msg_id, "sealed fields", plain)
        })
        .map_err(|_| DecodeError::Unseal { msg_id })?
}

/// A frame body: shared (file data and raw bodies become refcounted slices of it) or borrowed from the read
/// buffer (for the MsgIds that keep no bytes, see [`BodyRef::needed_for`]).
#[derive(Clone, Copy)]
pub(crate) enum BodyRef<'a> {
    /// A frame's own body.
    Shared(&'a Bytes),
    /// Bytes still in the read buffer.
    Borrowed(&'a [u8]),
}

impl<'a> BodyRef<'a> {
    /// Whether decoding `header`'s message keeps body bytes (4020 file data, unknown bodies), so the body is
    /// better split off as [`Bytes`] than borrowed.
    pub(crate) fn needed_for(header: &Header) -> bool {
        matches!(header.msg_id, MsgId::FileDeliver | MsgId::Other(_))
    }

    pub(crate) fn as_slice(&self) -> &'a [u8] {
        match *self {
            Self::Shared(bytes) => bytes,
            Self::Borrowed(slice) => slice,
        }
    }

    /// `body[start..]`: a refcounted slice when shared, a copy when borrowed; empty when `start` is past the end.
    pub(crate) fn tail(&self, start: usize) -> Bytes {
        match *self {
            Self::Shared(bytes) => bytes.slice(start.min(bytes.len())..),
            Self::Borrowed(slice) => Bytes::copy_from_slice(slice.get(start..).unwrap_or_default()),
        }
    }
}

#[inline]
fn decode_request(
    header: &Header,
    body_ref: BodyRef<'_>,
    cipher: Option<&LinkCipher>,
) -> Result<Request, DecodeError> {
    let body = body_ref.as_slice();
    let msg_id = header.msg_id;
    let part = "request body";
    Ok(match msg_id {
        MsgId::Connect => Request::Connect(open_exact(msg_id, body, cipher)?),
        MsgId::Heartbeat => Request::Heartbeat(read_exact(msg_id, part, body)?),
        MsgId::Unlock => Request::Unlock(open_exact(msg_id, body, cipher)?),
        MsgId::Lock => Request::Lock(open_exact(msg_id, body, cipher)?),
        MsgId::Guard => Request::Guard(open_exact(msg_id, body, cipher)?),
        MsgId::OpenElecLock => Request::OpenElecLock(open_exact(msg_id, body, cipher)?),
        MsgId::LightCtrl => Request::LightCtrl(open_exact(msg_id, body, cipher)?),
        MsgId::FileDeliver => Request::FileDeliver(FileDeliver::decode(body_ref)?),
        MsgId::SetPacketLog => Request::SetPacketLog(read_exact(msg_id, part, body)?),
        MsgId::SetLogLevel => Request::SetLogLevel(read_exact(msg_id, part, body)?),
        MsgId::Other(id) => Request::Unknown(RawRequest {
            msg_id: id,
            crypt: header.crypt,
            body: body_ref.tail(0),
        }),
    })
}

fn decode_reply(
    header: &Header,
    body_ref: BodyRef<'_>,
    cipher: Option<&LinkCipher>,
) -> Result<Reply, DecodeError> {
    let body = body_ref.as_slice();
    let msg_id = header.msg_id;
    let Some((&code, rest)) = body.split_first() else {
        return Err(DecodeError::BodyLength {
            msg_id,
            part: "reply body (RespCode)",
            expected: 1,
            found: 0,
        });
    };
    let code = RespCode::from(code);
    let bare = |reply: fn(RespCode) -> Reply| {
        if rest.is_empty() {
            Ok(reply(code))
        } else {
            Err(DecodeError::BodyLength {
                msg_id,
                part: "reply body",
                expected: 1,
                found: body.len(),
            })
        }
    };
    match msg_id {
        MsgId::Connect => Ok(Reply::Connect(ConnectReply {
            code,
            session: if rest.is_empty() {
                None
            } else {
                Some(open_exact(msg_id, rest, cipher)?)
            },
        })),
        MsgId::Heartbeat => Ok(Reply::Heartbeat(HeartbeatReply {
            code,
            status: if rest.is_empty() {
                None
            } else {
                Some(read_exact(msg_id, "reply fields after RespCode", rest)?)
            },
        })),
        MsgId::Unlock => bare(Reply::Unlock),
        MsgId::Lock => bare(Reply::Lock),
        MsgId::Guard => bare(Reply::Guard),
        MsgId::OpenElecLock => bare(Reply::OpenElecLock),
        MsgId::LightCtrl => bare(Reply::LightCtrl),
        MsgId::FileDeliver => bare(Reply::FileDeliver),
        MsgId::SetPacketLog => bare(Reply::SetPacketLog),
        MsgId::SetLogLevel => bare(Reply::SetLogLevel),
        MsgId::Other(id) => Ok(Reply::Unknown(RawReply {
            msg_id: id,
            crypt: header.crypt,
            code,
            rest: body_ref.tail(1),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_frame;

    fn cipher() -> LinkCipher {
        LinkCipher::new(
            std::array::from_fn(|i| u8::try_from(i).unwrap()),
            std::array::from_fn(|i| u8::try_from(16 + i).unwrap()),
        )
    }

    fn unlock() -> Unlock {
        Unlock {
            dev_id: 1001,
            dev_type: 1,
            timestamp: 1_700_000_000_000,
            usr_id: 42,
            allow_time: 30,
            lowest_soc_p: 20,
            farthest_dist: 5000,
        }
    }

    fn encode(packet: &Packet, cipher: Option<&LinkCipher>) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::new();
        packet.encode(cipher, &CodecConfig::default(), &mut out)?;
        Ok(out)
    }

    fn frame_of(wire: &[u8]) -> Frame {
        decode_frame(&CodecConfig::default(), &mut BytesMut::from(wire))
            .unwrap()
            .unwrap()
    }

    /// A frame from its parts, with a correct bodyLen.
    fn raw_frame(msg_id: u16, reply: bool, crypt: u8, dev_id: u32, body: &[u8]) -> Frame {
        let mut wire = BytesMut::new();
        wire.put_slice(b"KX\x01");
        wire.put_u8(u8::from(reply));
        wire.put_u16(msg_id);
        wire.put_u8(crypt);
        wire.put_u32(dev_id);
        wire.put_u32(9);
        wire.put_u32(u32::try_from(body.len()).unwrap());
        wire.put_slice(body);
        frame_of(&wire)
    }

    #[test]
    fn a_plain_unlock_is_refused() {
        // The 4001 plaintext fields sent with CryptFlag 0: must never reach a lock.
        let plain = hex::decode("000003e9010000018bcfe568000000002a001e1400001388").unwrap();
        let e =
            Packet::decode(&raw_frame(4001, false, 0, 1001, &plain), Some(&cipher())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MsgId 4001 must carry CryptFlag 1 (AES-128-CBC), found 0 (plain)"
        );
        // And a sealed heartbeat is refused the other way round.
        let e =
            Packet::decode(&raw_frame(9002, false, 1, 0, &[0; 40]), Some(&cipher())).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::WrongCryptFlag {
                    msg_id: MsgId::Heartbeat,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn header_dev_id_must_match_the_sealed_body() {
        let sealed = cipher()
            .seal(&hex::decode("000003e9010000018bcfe568000000002a001e1400001388").unwrap())
            .unwrap();
        let e =
            Packet::decode(&raw_frame(4001, false, 1, 1002, &sealed), Some(&cipher())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "header devId 1002 of MsgId 4001 does not match the expected devId 1001"
        );
        let ok =
            Packet::decode(&raw_frame(4001, false, 1, 1001, &sealed), Some(&cipher())).unwrap();
        assert_eq!(ok.message, Message::Request(Request::Unlock(unlock())));
        // 9001/9002 travel with devId 0.
        let mut hb = BytesMut::new();
        Heartbeat::new(1).put(&mut hb);
        let e = Packet::decode(&raw_frame(9002, false, 0, 5, &hb), None).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::DevIdMismatch {
                    header: 5,
                    expected: 0,
                    ..
                }
            ),
            "{e}"
        );
        let e = Packet::decode(&raw_frame(9002, true, 0, 5, &[0]), None).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::DevIdMismatch {
                    header: 5,
                    expected: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn sealed_bodies_need_a_cipher_and_a_good_seal() {
        let wire = encode(&Packet::request(7, unlock()), Some(&cipher())).unwrap();
        let e = Packet::decode(&frame_of(&wire), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MsgId 4001 is sealed: a KEY and IV are needed to open it"
        );
        let mut other = cipher();
        other.set_iv([7; 16]);
        let e = Packet::decode(&frame_of(&wire), Some(&other)).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Unseal {
                    msg_id: MsgId::Unlock
                }
            ),
            "{e}"
        );
        // A seal that opens but holds the wrong number of fields.
        let short = cipher().seal(&[0; 23]).unwrap();
        let e = Packet::decode(&raw_frame(4001, false, 1, 0, &short), Some(&cipher())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sealed fields of MsgId 4001 has 23 bytes, expected 24"
        );
        let e = encode(&Packet::request(7, unlock()), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MsgId 4001 is sealed: a KEY and IV are needed to encode it"
        );
    }

    #[test]
    fn replies_are_a_resp_code_and_only_their_own_fields() {
        let e = Packet::decode(&raw_frame(4002, true, 1, 1001, &[]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reply body (RespCode) of MsgId 4002 has 0 bytes, expected 1"
        );
        let e = Packet::decode(&raw_frame(4002, true, 1, 1001, &[0, 0]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reply body of MsgId 4002 has 2 bytes, expected 1"
        );
        let e = Packet::decode(&raw_frame(9002, true, 0, 0, &[0; 12]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reply fields after RespCode of MsgId 9002 has 11 bytes, expected 12"
        );
        let p = Packet::decode(&raw_frame(4040, true, 0, 1001, &[0x7f]), None).unwrap();
        assert_eq!(
            p.message,
            Message::Reply(Reply::SetPacketLog(RespCode::Other(0x7f)))
        );
        // A refused 9001 has no sealed part, and needs no cipher.
        let p = Packet::decode(&raw_frame(9001, true, 1, 0, &[1]), None).unwrap();
        assert_eq!(
            p.message,
            Message::Reply(Reply::Connect(ConnectReply::refused()))
        );
    }

    #[test]
    fn file_delivery_checks_length_and_md5() {
        let file = FileDeliver::new(
            1001,
            1,
            5,
            7,
            FileType::System,
            "bms",
            Bytes::from_static(b"firmware"),
        );
        let wire = encode(&Packet::request(3, file.clone()), None).unwrap();
        let p = Packet::decode(&frame_of(&wire), None).unwrap();
        assert_eq!(
            p.message,
            Message::Request(Request::FileDeliver(file.clone()))
        );

        let mut bad_md5 = wire.clone();
        let last = bad_md5.len() - 1;
        bad_md5[last] ^= 1; // one data byte changed
        let e = Packet::decode(&frame_of(&bad_md5), None).unwrap_err();
        assert!(matches!(e, DecodeError::FileMd5Mismatch { .. }), "{e}");
        assert!(e.to_string().starts_with("FileMD5 "), "{e}");

        let mut bad_len = wire.clone();
        let at = HEADER_LEN + 4 + 1 + 8 + 4 + 1 + 32;
        bad_len[at..at + 4].copy_from_slice(&9u32.to_be_bytes());
        let e = Packet::decode(&frame_of(&bad_len), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "FileDataLen 9 does not match the 8 bytes of FileData"
        );

        let e = Packet::decode(&raw_frame(4020, false, 0, 1001, &[0; 69]), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "request body before FileData of MsgId 4020 has 69 bytes, expected 70"
        );

        let mut wrong = file;
        wrong.file_md5 = [0; 16];
        let e = encode(&Packet::request(3, wrong), None).unwrap_err();
        assert!(matches!(e, EncodeError::FileMd5Mismatch { .. }), "{e}");
    }

    #[test]
    fn encode_refuses_bad_fields_and_leaves_the_buffer_alone() {
        let long_host = Connect {
            timestamp: 1,
            svr_host: "x".repeat(33),
        };
        let nul_name = FileDeliver::new(1, 1, 1, 1, FileType::Media, "a\0b", Bytes::new());
        let cases: Vec<(Packet, &str)> = vec![
            (
                Packet::request(1, long_host),
                "field `svrHost` is 33 bytes long, the maximum is 32",
            ),
            (
                Packet::request(1, nul_name),
                "field `FileName` contains a NUL byte",
            ),
            (
                Packet::new(5, 1, Request::Unlock(unlock())),
                "packet devId 5 of MsgId 4001 does not match the expected devId 1001",
            ),
            (
                Packet::new(5, 1, Request::Heartbeat(Heartbeat::new(1))),
                "packet devId 5 of MsgId 9002 does not match the expected devId 0",
            ),
        ];
        for (packet, message) in cases {
            let mut out = BytesMut::from(&b"keep"[..]);
            let e = packet
                .encode(Some(&cipher()), &CodecConfig::default(), &mut out)
                .unwrap_err();
            assert_eq!(e.to_string(), message);
            assert_eq!(&out[..], b"keep");
        }
        let big = FileDeliver::new(
            1,
            1,
            1,
            1,
            FileType::Media,
            "big",
            Bytes::from(vec![0u8; 1000]),
        );
        let mut out = BytesMut::from(&b"keep"[..]);
        let e = Packet::request(1, big)
            .encode(None, &CodecConfig::default().max_body_len(1000), &mut out)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "frame body of 1070 bytes exceeds the maximum of 1000 bytes"
        );
        assert_eq!(&out[..], b"keep");
    }

    #[test]
    fn fixed_strings_in_frames_refuse_garbage_after_the_padding() {
        let mut body = BytesMut::new();
        Heartbeat::new(1).put(&mut body);
        body[8 + 20] = b'!';
        let e = Packet::decode(&raw_frame(9002, false, 0, 0, &body), None).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::FieldPadding {
                    field: "svrHost",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_msg_ids_stay_raw_and_round_trip() {
        for (reply, crypt, body) in [
            (false, 1u8, &b"\x01\x02"[..]),
            (true, 0, &b"\x05zz"[..]),
            (false, 0, &b""[..]),
        ] {
            let frame = raw_frame(4242, reply, crypt, 77, body);
            let p = Packet::decode(&frame, None).unwrap();
            assert!(!p.message.is_known());
            assert_eq!(p.message.msg_id(), MsgId::Other(4242));
            let mut wire = BytesMut::new();
            crate::codec::encode_frame(&CodecConfig::default(), &frame, &mut wire).unwrap();
            assert_eq!(encode(&p, None).unwrap(), wire);
        }
        let e = Packet::decode(&raw_frame(4242, true, 0, 1, b""), None).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::BodyLength {
                    expected: 1,
                    found: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn wire_codes_round_trip_every_value() {
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(RespCode::from(v)), v);
            assert_eq!(u8::from(MotorPowerFlag::from(v)), v);
            assert_eq!(u8::from(FileType::from(v)), v);
            assert_eq!(u8::from(LogSwitch::from(v)), v);
        }
        assert_eq!(RespCode::from(0xff), RespCode::Error);
        assert_eq!(MotorPowerFlag::from(0xff), MotorPowerFlag::Unlimited);
        assert_eq!(MsgId::from(4041), MsgId::SetLogLevel);
        assert_eq!(MsgId::from(4006), MsgId::Other(4006));
        assert_eq!(MsgId::Other(4006).crypt_flag(), None);
        assert_eq!(LightFlags::from_bits_retain(0x8000).bits(), 0x8000);
    }
}
