//! The access routes of the admin API: people (with pictures as base64 or uploaded files), their pushes,
//! terminals, and the attendance records with their CSV export.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use fleet::api::{limit_param, Page};
use fleet::{ApiJson, ApiQuery, Authorized, Problem, RouteTable};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use super::people::{
    check_blob_size, Blob, BlobView, People, PeopleError, PersonInput, PersonView, Push, Slot,
    Terminal,
};
use super::records::{self, AccessRecord, RecordFilter, Records};

/// What the routes share.
#[derive(Clone, Debug)]
pub struct AccessApi {
    /// People.
    pub people: People,
    /// Records.
    pub records: Records,
}

fn problem(e: PeopleError) -> Problem {
    match e {
        PeopleError::Invalid(i) => {
            Problem::invalid(&i.field, format!("`{}`: {}", i.field, i.detail))
        }
        PeopleError::Unknown(id) => Problem::not_found("person", &id),
        e @ PeopleError::Exists(_) => Problem::conflict(e.to_string()),
        PeopleError::Store(s) => Problem::unavailable(format!("store: {s}")),
    }
}

/// A person after a change, with the pushes it queued.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonChange {
    /// The person now.
    pub person: PersonView,
    /// Pushes queued to the terminals of its community.
    pub pushes_queued: usize,
}

/// Query of `GET /api/persons` and `GET /api/terminals`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this community.
    community: Option<String>,
    /// Cursor: the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
}

/// Query of `GET /api/pushes`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PushesQuery {
    /// How many, 1..=1000, default 100.
    limit: Option<String>,
}

/// Query of `PUT /api/persons/{id}/blobs/{slot}`: the picture's facts (pictures only).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BlobQuery {
    /// Width in pixels (pictures).
    width: Option<String>,
    /// Height in pixels (pictures).
    height: Option<String>,
    /// Format (pictures; the spec's example uses 2).
    format: Option<String>,
}

/// Query of `GET /api/access`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    /// Only this person.
    person: Option<String>,
    /// Only this terminal (its uuid).
    terminal: Option<String>,
    /// `time` at or after, `yyyyMMddHHmmss` (terminal local time).
    from: Option<String>,
    /// `time` at or before, `yyyyMMddHHmmss`.
    to: Option<String>,
    /// `in`, `out`, or an `in_out_type` number.
    direction: Option<String>,
    /// `card`, `face`, or an `open_door_type` number.
    open_door_type: Option<String>,
    /// `json` (default) or `csv` (every matching record, up to `limit`, default 100,000).
    format: Option<String>,
    /// Cursor: the previous page's `next_cursor` (JSON only).
    cursor: Option<String>,
    /// Page size: JSON 1..=1000 (default 100), CSV 1..=100000 (default 100000).
    limit: Option<String>,
}

fn parse_i64(field: &str, raw: Option<&str>) -> Result<Option<i64>, Problem> {
    fleet::api::param::<i64>(field, raw)
}

/// `POST /api/persons`: creates a person (pictures and codes as base64) and queues its push to the
/// terminals of its community.
#[utoipa::path(post, path = "/api/persons", request_body = PersonInput, security(("bearer" = [])),
    responses((status = 201, body = PersonChange), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem)))]
async fn create_person(
    State(a): State<AccessApi>,
    _auth: Authorized,
    ApiJson(body): ApiJson<PersonInput>,
) -> Result<(StatusCode, Json<PersonChange>), Problem> {
    let (id, fields, blobs) = body
        .into_parts(None, a.people.max_blob(), a.people.max_message())
        .map_err(|i| problem(PeopleError::Invalid(i)))?;
    let (person, queued) = a.people.create(id, fields, blobs).await.map_err(problem)?;
    Ok((
        StatusCode::CREATED,
        Json(PersonChange {
            person: person.view(),
            pushes_queued: queued,
        }),
    ))
}

/// `PUT /api/persons/{id}`: replaces a person (every field and blob) and queues its push.
#[utoipa::path(put, path = "/api/persons/{id}", request_body = PersonInput, security(("bearer" = [])),
    params(("id" = String, Path, description = "person_id")),
    responses((status = 200, body = PersonChange), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
async fn replace_person(
    State(a): State<AccessApi>,
    _auth: Authorized,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonInput>,
) -> Result<Json<PersonChange>, Problem> {
    let (id, fields, blobs) = body
        .into_parts(Some(&id), a.people.max_blob(), a.people.max_message())
        .map_err(|i| problem(PeopleError::Invalid(i)))?;
    let (person, queued) = a
        .people
        .replace(&id, fields, blobs)
        .await
        .map_err(problem)?;
    Ok(Json(PersonChange {
        person: person.view(),
        pushes_queued: queued,
    }))
}

/// `PUT /api/persons/{id}/blobs/{slot}`: uploads one picture or code as the raw request body (a file),
/// e.g. `curl --data-binary @face.jpg '.../blobs/face?width=520&height=690&format=2'`; queues the push.
#[utoipa::path(put, path = "/api/persons/{id}/blobs/{slot}", security(("bearer" = [])),
    params(("id" = String, Path, description = "person_id"),
        ("slot" = String, Path, description = "face, left_image, right_image, left_code or right_code"), BlobQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = PersonChange), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
async fn upload_blob(
    State(a): State<AccessApi>,
    _auth: Authorized,
    Path((id, slot)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<BlobQuery>,
    body: Bytes,
) -> Result<Json<PersonChange>, Problem> {
    let slot = Slot::parse(&slot).map_err(|e| Problem::invalid("slot", e))?;
    check_blob_size(slot.as_str(), body.len(), a.people.max_blob())
        .map_err(|i| problem(PeopleError::Invalid(i)))?;
    let blob = if slot.is_image() {
        let need = |name: &str, raw: Option<&str>| {
            parse_i64(name, raw)?.ok_or_else(|| {
                Problem::invalid(name, format!("`{name}` is required for a picture"))
            })
        };
        let dim = |name: &str, v: i64| {
            u32::try_from(v)
                .map_err(|_| Problem::invalid(name, format!("{v} is not in 0..=4294967295")))
        };
        Blob {
            width: dim("width", need("width", q.width.as_deref())?)?,
            height: dim("height", need("height", q.height.as_deref())?)?,
            format: need("format", q.format.as_deref())?,
            data: body,
        }
    } else {
        Blob {
            width: 0,
            height: 0,
            format: 0,
            data: body,
        }
    };
    let (person, queued) = a.people.set_blob(&id, slot, blob).await.map_err(problem)?;
    Ok(Json(PersonChange {
        person: person.view(),
        pushes_queued: queued,
    }))
}

/// `DELETE /api/persons/{id}`: deletes a person and cancels its queued pushes (the spec has no message
/// that removes a person from a terminal).
#[utoipa::path(delete, path = "/api/persons/{id}", security(("bearer" = [])),
    params(("id" = String, Path, description = "person_id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn delete_person(
    State(a): State<AccessApi>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    a.people.delete(&id).await.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/persons/{id}`.
#[utoipa::path(get, path = "/api/persons/{id}", params(("id" = String, Path, description = "person_id")),
    responses((status = 200, body = PersonView), (status = 404, body = Problem)))]
async fn get_person(
    State(a): State<AccessApi>,
    Path(id): Path<String>,
) -> Result<Json<PersonView>, Problem> {
    a.people
        .get(&id)
        .await
        .map_err(problem)?
        .map(|p| Json(p.view()))
        .ok_or_else(|| Problem::not_found("person", &id))
}

/// `GET /api/persons`: people by id.
#[utoipa::path(get, path = "/api/persons", params(ListQuery),
    responses((status = 200, body = Page<PersonView>), (status = 400, body = Problem)))]
async fn list_persons(
    State(a): State<AccessApi>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = a
        .people
        .list(
            q.community.as_deref().filter(|s| !s.is_empty()),
            q.cursor.as_deref().filter(|s| !s.is_empty()),
            limit,
        )
        .await
        .map_err(problem)?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|p| p.person_id.clone()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/persons/{id}/pushes`: the person's pushes to terminals with their state and answer code.
#[utoipa::path(get, path = "/api/persons/{id}/pushes", params(("id" = String, Path, description = "person_id")),
    responses((status = 200, body = Page<Push>)))]
async fn person_pushes(
    State(a): State<AccessApi>,
    Path(id): Path<String>,
) -> Result<Json<Page<Push>>, Problem> {
    let items = a.people.pushes(&id, 10_000).await.map_err(problem)?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// `GET /api/pushes`: the latest pushes of every person (newest first), with their state and answer code.
#[utoipa::path(get, path = "/api/pushes", params(PushesQuery),
    responses((status = 200, body = Page<Push>), (status = 400, body = Problem)))]
async fn list_pushes(
    State(a): State<AccessApi>,
    ApiQuery(q): ApiQuery<PushesQuery>,
) -> Result<Json<Page<Push>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = a.people.recent_pushes(limit).await.map_err(problem)?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// `GET /api/terminals`: terminals as they reported themselves (uuid, address, community, versions,
/// IP/port), by uuid. Online state is at `/api/devices`.
#[utoipa::path(get, path = "/api/terminals", params(ListQuery),
    responses((status = 200, body = Page<Terminal>), (status = 400, body = Problem)))]
async fn list_terminals(
    State(a): State<AccessApi>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Terminal>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = a
        .people
        .terminals(
            q.community.as_deref().filter(|s| !s.is_empty()),
            q.cursor.as_deref().filter(|s| !s.is_empty()),
            limit,
        )
        .await
        .map_err(problem)?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|t| t.device_id.clone()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// `GET /api/access`: attendance records by `time` (terminal local time), filtered; `format=csv` exports
/// them as `text/csv`.
#[utoipa::path(get, path = "/api/access", params(AccessQuery),
    responses((status = 200, body = Page<AccessRecord>), (status = 200, content_type = "text/csv", body = String),
        (status = 400, body = Problem)))]
async fn list_access(
    State(a): State<AccessApi>,
    ApiQuery(q): ApiQuery<AccessQuery>,
) -> Result<Response, Problem> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let csv = match q.format.as_deref().filter(|s| !s.is_empty()) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Problem::invalid(
                "format",
                format!("`{other}` is not `json` or `csv`"),
            ))
        }
    };
    let bound = |name: &str, v: &Option<String>| {
        nonempty(v)
            .map(|t| records::time_bound(&t).map_err(|e| Problem::invalid(name, e)))
            .transpose()
    };
    let after = match nonempty(&q.cursor) {
        None => None,
        Some(c) => {
            let bad = || {
                Problem::invalid(
                    "cursor",
                    format!("`{c}`: expected the `next_cursor` of a page"),
                )
            };
            let (t, id) = c.split_once('/').ok_or_else(bad)?;
            Some((t.to_owned(), id.parse::<i64>().map_err(|_| bad())?))
        }
    };
    let limit = if csv {
        limit_param(q.limit.as_deref(), 100_000, 100_000)?
    } else {
        limit_param(q.limit.as_deref(), 100, 1000)?
    };
    let mut filter = RecordFilter {
        person_id: nonempty(&q.person),
        device_id: nonempty(&q.terminal),
        from: bound("from", &q.from)?,
        to: bound("to", &q.to)?,
        in_out_type: nonempty(&q.direction)
            .map(|d| records::direction(&d).map_err(|e| Problem::invalid("direction", e)))
            .transpose()?,
        open_door_type: nonempty(&q.open_door_type)
            .map(|d| records::open_door(&d).map_err(|e| Problem::invalid("open_door_type", e)))
            .transpose()?,
        after,
        limit,
    };
    if csv {
        let mut out = String::from(records::CSV_HEADER);
        let mut left = limit;
        // In pages, so the store never returns one huge result at once.
        while left > 0 {
            filter.limit = left.min(5000);
            let page = a
                .records
                .query(&filter)
                .await
                .map_err(|e| Problem::unavailable(format!("store: {e}")))?;
            records::write_csv(&mut out, &page);
            left -= page.len() as i64;
            match page.last() {
                Some(last) if page.len() as i64 == filter.limit => {
                    filter.after = Some((last.time.clone(), last.id));
                }
                _ => break,
            }
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"access.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let items = a
        .records
        .query(&filter)
        .await
        .map_err(|e| Problem::unavailable(format!("store: {e}")))?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| format!("{}/{}", r.time, r.id)))
        .flatten();
    Ok(Json(Page { items, next_cursor }).into_response())
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_person,
        replace_person,
        upload_blob,
        delete_person,
        get_person,
        list_persons,
        person_pushes,
        list_pushes,
        list_terminals,
        list_access
    ),
    components(schemas(
        PersonInput,
        super::people::ImageInput,
        super::people::CodeInput,
        PersonView,
        BlobView,
        PersonChange,
        Push,
        Terminal,
        AccessRecord,
        super::link::AccessCommand
    ))
)]
struct AccessDoc;

/// The access routes and their OpenAPI document; bodies up to `max_body` bytes.
pub fn routes(
    api: AccessApi,
    max_body: usize,
) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
    let table = RouteTable::new()
        .route("post", "/api/persons", post(create_person))
        .route("get", "/api/persons", get(list_persons))
        .route("get", "/api/persons/{id}", get(get_person))
        .route("put", "/api/persons/{id}", put(replace_person))
        .route("delete", "/api/persons/{id}", delete(delete_person))
        .route("put", "/api/persons/{id}/blobs/{slot}", put(upload_blob))
        .route("get", "/api/persons/{id}/pushes", get(person_pushes))
        .route("get", "/api/pushes", get(list_pushes))
        .route("get", "/api/terminals", get(list_terminals))
        .route("get", "/api/access", get(list_access));
    let (router, entries) = table.finish(api);
    (
        (router.layer(DefaultBodyLimit::max(max_body)), entries),
        AccessDoc::openapi(),
    )
}
