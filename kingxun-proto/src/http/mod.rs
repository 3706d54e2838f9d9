//! The HTTP API between the mini-program (or app) and WebSvr: request and response bodies.
//!
//! Every endpoint is `POST /<name>` with a JSON body; the reply is JSON with `errCode` (0 success) and
//! `errMsg` (DECISIONS.md). After `usrLogin` / `usrRegister`, which return `usrSessionId` (valid 24 h), every
//! request carries `usrId`, `timestamp` and a `hash` computed with the session id ([`crate::hash`]).
//!
//! Each request type is `<Endpoint>Request` and implements [`Endpoint`] (its path and response type); the
//! hashed ones implement [`HashedRequest`]. [`HttpRequest`] dispatches a body by path, keeping unknown paths
//! raw. The six control endpoints convert to their binary commands ([`ControlEndpoint`]).
//!
//! Field types: the spec names fields without types. This crate uses `u32` for `usrId` and `devId` and `u8`
//! for `devType`, as in the binary link; Unix milliseconds (`u64`) for `timestamp`, `timeStart`, `timeEnd`,
//! `time`, `TimeStart`, `TimeEnd`, `eventTime` and `returnTime`; `f64` for positions and physical values; the
//! control parameters take the binary field sizes, so an out-of-range value is refused when the JSON is
//! read, naming the field. Battery ids accept a string or a number and are kept as strings. Values the spec
//! does not describe at all (`MiniiBatteryStatus`) are kept as raw JSON.
//!
//! **Not defined by the spec** (the document has the heading and no fields), so not provided:
//! `/tmpShareDevTo`, `/cancelTmpShare`, `/devVoiceCtrl`, battery status history and battery event history.
//! They decode as [`HttpRequest::Unknown`]. `/devLightCtrl` is also printed without fields; since it maps to
//! binary 4005, this crate gives it the shape of the other control endpoints (hashed `usrId, devId, devType`,
//! not hashed `lightFlag` as in 4005): an implementer's choice, not the vendor's.

mod control;
mod device;
mod user;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use control::{
    ControlEndpoint, DevFileDeliverRequest, DevGuardRequest, DevLightCtrlRequest,
    DevOpenElecLockRequest, DevOpenLockRequest, LockDevRequest,
};
pub use device::{
    BatteryStatus, BindDevWithUsrRequest, DevEvent, DevLtineraryHistoryRequest,
    DevLtineraryHistoryResponse, DevLtineraryRequest, DevLtineraryResponse, DevOwner, DevPosInfo,
    DevPosInfoRequest, DevPosInfoResponse, DevSharedStatusRequest, DevSharedStatusResponse,
    DevStatus, DevStatusHistoryRequest, DevStatusHistoryResponse, DevStatusRecord,
    DevStatusRequest, DevStatusResponse, GetDevEventRequest, GetDevEventResponse,
    GetUsrDevsRequest, GetUsrDevsResponse, Itinerary, PositionScope, SearchUseableVechiclesRequest,
    SearchUseableVechiclesResponse, ShareDevWithFamilyRequest, UnbindDevRequest,
    UnshareDevWithFamilyRequest, UsrDev, Vehicle,
};
pub use user::{
    LoginDev, UsrLoginRequest, UsrLoginResponse, UsrRegisterRequest, UsrRegisterResponse,
};

use crate::config::CodecConfig;
use crate::error::DecodeError;
use crate::hash::{HashValue, HashedRequest};

wire_enum! {
    /// `type` of every request: the calling client. Not hashed.
    pub enum ClientType: u8 {
        /// 1 - WeChat mini-program.
        WxMiniProgram = 1,
        /// 2 - stand-alone app.
        App = 2,
    }
}

wire_enum! {
    /// `errCode` of every response. A failure code is data, not an error of this crate.
    pub enum ErrCode: i64 {
        /// 0 - success.
        Ok = 0,
        /// 200 - the phone number is not registered (share / unshare with family).
        PhoneNotRegistered = 200,
        /// 300 - the maximum number of family members is reached.
        ShareLimitExceeded = 300,
        /// 401 - timestamp out of window, wrong hash or session older than 24 h (DECISIONS.md).
        Unauthorized = 401,
        /// 403 - not permitted (DECISIONS.md).
        Forbidden = 403,
        /// 404 - unknown or unbound device (DECISIONS.md).
        NotFound = 404,
        /// 0xFF - bad parameters.
        BadParams = 0xFF,
        /// 10000 - the user has not linked a phone number yet (usrLogin).
        PhoneNotLinked = 10000,
        /// 10001 - the WeChat service call failed.
        WxServiceFailed = 10001,
    }
}

wire_enum! {
    /// `ownerFlag`: how the user holds the vehicle.
    pub enum OwnerFlag: u8 {
        /// 1 - owner.
        Owner = 1,
        /// 2 - shared by family.
        Family = 2,
        /// 3 - temporarily shared by a friend.
        TemporaryShare = 3,
    }
}

/// `usrSessionId`: the secret that keys every `hash`. `Debug` prints its length, not its text.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl SessionId {
    /// The id's text, to pass to [`HashedRequest::sign`] or [`HashedRequest::verify_hash`].
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(<{} chars>)", self.0.chars().count())
    }
}

/// A position: `lngPos` and `latPos`, IEEE-754 doubles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// `lngPos` - longitude.
    #[serde(rename = "lngPos")]
    pub lng_pos: f64,
    /// `latPos` - latitude.
    #[serde(rename = "latPos")]
    pub lat_pos: f64,
}

/// Hashed as `lngPos` then `latPos` (an implementer's choice: the spec hashes `postion` but gives no form).
impl HashValue for Position {
    fn write_hash_value(&self, out: &mut String) {
        self.lng_pos.write_hash_value(out);
        self.lat_pos.write_hash_value(out);
    }
}

/// The response of endpoints that answer only `errCode` and `errMsg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckResponse {
    /// `errCode`.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
}

impl AckResponse {
    /// A success (`errCode` 0, no message).
    #[must_use]
    pub fn ok() -> Self {
        Self {
            err_code: ErrCode::Ok,
            err_msg: None,
        }
    }

    /// A failure with its message.
    #[must_use]
    pub fn error(err_code: ErrCode, err_msg: impl Into<String>) -> Self {
        Self {
            err_code,
            err_msg: Some(err_msg.into()),
        }
    }
}

/// An HTTP endpoint: its path and the type of its request (`Self`) and response bodies.
pub trait Endpoint: Serialize + DeserializeOwned {
    /// The path, e.g. `/devOpenLock`.
    const PATH: &'static str;
    /// The response body.
    type Response: Serialize + DeserializeOwned;
}

fn check_http_len(body: &[u8], config: &CodecConfig) -> Result<(), DecodeError> {
    if body.len() > config.max_http_body_len {
        return Err(DecodeError::HttpBodyTooLarge {
            len: body.len(),
            max: config.max_http_body_len,
        });
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(
    endpoint: &str,
    body: &[u8],
    config: &CodecConfig,
) -> Result<T, DecodeError> {
    check_http_len(body, config)?;
    proto_common::json::from_slice_lenient(body).map_err(|source| DecodeError::Json {
        endpoint: endpoint.to_owned(),
        source,
    })
}

/// Decodes the request body of endpoint `E`.
///
/// # Errors
/// [`DecodeError::HttpBodyTooLarge`], or [`DecodeError::Json`] naming the endpoint and the failing field.
pub fn decode_request<E: Endpoint>(body: &[u8], config: &CodecConfig) -> Result<E, DecodeError> {
    parse(E::PATH, body, config)
}

/// Decodes the response body of endpoint `E`.
///
/// # Errors
/// [`DecodeError::HttpBodyTooLarge`], or [`DecodeError::Json`] naming the endpoint and the failing field.
pub fn decode_response<E: Endpoint>(
    body: &[u8],
    config: &CodecConfig,
) -> Result<E::Response, DecodeError> {
    parse(E::PATH, body, config)
}

/// Declares a request type whose `hash` covers `hashed` fields (in spec order) and then `timestamp`.
macro_rules! hashed_request {
    (
        $(#[$meta:meta])*
        $name:ident => $path:literal, $resp:ty;
        hashed { $( $(#[$hmeta:meta])* $hfield:ident : $hty:ty = $hwire:literal, )* }
        unhashed { $( $(#[$umeta:meta])* $ufield:ident : $uty:ty = $uwire:literal, )* }
    ) => {
        $(#[$meta])*
        ///
        #[doc = concat!("`POST ", $path, "`. Hashed, in order: ", $( "`", $hwire, "`, ", )* "`timestamp`, then `usrSessionId`.")]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            /// `type` - the calling client; not hashed.
            #[serde(rename = "type")]
            pub client_type: $crate::http::ClientType,
            $( $(#[$hmeta])* #[serde(rename = $hwire)] pub $hfield: $hty, )*
            /// `timestamp` - Unix milliseconds; hashed after the fields above.
            pub timestamp: u64,
            $( $(#[$umeta])* #[serde(rename = $uwire)] pub $ufield: $uty, )*
            /// `hash` - see [`crate::hash`].
            pub hash: String,
        }

        impl $crate::http::Endpoint for $name {
            const PATH: &'static str = $path;
            type Response = $resp;
        }

        impl $crate::hash::HashedRequest for $name {
            fn hashed_fields(&self) -> &'static [&'static str] {
                &[$( $hwire, )* "timestamp"]
            }

            fn write_hash_input(&self, out: &mut String) {
                $( $crate::hash::HashValue::write_hash_value(&self.$hfield, out); )*
                $crate::hash::HashValue::write_hash_value(&self.timestamp, out);
            }

            fn hash(&self) -> &str {
                &self.hash
            }

            fn set_hash(&mut self, hash: String) {
                self.hash = hash;
            }
        }
    };
}
pub(crate) use hashed_request;

/// Declares [`HttpRequest`] over every endpoint type.
macro_rules! http_requests {
    ( hashed { $( $hvariant:ident($htype:ty), )* } plain { $( $pvariant:ident($ptype:ty), )* } ) => {
        /// A request body of any endpoint, told apart by the path it was posted to.
        #[derive(Debug, Clone, PartialEq)]
        pub enum HttpRequest {
            $( #[doc = concat!("`", stringify!($ptype), "`.")] $pvariant($ptype), )*
            $( #[doc = concat!("`", stringify!($htype), "`.")] $hvariant($htype), )*
            /// A path this crate does not know (including the endpoints the spec leaves undefined).
            Unknown {
                /// The path as given.
                path: String,
                /// The body as raw JSON.
                body: Value,
            },
        }

        $( impl From<$ptype> for HttpRequest {
            fn from(request: $ptype) -> Self {
                Self::$pvariant(request)
            }
        } )*
        $( impl From<$htype> for HttpRequest {
            fn from(request: $htype) -> Self {
                Self::$hvariant(request)
            }
        } )*

        impl HttpRequest {
            /// Every path this crate knows, in spec order.
            pub const PATHS: &'static [&'static str] = &[
                $( <$ptype as Endpoint>::PATH, )* $( <$htype as Endpoint>::PATH, )*
            ];

            /// Decodes the body posted to `path` (with or without the leading `/`).
            ///
            /// # Errors
            /// [`DecodeError::HttpBodyTooLarge`], or [`DecodeError::Json`] naming the endpoint and the field.
            pub fn decode(path: &str, body: &[u8], config: &CodecConfig) -> Result<Self, DecodeError> {
                let name = path.strip_prefix('/').unwrap_or(path);
                $( if Some(name) == <$ptype as Endpoint>::PATH.strip_prefix('/') {
                    return decode_request::<$ptype>(body, config).map(Self::$pvariant);
                } )*
                $( if Some(name) == <$htype as Endpoint>::PATH.strip_prefix('/') {
                    return decode_request::<$htype>(body, config).map(Self::$hvariant);
                } )*
                Ok(Self::Unknown { path: path.to_owned(), body: parse(path, body, config)? })
            }

            /// The endpoint's path.
            #[must_use]
            pub fn path(&self) -> &str {
                match self {
                    $( Self::$pvariant(_) => <$ptype as Endpoint>::PATH, )*
                    $( Self::$hvariant(_) => <$htype as Endpoint>::PATH, )*
                    Self::Unknown { path, .. } => path,
                }
            }

            /// The request as a [`HashedRequest`], `None` for `usrLogin`, `usrRegister` and unknown paths.
            #[must_use]
            pub fn hashed(&self) -> Option<&dyn HashedRequest> {
                match self {
                    $( Self::$hvariant(r) => Some(r), )*
                    _ => None,
                }
            }

            /// The request's `timestamp`, for the replay window; `None` for unknown paths.
            #[must_use]
            pub fn timestamp(&self) -> Option<u64> {
                match self {
                    $( Self::$pvariant(r) => Some(r.timestamp), )*
                    $( Self::$hvariant(r) => Some(r.timestamp), )*
                    Self::Unknown { .. } => None,
                }
            }
        }

        impl Serialize for HttpRequest {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$pvariant(r) => r.serialize(serializer), )*
                    $( Self::$hvariant(r) => r.serialize(serializer), )*
                    Self::Unknown { body, .. } => body.serialize(serializer),
                }
            }
        }
    };
}

http_requests! {
    hashed {
        GetUsrDevs(GetUsrDevsRequest),
        BindDevWithUsr(BindDevWithUsrRequest),
        UnbindDev(UnbindDevRequest),
        ShareDevWithFamily(ShareDevWithFamilyRequest),
        UnshareDevWithFamily(UnshareDevWithFamilyRequest),
        DevSharedStatus(DevSharedStatusRequest),
        DevStatus(DevStatusRequest),
        DevStatusHistory(DevStatusHistoryRequest),
        DevPosInfo(DevPosInfoRequest),
        GetDevEvent(GetDevEventRequest),
        DevLtinerary(DevLtineraryRequest),
        DevLtineraryHistory(DevLtineraryHistoryRequest),
        DevOpenLock(DevOpenLockRequest),
        LockDev(LockDevRequest),
        DevGuard(DevGuardRequest),
        DevOpenElecLock(DevOpenElecLockRequest),
        DevLightCtrl(DevLightCtrlRequest),
        DevFileDeliver(DevFileDeliverRequest),
        SearchUseableVechicles(SearchUseableVechiclesRequest),
    }
    plain {
        UsrLogin(UsrLoginRequest),
        UsrRegister(UsrRegisterRequest),
    }
}

/// Accepts a string or an integer and keeps it as a string (battery ids).
pub(crate) mod string_or_number {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }

    impl From<Id> for String {
        fn from(id: Id) -> Self {
            match id {
                Id::Text(s) => s,
                Id::Unsigned(n) => n.to_string(),
                Id::Signed(n) => n.to_string(),
            }
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<String, D::Error> {
        Id::deserialize(deserializer).map(String::from)
    }

    /// The same, for an optional field (use with `default`).
    pub(crate) mod option {
        use super::*;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<String>, D::Error> {
            Option::<Id>::deserialize(deserializer).map(|id| id.map(String::from))
        }
    }
}
