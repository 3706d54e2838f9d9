//! The store: device registry, events log, persistent command queue and settings, in SQLite (embedded default)
//! or PostgreSQL.
//!
//! One set of queries serves both databases through [`sqlx::Any`]: `$n` placeholders, `BIGINT` integers (flags
//! as 0/1, times as Unix milliseconds), `TEXT` strings and JSON as text. The schema is created by numbered
//! migrations embedded in the binary, one directory per database for the few DDL differences (autoincrement).
//! Deployments add their own tables with their own migrators (versions from 1000 up), run by
//! [`Store::migrate_with`].

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

use crate::queue::{CommandRecord, CommandSpec, CommandState};

/// Registers one device unless its id is registered already (then nothing is written).
const INSERT_DEVICE: &str =
    "INSERT INTO devices (id, name, secret, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: a file under the data directory, WAL journal.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names no supported database.
    #[error("database url `{0}` is neither sqlite: nor postgres:")]
    UnsupportedUrl(String),
    /// A row held a value the store cannot read back.
    #[error("corrupt row in `{table}`: {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A device with this id exists already.
    #[error("device `{0}` exists already")]
    DeviceExists(String),
    /// No device with this id.
    #[error("no device `{0}`")]
    NoDevice(String),
    /// The `Idempotency-Key` was used before for a different request.
    #[error("idempotency key `{0}` was used for a different command")]
    KeyReused(String),
    /// The data directory could not be created.
    #[error("data directory `{path}`: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Milliseconds since the Unix epoch, the store's time unit.
#[must_use]
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceRecord {
    /// Device id (for jetinno the machine number `vmc_no`).
    pub id: String,
    /// Operator's name for it.
    pub name: String,
    /// When it was registered (Unix ms).
    pub created_at: i64,
    /// Last frame received (Unix ms), as last written to the store.
    pub last_seen: Option<i64>,
    /// Software version the device reported at login.
    pub version: Option<String>,
    /// Further facts reported at login (protocol-specific JSON).
    pub info: Option<serde_json::Value>,
}

/// One entry of the events log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Increasing id; also the paging cursor.
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// The device, if the event concerns one.
    pub device_id: Option<String>,
    /// Kind: `online`, `offline`, `login_refused`, `status`, `error`, `command`, or a deployment's own.
    pub kind: String,
    /// Details (JSON).
    pub data: serde_json::Value,
}

/// An event not yet written (see [`Store::add_events`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// When it happened (Unix ms).
    pub at: i64,
    /// The device, if the event concerns one.
    pub device_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Details (JSON).
    pub data: serde_json::Value,
}

/// A login to record on its device (see [`Store::write_batch`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LoginRecord {
    /// The device.
    pub device_id: String,
    /// Software version it reported.
    pub version: Option<String>,
    /// Further facts it reported.
    pub info: Option<serde_json::Value>,
    /// When (Unix ms).
    pub at: i64,
}

/// Filters of [`Store::events`].
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only at or after this time (Unix ms).
    pub since: Option<i64>,
    /// Only ids below this cursor (the previous page's `next_cursor`).
    pub before: Option<i64>,
    /// At most this many (newest first).
    pub limit: i64,
}

/// Filters of [`Store::commands`].
#[derive(Debug, Clone, Default)]
pub struct CommandFilter {
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this state.
    pub state: Option<CommandState>,
    /// Only ids below this cursor.
    pub before: Option<i64>,
    /// At most this many (newest first).
    pub limit: i64,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// A new command was queued.
    New(CommandRecord),
    /// The `Idempotency-Key` matched an earlier identical request: that command, not queued again.
    Existing(CommandRecord),
}

/// What [`Store::recover`] changed after a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Idempotent commands whose delivery was interrupted, queued again.
    pub requeued: u64,
    /// Non-idempotent commands whose delivery was interrupted, now `unknown` and never resent.
    pub unknown: u64,
}

/// The store. Cheap to clone (connection pools).
///
/// On SQLite, writes go through a pool of one connection: they queue in the pool, in order, instead of
/// contending for the database's write lock, whose busy handler sleeps (1, 2, 5, 10 ms, ...) and made the
/// latency of a contended write. Reads use the other pool and, in WAL mode, never wait for the writer. On
/// PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
}

const COMMAND_COLUMNS: &str =
    "id, device_id, kind, payload, idempotent, expects_ack, state, idempotency_key, \
     request_hash, created_at, expires_at, sent_at, finished_at, error, attempts";

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

fn json_column(table: &'static str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(table, e.to_string()))
}

/// Whether a migration failed because another process was applying the same one (see
/// [`Store::migrate_with`]).
fn concurrent_migration(e: &sqlx::migrate::MigrateError) -> bool {
    use sqlx::migrate::MigrateError;
    let (MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)) = e else {
        return false;
    };
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    let text = d.message();
    d.is_unique_violation() || text.contains("already exists") || text.contains("locked")
}

/// When a command created at `created_at` (Unix ms) with `ttl` expires, if it does.
fn expires_at(created_at: i64, ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|t| created_at.saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Records how long a store call took (`fleet_store_seconds{op}`).
struct Timed(&'static str, Instant);

impl Timed {
    fn start(op: &'static str) -> Self {
        Self(op, Instant::now())
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        metrics::histogram!("fleet_store_seconds", "op" => self.0)
            .record(self.1.elapsed().as_secs_f64());
    }
}

impl Store {
    /// Opens the SQLite file `fleet.db` under `data_dir` (created if missing), in WAL mode, and migrates it.
    ///
    /// # Errors
    /// The directory or database cannot be created or migrated.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let file = data_dir.join("fleet.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Self::connect(&url, None).await
    }

    /// Connects to `url` (`sqlite://FILE?mode=rwc` or `postgres://...`) and migrates. With `schema` on
    /// PostgreSQL every connection works in that schema (created if missing), so tests and deployments can
    /// share one database.
    ///
    /// # Errors
    /// The URL is unsupported, or the database cannot be reached or migrated.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        if let (Backend::Postgres, Some(schema)) = (backend, schema) {
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
            conn.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
                .await?;
        }
        let schema = schema.map(str::to_owned);
        let options = |max: u32| {
            let schema = schema.clone();
            AnyPoolOptions::new()
                .max_connections(max)
                .after_connect(move |conn, _meta| {
                    let schema = schema.clone();
                    Box::pin(async move {
                        match backend {
                            Backend::Sqlite => {
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                                conn.execute("PRAGMA synchronous = NORMAL").await?;
                                conn.execute("PRAGMA busy_timeout = 5000").await?;
                                conn.execute("PRAGMA foreign_keys = ON").await?;
                            }
                            Backend::Postgres => {
                                if let Some(schema) = schema {
                                    conn.execute(
                                        format!("SET search_path TO \"{schema}\"").as_str(),
                                    )
                                    .await?;
                                }
                            }
                        }
                        Ok(())
                    })
                })
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // The writer first: it creates the file and sets WAL before the readers open it.
                let writer = options(1).connect(url).await?;
                (options(4).connect(url).await?, writer)
            }
            Backend::Postgres => {
                let pool = options(8).connect(url).await?;
                (pool.clone(), pool)
            }
        };
        let store = Self {
            pool,
            writer,
            backend,
        };
        store.migrate_with(&store.fleet_migrator()).await?;
        Ok(store)
    }

    fn fleet_migrator(&self) -> Migrator {
        let base = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        Migrator {
            migrations: base.migrations.clone(),
            ignore_missing: true,
            locking: base.locking,
            no_tx: base.no_tx,
        }
    }

    /// Runs a deployment's migrations (its versions must not collide with fleet's 1..1000). Migrations applied
    /// by other migrators on the same database are tolerated.
    ///
    /// # Errors
    /// A migration failed.
    pub async fn migrate_with(&self, migrator: &Migrator) -> Result<(), StoreError> {
        let migrator = Migrator {
            migrations: migrator.migrations.clone(),
            ignore_missing: true,
            locking: migrator.locking,
            no_tx: migrator.no_tx,
        };
        // SQLite migrations take no lock: two processes opening one new store at the same moment (a vehicle
        // server and its instances, say) both apply the same migrations, and the later one fails on the
        // table or the version row the other just wrote. Each migration is one transaction, so once the
        // other is done a new run finds them applied and checks their checksums.
        let mut attempts = 0;
        loop {
            match migrator.run(&self.writer).await {
                Ok(()) => return Ok(()),
                Err(e)
                    if self.backend == Backend::Sqlite
                        && attempts < 50
                        && concurrent_migration(&e) =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The database in use.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for a deployment's own queries (reads; writes go to [`Store::writer`]).
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for a deployment's writes (on SQLite one connection, see [`Store`]).
    #[must_use]
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Checks the database answers.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _t = Timed::start("ping");
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Waits for pending writes and closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    // ---- settings ----

    /// A setting's value.
    ///
    /// # Errors
    /// Database failure.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let _t = Timed::start("setting");
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Sets a setting unless it is set already; returns the value now stored.
    ///
    /// # Errors
    /// Database failure.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let _t = Timed::start("setting_or_insert");
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.writer)
        .await?;
        self.setting(name)
            .await?
            .ok_or_else(|| corrupt("settings", format!("`{name}` vanished after insert")))
    }

    // ---- devices ----

    fn device_from_row(row: &AnyRow) -> Result<DeviceRecord, StoreError> {
        let info: Option<String> = row.try_get("info")?;
        Ok(DeviceRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            last_seen: row.try_get("last_seen")?,
            version: row.try_get("version")?,
            info: info.map(|t| json_column("devices", &t)).transpose()?,
        })
    }

    /// Registers a device with its secret (for jetinno the 8-character machine code).
    ///
    /// # Errors
    /// [`StoreError::DeviceExists`], or database failure.
    pub async fn add_device(
        &self,
        id: &str,
        name: &str,
        secret: &str,
    ) -> Result<DeviceRecord, StoreError> {
        let _t = Timed::start("add_device");
        let created_at = now_ms();
        let inserted = sqlx::query(INSERT_DEVICE)
            .bind(id)
            .bind(name)
            .bind(secret)
            .bind(created_at)
            .execute(&self.writer)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::DeviceExists(id.to_owned()));
        }
        Ok(DeviceRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at,
            last_seen: None,
            version: None,
            info: None,
        })
    }

    /// Registers many devices `(id, name, secret)` in one transaction; ids registered already are left as they
    /// are. Returns the ids that were added.
    ///
    /// # Errors
    /// Database failure; then none is added.
    pub async fn add_devices(
        &self,
        devices: &[(String, String, String)],
    ) -> Result<Vec<String>, StoreError> {
        let _t = Timed::start("add_devices");
        let created_at = now_ms();
        let mut added = Vec::new();
        let mut tx = self.writer.begin().await?;
        for (id, name, secret) in devices {
            let inserted = sqlx::query(INSERT_DEVICE)
                .bind(id)
                .bind(name)
                .bind(secret)
                .bind(created_at)
                .execute(&mut *tx)
                .await?;
            if inserted.rows_affected() == 1 {
                added.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes a device and its queued commands; returns whether it existed. Its events stay in the log.
    ///
    /// # Errors
    /// Database failure.
    pub async fn remove_device(&self, id: &str) -> Result<bool, StoreError> {
        let _t = Timed::start("remove_device");
        let mut tx = self.writer.begin().await?;
        let gone = sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE commands SET state = 'cancelled', finished_at = $2, error = 'device removed' \
             WHERE device_id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone.rows_affected() > 0)
    }

    /// One device.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let _t = Timed::start("device");
        let row = sqlx::query(
            "SELECT id, name, created_at, last_seen, version, info FROM devices WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::device_from_row).transpose()
    }

    /// Devices in id order, after `after` (a cursor: the last id of the previous page), at most `limit`.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn devices(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeviceRecord>, StoreError> {
        let _t = Timed::start("devices");
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_seen, version, info FROM devices \
             WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::device_from_row).collect()
    }

    /// Every device's secret, for a login registry kept in memory.
    ///
    /// # Errors
    /// Database failure.
    pub async fn device_secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
        let _t = Timed::start("device_secrets");
        let rows = sqlx::query("SELECT id, secret FROM devices")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// `(count, newest created_at)` of the devices table: changes when a device is added or removed.
    ///
    /// # Errors
    /// Database failure.
    pub async fn devices_mark(&self) -> Result<(i64, i64), StoreError> {
        let _t = Timed::start("devices_mark");
        let row = sqlx::query("SELECT COUNT(*), COALESCE(MAX(created_at), 0) FROM devices")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Records a login: version and further facts, and the time.
    ///
    /// # Errors
    /// Database failure.
    pub async fn device_logged_in(
        &self,
        id: &str,
        version: Option<&str>,
        info: Option<&serde_json::Value>,
        at: i64,
    ) -> Result<(), StoreError> {
        let _t = Timed::start("device_logged_in");
        sqlx::query("UPDATE devices SET version = $2, info = $3, last_seen = $4 WHERE id = $1")
            .bind(id)
            .bind(version)
            .bind(info.map(ToString::to_string))
            .bind(at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Writes last-seen times, in transactions of a few hundred.
    ///
    /// # Errors
    /// Database failure.
    pub async fn touch_devices(&self, seen: &[(String, i64)]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let _t = Timed::start("touch_devices");
        // One statement per 256 devices: the single writer is not held from other writes by 10,000 updates
        // at once, nor by one round trip per device. `VALUES` columns are `column1, column2` on both backends.
        for chunk in seen.chunks(256) {
            let mut sql = String::from("UPDATE devices SET last_seen = v.column2 FROM (VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
            }
            sql.push_str(
                ") AS v WHERE devices.id = v.column1 AND (devices.last_seen IS NULL OR devices.last_seen < v.column2)",
            );
            let mut q = sqlx::query(&sql);
            for (id, at) in chunk {
                q = q.bind(id).bind(*at);
            }
            q.execute(&self.writer).await?;
        }
        Ok(())
    }

    // ---- events ----

    /// Appends an event; returns its id.
    ///
    /// # Errors
    /// Database failure.
    pub async fn add_event(
        &self,
        device_id: Option<&str>,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let _t = Timed::start("add_event");
        let row = sqlx::query(
            "INSERT INTO events (at, device_id, kind, data) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(now_ms())
        .bind(device_id)
        .bind(kind)
        .bind(data.to_string())
        .fetch_one(&self.writer)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Appends events in order, in one transaction (a few multi-row inserts).
    ///
    /// # Errors
    /// Database failure; then none of them is stored.
    pub async fn add_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        self.write_batch(events, &[]).await
    }

    /// Appends events in order and records logins, in one transaction.
    ///
    /// # Errors
    /// Database failure; then nothing is written.
    pub async fn write_batch(
        &self,
        events: &[NewEvent],
        logins: &[LoginRecord],
    ) -> Result<(), StoreError> {
        if events.is_empty() && logins.is_empty() {
            return Ok(());
        }
        let _t = Timed::start("write_batch");
        // 4 parameters a row; 200 rows stay far below SQLite's and PostgreSQL's parameter limits.
        const ROWS: usize = 200;
        let mut tx = self.writer.begin().await?;
        for l in logins {
            sqlx::query("UPDATE devices SET version = $2, info = $3, last_seen = $4 WHERE id = $1")
                .bind(&l.device_id)
                .bind(l.version.as_deref())
                .bind(l.info.as_ref().map(ToString::to_string))
                .bind(l.at)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in events.chunks(ROWS) {
            let mut sql = String::from("INSERT INTO events (at, device_id, kind, data) VALUES ");
            for i in 0..chunk.len() {
                let n = i * 4;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
            }
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.at)
                    .bind(e.device_id.as_deref())
                    .bind(e.kind.as_str())
                    .bind(e.data.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Events, newest first.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let _t = Timed::start("events");
        let rows = sqlx::query(
            "SELECT id, at, device_id, kind, data FROM events \
             WHERE ($1 IS NULL OR device_id = $1) AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(filter.device_id.as_deref())
        .bind(filter.kind.as_deref())
        .bind(filter.since)
        .bind(filter.before)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(EventRecord {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    device_id: r.try_get("device_id")?,
                    kind: r.try_get("kind")?,
                    data: json_column("events", &data)?,
                })
            })
            .collect()
    }

    /// Deletes events older than `older_than` (Unix ms) and all but the newest `keep`; returns how many.
    ///
    /// # Errors
    /// Database failure.
    pub async fn prune_events(&self, older_than: i64, keep: i64) -> Result<u64, StoreError> {
        let _t = Timed::start("prune_events");
        let by_age = self
            .delete_in_batches(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2)",
                older_than,
            )
            .await?;
        let by_count = match self
            .cutoff("SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1", keep)
            .await?
        {
            Some(cutoff) => {
                self.delete_in_batches(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= $1 ORDER BY id LIMIT $2)",
                    cutoff,
                )
                .await?
            }
            None => 0,
        };
        Ok(by_age + by_count)
    }

    /// Deletes finished commands (those with a `finished_at`) finished before `older_than` (Unix ms), and all
    /// finished ones but the newest `keep`; returns how many. Queued, sending and unacknowledged commands are
    /// never deleted. An idempotency key is remembered as long as its command is kept.
    ///
    /// # Errors
    /// Database failure.
    pub async fn prune_commands(&self, older_than: i64, keep: i64) -> Result<u64, StoreError> {
        let _t = Timed::start("prune_commands");
        let by_age = self
            .delete_in_batches(
                "DELETE FROM commands WHERE id IN (SELECT id FROM commands \
                 WHERE finished_at IS NOT NULL AND finished_at < $1 ORDER BY id LIMIT $2)",
                older_than,
            )
            .await?;
        let by_count = match self
            .cutoff(
                "SELECT id FROM commands WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET $1",
                keep,
            )
            .await?
        {
            Some(cutoff) => {
                self.delete_in_batches(
                    "DELETE FROM commands WHERE id IN (SELECT id FROM commands \
                     WHERE finished_at IS NOT NULL AND id <= $1 ORDER BY id LIMIT $2)",
                    cutoff,
                )
                .await?
            }
            None => 0,
        };
        Ok(by_age + by_count)
    }

    /// The newest id past the `keep` newest rows that `sql` (a `SELECT id ... OFFSET $1`) walks, looked up once
    /// on the reading pool: the batched delete below then goes by id, and the one writer never walks the kept
    /// rows (a million of them, say) once per batch.
    async fn cutoff(&self, sql: &str, keep: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(sql)
            .bind(keep.max(0))
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Runs `sql` (a `DELETE` of at most `$2` rows chosen by `$1`) until it deletes fewer than a batch, so the
    /// one writer is never held by a delete of millions of rows.
    async fn delete_in_batches(&self, sql: &str, arg: i64) -> Result<u64, StoreError> {
        const BATCH: i64 = 5_000;
        let mut total = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(arg)
                .bind(BATCH)
                .execute(&self.writer)
                .await?
                .rows_affected();
            total += done;
            if done < BATCH.unsigned_abs() {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    // ---- commands ----

    fn command_from_row(row: &AnyRow) -> Result<CommandRecord, StoreError> {
        let state: String = row.try_get("state")?;
        let payload: String = row.try_get("payload")?;
        Ok(CommandRecord {
            id: row.try_get("id")?,
            device_id: row.try_get("device_id")?,
            kind: row.try_get("kind")?,
            payload: json_column("commands", &payload)?,
            idempotent: row.try_get::<i64, _>("idempotent")? != 0,
            expects_ack: row.try_get::<i64, _>("expects_ack")? != 0,
            state: CommandState::from_str(&state).map_err(|e| corrupt("commands", e))?,
            idempotency_key: row.try_get("idempotency_key")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            sent_at: row.try_get("sent_at")?,
            finished_at: row.try_get("finished_at")?,
            error: row.try_get("error")?,
            attempts: row.try_get("attempts")?,
        })
    }

    /// Queues a command for a registered device. With an idempotency key, a repeat of the same request returns
    /// the first command instead of queuing again; a different request under the same key is refused.
    ///
    /// # Errors
    /// [`StoreError::NoDevice`], [`StoreError::KeyReused`], or database failure.
    pub async fn enqueue(
        &self,
        device_id: &str,
        spec: &CommandSpec,
        ttl: Option<Duration>,
        idempotency_key: Option<&str>,
    ) -> Result<Enqueued, StoreError> {
        let _t = Timed::start("enqueue");
        let payload = spec.payload.to_string();
        let request_hash = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(spec.kind.as_bytes());
            h.update([0]);
            h.update(payload.as_bytes());
            hex::encode(h.finalize())
        };
        if let Some(key) = idempotency_key {
            if let Some(existing) = self.command_by_key(device_id, key).await? {
                return self.same_request(existing, &request_hash, key);
            }
        }
        if self.device(device_id).await?.is_none() {
            return Err(StoreError::NoDevice(device_id.to_owned()));
        }
        let created_at = now_ms();
        let expires_at = expires_at(created_at, ttl);
        let inserted = sqlx::query(&format!(
            "INSERT INTO commands (device_id, kind, payload, idempotent, expects_ack, state, idempotency_key, \
             request_hash, created_at, expires_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, 0) RETURNING {COMMAND_COLUMNS}"
        ))
        .bind(device_id)
        .bind(&spec.kind)
        .bind(&payload)
        .bind(i64::from(spec.idempotent))
        .bind(i64::from(spec.expects_ack))
        .bind(idempotency_key)
        .bind(&request_hash)
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&self.writer)
        .await;
        match inserted {
            Ok(row) => Ok(Enqueued::New(Self::command_from_row(&row)?)),
            // Two concurrent requests with one key: the loser reads the winner's command.
            Err(e) if is_unique_violation(&e) => {
                let key = idempotency_key.unwrap_or_default();
                match self.command_by_key(device_id, key).await? {
                    Some(existing) => self.same_request(existing, &request_hash, key),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Queues the same command (no idempotency key) for each of `devices` in one transaction: one commit
    /// however many devices, so queueing a change for thousands of devices takes milliseconds, not a commit
    /// each. A device that is not registered (removed meanwhile) is skipped. Returns the queued commands in
    /// the order of `devices`. Delivery is not woken here ([`crate::Fleet::wake`] each device once the
    /// deployment's own rows for the commands are written).
    ///
    /// # Errors
    /// Database failure (then nothing is queued).
    pub async fn enqueue_many(
        &self,
        devices: &[&str],
        spec: &CommandSpec,
        ttl: Option<Duration>,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let _t = Timed::start("enqueue_many");
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let payload = spec.payload.to_string();
        let created_at = now_ms();
        let expires_at = expires_at(created_at, ttl);
        let sql = format!(
            "INSERT INTO commands (device_id, kind, payload, idempotent, expects_ack, state, created_at, \
             expires_at, attempts) SELECT id, $2, $3, $4, $5, 'queued', $6, $7, 0 FROM devices WHERE id = $1 \
             RETURNING {COMMAND_COLUMNS}"
        );
        let mut tx = self.writer.begin().await?;
        let mut queued = Vec::with_capacity(devices.len());
        for device in devices {
            let row = sqlx::query(&sql)
                .bind(*device)
                .bind(&spec.kind)
                .bind(&payload)
                .bind(i64::from(spec.idempotent))
                .bind(i64::from(spec.expects_ack))
                .bind(created_at)
                .bind(expires_at)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = row {
                queued.push(Self::command_from_row(&row)?);
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    fn same_request(
        &self,
        existing: (CommandRecord, Option<String>),
        request_hash: &str,
        key: &str,
    ) -> Result<Enqueued, StoreError> {
        let (record, hash) = existing;
        if hash.as_deref() == Some(request_hash) {
            Ok(Enqueued::Existing(record))
        } else {
            Err(StoreError::KeyReused(key.to_owned()))
        }
    }

    async fn command_by_key(
        &self,
        device_id: &str,
        key: &str,
    ) -> Result<Option<(CommandRecord, Option<String>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE device_id = $1 AND idempotency_key = $2"
        ))
        .bind(device_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let hash: Option<String> = row.try_get("request_hash")?;
                Ok(Some((Self::command_from_row(&row)?, hash)))
            }
            None => Ok(None),
        }
    }

    /// One command.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn command(&self, id: i64) -> Result<Option<CommandRecord>, StoreError> {
        let _t = Timed::start("command");
        let row = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::command_from_row).transpose()
    }

    /// Commands, newest first.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn commands(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>, StoreError> {
        let _t = Timed::start("commands");
        let rows = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM commands \
             WHERE ($1 IS NULL OR device_id = $1) AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.device_id.as_deref())
        .bind(filter.state.map(CommandState::as_str))
        .bind(filter.before)
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::command_from_row).collect()
    }

    /// How many commands are in each state.
    ///
    /// # Errors
    /// Database failure.
    pub async fn command_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let _t = Timed::start("command_counts");
        let rows = sqlx::query("SELECT state, COUNT(*) FROM commands GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The device's commands that occupy delivery slots: handed to the connection or sent and awaiting an ack.
    ///
    /// # Errors
    /// Database failure.
    pub async fn in_flight(&self, device_id: &str) -> Result<i64, StoreError> {
        let _t = Timed::start("in_flight");
        let row = sqlx::query(
            "SELECT COUNT(*) FROM commands WHERE device_id = $1 \
             AND (state = 'sending' OR (state = 'sent' AND expects_ack = 1))",
        )
        .bind(device_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Takes the device's oldest queued command that has not expired and marks it `sending` (handed to the
    /// connection, outcome not yet recorded). Expired ones met on the way become `expired`.
    ///
    /// # Errors
    /// Database failure or a corrupt row.
    pub async fn claim_next(&self, device_id: &str) -> Result<Option<CommandRecord>, StoreError> {
        let _t = Timed::start("claim_next");
        loop {
            let row = sqlx::query(&format!(
                "SELECT {COMMAND_COLUMNS} FROM commands WHERE device_id = $1 AND state = 'queued' ORDER BY id LIMIT 1"
            ))
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let mut record = Self::command_from_row(&row)?;
            let now = now_ms();
            if record.expires_at.is_some_and(|at| at <= now) {
                self.finish(
                    record.id,
                    CommandState::Queued,
                    CommandState::Expired,
                    Some("ttl elapsed before delivery"),
                )
                .await?;
                continue;
            }
            // Compare-and-set: a concurrent cancel wins.
            let claimed = sqlx::query(
                "UPDATE commands SET state = 'sending', attempts = attempts + 1 WHERE id = $1 AND state = 'queued'",
            )
            .bind(record.id)
            .execute(&self.writer)
            .await?;
            if claimed.rows_affected() == 1 {
                record.state = CommandState::Sending;
                record.attempts += 1;
                return Ok(Some(record));
            }
        }
    }

    /// Records that a `sending` command was written to the device's connection.
    ///
    /// # Errors
    /// Database failure.
    pub async fn mark_sent(&self, id: i64) -> Result<bool, StoreError> {
        let _t = Timed::start("mark_sent");
        let done = sqlx::query(
            "UPDATE commands SET state = 'sent', sent_at = $2, \
             finished_at = CASE WHEN expects_ack = 1 THEN NULL ELSE $2 END \
             WHERE id = $1 AND state = 'sending'",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a `sending` command back at its place in the queue (the device was not reachable; nothing was
    /// written).
    ///
    /// # Errors
    /// Database failure.
    pub async fn unclaim(&self, id: i64) -> Result<bool, StoreError> {
        let _t = Timed::start("unclaim");
        let done =
            sqlx::query("UPDATE commands SET state = 'queued' WHERE id = $1 AND state = 'sending'")
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a command from `from` to the final state `to`, with an error text. Returns whether it moved.
    ///
    /// # Errors
    /// Database failure.
    pub async fn finish(
        &self,
        id: i64,
        from: CommandState,
        to: CommandState,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _t = Timed::start("finish");
        let done = sqlx::query(
            "UPDATE commands SET state = $3, finished_at = $4, error = $5 WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now_ms())
        .bind(error)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a queued command. Returns the command as it is now (`None`: no such command).
    ///
    /// # Errors
    /// Database failure.
    pub async fn cancel(&self, id: i64) -> Result<Option<CommandRecord>, StoreError> {
        self.finish(
            id,
            CommandState::Queued,
            CommandState::Cancelled,
            Some("cancelled by the operator"),
        )
        .await?;
        self.command(id).await
    }

    /// Records the device's acknowledgement of a `sent` command (`acked`) or its refusal (`failed`).
    ///
    /// # Errors
    /// Database failure.
    pub async fn acknowledge(
        &self,
        id: i64,
        ok: bool,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let to = if ok {
            CommandState::Acked
        } else {
            CommandState::Failed
        };
        self.finish(id, CommandState::Sent, to, error).await
    }

    /// Marks `sent` commands awaiting an ack for longer than `older_than` (sent before, Unix ms) `timed_out`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn time_out_unacked(&self, sent_before: i64) -> Result<u64, StoreError> {
        let _t = Timed::start("time_out_unacked");
        let done = sqlx::query(
            "UPDATE commands SET state = 'timed_out', finished_at = $2, error = 'no acknowledgement in time' \
             WHERE state = 'sent' AND expects_ack = 1 AND sent_at < $1",
        )
        .bind(sent_before)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Marks queued commands whose TTL has passed `expired`.
    ///
    /// # Errors
    /// Database failure.
    pub async fn expire_queued(&self) -> Result<u64, StoreError> {
        let _t = Timed::start("expire_queued");
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE commands SET state = 'expired', finished_at = $1, error = 'ttl elapsed before delivery' \
             WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// After a restart: every command whose delivery was under way (`sending`, or `sent` awaiting an ack) is
    /// queued again when idempotent, and becomes `unknown` (never resent) when not.
    ///
    /// # Errors
    /// Database failure.
    pub async fn recover(&self) -> Result<Recovery, StoreError> {
        let _t = Timed::start("recover");
        let mut tx = self.writer.begin().await?;
        let requeued = sqlx::query(
            "UPDATE commands SET state = 'queued', sent_at = NULL, finished_at = NULL \
             WHERE idempotent = 1 AND (state = 'sending' OR (state = 'sent' AND expects_ack = 1))",
        )
        .execute(&mut *tx)
        .await?;
        let unknown = sqlx::query(
            "UPDATE commands SET state = 'unknown', finished_at = $1, \
             error = 'the server stopped during delivery; the device may or may not have received it' \
             WHERE idempotent = 0 AND (state = 'sending' OR (state = 'sent' AND expects_ack = 1))",
        )
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Recovery {
            requeued: requeued.rows_affected(),
            unknown: unknown.rows_affected(),
        })
    }

    /// Devices that have queued commands.
    ///
    /// # Errors
    /// Database failure.
    pub async fn devices_with_queued(&self) -> Result<Vec<String>, StoreError> {
        let _t = Timed::start("devices_with_queued");
        let rows = sqlx::query("SELECT DISTINCT device_id FROM commands WHERE state = 'queued'")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}
