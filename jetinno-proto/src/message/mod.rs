//! Typed jetinno messages: one enum per direction, and [`Message`] for traffic of either direction.
//!
//! Every body is a JSON object whose `cmd` names the message. Field names follow the wire exactly (`Amount`,
//! `ProductName`, `isok`, ...). An unknown `cmd` decodes to an `Unknown` variant that keeps the raw JSON, so it
//! round-trips and the connection goes on.

mod machine;
mod server;
mod types;

use std::io::Write;

use bytes::{Buf, BytesMut};

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

use crate::config::HEAD_LEN;
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

    /// Decodes the body of the whole `len`-byte packet at the front of `src` and removes that packet from `src`,
    /// whether its body decoded or not. [`crate::Codec`] decodes through this.
    ///
    /// The default is [`WireMessage::from_json`] followed by the removal. The message enums remove the packet
    /// once the named struct is parsed and only then build the message, which then needs no copy through the
    /// stack.
    ///
    /// # Errors
    /// As [`WireMessage::from_json`].
    ///
    /// # Panics
    /// When `len` is under the head length or over `src.len()`; [`crate::codec::complete_packet_len`] gives a
    /// `len` that is neither.
    fn take_packet(src: &mut BytesMut, len: usize) -> Result<Self, DecodeError> {
        let msg = Self::from_json(&src[HEAD_LEN..len]);
        remove_packet(src, len);
        msg
    }

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

/// Removes the `len`-byte packet at the front of `src`.
#[inline]
fn remove_packet(src: &mut BytesMut, len: usize) {
    if len == src.len() {
        // The buffer held just this packet: clearing keeps the whole capacity at the front for the next read,
        // where advancing would leave the next `reserve` to move the empty buffer back.
        src.clear();
    } else {
        src.advance(len);
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

/// The longest `cmd` either direction knows.
const MAX_KNOWN_TAG_LEN: usize = {
    let (a, b) = (
        longest(MachineMessage::KNOWN),
        longest(ServerMessage::KNOWN),
    );
    if a > b {
        a
    } else {
        b
    }
};

/// The length of the longest of `names`.
const fn longest(names: &[&str]) -> usize {
    let (mut max, mut i) = (0, 0);
    while i < names.len() {
        if names[i].len() > max {
            max = names[i].len();
        }
        i += 1;
    }
    max
}

/// Bodies up to this length take the fast path without their `cmd` field, re-assembled on the stack.
const SHORT_BODY: usize = 256;

/// A body shaped `{"cmd":"<name>"...` (JSON whitespace allowed between the tokens) whose `<name>` has no
/// escape and is short enough to be a known one, as every sender writes it: the fast path of
/// [`WireMessage::from_json`].
///
/// The general path (`decode_body`) gives the same value whenever [`LeadingTag::parse`] succeeds: there too
/// the first `cmd` names the message and its struct sees the fields after it. Any other body, and any failure
/// here, goes down the general path, so accepted inputs, leniency and errors are the general path's.
#[derive(Clone, Copy)]
struct LeadingTag<'a> {
    /// The `cmd`.
    name: &'a [u8],
    /// The whole body.
    body: &'a [u8],
    /// The body after the closing quote of the `cmd` value.
    after: &'a [u8],
}

impl<'a> LeadingTag<'a> {
    /// Splits `body`, or `None` when it does not start with a plain `cmd`.
    ///
    /// Always inlined: returned through the stack, the six-word value is read back before its stores complete,
    /// which stalled a short body's decode (seen in a profile of the hb bench).
    #[inline(always)]
    fn of(body: &'a [u8]) -> Option<Self> {
        // The compact form every sender writes; anything else takes the whitespace-tolerant walk.
        let rest = match body.strip_prefix(br#"{"cmd":""#) {
            Some(rest) => rest,
            None => {
                let rest = skip_json_ws(body).strip_prefix(b"{")?;
                let rest = skip_json_ws(rest).strip_prefix(br#""cmd""#)?;
                let rest = skip_json_ws(rest).strip_prefix(b":")?;
                skip_json_ws(rest).strip_prefix(b"\"")?
            }
        };
        let window = rest.get(..=MAX_KNOWN_TAG_LEN).unwrap_or(rest);
        let end = window.iter().position(|&b| b == b'"' || b == b'\\')?;
        (window[end] == b'"').then(|| Self {
            name: &rest[..end],
            body,
            after: &rest[end + 1..],
        })
    }

    /// Parses the body strictly as `T`, the struct `cmd` names; `None` on any error.
    ///
    /// `T` ignores the `cmd` field like any unknown field, so a short body is parsed without it, as `{` plus
    /// the fields after it: the same value, without reading a key and a string that serde_json would skip.
    fn parse<T: DeserializeOwned>(self) -> Option<T> {
        if self.body.len() <= SHORT_BODY {
            if let Some(fields) = fields_after_first(self.after) {
                let mut object = [0u8; SHORT_BODY];
                object[0] = b'{';
                object[1..=fields.len()].copy_from_slice(fields);
                return serde_json::from_slice(&object[..=fields.len()]).ok();
            }
        }
        serde_json::from_slice(self.body).ok()
    }
}

/// The rest of an object after its first value, from the next key's opening quote or from the closing brace;
/// `None` for anything else (a trailing comma, a syntax error), which is left to a parse of the whole body.
fn fields_after_first(after: &[u8]) -> Option<&[u8]> {
    let rest = skip_json_ws(after);
    match rest.first()? {
        b'}' => Some(rest),
        b',' => {
            let next = skip_json_ws(&rest[1..]);
            (next.first() == Some(&b'"')).then_some(next)
        }
        _ => None,
    }
}

/// `input` without its leading JSON whitespace (space, tab, line feed, carriage return).
fn skip_json_ws(input: &[u8]) -> &[u8] {
    let n = input
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count();
    &input[n..]
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

/// Reads the rest of an unknown message into its raw JSON, `cmd` first.
fn collect_unknown<'de, A: serde::de::MapAccess<'de>>(
    cmd: &str,
    body: A,
) -> Result<UnknownMessage, A::Error> {
    let raw = proto_common::json::collect_unknown(TAG, cmd, body)?;
    Ok(UnknownMessage {
        cmd: cmd.to_owned(),
        raw,
    })
}

/// Declares one direction's message enum ([`proto_common::message_enum!`]) with its fast path, its
/// [`WireMessage`] impl and a `From` impl per message.
macro_rules! message_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal,)* }) => {
        proto_common::message_enum! {
            tag: TAG, accessor: name, field: cmd, unknown: UnknownMessage,
            collect_unknown: collect_unknown, with_tag: WithCmd;
            $(#[$meta])*
            $name { $($(#[$vmeta])* $variant($ty) = $wire,)* }
        }

        impl $name {
            /// The fast path of [`WireMessage::from_json`] (see [`LeadingTag`]); `None` for an unknown `cmd`.
            fn from_leading_tag(tag: LeadingTag<'_>) -> Option<Self> {
                $(if tag.name == $wire.as_bytes() {
                    return tag.parse::<$ty>().map(Self::$variant);
                })*
                None
            }
        }

        impl WireMessage for $name {
            #[inline]
            fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
                if let Some(msg) = LeadingTag::of(body).and_then(Self::from_leading_tag) {
                    return Ok(msg);
                }
                decode_body(body)
            }

            #[inline]
            fn take_packet(src: &mut BytesMut, len: usize) -> Result<Self, DecodeError> {
                if let Some(tag) = LeadingTag::of(&src[HEAD_LEN..len]) {
                    $(if tag.name == $wire.as_bytes() {
                        if let Some(m) = tag.parse::<$ty>() {
                            // The packet goes before the message is built, so nothing is live across the call.
                            remove_packet(src, len);
                            return Ok(Self::$variant(m));
                        }
                    })*
                }
                let msg = decode_body(&src[HEAD_LEN..len]);
                remove_packet(src, len);
                msg
            }

            fn write_json<W: Write>(&self, out: W) -> Result<(), EncodeError> {
                if let Self::Unknown(u) = self {
                    check_unknown(u)?;
                }
                write_body(out, self.name(), self)
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

impl Message {
    /// The fast path of [`WireMessage::from_json`], as for each direction's enum. `hb`, known in both
    /// directions, always takes the general path, which tells the two apart by `vmc_no`.
    fn from_leading_tag(tag: LeadingTag<'_>) -> Option<Self> {
        let machine = MachineMessage::KNOWN
            .iter()
            .any(|k| k.as_bytes() == tag.name);
        let server = ServerMessage::KNOWN
            .iter()
            .any(|k| k.as_bytes() == tag.name);
        match (machine, server) {
            (true, false) => MachineMessage::from_leading_tag(tag).map(Self::Machine),
            (false, true) => ServerMessage::from_leading_tag(tag).map(Self::Server),
            _ => None,
        }
    }
}

impl WireMessage for Message {
    fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
        if let Some(msg) = LeadingTag::of(body).and_then(Self::from_leading_tag) {
            return Ok(msg);
        }
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

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use proptest::prelude::*;

    use super::*;

    /// `from_json` and `take_packet` (fast path first) and the general path alone agree: same value or the same
    /// error; and `take_packet` removes exactly its packet, decoded or not.
    fn same_as_general_path<T: WireMessage + DeserializeOwned + PartialEq + Debug>(body: &[u8]) {
        let general = decode_body::<T>(body);
        same_outcome(body, "from_json", &T::from_json(body), &general);
        for rest in [&b""[..], b"0039000000"] {
            let mut src = BytesMut::from(&b"000000000000"[..]);
            src.extend_from_slice(body);
            src.extend_from_slice(rest);
            let taken = T::take_packet(&mut src, HEAD_LEN + body.len());
            same_outcome(body, "take_packet", &taken, &general);
            assert_eq!(&src[..], rest, "{}", String::from_utf8_lossy(body));
        }
    }

    fn same_outcome<T: PartialEq + Debug>(
        body: &[u8],
        path: &str,
        fast: &Result<T, DecodeError>,
        general: &Result<T, DecodeError>,
    ) {
        match (fast, general) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{path}: {}", String::from_utf8_lossy(body)),
            (Err(a), Err(b)) => assert_eq!(
                format!("{a:?} {a}"),
                format!("{b:?} {b}"),
                "{path}: {}",
                String::from_utf8_lossy(body)
            ),
            _ => panic!(
                "{path}: {}: fast {fast:?}, general {general:?}",
                String::from_utf8_lossy(body)
            ),
        }
    }

    fn same_in_every_direction(body: &[u8]) {
        same_as_general_path::<MachineMessage>(body);
        same_as_general_path::<ServerMessage>(body);
        same_as_general_path::<Message>(body);
    }

    /// The fast path alone, for a body it must take.
    fn fast<T>(body: &[u8], from_leading_tag: fn(LeadingTag<'_>) -> Option<T>) -> Option<T> {
        from_leading_tag(LeadingTag::of(body).expect("a leading plain `cmd`"))
    }

    const TRICKY: &[&str] = &[
        // Compact and with whitespace anywhere JSON allows it.
        r#"{"cmd":"hb","vmc_no":33232}"#,
        "{\n  \"cmd\": \"hb\",\n  \"vmc_no\": 33232\n}\n",
        " \t{ \"cmd\" :\r\n\"hb\" , \"vmc_no\" : 1 } ",
        r#"{"cmd":"hb" ,"vmc_no":1}"#,
        r#"{"cmd":"hb"}"#,
        r#"{"cmd":"hb" }"#,
        r#"{"cmd":"hb","vmc_no":null}"#,
        // Form feed is not JSON whitespace.
        "{\x0c\"cmd\":\"hb\",\"vmc_no\":1}",
        // A repeated `cmd`: the first one names the message.
        r#"{"cmd":"hb","vmc_no":1,"cmd":"login"}"#,
        r#"{"cmd":"hb","cmd":"login","vmc_no":1}"#,
        r#"{"cmd":"login","cmd":"hb","vmc_no":1}"#,
        r#"{"cmd":"hb","vmc_no":1,"cmd":5}"#,
        r#"{"cmd":"reboot","vmc_no":1,"cmd":{"x":[1,2]}}"#,
        r#"{"vmc_no":1,"cmd":"hb","cmd":"login"}"#,
        r#"{"cmd":"brew","cmd":"hb","vmc_no":1}"#,
        // Escapes in the key or the name.
        r#"{"cmd":"h\u0062","vmc_no":1}"#,
        r#"{"c\u006dd":"hb","vmc_no":1}"#,
        r#"{"cmd":"hb\"","vmc_no":1}"#,
        r#"{"cmd":"\\hb","vmc_no":1}"#,
        r#"{"cmd":"hb\\","vmc_no":1}"#,
        r#"{"cmd":"reboot","vmc_no":1,"x":"a\"}\","}"#,
        // Trailing commas, where the lenient retry applies.
        r#"{"cmd":"hb","vmc_no":1,}"#,
        r#"{"cmd":"hb",}"#,
        r#"{"cmd":"hb" , }"#,
        r#"{"cmd":"reboot","vmc_no":1 , }"#,
        r#"{"cmd":"priceset","vmc_no":1,"price":[[1,2,3],],}"#,
        r#"{"cmd":"hb",,"vmc_no":1}"#,
        // Unknown names, near misses and over-long names.
        r#"{"cmd":"brew","x":1}"#,
        r#"{"cmd":"hbx","vmc_no":1}"#,
        r#"{"cmd":"HB","vmc_no":1}"#,
        r#"{"cmd":"","vmc_no":1}"#,
        r#"{"cmd":"machinestatusX","vmc_no":1,"status":"dooropen"}"#,
        r#"{"cmd":"machinestatus","vmc_no":1,"status":"dooropen"}"#,
        r#"{"cmd":"a-name-longer-than-any-known-one","vmc_no":1}"#,
        // Wrong field types, missing and duplicate fields.
        r#"{"cmd":"hb","vmc_no":"1"}"#,
        r#"{"cmd":"hb","vmc_no":-1}"#,
        r#"{"cmd":"hb","vmc_no":1.0}"#,
        r#"{"cmd":"hb","vmc_no":1,"vmc_no":2}"#,
        r#"{"cmd":"login","vmc_no":1}"#,
        r#"{"cmd":"products","vmc_no":1,"product_id":2,"fastcode":263,"paydone":true,"paytype":"fastcode"}"#,
        r#"{"cmd":5}"#,
        r#"{"cmd":null,"vmc_no":1}"#,
        // Not one whole object.
        "",
        "[1]",
        r#""hb""#,
        r#"{"cmd":"hb""#,
        r#"{"cmd":"hb","#,
        r#"{"cmd":"hb","vmc_no":1"#,
        r#"{"cmd":"hb","vmc_no":1} x"#,
        r#"{"cmd":"hb","vmc_no":1}{"cmd":"hb"}"#,
        r#"{"cmd":"hb" "vmc_no":1}"#,
        r#"{"cmd":"hb",1:2}"#,
        r#"{"cmd":"hb","vmc_no":1,"extra":{"cmd":"login","a":[1,{}]}}"#,
    ];

    #[test]
    fn fast_and_general_paths_agree_on_tricky_bodies() {
        for body in TRICKY {
            same_in_every_direction(body.as_bytes());
        }
        // Invalid UTF-8 inside a string, and a bare invalid byte.
        same_in_every_direction(b"{\"cmd\":\"hb\",\"vmc_no\":1,\"x\":\"\xff\"}");
        same_in_every_direction(b"{\"cmd\":\"h\xffb\",\"vmc_no\":1}");
        same_in_every_direction(b"{\"cmd\":\"reboot\",\"vmc_no\":1}\xff");
    }

    #[test]
    fn fast_and_general_paths_agree_on_the_spec_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                same_in_every_direction(&std::fs::read(&path).unwrap());
            }
        }
    }

    #[test]
    fn fast_and_general_paths_agree_on_long_bodies() {
        let price: Vec<String> = (0..40).map(|i| format!("[{i},{},1]", 100 * i)).collect();
        let body = format!(
            r#"{{"cmd":"priceset","vmc_no":1,"price":[{}]}}"#,
            price.join(",")
        );
        assert!(body.len() > SHORT_BODY);
        same_in_every_direction(body.as_bytes());
        assert!(fast(body.as_bytes(), ServerMessage::from_leading_tag).is_some());
        // Around the stack buffer's edge.
        for pad in SHORT_BODY - 40..SHORT_BODY + 4 {
            let body = format!(
                r#"{{"cmd":"upgrade","vmc_no":1,"dir":"{}"}}"#,
                "d".repeat(pad - 39)
            );
            same_in_every_direction(body.as_bytes());
            assert!(fast(body.as_bytes(), ServerMessage::from_leading_tag).is_some());
        }
    }

    #[test]
    fn the_fast_path_takes_plain_leading_tags() {
        let hb = MachineMessage::Heartbeat(MachineHeartbeat { vmc_no: 7 });
        for body in [
            r#"{"cmd":"hb","vmc_no":7}"#,
            "{\n  \"cmd\": \"hb\",\n  \"vmc_no\": 7\n}\n",
            r#"{"cmd":"hb","vmc_no":7,"cmd":"login"}"#,
            r#"{"cmd":"hb","cmd":"login","vmc_no":7}"#,
        ] {
            assert_eq!(
                fast(body.as_bytes(), MachineMessage::from_leading_tag),
                Some(hb.clone())
            );
        }
        assert_eq!(
            fast(br#"{"cmd":"hb"}"#, ServerMessage::from_leading_tag),
            Some(ServerMessage::Heartbeat(ServerHeartbeat { vmc_no: None }))
        );
        // Left to the general path: unknown names, `hb` of either direction, trailing commas, type errors.
        assert_eq!(
            fast(br#"{"cmd":"brew"}"#, MachineMessage::from_leading_tag),
            None
        );
        assert_eq!(
            fast(br#"{"cmd":"hb","vmc_no":7}"#, Message::from_leading_tag),
            None
        );
        assert_eq!(
            fast(
                br#"{"cmd":"hb","vmc_no":7,}"#,
                MachineMessage::from_leading_tag
            ),
            None
        );
        assert_eq!(
            fast(
                br#"{"cmd":"hb","vmc_no":"7"}"#,
                MachineMessage::from_leading_tag
            ),
            None
        );
        assert!(LeadingTag::of(br#"{"cmd":"h\u0062","vmc_no":7}"#).is_none());
        assert!(LeadingTag::of(br#"{"vmc_no":7,"cmd":"hb"}"#).is_none());
        assert!(LeadingTag::of(br#"{"cmd":"machinestatus!"}"#).is_none());
        assert_eq!(
            LeadingTag::of(br#"{"cmd":"machinestatus"}"#).map(|t| t.name),
            Some(&b"machinestatus"[..])
        );
        assert_eq!(MAX_KNOWN_TAG_LEN, "machinestatus".len());
    }

    /// Bodies built from JSON fragments around the shapes the fast path looks at.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let start = prop::sample::select(vec![
            "{\"cmd\":\"",
            "{ \"cmd\" : \"",
            "{\"cmd\":",
            "{\"c\\u006dd\":\"",
            "{",
            " {\"cmd\":\"",
            "",
        ]);
        let name = prop::sample::select(vec![
            "hb", "login", "reboot", "priceset", "discount", "upgrade", "brew", "h\\u0062",
            "hb\\\"", "",
        ]);
        let fragment = prop::sample::select(vec![
            &b"\""[..],
            b",",
            b", ",
            b":",
            b"}",
            b"{",
            b"]",
            b"[",
            b" ",
            b"\n",
            b"1",
            b"-1",
            b"1.5",
            b"null",
            b"true",
            br#""cmd""#,
            br#""hb""#,
            br#""login""#,
            br#""vmc_no""#,
            br#""discount""#,
            br#""dir""#,
            br#""price""#,
            br#""x""#,
            br#""\"""#,
            b"[1,2,3]",
            b"\xff",
        ]);
        (start, name, prop::collection::vec(fragment, 0..14)).prop_map(|(start, name, rest)| {
            let mut body = format!("{start}{name}").into_bytes();
            for f in rest {
                body.extend_from_slice(f);
            }
            body
        })
    }

    proptest! {
        #[test]
        fn fast_and_general_paths_agree_on_fragments(body in body()) {
            same_in_every_direction(&body);
        }

        #[test]
        fn fast_and_general_paths_agree_on_prefixed_valid_bodies(
            vmc_no in any::<u64>(),
            discount in any::<u32>(),
            extra in prop::sample::select(vec!["", ",\"cmd\":\"hb\"", ",\"x\":[{}]", ",", " ,", ",\"discount\":1"]),
        ) {
            let body = format!(r#"{{"cmd":"discount","vmc_no":{vmc_no},"discount":{discount}{extra}}}"#);
            same_in_every_direction(body.as_bytes());
        }
    }
}
