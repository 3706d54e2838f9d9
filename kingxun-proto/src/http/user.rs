//! `/usrLogin` and `/usrRegister`: the two requests without a `hash`, which return `usrSessionId`.

use serde::{Deserialize, Serialize};

use super::{ClientType, Endpoint, ErrCode, OwnerFlag, SessionId};

/// `POST /usrLogin` - log in; not hashed (there is no session yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsrLoginRequest {
    /// `type` - the calling client.
    #[serde(rename = "type")]
    pub client_type: ClientType,
    /// `usrOpenid` - optional; the mini-program fills it in first once it knows the openid.
    #[serde(rename = "usrOpenid", default, skip_serializing_if = "Option::is_none")]
    pub usr_openid: Option<String>,
    /// `usrCode` - optional; for the mini-program, the code WeChat login returned.
    #[serde(rename = "usrCode", default, skip_serializing_if = "Option::is_none")]
    pub usr_code: Option<String>,
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
}

impl Endpoint for UsrLoginRequest {
    const PATH: &'static str = "/usrLogin";
    type Response = UsrLoginResponse;
}

/// One vehicle of the `devList` of a `/usrLogin` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginDev {
    /// `devId`.
    #[serde(rename = "devId")]
    pub dev_id: u32,
    /// `devType`.
    #[serde(rename = "devType")]
    pub dev_type: u8,
    /// `ownerFlag`.
    #[serde(rename = "ownerFlag")]
    pub owner_flag: OwnerFlag,
}

/// Response of `/usrLogin`: the session on success; `openid`/`unionid` on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsrLoginResponse {
    /// `errCode` - 0, 0xFF bad parameters, 10000 no phone number linked yet, 10001 WeChat call failed.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `usrId` (success).
    #[serde(rename = "usrId", default, skip_serializing_if = "Option::is_none")]
    pub usr_id: Option<u32>,
    /// `usrSessionId` (success): valid 24 h; keys every later `hash`.
    #[serde(
        rename = "usrSessionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub usr_session_id: Option<SessionId>,
    /// `nickname` (success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// `devList` (success).
    #[serde(rename = "devList", default, skip_serializing_if = "Option::is_none")]
    pub dev_list: Option<Vec<LoginDev>>,
    /// `openid` (failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// `unionid` (failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// `POST /usrRegister` - register; not hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsrRegisterRequest {
    /// `type` - the calling client.
    #[serde(rename = "type")]
    pub client_type: ClientType,
    /// `usrOpenid` - mini-program only.
    #[serde(rename = "usrOpenid", default, skip_serializing_if = "Option::is_none")]
    pub usr_openid: Option<String>,
    /// `usrUUid` - optional, mini-program only.
    #[serde(rename = "usrUUid", default, skip_serializing_if = "Option::is_none")]
    pub usr_uuid: Option<String>,
    /// `mobilePhone` - as the user typed it.
    #[serde(rename = "mobilePhone")]
    pub mobile_phone: String,
    /// `authCode` - the code of WeChat's phone number verification component.
    #[serde(rename = "authCode")]
    pub auth_code: String,
    /// `nickname`.
    pub nickname: String,
    /// `timestamp` - Unix milliseconds.
    pub timestamp: u64,
}

impl Endpoint for UsrRegisterRequest {
    const PATH: &'static str = "/usrRegister";
    type Response = UsrRegisterResponse;
}

/// Response of `/usrRegister`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsrRegisterResponse {
    /// `errCode` - 0, 0xFF bad parameters, 10001 WeChat phone number call failed.
    #[serde(rename = "errCode")]
    pub err_code: ErrCode,
    /// `errMsg`.
    #[serde(rename = "errMsg", default, skip_serializing_if = "Option::is_none")]
    pub err_msg: Option<String>,
    /// `usrId` (success).
    #[serde(rename = "usrId", default, skip_serializing_if = "Option::is_none")]
    pub usr_id: Option<u32>,
    /// `usrSessionId` (success).
    #[serde(
        rename = "usrSessionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub usr_session_id: Option<SessionId>,
}
