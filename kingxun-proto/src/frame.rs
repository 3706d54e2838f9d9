//! The binary link's frame: the 19-byte [`Header`] and the [`Frame`] it delimits, with the header's wire codes
//! ([`MsgId`], [`CryptFlag`]). Plain data and its byte layout only; reading frames off a stream (and every
//! check that can fail) is [`crate::codec`]'s, typed bodies are [`crate::message`]'s.
//!
//! ```text
//!  0    2    3     4      6      7        11      15        19
//!  +----+----+-----+------+------+--------+-------+---------+----------------------+
//!  | KX | 01 |flags| MsgId| Crypt| devId  | seq   | bodyLen | body (bodyLen bytes) |
//!  |4b58|    |bit0 | u16  | Flag | u32    | u32   | u32     | fields, or sealed    |
//!  |    |    |reply|      | 0/1  |        |       |         | fields (see crypto)  |
//!  +----+----+-----+------+------+--------+-------+---------+----------------------+
//! ```
//!
//! All integers are big-endian.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// The frame magic `KX`.
pub const MAGIC: [u8; 2] = *b"KX";

/// The only frame version.
pub const VERSION: u8 = 1;

/// Header length in bytes.
pub const HEADER_LEN: usize = 19;

/// Flags bit 0: the frame is a reply.
pub(crate) const FLAG_REPLY: u8 = 0x01;

/// A frame header, less `bodyLen` (which is the length of [`Frame::body`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Flags bit 0: a reply.
    pub reply: bool,
    /// The MsgId.
    pub msg_id: MsgId,
    /// The CryptFlag.
    pub crypt: CryptFlag,
    /// devId: the vehicle, 0 for 9001/9002.
    pub dev_id: u32,
    /// seq: chosen by the requester, echoed by the reply.
    pub seq: u32,
}

impl Header {
    /// The 19 header bytes with the given `bodyLen`.
    #[must_use]
    pub fn to_bytes(&self, body_len: u32) -> [u8; HEADER_LEN] {
        let [i0, i1] = u16::from(self.msg_id).to_be_bytes();
        let [d0, d1, d2, d3] = self.dev_id.to_be_bytes();
        let [s0, s1, s2, s3] = self.seq.to_be_bytes();
        let [l0, l1, l2, l3] = body_len.to_be_bytes();
        let flags = if self.reply { FLAG_REPLY } else { 0 };
        [
            MAGIC[0],
            MAGIC[1],
            VERSION,
            flags,
            i0,
            i1,
            self.crypt.to_u8(),
            d0,
            d1,
            d2,
            d3,
            s0,
            s1,
            s2,
            s3,
            l0,
            l1,
            l2,
            l3,
        ]
    }

    /// Appends the 19 header bytes with the given `bodyLen`.
    pub fn put(&self, body_len: u32, dst: &mut BytesMut) {
        dst.put_slice(&self.to_bytes(body_len));
    }
}

/// One delimited frame: its header and its body bytes (sealed or plain, as on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body, exactly `bodyLen` bytes.
    pub body: Bytes,
}

wire_enum! {
    /// The MsgId of a frame: `9001 - connection verification`, and so on.
    pub enum MsgId: u16 {
        /// 9001 - connection verification (sealed with the initial KEY and IV).
        Connect = 9001,
        /// 9002 - server heartbeat.
        Heartbeat = 9002,
        /// 4001 - remote unlock.
        Unlock = 4001,
        /// 4002 - remote lock.
        Lock = 4002,
        /// 4003 - anti-theft guard.
        Guard = 4003,
        /// 4004 - open electric locks.
        OpenElecLock = 4004,
        /// 4005 - light control.
        LightCtrl = 4005,
        /// 4020 - file delivery.
        FileDeliver = 4020,
        /// 4040 - server packet logging.
        SetPacketLog = 4040,
        /// 4041 - device log level.
        SetLogLevel = 4041,
    }
}

impl MsgId {
    /// The CryptFlag DECISIONS.md prescribes for this MsgId (requests and replies alike), `None` if unknown.
    #[must_use]
    pub fn crypt_flag(self) -> Option<CryptFlag> {
        match self {
            Self::Connect
            | Self::Unlock
            | Self::Lock
            | Self::Guard
            | Self::OpenElecLock
            | Self::LightCtrl => Some(CryptFlag::Aes),
            Self::Heartbeat | Self::FileDeliver | Self::SetPacketLog | Self::SetLogLevel => {
                Some(CryptFlag::Plain)
            }
            Self::Other(_) => None,
        }
    }

    /// Whether this crate has a typed message for the MsgId.
    #[must_use]
    pub fn is_known(self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", u16::from(*self))
    }
}

/// The header's CryptFlag: how the body's fields are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptFlag {
    /// 0 - plain fields.
    Plain,
    /// 1 - fields sealed with AES-128-CBC, `nDataLen` and CRC-16 (see [`crate::crypto`]).
    Aes,
}

impl CryptFlag {
    /// The flag from its byte, `None` for anything but 0 and 1.
    #[must_use]
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Plain),
            1 => Some(Self::Aes),
            _ => None,
        }
    }

    /// The flag's byte.
    #[must_use]
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Plain => 0,
            Self::Aes => 1,
        }
    }
}

impl fmt::Display for CryptFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain => f.write_str("0 (plain)"),
            Self::Aes => f.write_str("1 (AES-128-CBC)"),
        }
    }
}
