//! The meeting routes of the admin API: products, terminals, people, meetings, attendance, check-ins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fleet::api::{limit_param, Page};
use fleet::{ApiJson, ApiQuery, Authorized, Problem, RouteTable};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use super::meetings::{
    Attendance, Attendee, CheckIn, Meeting, MeetingError, Meetings, NewBioPhoto, NewBioPhotos,
    NewMeeting, NewPhoto, Person, PhotosSet, Product, StoredPhoto, Terminal,
};

fn problem(e: MeetingError) -> Problem {
    match e {
        MeetingError::Invalid(field, detail) => Problem::invalid(&field, detail),
        MeetingError::Unknown(what, id) => Problem::not_found(what, &id),
        MeetingError::Conflict(detail) => Problem::conflict(detail),
        MeetingError::Store(s) => Problem::unavailable(format!("store: {s}")),
        MeetingError::Journal(j) => Problem::unavailable(format!("credential journal {j}")),
    }
}

/// Body of `POST /api/terminals`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerminal {
    /// Serial number.
    pub sn: String,
    /// Product id (devKey salt).
    pub product_id: String,
    /// The secret key written at production.
    pub secret_key: String,
    /// Name shown on the dashboard. Default: the serial number.
    #[serde(default)]
    pub name: Option<String>,
}

/// Reply of `POST /api/meetings`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeetingCreated {
    /// The meeting.
    pub meeting: Meeting,
    /// The queued commands that push it to the room's terminal.
    pub commands: Vec<i64>,
}

/// A page query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Cursor: the previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1..=1000, default 100.
    limit: Option<String>,
    /// Only this meeting (check-ins).
    meeting: Option<String>,
}

/// `GET /api/products`.
#[utoipa::path(get, path = "/api/products", responses((status = 200, body = Vec<Product>)))]
async fn list_products(State(m): State<Meetings>) -> Result<Json<Vec<Product>>, Problem> {
    m.products().await.map(Json).map_err(problem)
}

/// `POST /api/products`.
#[utoipa::path(post, path = "/api/products", request_body = Product, security(("bearer" = [])),
    responses((status = 201, body = Product), (status = 400, body = Problem), (status = 409, body = Problem)))]
async fn add_product(
    State(m): State<Meetings>,
    _auth: Authorized,
    ApiJson(p): ApiJson<Product>,
) -> Result<(StatusCode, Json<Product>), Problem> {
    let p = m.add_product(&p.id, &p.name).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// `GET /api/terminals`: the registry with each terminal's transport.
#[utoipa::path(get, path = "/api/terminals", params(ListQuery), responses((status = 200, body = Page<Terminal>)))]
async fn list_terminals(
    State(m): State<Meetings>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Terminal>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = m
        .terminals(q.cursor.as_deref(), limit)
        .await
        .map_err(problem)?;
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) == limit;
    let next_cursor = if full {
        items.last().map(|t| t.sn.clone())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

/// `POST /api/terminals`: provisions a terminal.
#[utoipa::path(post, path = "/api/terminals", request_body = NewTerminal, security(("bearer" = [])),
    responses((status = 201, body = Terminal), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn add_terminal(
    State(m): State<Meetings>,
    _auth: Authorized,
    ApiJson(t): ApiJson<NewTerminal>,
) -> Result<(StatusCode, Json<Terminal>), Problem> {
    let t = m
        .add_terminal(&t.sn, &t.product_id, &t.secret_key, t.name.as_deref())
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// `GET /api/people`.
#[utoipa::path(get, path = "/api/people", responses((status = 200, body = Vec<Person>)))]
async fn list_people(State(m): State<Meetings>) -> Result<Json<Vec<Person>>, Problem> {
    m.people().await.map(Json).map_err(problem)
}

/// `POST /api/people`: adds or replaces a person (pushed to terminals with the meetings they attend).
#[utoipa::path(post, path = "/api/people", request_body = Person, security(("bearer" = [])),
    responses((status = 200, body = Person), (status = 400, body = Problem)))]
async fn put_person(
    State(m): State<Meetings>,
    _auth: Authorized,
    ApiJson(p): ApiJson<Person>,
) -> Result<Json<Person>, Problem> {
    m.put_person(&p).await.map_err(problem)?;
    Ok(Json(p))
}

/// `PUT /api/people/{pin}/photo`: sets the person's photo (base64 JPEG) and queues its push
/// (`cmd.data.update.bioPhoto`, type 9) to the rooms of the person's meetings.
#[utoipa::path(put, path = "/api/people/{pin}/photo", params(("pin" = String, Path, description = "staff number")),
    request_body = NewPhoto, security(("bearer" = [])),
    responses((status = 200, body = PhotosSet), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn put_photo(
    State(m): State<Meetings>,
    _auth: Authorized,
    Path(pin): Path<String>,
    ApiJson(p): ApiJson<NewPhoto>,
) -> Result<Json<PhotosSet>, Problem> {
    m.set_photo(&pin, &p).await.map(Json).map_err(problem)
}

/// `PUT /api/people/{pin}/bio-photos`: adds or replaces biometric photos and queues their push to the rooms
/// of the person's meetings.
#[utoipa::path(put, path = "/api/people/{pin}/bio-photos", params(("pin" = String, Path, description = "staff number")),
    request_body = NewBioPhotos, security(("bearer" = [])),
    responses((status = 200, body = PhotosSet), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn put_bio_photos(
    State(m): State<Meetings>,
    _auth: Authorized,
    Path(pin): Path<String>,
    ApiJson(p): ApiJson<NewBioPhotos>,
) -> Result<Json<PhotosSet>, Problem> {
    m.set_bio_photos(&pin, &p).await.map(Json).map_err(problem)
}

/// `GET /api/photos/{pin}/{type}/{no}/{index}/{md5}`: a stored JPEG, where terminals fetch the photos of
/// `cmd.data.update.bioPhoto` (no token: the path carries the photo's MD5).
#[utoipa::path(get, path = "/api/photos/{pin}/{type}/{no}/{index}/{md5}",
    params(("pin" = String, Path, description = "staff number"), ("type" = u32, Path, description = "bio type position"),
        ("no" = u32, Path, description = "individual"), ("index" = u32, Path, description = "template"),
        ("md5" = String, Path, description = "the photo's MD5")),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = Problem)))]
async fn get_photo(
    State(m): State<Meetings>,
    Path((pin, bio_type, no, index, md5)): Path<(String, u32, u32, u32, String)>,
) -> Result<([(axum::http::header::HeaderName, &'static str); 1], Vec<u8>), Problem> {
    match m
        .photo_jpeg(&pin, (bio_type, no, index), &md5)
        .await
        .map_err(problem)?
    {
        Some(jpeg) => Ok(([(axum::http::header::CONTENT_TYPE, "image/jpeg")], jpeg)),
        None => Err(Problem::not_found(
            "photo",
            &format!("{pin}/{bio_type}/{no}/{index}/{md5}"),
        )),
    }
}

/// `GET /api/meetings`: newest start first.
#[utoipa::path(get, path = "/api/meetings", params(ListQuery), responses((status = 200, body = Page<Meeting>)))]
async fn list_meetings(
    State(m): State<Meetings>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<Meeting>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = m.meetings(limit).await.map_err(problem)?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// `POST /api/meetings`: stores a meeting and queues its push to the room's terminal.
#[utoipa::path(post, path = "/api/meetings", request_body = NewMeeting, security(("bearer" = [])),
    responses((status = 201, body = MeetingCreated), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn add_meeting(
    State(m): State<Meetings>,
    _auth: Authorized,
    ApiJson(new): ApiJson<NewMeeting>,
) -> Result<(StatusCode, Json<MeetingCreated>), Problem> {
    let (meeting, commands) = m.create_meeting(&new).await.map_err(problem)?;
    Ok((
        StatusCode::CREATED,
        Json(MeetingCreated { meeting, commands }),
    ))
}

/// `GET /api/meetings/{id}`.
#[utoipa::path(get, path = "/api/meetings/{id}", params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = Meeting), (status = 404, body = Problem)))]
async fn get_meeting(
    State(m): State<Meetings>,
    Path(id): Path<String>,
) -> Result<Json<Meeting>, Problem> {
    m.meeting(&id)
        .await
        .map_err(problem)?
        .map(Json)
        .ok_or_else(|| Problem::not_found("meeting", &id))
}

/// `GET /api/meetings/{id}/attendance`: every member, present when a check-in of the meeting arrived.
#[utoipa::path(get, path = "/api/meetings/{id}/attendance", params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = Attendance), (status = 404, body = Problem)))]
async fn attendance(
    State(m): State<Meetings>,
    Path(id): Path<String>,
) -> Result<Json<Attendance>, Problem> {
    m.attendance(&id)
        .await
        .map_err(problem)?
        .map(Json)
        .ok_or_else(|| Problem::not_found("meeting", &id))
}

/// `GET /api/checkins`: newest first (`meeting` filters).
#[utoipa::path(get, path = "/api/checkins", params(ListQuery), responses((status = 200, body = Page<CheckIn>)))]
async fn checkins(
    State(m): State<Meetings>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<CheckIn>>, Problem> {
    let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
    let items = m
        .checkins(q.meeting.as_deref(), limit)
        .await
        .map_err(problem)?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// A terminal's answer to a command.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommandResult {
    /// Command id.
    pub id: i64,
    /// The `dev.cmd.response` code.
    pub code: String,
    /// Its message.
    pub message: Option<String>,
}

/// `GET /api/commands/{id}/result`: the terminal's `dev.cmd.response`.
#[utoipa::path(get, path = "/api/commands/{id}/result", params(("id" = i64, Path, description = "command id")),
    responses((status = 200, body = CommandResult), (status = 404, body = Problem)))]
async fn command_result(
    State(m): State<Meetings>,
    Path(id): Path<i64>,
) -> Result<Json<CommandResult>, Problem> {
    match m.result(id).await.map_err(problem)? {
        Some((code, message)) => Ok(Json(CommandResult { id, code, message })),
        None => Err(Problem::not_found("command result", &id.to_string())),
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_products,
        add_product,
        list_terminals,
        add_terminal,
        list_people,
        put_person,
        put_photo,
        put_bio_photos,
        get_photo,
        list_meetings,
        add_meeting,
        get_meeting,
        attendance,
        checkins,
        command_result
    ),
    components(schemas(
        Product,
        Terminal,
        NewTerminal,
        Person,
        StoredPhoto,
        NewPhoto,
        NewBioPhoto,
        NewBioPhotos,
        PhotosSet,
        NewMeeting,
        Meeting,
        MeetingCreated,
        Attendance,
        Attendee,
        CheckIn,
        CommandResult
    ))
)]
struct MeetingDoc;

/// The meeting routes and their OpenAPI document.
pub fn routes(meetings: Meetings) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
    let table = RouteTable::new()
        .route("get", "/api/products", get(list_products))
        .route("post", "/api/products", post(add_product))
        .route("get", "/api/terminals", get(list_terminals))
        .route("post", "/api/terminals", post(add_terminal))
        .route("get", "/api/people", get(list_people))
        .route("post", "/api/people", post(put_person))
        .route("put", "/api/people/{pin}/photo", put(put_photo))
        .route("put", "/api/people/{pin}/bio-photos", put(put_bio_photos))
        .route(
            "get",
            "/api/photos/{pin}/{type}/{no}/{index}/{md5}",
            get(get_photo),
        )
        .route("get", "/api/meetings", get(list_meetings))
        .route("post", "/api/meetings", post(add_meeting))
        .route("get", "/api/meetings/{id}", get(get_meeting))
        .route("get", "/api/meetings/{id}/attendance", get(attendance))
        .route("get", "/api/checkins", get(checkins))
        .route("get", "/api/commands/{id}/result", get(command_result));
    (table.finish(meetings), MeetingDoc::openapi())
}
