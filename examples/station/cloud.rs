//! A local stand-in for the cloud (`--cloud-sim`): receives the uploader's files and records, and can be told
//! to fail (`POST /cloud/control` with `{"fail": true}`, or [`CloudSim::set_failing`]) so the retry path runs
//! offline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;

/// Largest file the simulated cloud accepts.
pub const MAX_FILE: usize = 64 << 20;

/// One record the cloud received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The record as sent.
    pub record: Option<serde_json::Value>,
    /// File name -> size in bytes.
    pub files: BTreeMap<String, usize>,
    /// How many times the record was accepted (a record sent twice counts twice).
    pub record_posts: u32,
    /// File name -> how many times it was accepted.
    pub file_posts: BTreeMap<String, u32>,
}

#[derive(Default)]
struct Inner {
    failing: AtomicBool,
    refused: AtomicU64,
    received: Mutex<BTreeMap<String, Received>>,
}

/// The simulated cloud. Clones share it.
#[derive(Clone, Default)]
pub struct CloudSim(Arc<Inner>);

impl std::fmt::Debug for CloudSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudSim")
            .field("failing", &self.is_failing())
            .field("records", &self.records().len())
            .finish()
    }
}

impl CloudSim {
    /// A cloud that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every request fail (503) or succeed again.
    pub fn set_failing(&self, fail: bool) {
        self.0.failing.store(fail, Ordering::Relaxed);
    }

    /// Whether requests fail now.
    pub fn is_failing(&self) -> bool {
        self.0.failing.load(Ordering::Relaxed)
    }

    /// How many requests were refused while failing.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// What arrived, by `scanId`.
    pub fn records(&self) -> BTreeMap<String, Received> {
        self.0
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn refuse(&self) -> Option<Response> {
        if self.is_failing() {
            self.0.refused.fetch_add(1, Ordering::Relaxed);
            return Some(
                (StatusCode::SERVICE_UNAVAILABLE, "cloud failing (simulated)").into_response(),
            );
        }
        None
    }

    /// The routes, to nest under `/cloud`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/ping", get(ping))
            .route("/records/{id}", post(record))
            .route("/records/{id}/files/{name}", post(file))
            .route("/control", post(control))
            .layer(DefaultBodyLimit::max(MAX_FILE))
            .with_state(self.clone())
    }
}

async fn ping(State(sim): State<CloudSim>) -> Response {
    sim.refuse().unwrap_or_else(|| "ok".into_response())
}

async fn record(
    State(sim): State<CloudSim>,
    Path(id): Path<String>,
    Json(record): Json<serde_json::Value>,
) -> Response {
    if let Some(r) = sim.refuse() {
        return r;
    }
    if record["scanId"].as_str() != Some(id.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            "scanId of the body differs from the path",
        )
            .into_response();
    }
    let mut all = sim
        .0
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let got = all.entry(id).or_default();
    got.record = Some(record);
    got.record_posts += 1;
    Json(serde_json::json!({ "ok": true })).into_response()
}

async fn file(
    State(sim): State<CloudSim>,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Some(r) = sim.refuse() {
        return r;
    }
    let url = format!("https://oss.example.com/{id}/{name}");
    let mut all = sim
        .0
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let got = all.entry(id).or_default();
    *got.file_posts.entry(name.clone()).or_default() += 1;
    got.files.insert(name, body.len());
    Json(serde_json::json!({ "ossUrl": url })).into_response()
}

#[derive(serde::Deserialize)]
struct Control {
    fail: bool,
}

async fn control(State(sim): State<CloudSim>, Json(c): Json<Control>) -> Response {
    sim.set_failing(c.fail);
    Json(serde_json::json!({ "failing": c.fail })).into_response()
}
