//! Typed jetinno messages: one enum per direction, and [`Message`] for traffic of either direction.
//!
//! Every body is a JSON object whose `cmd` names the message. Field names follow the wire exactly (`Amount`,
//! `ProductName`, `isok`, ...). An unknown `cmd` decodes to an `Unknown` variant that keeps the raw JSON, so it
//! round-trips and the connection goes on.

mod machine;
mod server;
mod types;

use std::io::Write;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use machine::{
    ErrorReport, Login, MachineHeartbeat, MachineStatus, ProductDone, QrCodeRequest,
};
pub use server::{
    Discount, LoginReply, OpenDoor, PayDone, PriceSet, Products, QrCodeReply, Reboot, Rinsing,
    ServerHeartbeat, Upgrade,
};
pub use types::{
    FastCode, FastCodeError, MachineState, PayType, PriceEntry, QrType, FAST_CODE_MAX_LEVEL,
};

use crate::error::{DecodeError, EncodeError};

/// The name of the tag field of every jetinno body.
pub const TAG: &str = "cmd";

/// A message whose `cmd` this crate does not know, kept as the raw JSON object (`cmd` included).
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownMessage {
    /// The unknown `cmd`.
    pub cmd: String,
    /// The whole JSON object as received.
    pub raw: Value,
}

/// A type that is a whole jetinno body: decodable from and encodable to JSON bytes.
pub trait WireMessage: Sized {
    /// Decodes one body (the JSON after the 12-byte head).
    ///
    /// # Errors
    /// [`DecodeError::NotUtf8`] or [`DecodeError::Json`] naming the `cmd` and the failing field.
    fn from_json(body: &[u8]) -> Result<Self, DecodeError>;

    /// Writes the body as strict JSON.
    ///
    /// # Errors
    /// [`EncodeError`] when the message cannot be written.
    fn write_json<W: Write>(&self, out: W) -> Result<(), EncodeError>;

    /// The body as strict JSON bytes.
    ///
    /// # Errors
    /// As [`WireMessage::write_json`].
    fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out)?;
        Ok(out)
    }
}

/// Serializes a known message with its `cmd` first.
#[derive(Serialize)]
struct WithCmd<'a, T> {
    cmd: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

/// Parses a body under the strict-then-lenient rule; errors name the `cmd` and the failing field.
pub(crate) fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    proto_common::json::from_slice_lenient(body).map_err(|source| {
        // UTF-8 is checked on the error path only: serde_json already refuses invalid UTF-8.
        match std::str::from_utf8(body) {
            Err(e) => DecodeError::NotUtf8 {
                offset: e.valid_up_to(),
            },
            Ok(_) => DecodeError::Json {
                name: proto_common::json::peek_tag(body, TAG).unwrap_or_else(|| "?".into()),
                source,
            },
        }
    })
}

/// Writes `value` as JSON, naming `name` in the error.
fn write_body<W: Write, T: Serialize + ?Sized>(
    out: W,
    name: &str,
    value: &T,
) -> Result<(), EncodeError> {
    serde_json::to_writer(out, value).map_err(|source| EncodeError::Json {
        name: name.to_owned(),
        source,
    })
}

/// Checks that an unknown message's raw JSON is an object carrying its `cmd`.
fn check_unknown(u: &UnknownMessage) -> Result<(), EncodeError> {
    match u.raw.get(TAG) {
        Some(Value::String(cmd)) if *cmd == u.cmd => Ok(()),
        _ => Err(EncodeError::NotAMessage),
    }
}

/// Declares one direction's message enum with its serde, dispatch and [`WireMessage`] impls.
macro_rules! message_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant($ty),)*
            /// A message whose `cmd` this crate does not know, kept raw.
            Unknown(UnknownMessage),
        }

        impl $name {
            /// Every `cmd` this enum knows, in spec order.
            pub const KNOWN: &'static [&'static str] = &[$($wire,)*];

            /// The wire `cmd` of this message.
            #[must_use]
            pub fn name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $wire,)*
                    Self::Unknown(u) => &u.cmd,
                }
            }

            /// Whether this is a message the crate knows (not [`Self::Unknown`]).
            #[must_use]
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl WireMessage for $name {
            fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
                decode_body(body)
            }

            fn write_json<W: Write>(&self, out: W) -> Result<(), EncodeError> {
                if let Self::Unknown(u) = self {
                    check_unknown(u)?;
                }
                write_body(out, self.name(), self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(m) => WithCmd { cmd: $wire, body: m }.serialize(s),)*
                    Self::Unknown(u) => u.raw.serialize(s),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                proto_common::json::deserialize_tagged(d)
            }
        }

        impl proto_common::json::TaggedMessage for $name {
            const TAG: &'static str = TAG;

            fn deserialize_body<'de, A: serde::de::MapAccess<'de>>(
                tag: &str,
                body: A,
            ) -> Result<Self, A::Error> {
                match tag {
                    $($wire => {
                        let de = serde::de::value::MapAccessDeserializer::new(body);
                        <$ty>::deserialize(de).map(Self::$variant)
                    })*
                    other => proto_common::json::collect_unknown(TAG, other, body)
                        .map(|raw| Self::Unknown(UnknownMessage { cmd: other.to_owned(), raw })),
                }
            }
        }

        $(impl From<$ty> for $name {
            fn from(m: $ty) -> Self {
                Self::$variant(m)
            }
        })*
    };
}

message_enum! {
    /// A message from the machine (TCP client) to the server.
    MachineMessage {
        /// `hb` - heartbeat, every 20 s.
        Heartbeat(MachineHeartbeat) = "hb",
        /// `login` - signed login right after connecting.
        Login(Login) = "login",
        /// `machinestatus` - state report after login or on a change.
        MachineStatus(MachineStatus) = "machinestatus",
        /// `error` - an error or alarm set or cleared.
        Error(ErrorReport) = "error",
        /// `qrcode` - asks the server for a payment QR code for an order.
        QrCode(QrCodeRequest) = "qrcode",
        /// `productdone` - a product was made.
        ProductDone(ProductDone) = "productdone",
    }
}

message_enum! {
    /// A message from the server to the machine.
    ServerMessage {
        /// `hb` - heartbeat answer.
        Heartbeat(ServerHeartbeat) = "hb",
        /// `login_r` - login result.
        LoginReply(LoginReply) = "login_r",
        /// `qrcode_r` - the QR code for an order.
        QrCodeReply(QrCodeReply) = "qrcode_r",
        /// `pay_done` - payment result for an order; the machine makes the product when paid.
        PayDone(PayDone) = "pay_done",
        /// `products` - make a product without payment, with a taste code.
        Products(Products) = "products",
        /// `reboot` - remote reboot.
        Reboot(Reboot) = "reboot",
        /// `opendoor` - remote door opening.
        OpenDoor(OpenDoor) = "opendoor",
        /// `upgrade` - download and install an update.
        Upgrade(Upgrade) = "upgrade",
        /// `rinsing` - remote rinse.
        Rinsing(Rinsing) = "rinsing",
        /// `priceset` - set product prices.
        PriceSet(PriceSet) = "priceset",
        /// `discount` - set the discount.
        Discount(Discount) = "discount",
    }
}

/// A message of either direction, for tools that read captured traffic.
///
/// The direction is inferred from `cmd`. `hb` exists in both directions: it is a machine heartbeat when it
/// carries `vmc_no` and a server heartbeat otherwise. An unknown `cmd` is [`Message::Unknown`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// Machine -> server.
    Machine(MachineMessage),
    /// Server -> machine.
    Server(ServerMessage),
    /// A `cmd` neither direction knows.
    Unknown(UnknownMessage),
}

impl Message {
    /// The wire `cmd`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Machine(m) => m.name(),
            Self::Server(m) => m.name(),
            Self::Unknown(u) => &u.cmd,
        }
    }

    /// Whether the `cmd` is known to this crate.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }
}

impl WireMessage for Message {
    fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
        decode_body(body)
    }

    fn write_json<W: Write>(&self, out: W) -> Result<(), EncodeError> {
        match self {
            Self::Machine(m) => m.write_json(out),
            Self::Server(m) => m.write_json(out),
            Self::Unknown(u) => {
                check_unknown(u)?;
                write_body(out, &u.cmd, &u.raw)
            }
        }
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Machine(m) => m.serialize(s),
            Self::Server(m) => m.serialize(s),
            Self::Unknown(u) => u.raw.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        proto_common::json::deserialize_tagged(d)
    }
}

impl proto_common::json::TaggedMessage for Message {
    const TAG: &'static str = TAG;

    fn deserialize_body<'de, A: serde::de::MapAccess<'de>>(
        tag: &str,
        body: A,
    ) -> Result<Self, A::Error> {
        let machine = MachineMessage::KNOWN.contains(&tag);
        let server = ServerMessage::KNOWN.contains(&tag);
        match (machine, server) {
            (true, false) => MachineMessage::deserialize_body(tag, body).map(Self::Machine),
            (false, true) => ServerMessage::deserialize_body(tag, body).map(Self::Server),
            (false, false) => proto_common::json::collect_unknown(TAG, tag, body).map(|raw| {
                Self::Unknown(UnknownMessage {
                    cmd: tag.to_owned(),
                    raw,
                })
            }),
            (true, true) => {
                // `hb`: the machine's carries `vmc_no`, the server's does not.
                let fields = serde_json::Map::<String, Value>::deserialize(
                    serde::de::value::MapAccessDeserializer::new(body),
                )?;
                let machine_heartbeat = fields.contains_key("vmc_no");
                let body = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(
                    fields.into_iter(),
                );
                let message = if machine_heartbeat {
                    MachineMessage::deserialize_body(tag, body).map(Self::Machine)
                } else {
                    ServerMessage::deserialize_body(tag, body).map(Self::Server)
                };
                message.map_err(serde::de::Error::custom)
            }
        }
    }
}
