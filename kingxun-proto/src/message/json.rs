//! The JSON form of a [`Packet`], used by tools and logs:
//!
//! ```json
//! {"msgId":4001,"reply":false,"cryptFlag":1,"devId":1001,"seq":7,"respCode":null,"body":{"devId":1001,...}}
//! ```
//!
//! `body` holds the fields under the spec's own names (`devtype`, `MotorPowerFlag`, `FileMD5`, ...), byte
//! strings as lowercase hex and flags as integers; `respCode` is the reply's code or `null` for a request. A
//! reply that is only a `RespCode` has the body `{}`. An unknown MsgId has `{"raw":"<hex>"}`: the body as on
//! the wire (after `RespCode` for a reply), sealed or not.

use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{
    ConnectReply, CryptFlag, HeartbeatReply, Message, MsgId, Packet, RawReply, RawRequest, Reply,
    Request, RespCode,
};

#[derive(Serialize)]
struct PacketOut {
    #[serde(rename = "msgId")]
    msg_id: u16,
    reply: bool,
    #[serde(rename = "cryptFlag")]
    crypt_flag: u8,
    #[serde(rename = "devId")]
    dev_id: u32,
    seq: u32,
    #[serde(rename = "respCode")]
    resp_code: Option<RespCode>,
    body: Value,
}

#[derive(Serialize)]
struct RawOut<'a> {
    #[serde(with = "super::hexser::bytes")]
    raw: &'a Bytes,
}

impl Serialize for Packet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn value<T: Serialize, E: serde::ser::Error>(body: &T) -> Result<Value, E> {
            serde_json::to_value(body).map_err(E::custom)
        }
        let body = match &self.message {
            Message::Request(r) => match r {
                Request::Connect(m) => value(m)?,
                Request::Heartbeat(m) => value(m)?,
                Request::Unlock(m) => value(m)?,
                Request::Lock(m) => value(m)?,
                Request::Guard(m) => value(m)?,
                Request::OpenElecLock(m) => value(m)?,
                Request::LightCtrl(m) => value(m)?,
                Request::FileDeliver(m) => value(m)?,
                Request::SetPacketLog(m) => value(m)?,
                Request::SetLogLevel(m) => value(m)?,
                Request::Unknown(raw) => value(&RawOut { raw: &raw.body })?,
            },
            Message::Reply(r) => match r {
                Reply::Connect(ConnectReply {
                    session: Some(s), ..
                }) => value(s)?,
                Reply::Heartbeat(HeartbeatReply {
                    status: Some(s), ..
                }) => value(s)?,
                Reply::Unknown(raw) => value(&RawOut { raw: &raw.rest })?,
                _ => Value::Object(Map::new()),
            },
        };
        PacketOut {
            msg_id: self.message.msg_id().into(),
            reply: self.message.is_reply(),
            crypt_flag: self.message.crypt_flag().to_u8(),
            dev_id: self.dev_id,
            seq: self.seq,
            resp_code: match &self.message {
                Message::Reply(r) => Some(r.code()),
                Message::Request(_) => None,
            },
            body,
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
struct PacketIn {
    #[serde(rename = "msgId")]
    msg_id: u16,
    reply: bool,
    #[serde(rename = "cryptFlag")]
    crypt_flag: u8,
    #[serde(rename = "devId")]
    dev_id: u32,
    seq: u32,
    #[serde(rename = "respCode", default)]
    resp_code: Option<RespCode>,
    #[serde(default)]
    body: Option<Value>,
}

#[derive(Deserialize)]
struct RawIn {
    #[serde(with = "super::hexser::bytes")]
    raw: Bytes,
}

/// Reads the JSON form back; `cryptFlag` must be the one the MsgId requires, `respCode` must be given for a
/// reply and `null` (or absent) for a request, and `body` must fit the message.
impl<'de> Deserialize<'de> for Packet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = PacketIn::deserialize(deserializer)?;
        let msg_id = MsgId::from(json.msg_id);
        let crypt = CryptFlag::from_u8(json.crypt_flag).ok_or_else(|| {
            D::Error::custom(format_args!(
                "cryptFlag {} is neither 0 nor 1",
                json.crypt_flag
            ))
        })?;
        if let Some(expected) = msg_id.crypt_flag() {
            if expected != crypt {
                return Err(D::Error::custom(format_args!(
                    "MsgId {msg_id} must carry cryptFlag {expected}, found {crypt}"
                )));
            }
        }
        let body = json.body.unwrap_or_else(|| Value::Object(Map::new()));
        let is_empty = body.as_object().is_some_and(Map::is_empty);
        fn typed<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            msg_id: MsgId,
            body: Value,
        ) -> Result<T, E> {
            serde_json::from_value(body)
                .map_err(|e| E::custom(format_args!("body of MsgId {msg_id}: {e}")))
        }
        let message = if json.reply {
            let code = json.resp_code.ok_or_else(|| {
                D::Error::custom(format_args!("reply to MsgId {msg_id} needs a respCode"))
            })?;
            let bare = |reply: fn(RespCode) -> Reply| {
                if is_empty {
                    Ok(reply(code))
                } else {
                    Err(D::Error::custom(format_args!(
                        "reply to MsgId {msg_id} has no fields after respCode: body must be {{}}"
                    )))
                }
            };
            Message::Reply(match msg_id {
                MsgId::Connect => Reply::Connect(ConnectReply {
                    code,
                    session: if is_empty {
                        None
                    } else {
                        Some(typed(msg_id, body)?)
                    },
                }),
                MsgId::Heartbeat => Reply::Heartbeat(HeartbeatReply {
                    code,
                    status: if is_empty {
                        None
                    } else {
                        Some(typed(msg_id, body)?)
                    },
                }),
                MsgId::Unlock => bare(Reply::Unlock)?,
                MsgId::Lock => bare(Reply::Lock)?,
                MsgId::Guard => bare(Reply::Guard)?,
                MsgId::OpenElecLock => bare(Reply::OpenElecLock)?,
                MsgId::LightCtrl => bare(Reply::LightCtrl)?,
                MsgId::FileDeliver => bare(Reply::FileDeliver)?,
                MsgId::SetPacketLog => bare(Reply::SetPacketLog)?,
                MsgId::SetLogLevel => bare(Reply::SetLogLevel)?,
                MsgId::Other(id) => Reply::Unknown(RawReply {
                    msg_id: id,
                    crypt,
                    code,
                    rest: typed::<RawIn, D::Error>(msg_id, body)?.raw,
                }),
            })
        } else {
            if json.resp_code.is_some() {
                return Err(D::Error::custom(format_args!(
                    "request MsgId {msg_id} cannot carry a respCode"
                )));
            }
            Message::Request(match msg_id {
                MsgId::Connect => Request::Connect(typed(msg_id, body)?),
                MsgId::Heartbeat => Request::Heartbeat(typed(msg_id, body)?),
                MsgId::Unlock => Request::Unlock(typed(msg_id, body)?),
                MsgId::Lock => Request::Lock(typed(msg_id, body)?),
                MsgId::Guard => Request::Guard(typed(msg_id, body)?),
                MsgId::OpenElecLock => Request::OpenElecLock(typed(msg_id, body)?),
                MsgId::LightCtrl => Request::LightCtrl(typed(msg_id, body)?),
                MsgId::FileDeliver => Request::FileDeliver(typed(msg_id, body)?),
                MsgId::SetPacketLog => Request::SetPacketLog(typed(msg_id, body)?),
                MsgId::SetLogLevel => Request::SetLogLevel(typed(msg_id, body)?),
                MsgId::Other(id) => Request::Unknown(RawRequest {
                    msg_id: id,
                    crypt,
                    body: typed::<RawIn, D::Error>(msg_id, body)?.raw,
                }),
            })
        };
        Ok(Packet {
            dev_id: json.dev_id,
            seq: json.seq,
            message,
        })
    }
}
