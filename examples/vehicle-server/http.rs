//! The mini-program API (WebSvr): every endpoint kingxun-proto types, `POST /<name>` with a JSON body, answered
//! JSON with `errCode` / `errMsg` (DECISIONS.md).
//!
//! errCodes: 0 ok; 401 timestamp out of window, wrong hash, no or expired session, replayed request, wrong
//! login secret; 403 the vehicle is not the user's, or the user's role does not allow it (a family member
//! without `shareTracks` asking positions, without `shareLtinerary` asking trips, or asking an owner's
//! action); 404 unknown vehicle, or a vehicle bound to nobody; 0xFF bad parameters (the message names the
//! field); 200 / 300 as the spec says for sharing; 10000 no user with that openid or phone. A control
//! endpoint answers the vehicle's RespCode as errCode (0 ok, 1 refused, 0xFF error); 503 when the
//! vehicle's instance is not connected (at once), 504 when it did not answer in time; 500 store failure.
//! An unknown path (the endpoints the spec leaves without fields among them) is HTTP 404 with errCode 404.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use fleet::store::Store;
use kingxun_proto::http::{
    AckResponse, ClientType, DevEvent, DevLtineraryHistoryResponse, DevLtineraryResponse, DevOwner,
    DevPosInfo, DevPosInfoResponse, DevSharedStatusResponse, DevStatus, DevStatusHistoryResponse,
    DevStatusRecord, DevStatusResponse, ErrCode, GetDevEventResponse, GetUsrDevsResponse,
    HttpRequest, Itinerary, LoginDev, OwnerFlag, Position, SearchUseableVechiclesResponse,
    SessionId, UsrDev, UsrLoginResponse, UsrRegisterResponse, Vehicle,
};
use kingxun_proto::{
    CodecConfig, FileDeliver, Guard, HashedRequest, LightCtrl, Lock, OpenElecLock, TimestampWindow,
    Unlock,
};
use serde::Serialize;
use serde_json::Value;

use super::config::HttpConfig;
use super::link::{Instances, LinkError};
use super::tables::{self, StatusRow, TripRow};
use super::users::{
    self, Checks, Refusal, Role, User, BAD_PARAMS, FORBIDDEN, NOT_FOUND, UNAUTHORIZED,
};

/// Most rows a history answer carries.
const MAX_ROWS: i64 = 1000;

/// What the handlers share.
pub struct Api {
    store: Store,
    links: Arc<Instances>,
    hashes: users::HashPool,
    checks: Checks,
    config: HttpConfig,
    codec: CodecConfig,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

/// The router of the mini-program API.
///
/// # Errors
/// The Argon2 cost in `config` is out of range.
pub fn router(store: Store, links: Arc<Instances>, config: &HttpConfig) -> Result<Router, String> {
    let argon = users::hasher(config.argon2_memory_kib, config.argon2_iterations)?;
    let window = TimestampWindow::new(std::time::Duration::from_secs(config.timestamp_window_secs));
    let api = Arc::new(Api {
        store,
        links,
        // Two threads: the machine's logins at most cost two hashes' memory and two cores at once.
        hashes: users::HashPool::new(argon, 2, 256)?,
        checks: Checks {
            window,
            session_ms: i64::try_from(config.session_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        },
        codec: CodecConfig::default().max_http_body_len(config.max_body),
        config: config.clone(),
    });
    Ok(Router::new()
        .route("/{name}", post(endpoint))
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(config.max_body))
        .with_state(api))
}

async fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(fail(
            NOT_FOUND,
            "unknown endpoint: every endpoint is `POST /<name>`",
        )),
    )
        .into_response()
}

fn unknown_path(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(fail(NOT_FOUND, format!("unknown endpoint `{path}`"))),
    )
        .into_response()
}

fn fail(code: i64, message: impl Into<String>) -> Value {
    serde_json::json!({ "errCode": code, "errMsg": message.into() })
}

fn ok<T: Serialize>(body: &T) -> Result<Value, Refusal> {
    serde_json::to_value(body).map_err(|e| Refusal::new(500, e.to_string()))
}

async fn endpoint(State(api): State<Arc<Api>>, Path(name): Path<String>, body: Bytes) -> Response {
    let path = format!("/{name}");
    if !HttpRequest::PATHS.contains(&path.as_str()) {
        return unknown_path(&path);
    }
    let request = match HttpRequest::decode(&path, &body, &api.codec) {
        Ok(HttpRequest::Unknown { path, .. }) => return unknown_path(&path),
        Ok(r) => r,
        Err(e) => return axum::Json(fail(BAD_PARAMS, e.to_string())).into_response(),
    };
    let answer = match api.handle(request).await {
        Ok(v) => v,
        Err(r) => fail(r.code, r.message),
    };
    axum::Json(answer).into_response()
}

/// What a request needs of the user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Owner or family.
    Any,
    /// Owner only.
    Owner,
    /// Owner, or family sharing tracks.
    Tracks,
    /// Owner, or family sharing trips.
    Trips,
}

fn ms(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn u64ms(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn sttime(at: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn dev_status(s: &StatusRow) -> DevStatus {
    DevStatus {
        position: Position {
            lng_pos: s.lng,
            lat_pos: s.lat,
        },
        mileage: s.mileage,
        bdriving: u8::from(s.driving),
        speed: s.speed,
        status: s.status,
        b_mini_bat_exist: 0,
        mini_battery_id: None,
        mini_battery_status: None,
        battery_exist: 1,
        charge_flag: 0,
        battery_id: Some(s.battery_id.clone()),
        battery_status: Some(kingxun_proto::http::BatteryStatus {
            socpercent: s.soc,
            voltage: 42.0 + s.soc * 0.12,
            temp: 25.0,
            currentflag: u8::from(s.driving),
            current: if s.driving { 8.0 } else { 0.0 },
            seriescount: 13,
            seriesdata: Vec::new(),
        }),
        sttime: sttime(s.updated_at),
    }
}

fn itinerary(t: &TripRow) -> Itinerary {
    let secs = (t.time_end - t.time_start).max(1) as f64 / 1000.0;
    Itinerary {
        time_start: u64ms(t.time_start),
        time_end: u64ms(t.time_end),
        st_lng_pos: t.st_lng,
        st_lat_pos: t.st_lat,
        end_lng_pos: t.end_lng,
        end_lat_pos: t.end_lat,
        // In units of 10 m (kingxun.md).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        ltinerary: (t.distance_m / 10.0)
            .round()
            .clamp(0.0, f64::from(u32::MAX)) as u32,
        max_speed: t.max_speed,
        ave_speed: t.distance_m / secs,
        max_current: t.max_current,
        battery_id: t.battery_id.clone(),
    }
}

fn range(start: u64, end: u64) -> Result<(i64, i64), Refusal> {
    if start > end {
        return Err(Refusal::new(
            BAD_PARAMS,
            format!("field `timeStart`: {start} is after `timeEnd` {end}"),
        ));
    }
    Ok((ms(start), ms(end)))
}

fn link_refusal(e: &LinkError) -> Refusal {
    let code = match e {
        LinkError::TimedOut(..) => 504,
        _ => 503,
    };
    Refusal::new(code, e.to_string())
}

fn resp_answer(code: kingxun_proto::RespCode) -> Value {
    let n = u8::from(code);
    match n {
        0 => serde_json::to_value(AckResponse::ok()).unwrap_or(Value::Null),
        1 => fail(
            1,
            "the vehicle refused (RespCode 1): its state does not allow it",
        ),
        n => fail(i64::from(n), format!("the vehicle answered RespCode {n}")),
    }
}

impl Api {
    fn now(&self) -> i64 {
        fleet::store::now_ms()
    }

    async fn auth(
        &self,
        usr_id: u32,
        request: &(dyn HashedRequest + Sync),
        timestamp: u64,
    ) -> Result<User, Refusal> {
        users::authenticate(
            &self.store,
            self.checks,
            usr_id,
            request,
            timestamp,
            self.now(),
        )
        .await
    }

    /// The vehicle and the user's role on it, if it allows `need`.
    async fn access(
        &self,
        user: &User,
        dev_id: u32,
        dev_type: u8,
        need: Need,
    ) -> Result<(StatusRow, Role), Refusal> {
        let status = tables::status(&self.store, dev_id)
            .await?
            .ok_or_else(|| Refusal::new(NOT_FOUND, format!("no vehicle {dev_id}")))?;
        if status.dev_type != dev_type {
            return Err(Refusal::new(
                BAD_PARAMS,
                format!(
                    "field `devType`: vehicle {dev_id} has devType {}, not {dev_type}",
                    status.dev_type
                ),
            ));
        }
        let bindings = users::bindings(&self.store, dev_id).await?;
        if bindings.is_empty() {
            return Err(Refusal::new(
                NOT_FOUND,
                format!("vehicle {dev_id} is bound to no user"),
            ));
        }
        let role = bindings
            .iter()
            .find(|(u, _)| *u == user.id)
            .map(|(_, r)| *r)
            .ok_or_else(|| {
                Refusal::new(
                    FORBIDDEN,
                    format!("vehicle {dev_id} is neither yours nor shared with you"),
                )
            })?;
        let family = role.flag != OwnerFlag::Owner;
        let denied = match need {
            Need::Any => false,
            Need::Owner => family,
            Need::Tracks => family && !role.tracks,
            Need::Trips => family && !role.trips,
        };
        if denied {
            let what = match need {
                Need::Owner => "only the owner may do this",
                Need::Tracks => "the owner does not share positions with you",
                _ => "the owner does not share trips with you",
            };
            return Err(Refusal::new(FORBIDDEN, format!("vehicle {dev_id}: {what}")));
        }
        Ok((status, role))
    }

    async fn hash_blocking(&self, secret: String) -> Result<String, Refusal> {
        self.hashes
            .hash(secret)
            .await
            .map_err(|e| Refusal::new(503, e))
    }

    async fn verify_blocking(&self, secret: String, stored: String) -> Result<bool, Refusal> {
        self.hashes
            .verify(secret, stored)
            .await
            .map_err(|e| Refusal::new(503, e))
    }

    async fn new_session(&self, usr_id: u32) -> Result<String, Refusal> {
        let id = users::new_session_id().map_err(|e| Refusal::new(500, e))?;
        users::set_session(&self.store, usr_id, &id, self.now()).await?;
        Ok(id)
    }

    async fn control(
        &self,
        user: &User,
        dev_id: u32,
        dev_type: u8,
        command: impl Into<device_core::kingxun::WebSvrCommand>,
    ) -> Result<Value, Refusal> {
        let (status, _) = self.access(user, dev_id, dev_type, Need::Any).await?;
        self.send(&status, command).await
    }

    /// Sends a command to the instance holding `status`'s vehicle (access already checked).
    async fn send(
        &self,
        status: &StatusRow,
        command: impl Into<device_core::kingxun::WebSvrCommand>,
    ) -> Result<Value, Refusal> {
        match self.links.send(&status.instance, command).await {
            Ok(code) => Ok(resp_answer(code)),
            Err(e) => Err(link_refusal(&e)),
        }
    }

    fn window_check(&self, timestamp: u64) -> Result<(), Refusal> {
        self.checks
            .window
            .check(timestamp, u64ms(self.now()))
            .map(|_| ())
            .map_err(|e| Refusal::new(UNAUTHORIZED, format!("field `timestamp`: {e}")))
    }

    #[allow(clippy::too_many_lines)]
    async fn handle(&self, request: HttpRequest) -> Result<Value, Refusal> {
        match request {
            HttpRequest::UsrLogin(r) => {
                self.window_check(r.timestamp)?;
                let login = r
                    .usr_openid
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        Refusal::new(
                            BAD_PARAMS,
                            "field `usrOpenid`: required (the openid or mobile phone registered)",
                        )
                    })?;
                let code = r.usr_code.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
                    Refusal::new(BAD_PARAMS, "field `usrCode`: required (the secret given as `authCode` at registration)")
                })?;
                let Some(user) = users::user_by_login(&self.store, login).await? else {
                    return Err(Refusal::new(
                        10000,
                        format!("no user registered with `{login}`"),
                    ));
                };
                if !self.verify_blocking(code, user.secret_hash.clone()).await? {
                    return Err(Refusal::new(UNAUTHORIZED, "field `usrCode`: wrong"));
                }
                let session = self.new_session(user.id).await?;
                let devs = users::user_vehicles(&self.store, user.id).await?;
                ok(&UsrLoginResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    usr_id: Some(user.id),
                    usr_session_id: Some(SessionId(session)),
                    nickname: Some(user.nickname),
                    dev_list: Some(
                        devs.into_iter()
                            .map(|(dev_id, dev_type, owner_flag)| LoginDev {
                                dev_id,
                                dev_type,
                                owner_flag,
                            })
                            .collect(),
                    ),
                    openid: None,
                    unionid: None,
                })
            }
            HttpRequest::UsrRegister(r) => {
                self.window_check(r.timestamp)?;
                let phone = r.mobile_phone.trim();
                let digits = phone.strip_prefix('+').unwrap_or(phone);
                if digits.is_empty()
                    || digits.len() > 20
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        format!("field `mobilePhone`: `{phone}` is not a phone number"),
                    ));
                }
                let nickname = r.nickname.trim();
                if nickname.is_empty() || nickname.chars().count() > 64 {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "field `nickname`: 1 to 64 characters",
                    ));
                }
                let secret_len = r.auth_code.chars().count();
                if !(6..=128).contains(&secret_len) {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "field `authCode`: 6 to 128 characters (it is the user's secret)",
                    ));
                }
                let openid = match r.client_type {
                    ClientType::WxMiniProgram => r.usr_openid.as_deref().filter(|s| !s.is_empty()),
                    _ => None,
                };
                if openid.is_some_and(|o| o.len() > 128) {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "field `usrOpenid`: at most 128 bytes",
                    ));
                }
                let hash = self.hash_blocking(r.auth_code.clone()).await?;
                let Some(id) =
                    users::add_user(&self.store, phone, openid, nickname, &hash, self.now())
                        .await?
                else {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        format!(
                            "field `mobilePhone`: `{phone}` (or the openid) is registered already"
                        ),
                    ));
                };
                let session = self.new_session(id).await?;
                ok(&UsrRegisterResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    usr_id: Some(id),
                    usr_session_id: Some(SessionId(session)),
                })
            }
            HttpRequest::GetUsrDevs(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let devs = users::user_vehicles(&self.store, user.id).await?;
                let first = match devs.first() {
                    Some((d, ..)) => tables::status(&self.store, *d).await?,
                    None => None,
                };
                ok(&GetUsrDevsResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_list: Some(
                        devs.into_iter()
                            .map(|(dev_id, dev_type, owner_flag)| UsrDev {
                                dev_id,
                                dev_type,
                                owner_flag,
                                nickname: format!("e-bike {dev_id}"),
                                dev_photo_url: String::new(),
                            })
                            .collect(),
                    ),
                    dev_status: first.as_ref().map(dev_status),
                })
            }
            HttpRequest::BindDevWithUsr(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let status = tables::status(&self.store, r.dev_id)
                    .await?
                    .ok_or_else(|| Refusal::new(NOT_FOUND, format!("no vehicle {}", r.dev_id)))?;
                if status.dev_type != r.dev_type {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        format!(
                            "field `devType`: vehicle {} has devType {}",
                            r.dev_id, status.dev_type
                        ),
                    ));
                }
                let role = Role {
                    flag: OwnerFlag::Owner,
                    tracks: true,
                    trips: true,
                };
                if !users::bind(&self.store, r.dev_id, user.id, role, self.now()).await? {
                    let bindings = users::bindings(&self.store, r.dev_id).await?;
                    let mine = bindings
                        .iter()
                        .find(|(u, _)| *u == user.id)
                        .map(|(_, r)| r.flag);
                    if mine != Some(OwnerFlag::Owner) {
                        return Err(Refusal::new(
                            FORBIDDEN,
                            format!("vehicle {} has another owner", r.dev_id),
                        ));
                    }
                }
                ok(&AckResponse::ok())
            }
            HttpRequest::UnbindDev(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (_, role) = self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                users::unbind(
                    &self.store,
                    r.dev_id,
                    user.id,
                    role.flag == OwnerFlag::Owner,
                )
                .await?;
                ok(&AckResponse::ok())
            }
            HttpRequest::ShareDevWithFamily(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.access(&user, r.dev_id, r.dev_type, Need::Owner)
                    .await?;
                let Some(member) = users::user_by_login(&self.store, &r.fm_phone)
                    .await?
                    .filter(|u| u.phone == r.fm_phone)
                else {
                    return Err(Refusal::new(
                        200,
                        format!("field `fmPhone`: `{}` must register first", r.fm_phone),
                    ));
                };
                if member.id == user.id {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "field `fmPhone`: that is the owner's own phone",
                    ));
                }
                let bindings = users::bindings(&self.store, r.dev_id).await?;
                if bindings.iter().any(|(u, _)| *u == member.id) {
                    users::update_share(
                        &self.store,
                        r.dev_id,
                        member.id,
                        r.share_tracks,
                        r.share_ltinerary,
                    )
                    .await?;
                    return ok(&AckResponse::ok());
                }
                let family = bindings
                    .iter()
                    .filter(|(_, b)| b.flag == OwnerFlag::Family)
                    .count();
                if family >= usize::try_from(self.config.max_family).unwrap_or(usize::MAX) {
                    return Err(Refusal::new(
                        300,
                        format!(
                            "vehicle {} is shared with {family} family members already (the most)",
                            r.dev_id
                        ),
                    ));
                }
                let role = Role {
                    flag: OwnerFlag::Family,
                    tracks: r.share_tracks,
                    trips: r.share_ltinerary,
                };
                users::bind(&self.store, r.dev_id, member.id, role, self.now()).await?;
                ok(&AckResponse::ok())
            }
            HttpRequest::UnshareDevWithFamily(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.access(&user, r.dev_id, r.dev_type, Need::Owner)
                    .await?;
                let Some(member) = users::user_by_login(&self.store, &r.fm_phone)
                    .await?
                    .filter(|u| u.phone == r.fm_phone)
                else {
                    return Err(Refusal::new(
                        200,
                        format!("field `fmPhone`: `{}` is not registered", r.fm_phone),
                    ));
                };
                if member.id != user.id {
                    users::unbind(&self.store, r.dev_id, member.id, false).await?;
                }
                ok(&AckResponse::ok())
            }
            HttpRequest::DevSharedStatus(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                let bindings = users::bindings(&self.store, r.dev_id).await?;
                ok(&DevSharedStatusResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_owner_status: Some(
                        bindings
                            .into_iter()
                            .map(|(usr_id, role)| DevOwner {
                                usr_id,
                                owner_flag: role.flag,
                            })
                            .collect(),
                    ),
                })
            }
            HttpRequest::DevStatus(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (status, _) = self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                ok(&DevStatusResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_status: Some(dev_status(&status)),
                })
            }
            HttpRequest::DevStatusHistory(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (from, to) = range(r.time_start, r.time_end)?;
                self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                let rows =
                    tables::status_history(&self.store, r.dev_id, from, to, MAX_ROWS).await?;
                let now = self.now().min(to);
                let records = rows
                    .iter()
                    .enumerate()
                    .map(|(i, s)| DevStatusRecord {
                        time_start: u64ms(s.updated_at),
                        time_end: u64ms(rows.get(i + 1).map_or(now, |n| n.updated_at)),
                        dev_status: dev_status(s),
                    })
                    .collect();
                ok(&DevStatusHistoryResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_status_array: Some(records),
                })
            }
            HttpRequest::DevPosInfo(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (s, _) = self
                    .access(&user, r.dev_id, r.dev_type, Need::Tracks)
                    .await?;
                let mut info = DevPosInfo {
                    cur_lng_pos: s.lng,
                    cur_lat_pos: s.lat,
                    sttime: sttime(s.updated_at),
                    bdriving: u8::from(s.driving),
                    st_lng_pos: None,
                    st_lat_pos: None,
                    points: None,
                    speed: None,
                };
                if let (true, Some(start)) = (s.driving, s.trip_start) {
                    let pts = tables::positions(&self.store, r.dev_id, start, MAX_ROWS).await?;
                    if let Some(first) = pts.first() {
                        info.st_lng_pos = Some(first.lng);
                        info.st_lat_pos = Some(first.lat);
                    }
                    let inner = if pts.len() > 2 {
                        &pts[1..pts.len() - 1]
                    } else {
                        &[][..]
                    };
                    info.points = Some(
                        inner
                            .iter()
                            .map(|p| Position {
                                lng_pos: p.lng,
                                lat_pos: p.lat,
                            })
                            .collect(),
                    );
                    info.speed = Some(s.speed);
                }
                ok(&DevPosInfoResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_pos_info: Some(info),
                })
            }
            HttpRequest::GetDevEvent(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (from, to) = range(r.time_start, r.time_end)?;
                self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                let rows = tables::events(&self.store, r.dev_id, from, to, MAX_ROWS).await?;
                ok(&GetDevEventResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    dev_event_array: Some(
                        rows.into_iter()
                            .map(|e| DevEvent {
                                event_time: u64ms(e.at),
                                event_type: e.event_type,
                                event_desc: e.event_desc,
                            })
                            .collect(),
                    ),
                })
            }
            HttpRequest::DevLtinerary(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.access(&user, r.dev_id, r.dev_type, Need::Trips)
                    .await?;
                let trip = tables::last_trip(&self.store, r.dev_id)
                    .await?
                    .map(|t| itinerary(&t));
                let mut resp = DevLtineraryResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    time_start: None,
                    time_end: None,
                    st_lng_pos: None,
                    st_lat_pos: None,
                    end_lng_pos: None,
                    end_lat_pos: None,
                    ltinerary: None,
                    max_speed: None,
                    ave_speed: None,
                    max_current: None,
                    battery_id: None,
                };
                if let Some(t) = trip {
                    resp.time_start = Some(t.time_start);
                    resp.time_end = Some(t.time_end);
                    resp.st_lng_pos = Some(t.st_lng_pos);
                    resp.st_lat_pos = Some(t.st_lat_pos);
                    resp.end_lng_pos = Some(t.end_lng_pos);
                    resp.end_lat_pos = Some(t.end_lat_pos);
                    resp.ltinerary = Some(t.ltinerary);
                    resp.max_speed = Some(t.max_speed);
                    resp.ave_speed = Some(t.ave_speed);
                    resp.max_current = Some(t.max_current);
                    resp.battery_id = Some(t.battery_id);
                }
                ok(&resp)
            }
            HttpRequest::DevLtineraryHistory(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let (from, to) = range(r.time_start, r.time_end)?;
                self.access(&user, r.dev_id, r.dev_type, Need::Trips)
                    .await?;
                let rows = tables::trips(&self.store, r.dev_id, from, to, MAX_ROWS).await?;
                ok(&DevLtineraryHistoryResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    ltinerary_array: Some(rows.iter().map(itinerary).collect()),
                })
            }
            HttpRequest::SearchUseableVechicles(r) => {
                self.auth(r.usr_id, &r, r.timestamp).await?;
                let at = (r.postion.lng_pos, r.postion.lat_pos);
                if !(at.0.is_finite()
                    && at.1.is_finite()
                    && (-180.0..=180.0).contains(&at.0)
                    && (-90.0..=90.0).contains(&at.1))
                {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "field `postion`: not a longitude/latitude",
                    ));
                }
                if !(r.distance.is_finite()
                    && r.distance >= 0.0
                    && r.hours_to_use.is_finite()
                    && r.hours_to_use >= 0.0)
                {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        "fields `distance` and `hoursToUse`: non-negative numbers",
                    ));
                }
                let scope = r.position_scope;
                let corners = [
                    scope.top_left,
                    scope.top_right,
                    scope.bottom_left,
                    scope.bottom_right,
                ];
                let bounded = corners.iter().any(|p| p.lng_pos != 0.0 || p.lat_pos != 0.0);
                let (min_lng, max_lng, min_lat, max_lat) = corners.iter().fold(
                    (f64::MAX, f64::MIN, f64::MAX, f64::MIN),
                    |(a, b, c, d), p| {
                        (
                            a.min(p.lng_pos),
                            b.max(p.lng_pos),
                            c.min(p.lat_pos),
                            d.max(p.lat_pos),
                        )
                    },
                );
                let free = tables::free_vehicles(&self.store, r.dev_type).await?;
                let mut near: Vec<(f64, StatusRow)> = free
                    .into_iter()
                    .filter(|s| s.soc > 10.0)
                    .filter(|s| {
                        !bounded
                            || (s.lng >= min_lng
                                && s.lng <= max_lng
                                && s.lat >= min_lat
                                && s.lat <= max_lat)
                    })
                    .map(|s| (haversine(at, (s.lng, s.lat)), s))
                    .filter(|(d, _)| r.distance == 0.0 || *d <= r.distance)
                    .collect();
                near.sort_by(|a, b| a.0.total_cmp(&b.0));
                near.truncate(20);
                // Non-negative and finite (checked above); `as` saturates at u64::MAX.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let return_time = r.time.saturating_add((r.hours_to_use * 3_600_000.0) as u64);
                ok(&SearchUseableVechiclesResponse {
                    err_code: ErrCode::Ok,
                    err_msg: None,
                    vehicles: Some(
                        near.into_iter()
                            .map(|(_, s)| Vehicle {
                                dev_id: s.dev_id,
                                dev_type: s.dev_type,
                                dev_postion: Position {
                                    lng_pos: s.lng,
                                    lat_pos: s.lat,
                                },
                                dev_soc_percent: s.soc,
                                available_miles: s.soc / 100.0 * self.config.range_km,
                                return_time,
                                price: (self.config.price_per_hour * r.hours_to_use * 100.0)
                                    .round()
                                    / 100.0,
                            })
                            .collect(),
                    ),
                })
            }
            HttpRequest::DevOpenLock(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                if r.lowest_soc_p > 100 {
                    return Err(Refusal::new(BAD_PARAMS, "field `lowestSocP`: 0 to 100"));
                }
                self.control(&user, r.dev_id, r.dev_type, Unlock::from(&r))
                    .await
            }
            HttpRequest::LockDev(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.control(&user, r.dev_id, r.dev_type, Lock::from(&r))
                    .await
            }
            HttpRequest::DevGuard(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.control(&user, r.dev_id, r.dev_type, Guard::from(&r))
                    .await
            }
            HttpRequest::DevOpenElecLock(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.control(&user, r.dev_id, r.dev_type, OpenElecLock::from(&r))
                    .await
            }
            HttpRequest::DevLightCtrl(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                self.control(&user, r.dev_id, r.dev_type, LightCtrl::from(&r))
                    .await
            }
            HttpRequest::DevFileDeliver(r) => {
                let user = self.auth(r.usr_id, &r, r.timestamp).await?;
                let name = r.file_url.rsplit('/').next().unwrap_or_default();
                if name.is_empty() || name.starts_with('.') || name.contains('\\') {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        format!("field `FileUrl`: `{}` names no file", r.file_url),
                    ));
                }
                // Access first: whether a file exists is nobody's business but the vehicle's users'.
                let (status, _) = self.access(&user, r.dev_id, r.dev_type, Need::Any).await?;
                let path = self.config.files_dir.join(name);
                let limit =
                    u64::try_from(self.config.max_body.max(16 * 1024 * 1024)).unwrap_or(u64::MAX);
                let meta = tokio::fs::metadata(&path).await.map_err(|e| {
                    Refusal::new(BAD_PARAMS, format!("field `FileUrl`: `{name}`: {e}"))
                })?;
                if meta.len() > limit {
                    return Err(Refusal::new(
                        BAD_PARAMS,
                        format!(
                            "field `FileUrl`: `{name}` is {} bytes, over {limit}",
                            meta.len()
                        ),
                    ));
                }
                let data = tokio::fs::read(&path).await.map_err(|e| {
                    Refusal::new(BAD_PARAMS, format!("field `FileUrl`: `{name}`: {e}"))
                })?;
                let command: FileDeliver = r
                    .to_file_deliver(data.into())
                    .map_err(|e| Refusal::new(BAD_PARAMS, e.to_string()))?;
                self.send(&status, command).await
            }
            HttpRequest::Unknown { path, .. } => Err(Refusal::new(
                NOT_FOUND,
                format!("unknown endpoint `{path}`"),
            )),
        }
    }
}

/// Great-circle distance in metres between two (lng, lat) points.
fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((b.0 - a.0).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}
