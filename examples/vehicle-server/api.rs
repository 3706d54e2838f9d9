//! The vehicle routes of the admin API: vehicles (owner, online, battery, last position) and instance links.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet::api::{limit_param, param, Page};
use fleet::store::Store;
use fleet::{ApiJson, ApiQuery, Authorized, Problem, RouteTable};
use kingxun_proto::{LogLevel, LogSwitch, SetLogLevel, SetPacketLog};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use super::link::{Instances, LinkView};
use super::tables;

/// One vehicle as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VehicleView {
    /// devId.
    pub dev_id: u32,
    /// devType.
    pub dev_type: u8,
    /// The instance holding it.
    pub instance: String,
    /// usrId of the owner, if bound.
    pub owner: Option<u32>,
    /// Online: its instance reports it and the link to that instance is up.
    pub online: bool,
    /// State of charge, percent.
    pub soc: f64,
    /// Last longitude.
    pub lng: f64,
    /// Last latitude.
    pub lat: f64,
    /// Being ridden.
    pub driving: bool,
    /// Status bits (1 locked, 2 guard, 4 lights, 8 a limit ended the last ride).
    pub status: i64,
    /// When its instance last wrote it, Unix ms.
    pub updated_at: i64,
}

/// Query of `GET /api/vehicles`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VehiclesQuery {
    /// Cursor: the previous page's `next_cursor` (a devId).
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

#[derive(Clone)]
struct ApiState {
    store: Store,
    links: Arc<Instances>,
}

/// `GET /api/vehicles`: vehicles by devId.
#[utoipa::path(get, path = "/api/vehicles", params(VehiclesQuery),
    responses((status = 200, body = Page<VehicleView>), (status = 400, body = Problem)))]
async fn vehicles(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<VehiclesQuery>,
) -> Result<Json<Page<VehicleView>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let after = param::<u32>("cursor", q.cursor.as_deref())?;
    let rows = tables::statuses(&s.store, after, limit)
        .await
        .map_err(|e| Problem::unavailable(format!("store: {e}")))?;
    let items: Vec<VehicleView> = rows
        .into_iter()
        .map(|(v, owner)| VehicleView {
            online: v.online && s.links.is_up(&v.instance),
            dev_id: v.dev_id,
            dev_type: v.dev_type,
            instance: v.instance,
            owner,
            soc: (v.soc * 10.0).round() / 10.0,
            lng: v.lng,
            lat: v.lat,
            driving: v.driving,
            status: v.status,
            updated_at: v.updated_at,
        })
        .collect();
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        items.last().map(|v| v.dev_id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/instances`: the links to the vehicle instances.
#[utoipa::path(get, path = "/api/instances",
    responses((status = 200, body = Vec<LinkView>)))]
async fn instances(State(s): State<ApiState>) -> Json<Vec<LinkView>> {
    Json(s.links.views())
}

/// Body of `POST /api/vehicles/{dev_id}/log`: 4040 (packet logging), or 4041 when `log_level` is given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `logSendFlag`.
    pub log_send: bool,
    /// `logRecvFlag`.
    pub log_recv: bool,
    /// `logLevel` bits (1 error, 2 warning, 4 info, 8 debug): sends 4041 instead of 4040.
    pub log_level: Option<u8>,
}

/// The vehicle's answer to a console command.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommandAnswer {
    /// The MsgId sent.
    pub msg_id: u16,
    /// The vehicle's RespCode (0 ok, 1 refused, 255 error).
    pub resp_code: u8,
}

/// `POST /api/vehicles/{dev_id}/log`: sets the vehicle's log settings (4040 / 4041) and returns its RespCode.
#[utoipa::path(post, path = "/api/vehicles/{dev_id}/log", params(("dev_id" = u32, Path, description = "devId")),
    request_body = LogSettings, security(("bearer" = [])),
    responses((status = 200, body = CommandAnswer), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
async fn set_log(
    State(s): State<ApiState>,
    _auth: Authorized,
    Path(dev_id): Path<String>,
    ApiJson(body): ApiJson<LogSettings>,
) -> Result<Json<CommandAnswer>, Problem> {
    let id: u32 = dev_id
        .parse()
        .map_err(|e| Problem::invalid("dev_id", format!("`{dev_id}`: {e}")))?;
    let v = tables::status(&s.store, id)
        .await
        .map_err(|e| Problem::unavailable(format!("store: {e}")))?
        .ok_or_else(|| Problem::not_found("vehicle", &dev_id))?;
    let switch = |on: bool| if on { LogSwitch::On } else { LogSwitch::Off };
    let timestamp = u64::try_from(fleet::store::now_ms()).unwrap_or(0);
    let (msg_id, reply) = match body.log_level {
        Some(level) => (
            4041,
            s.links
                .send(
                    &v.instance,
                    SetLogLevel {
                        dev_id: id,
                        dev_type: v.dev_type,
                        timestamp,
                        sys_usr_id: 0,
                        log_send: switch(body.log_send),
                        log_recv: switch(body.log_recv),
                        log_level: LogLevel::from_bits_retain(level),
                    },
                )
                .await,
        ),
        None => (
            4040,
            s.links
                .send(
                    &v.instance,
                    SetPacketLog {
                        dev_id: id,
                        dev_type: v.dev_type,
                        timestamp,
                        sys_usr_id: 0,
                        log_send: switch(body.log_send),
                        log_recv: switch(body.log_recv),
                    },
                )
                .await,
        ),
    };
    let code = reply.map_err(|e| Problem::unavailable(e.to_string()))?;
    Ok(Json(CommandAnswer {
        msg_id,
        resp_code: u8::from(code),
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(vehicles, instances, set_log),
    components(schemas(VehicleView, LinkView, LogSettings, CommandAnswer))
)]
struct VehicleDoc;

/// The routes and their OpenAPI document.
pub fn routes(
    store: Store,
    links: Arc<Instances>,
) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
    let table = RouteTable::new()
        .route("get", "/api/vehicles", get(vehicles))
        .route("get", "/api/instances", get(instances))
        .route("post", "/api/vehicles/{dev_id}/log", post(set_log));
    (
        table.finish(ApiState { store, links }),
        VehicleDoc::openapi(),
    )
}

/// The fleet command catalog of this deployment: vehicles are commanded through the mini-program API and
/// registered by their instance, so the generic device routes refuse both.
#[derive(Debug, Clone, Copy)]
pub struct Catalog;

impl fleet::CommandCatalog for Catalog {
    fn parse(
        &self,
        _device: &fleet::store::DeviceRecord,
        _body: serde_json::Value,
    ) -> Result<fleet::CommandSpec, Problem> {
        Err(Problem::invalid(
            "body",
            "vehicles take commands through the mini-program API (POST /devOpenLock, /lockDev, ...)",
        ))
    }

    fn check_device(&self, _id: &str, _secret: &str) -> Result<(), Problem> {
        Err(Problem::invalid(
            "id",
            "vehicles are registered by the vehicle instance that holds them (see GET /api/vehicles)",
        ))
    }
}
