//! The admin HTTP API, the dashboard and the metrics endpoint (axum).
//!
//! Reads are open; mutating routes need `Authorization: Bearer <token>`. Errors are RFC 9457 problem
//! details. Every route is registered through a [`RouteTable`], which records it so a test can check that the
//! OpenAPI document at `/api/openapi.json` lists it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use crate::problem::{ApiJson, ApiQuery, Problem};
use crate::queue::{CommandRecord, CommandSpec, CommandState};
use crate::store::{CommandFilter, DeviceRecord, Enqueued, EventFilter, EventRecord};
use crate::{AdminToken, Fleet};

/// How a deployment turns API input into commands and checks new devices.
pub trait CommandCatalog: Send + Sync + 'static {
    /// Parses the typed JSON command for `device` (the request body without `ttl_secs`). A bad body is a
    /// [`Problem::invalid`] naming the field.
    ///
    /// # Errors
    /// The body is not a valid command.
    fn parse(&self, device: &DeviceRecord, body: serde_json::Value)
        -> Result<CommandSpec, Problem>;

    /// Checks the id and secret of a device about to be registered.
    ///
    /// # Errors
    /// Either is malformed for the protocol.
    fn check_device(&self, id: &str, secret: &str) -> Result<(), Problem>;
}

/// An extra dashboard panel: a table filled from a JSON API route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Panel {
    /// Heading.
    pub title: String,
    /// A GET route answering `{"items": [...]}` (or a bare array).
    pub url: String,
    /// The item fields to show, in order.
    pub columns: Vec<String>,
}

/// Routes with the methods they serve, recorded as they are added.
pub struct RouteTable<S> {
    router: Router<S>,
    entries: Vec<(String, String)>,
}

impl<S> std::fmt::Debug for RouteTable<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            entries: Vec::new(),
        }
    }

    /// Adds `method` (lowercase: `get`, `post`, `delete`) at `path` (axum syntax, `/api/x/{id}`).
    #[must_use]
    pub fn route(mut self, method: &str, path: &str, handler: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, handler);
        self.entries.push((method.to_owned(), path.to_owned()));
        self
    }

    /// Applies the state: the router and the recorded `(method, path)` entries.
    pub fn finish(self, state: S) -> (Router, Vec<(String, String)>) {
        (self.router.with_state(state), self.entries)
    }
}

/// A deployment's admin API: its commands, extra routes and their OpenAPI, and dashboard panels.
pub struct AdminApi {
    /// Dashboard heading (`Coffee fleet`).
    pub title: String,
    /// Commands and device checks.
    pub catalog: Arc<dyn CommandCatalog>,
    /// Extra routes (state applied) and their `(method, path)` entries.
    pub extra_routes: Vec<(Router, Vec<(String, String)>)>,
    /// OpenAPI documents of the extra routes, merged into the served one.
    pub extra_openapi: Vec<utoipa::openapi::OpenApi>,
    /// Extra dashboard panels.
    pub panels: Vec<Panel>,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("title", &self.title)
            .field("panels", &self.panels)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct ApiState {
    fleet: Fleet,
    catalog: Arc<dyn CommandCatalog>,
    dashboard: Arc<DashboardConfig>,
    openapi: Arc<String>,
}

/// What the dashboard page reads at `/api/dashboard`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DashboardConfig {
    /// Heading.
    pub title: String,
    /// Extra panels.
    pub panels: Vec<Panel>,
}

/// Proof that the request carried the admin bearer token; take it as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct Authorized;

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let Some(token) = parts.extensions.get::<Arc<AdminToken>>() else {
            return Err(Problem::internal(
                "admin token not configured on this router",
            ));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            None => Err(Problem::unauthorized(
                "`Authorization`: this route needs `Authorization: Bearer <admin token>`",
            )),
            Some(t) if token.verify(t.trim()) => Ok(Self),
            Some(_) => Err(Problem::unauthorized("`Authorization`: wrong admin token")),
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A device with its live state.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether a logged-in connection is up.
    pub online: bool,
    /// Online since (Unix ms).
    pub online_since: Option<i64>,
    /// Last frame received (Unix ms).
    pub last_seen: Option<i64>,
    /// Software version reported at login (recorded by the events writer, moments after `online`).
    pub version: Option<String>,
    /// Further facts reported at login.
    pub info: Option<serde_json::Value>,
    /// Registered at (Unix ms).
    pub created_at: i64,
}

/// Body of `POST /api/devices`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Device id (jetinno: the machine number).
    pub id: String,
    /// Name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Login secret (jetinno: the 8-character machine code). Never returned.
    pub secret: String,
}

fn view(fleet: &Fleet, d: DeviceRecord) -> DeviceView {
    let live = fleet.presence().state(&d.id);
    view_with(d, live)
}

fn view_with(d: DeviceRecord, live: crate::LiveState) -> DeviceView {
    DeviceView {
        online: live.online,
        online_since: live.since,
        last_seen: match (live.last_seen, d.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
        id: d.id,
        name: d.name,
        version: d.version,
        info: d.info,
        created_at: d.created_at,
    }
}

/// Parses an optional query parameter, naming it on failure.
///
/// # Errors
/// The value does not parse.
pub fn param<T: std::str::FromStr>(name: &str, raw: Option<&str>) -> Result<Option<T>, Problem>
where
    T::Err: std::fmt::Display,
{
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| Problem::invalid(name, format!("`{s}`: {e}")))
        })
        .transpose()
}

/// Parses `limit` (1..=max, default `default`).
///
/// # Errors
/// Out of range or not a number.
pub fn limit_param(raw: Option<&str>, default: i64, max: i64) -> Result<i64, Problem> {
    let n = param::<i64>("limit", raw)?.unwrap_or(default);
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(Problem::invalid(
            "limit",
            format!("{n} is not in 1..={max}"),
        ))
    }
}

/// Query of `GET /api/devices`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DevicesQuery {
    /// Cursor: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1..=10000, default 1000.
    limit: Option<String>,
    /// `true`: only online devices; `false`: only offline ones (applied to the page, which may then hold fewer
    /// items; follow `next_cursor` for the rest).
    online: Option<String>,
}

/// Query of `GET /api/events`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this device.
    device: Option<String>,
    /// Only this kind (`online`, `offline`, `status`, `error`, `command`, ...).
    kind: Option<String>,
    /// Only at or after this time (Unix ms).
    since: Option<String>,
    /// Cursor: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

/// Query of `GET /api/commands`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CommandsQuery {
    /// Only this device.
    device: Option<String>,
    /// Only this state.
    state: Option<String>,
    /// Cursor: the `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
async fn readyz(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, Problem> {
    if *s.fleet.stopping().borrow() {
        return Err(Problem::unavailable("shutting down"));
    }
    s.fleet.store().ping().await?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics_text(State(s): State<ApiState>) -> Response {
    let handle = crate::telemetry::install_metrics();
    match s.fleet.store().command_counts().await {
        Ok(counts) => {
            for state in CommandState::ALL {
                let n = counts
                    .iter()
                    .find(|(name, _)| name == state.as_str())
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("fleet_commands", "state" => state.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "command counts unavailable for /metrics"),
    }
    metrics::gauge!("fleet_devices_connected").set(s.fleet.presence().online_count() as f64);
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// `GET /api/openapi.json`.
#[utoipa::path(get, path = "/api/openapi.json", responses((status = 200, description = "this document")))]
async fn openapi_json(State(s): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        (*s.openapi).clone(),
    )
        .into_response()
}

/// `GET /`: the dashboard.
#[utoipa::path(get, path = "/", responses((status = 200, description = "dashboard page", content_type = "text/html")))]
async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../assets/dashboard.html"))
}

/// `GET /api/dashboard`: heading and extra panels of the dashboard.
#[utoipa::path(get, path = "/api/dashboard", responses((status = 200, body = DashboardConfig)))]
async fn dashboard_config(State(s): State<ApiState>) -> Json<DashboardConfig> {
    Json((*s.dashboard).clone())
}

/// `GET /api/devices`: registered devices with online state, last seen and versions, in id order.
#[utoipa::path(get, path = "/api/devices", params(DevicesQuery), responses((status = 200, body = Page<DeviceView>), (status = 400, body = Problem)))]
async fn list_devices(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<DevicesQuery>,
) -> Result<Json<Page<DeviceView>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 1000, 10_000)?;
    let online = param::<bool>("online", q.online.as_deref())?;
    let rows = s.fleet.store().devices(q.cursor.as_deref(), limit).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        rows.last().map(|d| d.id.clone())
    } else {
        None
    };
    // One presence lock for the page, not one per device.
    let live = s
        .fleet
        .presence()
        .states(rows.iter().map(|d| d.id.as_str()));
    let items = rows
        .into_iter()
        .zip(live)
        .map(|(d, l)| view_with(d, l))
        .filter(|d| online.is_none_or(|o| d.online == o))
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Body of `GET /api/summary`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// Registered devices.
    pub devices: i64,
    /// Devices logged in now.
    pub online: i64,
    /// Commands per state (states with none are left out).
    pub commands: std::collections::BTreeMap<String, i64>,
}

/// `GET /api/summary`: device and command counts, what the dashboard heading shows without listing devices.
#[utoipa::path(get, path = "/api/summary", responses((status = 200, body = Summary)))]
async fn summary(State(s): State<ApiState>) -> Result<Json<Summary>, Problem> {
    let (devices, _) = s.fleet.store().devices_mark().await?;
    let commands = s
        .fleet
        .store()
        .command_counts()
        .await?
        .into_iter()
        .collect();
    Ok(Json(Summary {
        devices,
        online: i64::try_from(s.fleet.presence().online_count()).unwrap_or(i64::MAX),
        commands,
    }))
}

/// `POST /api/devices`: registers a device.
#[utoipa::path(post, path = "/api/devices", request_body = NewDevice, security(("bearer" = [])),
    responses((status = 201, body = DeviceView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem)))]
async fn add_device(
    State(s): State<ApiState>,
    _auth: Authorized,
    ApiJson(new): ApiJson<NewDevice>,
) -> Result<(StatusCode, Json<DeviceView>), Problem> {
    s.catalog.check_device(&new.id, &new.secret)?;
    let name = new.name.unwrap_or_else(|| new.id.clone());
    let d = s.fleet.add_device(&new.id, &name, &new.secret).await?;
    Ok((StatusCode::CREATED, Json(view(&s.fleet, d))))
}

/// `GET /api/devices/{id}`.
#[utoipa::path(get, path = "/api/devices/{id}", params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = DeviceView), (status = 404, body = Problem)))]
async fn get_device(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, Problem> {
    let live = s.fleet.presence().state(&id);
    let d = s
        .fleet
        .store()
        .device(&id)
        .await?
        .ok_or_else(|| Problem::not_found("device", &id))?;
    Ok(Json(view_with(d, live)))
}

/// `DELETE /api/devices/{id}`: removes a device (it can no longer log in; queued commands are cancelled).
#[utoipa::path(delete, path = "/api/devices/{id}", params(("id" = String, Path, description = "device id")), security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn remove_device(
    State(s): State<ApiState>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    if s.fleet.remove_device(&id).await? {
        s.fleet.presence().forget(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("device", &id))
    }
}

/// `POST /api/devices/{id}/commands`: queues a typed command (the deployment's JSON; an optional
/// `ttl_secs` sets its expiry). With an `Idempotency-Key` header, a retried request is not queued twice.
#[utoipa::path(post, path = "/api/devices/{id}/commands",
    params(("id" = String, Path, description = "device id"), ("Idempotency-Key" = Option<String>, Header, description = "retry key")),
    request_body(content = serde_json::Value, description = "the deployment's typed command, plus optional `ttl_secs`"),
    security(("bearer" = [])),
    responses((status = 202, body = CommandRecord, description = "queued"), (status = 200, body = CommandRecord, description = "already queued under this Idempotency-Key"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn post_command(
    State(s): State<ApiState>,
    _auth: Authorized,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> Result<Response, Problem> {
    let device = s
        .fleet
        .store()
        .device(&id)
        .await?
        .ok_or_else(|| Problem::not_found("device", &id))?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| Problem::invalid("Idempotency-Key", "not visible ASCII"))?
                .trim();
            if k.is_empty() || k.len() > 200 {
                return Err(Problem::invalid(
                    "Idempotency-Key",
                    "must be 1..=200 characters",
                ));
            }
            Some(k.to_owned())
        }
    };
    let Some(obj) = body.as_object_mut() else {
        return Err(Problem::invalid("body", "expected a JSON object"));
    };
    let ttl = match obj.remove("ttl_secs") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(Duration::from_secs(n)),
            _ => {
                return Err(Problem::invalid(
                    "ttl_secs",
                    format!("`{v}` is not a positive whole number of seconds"),
                ))
            }
        },
    };
    let spec = s.catalog.parse(&device, body)?;
    let done = s.fleet.enqueue(&id, &spec, ttl, key.as_deref()).await?;
    let (status, record) = match done {
        Enqueued::New(c) => (StatusCode::ACCEPTED, c),
        Enqueued::Existing(c) => (StatusCode::OK, c),
    };
    let location = format!("/api/commands/{}", record.id);
    Ok((status, [(header::LOCATION, location)], Json(record)).into_response())
}

fn commands_page(rows: Vec<CommandRecord>, limit: i64) -> Page<CommandRecord> {
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        rows.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

async fn query_commands(
    s: &ApiState,
    device: Option<String>,
    q: CommandsQuery,
) -> Result<Page<CommandRecord>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let filter = CommandFilter {
        device_id: device.or(q.device),
        state: param::<CommandState>("state", q.state.as_deref())?,
        before: param::<i64>("cursor", q.cursor.as_deref())?,
        limit,
    };
    Ok(commands_page(
        s.fleet.store().commands(&filter).await?,
        limit,
    ))
}

/// `GET /api/devices/{id}/commands`: the device's commands, newest first.
#[utoipa::path(get, path = "/api/devices/{id}/commands", params(("id" = String, Path, description = "device id"), CommandsQuery),
    responses((status = 200, body = Page<CommandRecord>), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn device_commands(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<CommandsQuery>,
) -> Result<Json<Page<CommandRecord>>, Problem> {
    if s.fleet.store().device(&id).await?.is_none() {
        return Err(Problem::not_found("device", &id));
    }
    Ok(Json(query_commands(&s, Some(id), q).await?))
}

/// `GET /api/commands`: the command queue, newest first, filtered by device and state.
#[utoipa::path(get, path = "/api/commands", params(CommandsQuery),
    responses((status = 200, body = Page<CommandRecord>), (status = 400, body = Problem)))]
async fn list_commands(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<CommandsQuery>,
) -> Result<Json<Page<CommandRecord>>, Problem> {
    Ok(Json(query_commands(&s, None, q).await?))
}

fn command_id(raw: &str) -> Result<i64, Problem> {
    raw.parse::<i64>()
        .map_err(|e| Problem::invalid("id", format!("`{raw}`: {e}")))
}

/// `GET /api/commands/{id}`: one command and its delivery state.
#[utoipa::path(get, path = "/api/commands/{id}", params(("id" = i64, Path, description = "command id")),
    responses((status = 200, body = CommandRecord), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn get_command(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<CommandRecord>, Problem> {
    let n = command_id(&id)?;
    s.fleet
        .store()
        .command(n)
        .await?
        .map(Json)
        .ok_or_else(|| Problem::not_found("command", &id))
}

/// `POST /api/commands/{id}/cancel`: cancels a queued command (409 when it is past `queued`).
#[utoipa::path(post, path = "/api/commands/{id}/cancel", params(("id" = i64, Path, description = "command id")), security(("bearer" = [])),
    responses((status = 200, body = CommandRecord), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_command(
    State(s): State<ApiState>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<Json<CommandRecord>, Problem> {
    let n = command_id(&id)?;
    let c = s
        .fleet
        .store()
        .cancel(n)
        .await?
        .ok_or_else(|| Problem::not_found("command", &id))?;
    if c.state == CommandState::Cancelled {
        Ok(Json(c))
    } else {
        Err(Problem::conflict(format!(
            "command {n} is `{}`, only a queued command can be cancelled",
            c.state
        )))
    }
}

/// `GET /api/events`: the events log, newest first.
#[utoipa::path(get, path = "/api/events", params(EventsQuery),
    responses((status = 200, body = Page<EventRecord>), (status = 400, body = Problem)))]
async fn list_events(
    State(s): State<ApiState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Page<EventRecord>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let filter = EventFilter {
        device_id: q.device,
        kind: q.kind,
        since: param::<i64>("since", q.since.as_deref())?,
        before: param::<i64>("cursor", q.cursor.as_deref())?,
        limit,
    };
    let rows = s.fleet.store().events(&filter).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        rows.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        items: rows,
        next_cursor,
    }))
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "devproto fleet admin API", description = "Device registry, command queue, events, metrics."),
    paths(healthz, readyz, metrics_text, openapi_json, dashboard, dashboard_config, summary, list_devices, add_device, get_device,
        remove_device, post_command, device_commands, list_commands, get_command, cancel_command, list_events),
    components(schemas(Problem, Summary, DeviceView, NewDevice, CommandRecord, CommandState, EventRecord, Panel, DashboardConfig)),
    modifiers(&BearerAuth)
)]
struct FleetDoc;

/// The admin router, its route entries and its OpenAPI document.
pub struct Built {
    /// The router (state applied, token check installed).
    pub router: Router,
    /// Every `(method, path)` it serves.
    pub routes: Vec<(String, String)>,
    /// The OpenAPI document served at `/api/openapi.json`.
    pub openapi: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl AdminApi {
    /// Builds the router for `fleet`, checking mutating requests against `token`.
    #[must_use]
    pub fn build(self, fleet: &Fleet, token: &AdminToken) -> Built {
        let mut doc = FleetDoc::openapi();
        doc.info.title = format!("{} admin API", self.title);
        for extra in self.extra_openapi {
            doc.merge(extra);
        }
        let openapi_text = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
        let state = ApiState {
            fleet: fleet.clone(),
            catalog: self.catalog,
            dashboard: Arc::new(DashboardConfig {
                title: self.title,
                panels: self.panels,
            }),
            openapi: Arc::new(openapi_text),
        };
        let table = RouteTable::new()
            .route("get", "/", get(dashboard))
            .route("get", "/healthz", get(healthz))
            .route("get", "/readyz", get(readyz))
            .route("get", "/metrics", get(metrics_text))
            .route("get", "/api/openapi.json", get(openapi_json))
            .route("get", "/api/dashboard", get(dashboard_config))
            .route("get", "/api/summary", get(summary))
            .route("get", "/api/devices", get(list_devices))
            .route("post", "/api/devices", post(add_device))
            .route("get", "/api/devices/{id}", get(get_device))
            .route(
                "delete",
                "/api/devices/{id}",
                axum::routing::delete(remove_device),
            )
            .route("get", "/api/devices/{id}/commands", get(device_commands))
            .route("post", "/api/devices/{id}/commands", post(post_command))
            .route("get", "/api/commands", get(list_commands))
            .route("get", "/api/commands/{id}", get(get_command))
            .route("post", "/api/commands/{id}/cancel", post(cancel_command))
            .route("get", "/api/events", get(list_events));
        let (mut router, mut routes) = table.finish(state);
        for (extra, entries) in self.extra_routes {
            router = router.merge(extra);
            routes.extend(entries);
        }
        let router = router
            .fallback(|| async {
                Problem::new(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    "no such route",
                )
            })
            .method_not_allowed_fallback(|| async {
                Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Method not allowed",
                    "this route does not take that method",
                )
            })
            .layer(Extension(Arc::new(token.clone())));
        Built {
            router,
            routes,
            openapi: doc,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests under way.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
