//! RFC 9457 problem details: every API error is `application/problem+json` with `type`, `title`, `status`
//! and a `detail` that names the offending field.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// A problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:devproto:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What exactly was wrong, naming the field.
    pub detail: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem of `status`, kind `kind` (the last part of its `type`), with a title and detail.
    #[must_use]
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:devproto:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    /// 400: a field of the request is wrong.
    #[must_use]
    pub fn invalid(field: &str, detail: impl std::fmt::Display) -> Self {
        let mut p = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            format!("`{field}`: {detail}"),
        );
        p.field = Some(field.to_owned());
        p
    }

    /// 404: no such resource.
    #[must_use]
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} `{id}`"),
        )
    }

    /// 409: the request conflicts with the current state.
    #[must_use]
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 401: no or a wrong bearer token.
    #[must_use]
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// 503: a dependency is down.
    #[must_use]
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }

    /// 500: the server failed.
    #[must_use]
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NoDevice(id) => Self::not_found("device", id),
            StoreError::DeviceExists(id) => {
                let mut p = Self::conflict(format!("`id`: device `{id}` exists already"));
                p.field = Some("id".into());
                p
            }
            StoreError::KeyReused(_) => {
                let mut p = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    format!("`Idempotency-Key`: {e}"),
                );
                p.field = Some("Idempotency-Key".into());
                p
            }
            _ => {
                tracing::error!(error = %e, "store failure");
                Self::unavailable(format!("store: {e}"))
            }
        }
    }
}

/// Field name from serde's error path text (`price[0].product_id: invalid type ...`).
fn field_of(message: &str) -> String {
    match message.split_once(": ") {
        Some((path, _)) if !path.contains(' ') => path.to_owned(),
        _ => "body".to_owned(),
    }
}

/// A JSON body whose rejection is a problem details response naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    let text = rejection.body_text();
    // axum's text is "Failed to deserialize the JSON body into the target type: <path>: <message>".
    let inner = text
        .split_once("target type: ")
        .map_or(text.as_str(), |(_, t)| t);
    match rejection {
        JsonRejection::JsonDataError(_) => {
            let field = field_of(inner);
            let mut p = Problem::invalid(&field, inner);
            p.detail = format!("`{field}`: {inner}");
            p
        }
        JsonRejection::MissingJsonContentType(_) => {
            Problem::invalid("Content-Type", "expected `application/json`")
        }
        _ => Problem::invalid("body", inner),
    }
}

/// Query parameters whose rejection is a problem details response.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    let text = rejection.body_text();
    let inner = text
        .split_once("query string: ")
        .map_or(text.as_str(), |(_, t)| t);
    // serde_urlencoded names the field only in its message: "unknown variant ..." or "invalid digit".
    let field = inner
        .split('`')
        .nth(1)
        .filter(|_| inner.starts_with("unknown field") || inner.starts_with("missing field"))
        .map_or_else(|| "query".to_owned(), str::to_owned);
    Problem::invalid(&field, inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_error_path() {
        assert_eq!(field_of("price[0]: invalid type: string"), "price[0]");
        assert_eq!(field_of("missing field `x` at line 1"), "body");
        let p = Problem::invalid("limit", "must be 1..=1000");
        assert_eq!(p.status, 400);
        assert_eq!(p.detail, "`limit`: must be 1..=1000");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "urn:devproto:problem:invalid-request");
    }
}
