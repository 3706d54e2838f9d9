//! Chunked file uploads (`dev.file.upload.start`, `.package`, `.end`; best.md 3.7 and DECISIONS.md) kept on
//! disk under `{data_dir}/files`, so an upload resumes at the expected offset on a later connection and after a
//! platform restart.
//!
//! - The sessions hand the upload messages over ([`device_core::best::UploadHandling::Application`]); each is
//!   answered here with the codes of best-proto's [`UploadError`]: `30000002` with the expected offset for a
//!   chunk at the wrong offset or an early `end`, `30000003` for an unknown `fileId`, `30000001` for a checksum
//!   mismatch, `20000001` for sizes over the limits.
//! - One row per upload in `meeting_files` (`receiving`, then `complete` or `failed`); the bytes go to
//!   `partial/{id}` and, once `end` has checked size and MD5, are renamed to `{id}`. The partial file's length
//!   is the number of bytes received: every chunk is written and synced before it is acknowledged, so nothing
//!   acknowledged is lost, and no store write is needed per chunk.
//! - A start of a `fileId` already receiving with the same size and checksum keeps what was received (the
//!   device's first chunk at 0 is then answered `30000002` with the offset to resume from); with another size
//!   or checksum the upload starts over.
//! - A storage failure is answered `30000002` with the offset the platform safely holds, and the message names
//!   the failure: the device may try again from there.
//! - Partial uploads idle for `files.partial_ttl_hours` are dropped (their row becomes `failed`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use best_proto::upload::UploadError;
use best_proto::{
    Checksum, DeviceMessage, FileId, FileUploadEnd, FileUploadPackage, FileUploadStart, Response,
};
use fleet::Fleet;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::io::AsyncWriteExt;

/// Limits of the uploads (`[files]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest file, bytes. Default 64 MiB.
    pub max_file_size: u64,
    /// Largest chunk, bytes: the `maxPackageSize` terminals report (default 64 KB). Default 65,536.
    pub max_chunk: u64,
    /// Uploads one terminal may have in progress. Default 4.
    pub max_uploads_per_terminal: i64,
    /// Hours a partial upload is kept without a new chunk. Default 24.
    pub partial_ttl_hours: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_size: 64 * 1024 * 1024,
            max_chunk: 64 * 1024,
            max_uploads_per_terminal: 4,
            partial_ttl_hours: 24,
        }
    }
}

/// An uploaded (or uploading) file, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FileInfo {
    /// Platform id (download at `/api/files/{id}/content`).
    pub id: i64,
    /// The terminal.
    pub sn: String,
    /// The terminal's `fileId`.
    pub file_id: String,
    /// Announced size, bytes.
    pub size: i64,
    /// Bytes received so far (the size once complete).
    pub received: i64,
    /// `receiving`, `complete` or `failed`.
    pub state: String,
    /// MD5 of the file (hex), once complete.
    pub md5: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When the upload began, ms since the epoch.
    pub started_at: i64,
    /// When it completed or failed.
    pub finished_at: Option<i64>,
}

/// A storage failure while handling an upload message.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
}

/// What a handled message came to: the protocol's refusal, or a storage failure with the bytes held.
enum Outcome {
    Ok,
    Refused(UploadError),
    Failed { held: u64, failure: Failure },
}

/// A lock per (terminal, fileId).
type Locks = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

struct Inner {
    fleet: Fleet,
    dir: PathBuf,
    config: FilesConfig,
    /// One lock per (terminal, fileId): a retried message never interleaves with the one it repeats.
    locks: Mutex<Locks>,
    tasks: tokio_util::task::TaskTracker,
}

/// The uploads of every terminal.
#[derive(Clone)]
pub struct Files(Arc<Inner>);

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("dir", &self.0.dir)
            .finish_non_exhaustive()
    }
}

fn receiving_row(row: &sqlx::any::AnyRow) -> Result<(i64, u64, Option<String>), sqlx::Error> {
    let size: i64 = row.try_get("size")?;
    Ok((
        row.try_get("id")?,
        u64::try_from(size).unwrap_or(0),
        row.try_get("checksum")?,
    ))
}

impl Files {
    /// The uploads under `{data_dir}/files` of `fleet`'s store; drops partial uploads idle past the limit.
    ///
    /// # Errors
    /// The directories cannot be made.
    pub async fn open(fleet: Fleet, data_dir: &Path, config: FilesConfig) -> std::io::Result<Self> {
        let dir = data_dir.join("files");
        tokio::fs::create_dir_all(dir.join("partial")).await?;
        let files = Self(Arc::new(Inner {
            fleet,
            dir,
            config,
            locks: Mutex::new(HashMap::new()),
            tasks: tokio_util::task::TaskTracker::new(),
        }));
        files.expire().await;
        Ok(files)
    }

    fn partial(&self, id: i64) -> PathBuf {
        self.0.dir.join("partial").join(id.to_string())
    }

    fn complete(&self, id: i64) -> PathBuf {
        self.0.dir.join(id.to_string())
    }

    fn lock_of(&self, sn: &str, file_id: &FileId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget the locks nobody holds, so the map stays as small as the uploads in progress.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks
            .entry((sn.to_owned(), file_id.as_str().to_owned()))
            .or_default()
            .clone()
    }

    /// Runs `work` as a tracked task: [`Files::close`] waits for it.
    pub fn spawn<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.0.tasks.spawn(work);
    }

    /// Waits for the upload messages being handled (at shutdown, before the store closes).
    pub async fn close(&self) {
        self.0.tasks.close();
        self.0.tasks.wait().await;
    }

    /// Answers one upload message of terminal `sn`; `None` for any other message.
    pub async fn handle(&self, sn: &str, message: &DeviceMessage) -> Option<Response> {
        let (file_id, outcome) = match message {
            DeviceMessage::FileUploadStart(m) => {
                let _guard = self.lock_of(sn, &m.file_id).lock_owned().await;
                (&m.file_id, self.start(sn, m).await)
            }
            DeviceMessage::FileUploadPackage(m) => {
                let _guard = self.lock_of(sn, &m.file_id).lock_owned().await;
                (&m.file_id, self.package(sn, m).await)
            }
            DeviceMessage::FileUploadEnd(m) => {
                let _guard = self.lock_of(sn, &m.file_id).lock_owned().await;
                (&m.file_id, self.end(sn, m).await)
            }
            _ => return None,
        };
        Some(match outcome {
            Outcome::Ok => Response::ok(None),
            Outcome::Refused(e) => e.to_response(),
            Outcome::Failed { held, failure } => {
                tracing::error!(sn, file_id = %file_id, error = %failure, "upload message not stored");
                Response::error(
                    best_proto::Code::FileOffsetMismatch,
                    format!(
                        "file `{file_id}`: the platform could not store it ({failure}); expected offset {held}"
                    ),
                )
            }
        })
    }

    /// The upload of `file_id` that terminal `sn` is sending: (row id, size, checksum).
    async fn receiving(
        &self,
        sn: &str,
        file_id: &FileId,
    ) -> Result<Option<(i64, u64, Option<String>)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, size, checksum FROM meeting_files WHERE sn = $1 AND file_id = $2 AND state = 'receiving' ORDER BY id DESC LIMIT 1",
        )
        .bind(sn)
        .bind(file_id.as_str())
        .fetch_optional(self.0.fleet.store().writer())
        .await?;
        row.as_ref().map(receiving_row).transpose()
    }

    /// Bytes held for upload `id`.
    async fn held(&self, id: i64) -> std::io::Result<u64> {
        match tokio::fs::metadata(self.partial(id)).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    async fn start(&self, sn: &str, m: &FileUploadStart) -> Outcome {
        match self.try_start(sn, m).await {
            Ok(o) => o,
            Err(failure) => Outcome::Failed { held: 0, failure },
        }
    }

    async fn try_start(&self, sn: &str, m: &FileUploadStart) -> Result<Outcome, Failure> {
        if m.size > self.0.config.max_file_size {
            return Ok(Outcome::Refused(UploadError::FileTooLarge {
                file_id: m.file_id.clone(),
                size: m.size,
                max: self.0.config.max_file_size,
            }));
        }
        let checksum = m.checksum.map(|c| hex::encode(c.0));
        let now = fleet::store::now_ms();
        let size = i64::try_from(m.size).unwrap_or(i64::MAX);
        if let Some((id, old_size, old_checksum)) = self.receiving(sn, &m.file_id).await? {
            if old_size == m.size && old_checksum == checksum {
                let held = self.held(id).await?;
                self.started(sn, id, m, held).await;
                return Ok(Outcome::Ok);
            }
            // Another file under the same id: start over.
            sqlx::query(
                "UPDATE meeting_files SET size = $2, checksum = $3, started_at = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(size)
            .bind(checksum.as_deref())
            .bind(now)
            .execute(self.0.fleet.store().writer())
            .await?;
            self.empty_partial(id).await?;
            return Ok(Outcome::Ok);
        }
        let busy: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM meeting_files WHERE sn = $1 AND state = 'receiving'",
        )
        .bind(sn)
        .fetch_one(self.0.fleet.store().writer())
        .await?;
        if busy >= self.0.config.max_uploads_per_terminal {
            return Ok(Outcome::Refused(UploadError::TooManyUploads {
                max: usize::try_from(self.0.config.max_uploads_per_terminal).unwrap_or(0),
            }));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO meeting_files (sn, file_id, size, checksum, state, started_at) VALUES ($1, $2, $3, $4, 'receiving', $5) RETURNING id",
        )
        .bind(sn)
        .bind(m.file_id.as_str())
        .bind(size)
        .bind(checksum.as_deref())
        .bind(now)
        .fetch_one(self.0.fleet.store().writer())
        .await?;
        self.empty_partial(id).await?;
        self.started(sn, id, m, 0).await;
        Ok(Outcome::Ok)
    }

    /// Upload `id`'s partial file, empty and synced.
    async fn empty_partial(&self, id: i64) -> std::io::Result<()> {
        tokio::fs::File::create(self.partial(id))
            .await?
            .sync_all()
            .await
    }

    /// Records that upload `id` of `sn` began (or was announced again) with `held` bytes already received.
    async fn started(&self, sn: &str, id: i64, m: &FileUploadStart, held: u64) {
        self.0
            .fleet
            .event(
                Some(sn),
                "upload_started",
                &serde_json::json!({ "id": id, "file_id": m.file_id.as_str(), "size": m.size, "held": held }),
            )
            .await;
    }

    async fn package(&self, sn: &str, m: &FileUploadPackage) -> Outcome {
        let (id, size) = match self.receiving(sn, &m.file_id).await {
            Ok(Some((id, size, _))) => (id, size),
            Ok(None) => {
                return Outcome::Refused(UploadError::UnknownFileId {
                    file_id: m.file_id.clone(),
                })
            }
            Err(e) => {
                return Outcome::Failed {
                    held: m.offset,
                    failure: e.into(),
                }
            }
        };
        let held = match self.held(id).await {
            Ok(h) => h,
            Err(e) => {
                return Outcome::Failed {
                    held: 0,
                    failure: e.into(),
                }
            }
        };
        if m.offset != held {
            if m.offset == 0 && held > 0 {
                self.0
                    .fleet
                    .event(
                        Some(sn),
                        "upload_resumed",
                        &serde_json::json!({ "id": id, "file_id": m.file_id.as_str(), "offset": held }),
                    )
                    .await;
            }
            return Outcome::Refused(UploadError::OffsetMismatch {
                file_id: m.file_id.clone(),
                expected: held,
                found: m.offset,
            });
        }
        let len = m.content.len() as u64;
        if len > self.0.config.max_chunk {
            return Outcome::Refused(UploadError::ChunkTooLarge {
                file_id: m.file_id.clone(),
                len,
                max: self.0.config.max_chunk,
            });
        }
        let end = held.saturating_add(len);
        if end > size {
            return Outcome::Refused(UploadError::BeyondSize {
                file_id: m.file_id.clone(),
                end,
                size,
            });
        }
        match self.append(id, &m.content).await {
            Ok(()) => Outcome::Ok,
            // Whatever reached the file before the failure is kept; the device resumes after it.
            Err(e) => Outcome::Failed {
                held: self.held(id).await.unwrap_or(held),
                failure: e.into(),
            },
        }
    }

    async fn append(&self, id: i64, bytes: &[u8]) -> std::io::Result<()> {
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(self.partial(id))
            .await?;
        file.write_all(bytes).await?;
        file.sync_data().await
    }

    async fn end(&self, sn: &str, m: &FileUploadEnd) -> Outcome {
        match self.try_end(sn, m).await {
            Ok(o) => o,
            Err(failure) => Outcome::Failed { held: 0, failure },
        }
    }

    async fn try_end(&self, sn: &str, m: &FileUploadEnd) -> Result<Outcome, Failure> {
        let Some((id, size, checksum)) = self.receiving(sn, &m.file_id).await? else {
            return Ok(Outcome::Refused(UploadError::UnknownFileId {
                file_id: m.file_id.clone(),
            }));
        };
        let held = self.held(id).await?;
        if held != size {
            return Ok(Outcome::Refused(UploadError::Incomplete {
                file_id: m.file_id.clone(),
                received: held,
                size,
            }));
        }
        let path = self.partial(id);
        let computed = tokio::task::spawn_blocking(move || md5_of(&path))
            .await
            .map_err(std::io::Error::other)??;
        let expected = checksum.as_deref().and_then(|c| {
            let mut out = [0u8; 16];
            hex::decode_to_slice(c, &mut out)
                .ok()
                .map(|()| Checksum(out))
        });
        let now = fleet::store::now_ms();
        if let Some(expected) = expected.filter(|e| *e != computed) {
            let error = UploadError::ChecksumMismatch {
                file_id: m.file_id.clone(),
                expected,
                computed,
            };
            sqlx::query("UPDATE meeting_files SET state = 'failed', error = $2, finished_at = $3 WHERE id = $1")
                .bind(id)
                .bind(error.to_string())
                .bind(now)
                .execute(self.0.fleet.store().writer())
                .await?;
            let _ = tokio::fs::remove_file(self.partial(id)).await;
            return Ok(Outcome::Refused(error));
        }
        tokio::fs::rename(self.partial(id), self.complete(id)).await?;
        let md5 = hex::encode(computed.0);
        sqlx::query(
            "UPDATE meeting_files SET state = 'complete', md5 = $2, finished_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(&md5)
        .bind(now)
        .execute(self.0.fleet.store().writer())
        .await?;
        self.0
            .fleet
            .event(
                Some(sn),
                "file_received",
                &serde_json::json!({ "id": id, "file_id": m.file_id.as_str(), "size": size, "md5": md5 }),
            )
            .await;
        Ok(Outcome::Ok)
    }

    /// Drops partial uploads whose last chunk is older than `files.partial_ttl_hours`.
    pub async fn expire(&self) {
        let ttl = Duration::from_secs(self.0.config.partial_ttl_hours.saturating_mul(3600));
        let rows = match sqlx::query("SELECT id FROM meeting_files WHERE state = 'receiving'")
            .fetch_all(self.0.fleet.store().pool())
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "partial uploads not checked");
                return;
            }
        };
        for row in rows {
            let Ok(id) = row.try_get::<i64, _>("id") else {
                continue;
            };
            let idle = match tokio::fs::metadata(self.partial(id)).await {
                Ok(meta) => meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= ttl),
                // The bytes are gone: nothing to resume.
                Err(_) => true,
            };
            if idle {
                let _ = tokio::fs::remove_file(self.partial(id)).await;
                let r = sqlx::query("UPDATE meeting_files SET state = 'failed', error = $2, finished_at = $3 WHERE id = $1 AND state = 'receiving'")
                    .bind(id)
                    .bind(format!("no chunk for {} h", self.0.config.partial_ttl_hours))
                    .bind(fleet::store::now_ms())
                    .execute(self.0.fleet.store().writer())
                    .await;
                if let Err(e) = r {
                    tracing::error!(id, error = %e, "expired upload not marked");
                }
            }
        }
    }

    /// Uploads, newest first, `limit` of them from before id `before`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn list(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<FileInfo>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, sn, file_id, size, state, md5, error, started_at, finished_at FROM meeting_files WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.0.fleet.store().pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.info(row).await?);
        }
        Ok(out)
    }

    /// Upload `id`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn get(&self, id: i64) -> Result<Option<FileInfo>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, sn, file_id, size, state, md5, error, started_at, finished_at FROM meeting_files WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.0.fleet.store().pool())
        .await?;
        match row {
            Some(row) => Ok(Some(self.info(&row).await?)),
            None => Ok(None),
        }
    }

    async fn info(&self, row: &sqlx::any::AnyRow) -> Result<FileInfo, sqlx::Error> {
        let id: i64 = row.try_get("id")?;
        let size: i64 = row.try_get("size")?;
        let state: String = row.try_get("state")?;
        let received = match state.as_str() {
            "complete" => size,
            "receiving" => i64::try_from(self.held(id).await.unwrap_or(0)).unwrap_or(0),
            _ => 0,
        };
        Ok(FileInfo {
            id,
            sn: row.try_get("sn")?,
            file_id: row.try_get("file_id")?,
            size,
            received,
            state,
            md5: row.try_get("md5")?,
            error: row.try_get("error")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    }

    /// Where the bytes of complete upload `id` are.
    pub fn path_of(&self, id: i64) -> PathBuf {
        self.complete(id)
    }
}

/// The MD5 of a file, read in 1 MiB pieces.
fn md5_of(path: &Path) -> std::io::Result<Checksum> {
    use md5::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Checksum(hasher.finalize().into()))
}

pub mod api {
    //! `/api/files`: the uploads, and their bytes.

    use axum::body::Body;
    use axum::extract::{Path, State};
    use axum::http::header;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::{Json, Router};
    use fleet::api::{limit_param, Page};
    use fleet::{ApiQuery, Problem, RouteTable};
    use serde::Deserialize;
    use utoipa::OpenApi;

    use super::{FileInfo, Files};

    fn store(e: sqlx::Error) -> Problem {
        Problem::unavailable(format!("store: {e}"))
    }

    /// A page query.
    #[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
    #[serde(deny_unknown_fields)]
    pub struct FilesQuery {
        /// Cursor: the previous page's `next_cursor`.
        cursor: Option<String>,
        /// Page size, 1..=1000, default 100.
        limit: Option<String>,
    }

    /// `GET /api/files`: uploads, newest first, with the bytes received so far.
    #[utoipa::path(get, path = "/api/files", params(FilesQuery), responses((status = 200, body = Page<FileInfo>)))]
    async fn list(
        State(files): State<Files>,
        ApiQuery(q): ApiQuery<FilesQuery>,
    ) -> Result<Json<Page<FileInfo>>, Problem> {
        let limit = limit_param(q.limit.as_deref(), 100, 1000)?;
        let before =
            match q.cursor.as_deref() {
                None | Some("") => None,
                Some(c) => Some(c.parse::<i64>().map_err(|_| {
                    Problem::invalid("cursor", format!("`{c}`: expected a file id"))
                })?),
            };
        let items = files.list(before, limit).await.map_err(store)?;
        let next_cursor = (items.len() as i64 == limit)
            .then(|| items.last().map(|f| f.id.to_string()))
            .flatten();
        Ok(Json(Page { items, next_cursor }))
    }

    /// `GET /api/files/{id}`: one upload.
    #[utoipa::path(get, path = "/api/files/{id}", params(("id" = i64, Path, description = "file id")),
        responses((status = 200, body = FileInfo), (status = 404, body = Problem)))]
    async fn one(
        State(files): State<Files>,
        Path(id): Path<i64>,
    ) -> Result<Json<FileInfo>, Problem> {
        files
            .get(id)
            .await
            .map_err(store)?
            .map(Json)
            .ok_or_else(|| Problem::not_found("file", &id.to_string()))
    }

    /// `GET /api/files/{id}/content`: the bytes of a complete upload.
    #[utoipa::path(get, path = "/api/files/{id}/content", params(("id" = i64, Path, description = "file id")),
        responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
            (status = 404, body = Problem), (status = 409, body = Problem)))]
    async fn content(State(files): State<Files>, Path(id): Path<i64>) -> Result<Response, Problem> {
        let info = files
            .get(id)
            .await
            .map_err(store)?
            .ok_or_else(|| Problem::not_found("file", &id.to_string()))?;
        if info.state != "complete" {
            return Err(Problem::conflict(format!(
                "file {id} is {} ({} of {} bytes): only complete files can be downloaded",
                info.state, info.received, info.size
            )));
        }
        let file = tokio::fs::File::open(files.path_of(id))
            .await
            .map_err(|e| Problem::unavailable(format!("file {id}: {e}")))?;
        // A fileId is 1 to 64 ASCII letters and digits (best-proto checks it): safe in a quoted filename.
        let disposition = format!("attachment; filename=\"{}\"", info.file_id);
        Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CONTENT_LENGTH, info.size.to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            Body::from_stream(tokio_util::io::ReaderStream::new(file)),
        )
            .into_response())
    }

    #[derive(OpenApi)]
    #[openapi(paths(list, one, content), components(schemas(FileInfo)))]
    struct FilesDoc;

    /// The routes and their OpenAPI document.
    pub fn routes(files: Files) -> ((Router, Vec<(String, String)>), utoipa::openapi::OpenApi) {
        let table = RouteTable::new()
            .route("get", "/api/files", get(list))
            .route("get", "/api/files/{id}", get(one))
            .route("get", "/api/files/{id}/content", get(content));
        (table.finish(files), FilesDoc::openapi())
    }
}
