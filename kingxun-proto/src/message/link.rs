//! The link between WebSvr and svrInstance: 9001 connection verification and 9002 heartbeat.

use std::fmt;

use bytes::BufMut;
use serde::{Deserialize, Serialize};

use super::wire::{check_fixed_str, put_fixed_str, FixedBody, Reader};
use super::RespCode;
use crate::error::{DecodeError, EncodeError};

/// Size of the `svrHost` field: 32 bytes UTF-8, right-padded with NUL (DECISIONS.md).
pub const SVR_HOST_LEN: usize = 32;

/// The only `svrHost` a 9002 heartbeat may carry (kingxun.md, 9002: "当前仅允许 kingxun.site").
pub const HEARTBEAT_SVR_HOST: &str = "kingxun.site";

/// 9001 - connection verification, WebSvr -> svrInstance, sealed with the initial KEY and IV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connect {
    /// `timestamp` - Unix milliseconds; svrInstance refuses one more than 300 s off (RespCode 1).
    pub timestamp: u64,
    /// `svrHost` - at most 32 bytes UTF-8.
    #[serde(rename = "svrHost")]
    pub svr_host: String,
}

impl FixedBody for Connect {
    const LEN: usize = 8 + SVR_HOST_LEN;

    fn check(&self) -> Result<(), EncodeError> {
        check_fixed_str("svrHost", &self.svr_host, SVR_HOST_LEN)
    }

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u64(self.timestamp);
        put_fixed_str::<SVR_HOST_LEN>(dst, &self.svr_host);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            timestamp: r.u64()?,
            svr_host: r.fixed_str::<SVR_HOST_LEN>("svrHost")?,
        })
    }
}

/// 9001 reply, svrInstance -> WebSvr: `RespCode`, then (when accepted) the sealed session parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectReply {
    /// `RespCode` - 0 ok, 1 refused.
    pub code: RespCode,
    /// The sealed part; absent when the reply is only a `RespCode` (a refusal).
    pub session: Option<ConnectSession>,
}

impl ConnectReply {
    /// An accepting reply carrying `session`.
    #[must_use]
    pub fn accepted(session: ConnectSession) -> Self {
        Self {
            code: RespCode::Ok,
            session: Some(session),
        }
    }

    /// A refusal (RespCode 1) with no sealed part.
    #[must_use]
    pub fn refused() -> Self {
        Self {
            code: RespCode::Refused,
            session: None,
        }
    }

    /// The IV both ends switch to: `newIV` of an accepting (RespCode 0) reply.
    #[must_use]
    pub fn new_iv(&self) -> Option<[u8; 16]> {
        match (&self.code, &self.session) {
            (RespCode::Ok, Some(session)) => Some(session.new_iv),
            _ => None,
        }
    }
}

/// The sealed fields of an accepting 9001 reply. `Debug` does not print `newIV`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectSession {
    /// `sessionId`.
    #[serde(rename = "sessionId")]
    pub session_id: u32,
    /// `newIV` - the IV both directions use from the next frame on.
    #[serde(rename = "newIV", with = "super::hexser::array")]
    pub new_iv: [u8; 16],
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
}

impl fmt::Debug for ConnectSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectSession")
            .field("session_id", &self.session_id)
            .field("new_iv", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl FixedBody for ConnectSession {
    const LEN: usize = 4 + 16 + 8;

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u32(self.session_id);
        dst.put_slice(&self.new_iv);
        dst.put_u64(self.timestamp);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            session_id: r.u32()?,
            new_iv: r.array()?,
            timestamp: r.u64()?,
        })
    }
}

/// 9002 - heartbeat, WebSvr -> svrInstance, plain. WebSvr sends one every 30 s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
    /// `svrHost` - at most 32 bytes; svrInstance accepts only [`HEARTBEAT_SVR_HOST`].
    #[serde(rename = "svrHost")]
    pub svr_host: String,
}

impl Heartbeat {
    /// A heartbeat from [`HEARTBEAT_SVR_HOST`].
    #[must_use]
    pub fn new(timestamp: u64) -> Self {
        Self {
            timestamp,
            svr_host: HEARTBEAT_SVR_HOST.to_owned(),
        }
    }
}

impl FixedBody for Heartbeat {
    const LEN: usize = 8 + SVR_HOST_LEN;

    fn check(&self) -> Result<(), EncodeError> {
        check_fixed_str("svrHost", &self.svr_host, SVR_HOST_LEN)
    }

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u64(self.timestamp);
        put_fixed_str::<SVR_HOST_LEN>(dst, &self.svr_host);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            timestamp: r.u64()?,
            svr_host: r.fixed_str::<SVR_HOST_LEN>("svrHost")?,
        })
    }
}

/// 9002 reply, svrInstance -> WebSvr, plain: `RespCode`, then the instance's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// `RespCode` - 0 ok.
    pub code: RespCode,
    /// `totalDevCount` and `svrStartTime`; absent when the reply is only a `RespCode`.
    pub status: Option<HeartbeatStatus>,
}

/// The fields of a 9002 reply after `RespCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatStatus {
    /// `totalDevCount` - devices connected to the instance.
    #[serde(rename = "totalDevCount")]
    pub total_dev_count: u32,
    /// `svrStartTime` - when the instance started, Unix milliseconds.
    #[serde(rename = "svrStartTime")]
    pub svr_start_time: u64,
}

impl FixedBody for HeartbeatStatus {
    const LEN: usize = 4 + 8;

    fn put<B: BufMut>(&self, dst: &mut B) {
        dst.put_u32(self.total_dev_count);
        dst.put_u64(self.svr_start_time);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            total_dev_count: r.u32()?,
            svr_start_time: r.u64()?,
        })
    }
}
