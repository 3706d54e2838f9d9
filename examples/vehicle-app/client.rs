//! A mini-program stand-in: posts the kingxun HTTP API's requests, signing each hashed one with
//! kingxun-proto's `hash` and the session from `usrLogin` / `usrRegister`. Used by the `vehicle-app` CLI, the
//! demo and the tests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fleet::client::{AdminClient, Reply};
use kingxun_proto::http::{
    BindDevWithUsrRequest, ClientType, DevLtineraryHistoryRequest, DevLtineraryRequest,
    DevOpenLockRequest, DevPosInfoRequest, DevStatusRequest, Endpoint, GetDevEventRequest,
    GetUsrDevsRequest, LockDevRequest, UnbindDevRequest, UsrLoginRequest, UsrRegisterRequest,
};
use kingxun_proto::HashedRequest;
use serde::Serialize;
use serde_json::Value;

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// A failed call: transport, or an answer with a non-zero `errCode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No HTTP answer.
    #[error("{0}")]
    Transport(String),
    /// The server answered this errCode.
    #[error("errCode {code}: {message}")]
    Refused {
        /// errCode.
        code: i64,
        /// errMsg.
        message: String,
    },
}

/// A logged-in user (or none yet).
#[derive(Debug, Clone)]
pub struct AppClient {
    http: AdminClient,
    /// usrId and usrSessionId once logged in.
    pub session: Option<(u32, String)>,
    /// `type` of every request.
    pub client_type: ClientType,
    /// The last `timestamp` sent (shared by clones): each request's is later than the one before, so two
    /// identical requests in the same millisecond do not hash alike and the second is not refused as a replay.
    last_stamp: Arc<AtomicU64>,
}

fn outcome(reply: &Reply) -> Result<Value, CallError> {
    let body = reply.json();
    match body.get("errCode").and_then(Value::as_i64) {
        Some(0) => Ok(body),
        Some(code) => Err(CallError::Refused {
            code,
            message: body
                .get("errMsg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
        None => Err(CallError::Transport(format!(
            "HTTP {} without errCode: {}",
            reply.status,
            reply.text()
        ))),
    }
}

impl AppClient {
    /// A client of the server at `addr`, not logged in.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            http: AdminClient::new(addr, None),
            session: None,
            client_type: ClientType::App,
            last_stamp: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The next request's `timestamp`: now in ms, or 1 ms after the last one when that is not earlier. Use it
    /// for a request built by hand and sent with [`AppClient::call`].
    pub fn stamp(&self) -> u64 {
        let now = now_ms();
        let prev = self
            .last_stamp
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(now);
        now.max(prev + 1)
    }

    /// Posts any JSON to `path` (for tests of malformed input); the raw reply.
    ///
    /// # Errors
    /// No HTTP answer.
    pub async fn post_raw(&self, path: &str, body: &[u8]) -> Result<Reply, CallError> {
        self.http
            .request("POST", path, Some(body.to_vec()), &[])
            .await
            .map_err(|e| CallError::Transport(e.to_string()))
    }

    /// Posts a request as it is (already signed or not hashed); the body of a success.
    ///
    /// # Errors
    /// Transport, or a non-zero errCode.
    pub async fn post<E: Endpoint>(&self, request: &E) -> Result<Value, CallError> {
        let body = serde_json::to_vec(request).map_err(|e| CallError::Transport(e.to_string()))?;
        outcome(&self.post_raw(E::PATH, &body).await?)
    }

    /// Signs `request` with the session and posts it.
    ///
    /// # Errors
    /// Not logged in, transport, or a non-zero errCode.
    pub async fn call<E: Endpoint + HashedRequest>(
        &self,
        mut request: E,
    ) -> Result<Value, CallError> {
        let (_, session) = self
            .session
            .as_ref()
            .ok_or_else(|| CallError::Transport("not logged in".into()))?;
        request.sign(session);
        self.post(&request).await
    }

    /// The usrId, 0 when not logged in.
    #[must_use]
    pub fn usr_id(&self) -> u32 {
        self.session.as_ref().map_or(0, |(u, _)| *u)
    }

    fn keep_session(&mut self, body: &Value) -> Result<(), CallError> {
        let usr = body
            .get("usrId")
            .and_then(Value::as_u64)
            .and_then(|u| u32::try_from(u).ok());
        let session = body.get("usrSessionId").and_then(Value::as_str);
        match (usr, session) {
            (Some(u), Some(s)) => {
                self.session = Some((u, s.to_owned()));
                Ok(())
            }
            _ => Err(CallError::Transport(format!(
                "no usrId/usrSessionId in {body}"
            ))),
        }
    }

    /// `usrRegister`: the phone, the secret (`authCode`) and a nickname; keeps the new session.
    ///
    /// # Errors
    /// As [`AppClient::post`].
    pub async fn register(
        &mut self,
        phone: &str,
        secret: &str,
        nickname: &str,
    ) -> Result<Value, CallError> {
        let body = self
            .post(&UsrRegisterRequest {
                client_type: self.client_type,
                usr_openid: None,
                usr_uuid: None,
                mobile_phone: phone.to_owned(),
                auth_code: secret.to_owned(),
                nickname: nickname.to_owned(),
                timestamp: self.stamp(),
            })
            .await?;
        self.keep_session(&body)?;
        Ok(body)
    }

    /// `usrLogin` with the phone (or openid) and secret; keeps the session.
    ///
    /// # Errors
    /// As [`AppClient::post`].
    pub async fn login(&mut self, login: &str, secret: &str) -> Result<Value, CallError> {
        let body = self
            .post(&UsrLoginRequest {
                client_type: self.client_type,
                usr_openid: Some(login.to_owned()),
                usr_code: Some(secret.to_owned()),
                timestamp: self.stamp(),
            })
            .await?;
        self.keep_session(&body)?;
        Ok(body)
    }

    /// `getUsrDevs`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn devs(&self) -> Result<Value, CallError> {
        self.call(GetUsrDevsRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `bindDevWithUsr`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn bind(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(BindDevWithUsrRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `unbindDev`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn unbind(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(UnbindDevRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `devOpenLock` with limits (minutes, percent, metres).
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn unlock(
        &self,
        dev_id: u32,
        dev_type: u8,
        limits: (u16, u8, u32),
    ) -> Result<Value, CallError> {
        self.call(self.unlock_request(dev_id, dev_type, limits))
            .await
    }

    /// The unsigned `devOpenLock` request.
    #[must_use]
    pub fn unlock_request(
        &self,
        dev_id: u32,
        dev_type: u8,
        limits: (u16, u8, u32),
    ) -> DevOpenLockRequest {
        DevOpenLockRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            allow_time: limits.0,
            lowest_soc_p: limits.1,
            farthest_dist: limits.2,
            hash: String::new(),
        }
    }

    /// `lockDev`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn lock(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(LockDevRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            voice: 1,
            hash: String::new(),
        })
        .await
    }

    /// `devStatus`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn status(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(DevStatusRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `devPosInfo`.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn position(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(DevPosInfoRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `devLtinerary`: the last trip.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn last_trip(&self, dev_id: u32, dev_type: u8) -> Result<Value, CallError> {
        self.call(DevLtineraryRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `devLtineraryHistory` between two Unix-ms times.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn trips(
        &self,
        dev_id: u32,
        dev_type: u8,
        from: u64,
        to: u64,
    ) -> Result<Value, CallError> {
        self.call(DevLtineraryHistoryRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            time_start: from,
            time_end: to,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }

    /// `getDevEvent` between two Unix-ms times.
    ///
    /// # Errors
    /// As [`AppClient::call`].
    pub async fn events(
        &self,
        dev_id: u32,
        dev_type: u8,
        from: u64,
        to: u64,
    ) -> Result<Value, CallError> {
        self.call(GetDevEventRequest {
            client_type: self.client_type,
            usr_id: self.usr_id(),
            dev_id,
            dev_type,
            time_start: from,
            time_end: to,
            timestamp: self.stamp(),
            hash: String::new(),
        })
        .await
    }
}

/// Serializes any request for printing.
#[must_use]
pub fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
