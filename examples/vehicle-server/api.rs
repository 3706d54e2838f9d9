//! The vehicle routes of the admin API: vehicles (owner, online, battery, last position) and instance links.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use fleet::api::{limit_param, param, Page};
use fleet::store::Store;
use fleet::{ApiQuery, Problem, RouteTable};
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

#[derive(OpenApi)]
#[openapi(paths(vehicles, instances), components(schemas(VehicleView, LinkView)))]
struct VehicleDoc;

/// The routes and their OpenAPI document.
pub fn routes(
    store: Store,
    links: Arc<Instances>,
) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
    let table = RouteTable::new()
        .route("get", "/api/vehicles", get(vehicles))
        .route("get", "/api/instances", get(instances));
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
