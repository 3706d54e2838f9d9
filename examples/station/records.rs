//! The scan records: kept in the fleet store (SQLite or PostgreSQL, table `station_records`), with an
//! in-memory mirror the station reads synchronously.
//!
//! device-core's [`RecordStore`] is called while the station is locked, so it cannot wait on a database. The
//! mirror answers reads at once; every save updates the mirror and is written to the store by one writer task,
//! in order (an upsert per record, the whole record as JSON plus its upload states as columns). At start the
//! mirror is loaded from the store, so records survive a restart; at shutdown the writer drains first.
//! Statistics and search are SQL over the store.
//!
//! A save is durable before it returns, so a crash between the acknowledgement and the store write loses
//! nothing: it is first appended to the journal ([`JOURNAL_FILE`] in the data directory, one JSON line per save,
//! `File::sync_data` before returning). Once the store has every save in the journal, the writer truncates it.
//! At start, before the mirror is loaded, what the journal holds is written to the store (an upsert by
//! `scanId`, so replaying twice is harmless); a line that does not decode (a crash mid-write) is skipped with a
//! warning. A full journal ([`JOURNAL_MAX_BYTES`]) or a failed write refuses the save with 600101.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use aliscan_proto::{
    ErrorCode, RecordStatus, ScanPage, ScanRecord, Statistics, SubmitStatus, UploadStatus,
};
use device_core::aliscan::RecordStore;
use fleet::Store;
use sqlx::Row;
use tokio::sync::mpsc;

/// A store failure, with what failed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The migrations of the `station_records` table for `backend`.
pub fn migrator(backend: fleet::store::Backend) -> &'static sqlx::migrate::Migrator {
    static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("examples/station/migrations/sqlite");
    static POSTGRES: sqlx::migrate::Migrator =
        sqlx::migrate!("examples/station/migrations/postgres");
    match backend {
        fleet::store::Backend::Sqlite => &SQLITE,
        fleet::store::Backend::Postgres => &POSTGRES,
    }
}

/// The upload state of the point cloud, which the record itself has no block for: it is uploaded with the
/// `scan` block, so it follows that block's state.
fn cloud_status(r: &ScanRecord) -> &'static str {
    block_status(r.scan.as_ref().and_then(|b| b.status.as_ref()))
}

fn block_status(s: Option<&UploadStatus>) -> &'static str {
    match s {
        Some(UploadStatus::Uploaded) => "uploaded",
        Some(UploadStatus::Fail) => "fail",
        _ => "init",
    }
}

fn submit_status(s: Option<&SubmitStatus>) -> &'static str {
    match s {
        Some(SubmitStatus::Complete) => "complete",
        Some(SubmitStatus::Fail) => "fail",
        _ => "init",
    }
}

/// Whether every part of the record reached the cloud.
pub fn fully_uploaded(r: &ScanRecord) -> bool {
    let blocks = [r.mini.as_ref(), r.scan.as_ref()]
        .into_iter()
        .all(|b| b.is_some_and(|b| b.status == Some(UploadStatus::Uploaded)));
    let user = r
        .user_info
        .as_ref()
        .is_none_or(|u| u.status == Some(SubmitStatus::Complete));
    blocks
        && user
        && r.result_status == Some(SubmitStatus::Complete)
        && r.result_pri_status == Some(SubmitStatus::Complete)
}

/// What the page and the search read: id, request, customer.
fn search_text(r: &ScanRecord) -> String {
    let mut s = String::new();
    for part in [r.scan_id.as_deref(), r.request_id.as_deref()]
        .into_iter()
        .flatten()
    {
        s.push_str(part);
        s.push(' ');
    }
    if let Some(u) = &r.user_info {
        for part in [&u.name, &u.telephone, &u.member_num, &u.operator]
            .into_iter()
            .flatten()
        {
            s.push_str(part);
            s.push(' ');
        }
    }
    s.to_lowercase()
}

/// Whether the pads are shown the record (spec 1.0.16: records without a model or with abnormal
/// measurements are left out of the list; deleted ones are gone).
pub fn listed(r: &ScanRecord) -> bool {
    r.status != Some(RecordStatus::Deleted)
        && r.result.is_some()
        && r.scan
            .as_ref()
            .is_some_and(|b| b.save_name.is_some() || b.oss_url.is_some())
}

#[derive(Default)]
struct Mirror {
    /// Oldest first (by creation).
    order: Vec<String>,
    records: HashMap<String, ScanRecord>,
}

enum Write {
    /// A save and its journal sequence number.
    Upsert(u64, Box<ScanRecord>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "records.journal";

/// The most the journal may hold (the store being down for long): beyond it, saves fail with 600101.
pub const JOURNAL_MAX_BYTES: u64 = 64 << 20;

/// The longest journal line replayed (one record as JSON); a longer one is skipped as damaged.
pub const JOURNAL_MAX_LINE: usize = 4 << 20;

/// The append-only journal of saves not yet known to be in the store.
struct Journal {
    file: File,
    /// Bytes in the file.
    len: u64,
    /// The sequence number of the last save appended.
    written: u64,
    /// A write failed part way and could not be cut back: the next line starts on a fresh line.
    broken_tail: bool,
}

impl Journal {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            file,
            len,
            written: 0,
            broken_tail: len > 0,
        })
    }

    /// Appends one save, durably; its sequence number.
    fn append(&mut self, record: &ScanRecord) -> Result<u64, String> {
        let mut line = Vec::with_capacity(1024);
        if self.broken_tail {
            line.push(b'\n');
        }
        serde_json::to_writer(&mut line, record).map_err(|e| format!("encode: {e}"))?;
        line.push(b'\n');
        if line.len() > JOURNAL_MAX_LINE {
            return Err(format!("record too large ({} bytes)", line.len()));
        }
        let size = u64::try_from(line.len()).unwrap_or(u64::MAX);
        if self.len.saturating_add(size) > JOURNAL_MAX_BYTES {
            return Err(format!(
                "journal full ({} bytes, the store is behind)",
                self.len
            ));
        }
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Cut a partial line back off, so that the next save is not glued to it.
            let cut = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data());
            if cut.is_err() {
                self.broken_tail = true;
                self.len = self.file.metadata().map_or(self.len, |m| m.len());
            }
            return Err(format!("write: {e}"));
        }
        self.len += size;
        self.broken_tail = false;
        self.written += 1;
        Ok(self.written)
    }

    /// Empties the journal.
    fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_data()?;
        self.len = 0;
        self.broken_tail = false;
        Ok(())
    }

    /// Empties the journal if save `done` is the last one appended (the store has everything in it).
    fn done(&mut self, done: u64) {
        if done != self.written || self.len == 0 {
            return;
        }
        if let Err(e) = self.clear() {
            // Harmless: the journal is replayed at the next start, and replaying is idempotent.
            tracing::warn!(error = %e, "records journal not truncated");
        }
    }
}

/// The records: the mirror and the store behind it. Clones share both.
#[derive(Clone)]
pub struct Records {
    mirror: Arc<Mutex<Mirror>>,
    journal: Arc<Mutex<Journal>>,
    writes: mpsc::UnboundedSender<Write>,
    store: Store,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("records", &self.lock().order.len())
            .finish_non_exhaustive()
    }
}

impl Records {
    /// Writes what the journal in `data_dir` holds to `store` (migrated already), loads the records of the store
    /// and starts the writer.
    ///
    /// # Errors
    /// The journal cannot be read or written, the store cannot be read or written, or a stored record does not
    /// decode.
    pub async fn open(
        store: Store,
        data_dir: &Path,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), Error> {
        let path = data_dir.join(JOURNAL_FILE);
        let mut journal = Journal::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let pending =
            read_journal(&journal.file).map_err(|e| format!("{}: {e}", path.display()))?;
        if !pending.is_empty() {
            tracing::info!(
                records = pending.len(),
                "writing the records journal to the store"
            );
        }
        for record in &pending {
            upsert(&store, record).await?;
        }
        journal
            .clear()
            .map_err(|e| format!("{}: truncate after its replay: {e}", path.display()))?;
        // The journal's own directory entry, in case it was just created (best effort: not every platform
        // opens directories).
        if let Ok(dir) = File::open(data_dir) {
            if let Err(e) = dir.sync_all() {
                tracing::warn!(dir = %data_dir.display(), error = %e, "data directory not synced");
            }
        }
        let rows = sqlx::query("SELECT scan_id, record FROM station_records ORDER BY created_ms")
            .fetch_all(store.pool())
            .await?;
        let mut mirror = Mirror::default();
        for row in rows {
            let id: String = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            let record: ScanRecord =
                serde_json::from_str(&text).map_err(|e| format!("stored record {id}: {e}"))?;
            mirror.order.push(id.clone());
            mirror.records.insert(id, record);
        }
        let (writes, rx) = mpsc::unbounded_channel();
        let journal = Arc::new(Mutex::new(journal));
        let writer = tokio::spawn(write_loop(store.clone(), rx, journal.clone()));
        Ok((
            Self {
                mirror: Arc::new(Mutex::new(mirror)),
                journal,
                writes,
                store,
            },
            writer,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mirror> {
        self.mirror.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A record by `scanId`.
    pub fn get(&self, scan_id: &str) -> Option<ScanRecord> {
        self.lock().records.get(scan_id).cloned()
    }

    /// Every record not deleted, oldest first.
    pub fn all(&self) -> Vec<ScanRecord> {
        let m = self.lock();
        m.order
            .iter()
            .filter_map(|id| m.records.get(id))
            .filter(|r| r.status != Some(RecordStatus::Deleted))
            .cloned()
            .collect()
    }

    /// Saves a record: in the journal (durably) and the mirror now, in the store behind.
    ///
    /// # Errors
    /// 600101 (local data storage failed): the record has no `scanId`, or the journal could not be written
    /// or is full; the record is then not saved.
    pub fn put(&self, record: &ScanRecord) -> Result<(), ErrorCode> {
        // Under the journal's lock, so that the store sees the saves in the journal's order.
        let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        self.put_locked(&mut journal, record)
    }

    /// Changes the record `scan_id` as it is at this moment and saves it, as one step: a save by someone else
    /// (a pad's new customer details, say) cannot fall between the read and the write and be lost. `None`
    /// when there is no such record.
    ///
    /// # Errors
    /// As [`Records::put`].
    pub fn update(
        &self,
        scan_id: &str,
        change: impl FnOnce(&mut ScanRecord),
    ) -> Result<Option<ScanRecord>, ErrorCode> {
        let mut journal = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mut record) = self.get(scan_id) else {
            return Ok(None);
        };
        change(&mut record);
        self.put_locked(&mut journal, &record)?;
        Ok(Some(record))
    }

    fn put_locked(&self, journal: &mut Journal, record: &ScanRecord) -> Result<(), ErrorCode> {
        let Some(id) = record.scan_id.clone() else {
            return Err(ErrorCode::LOCAL_STORAGE_FAILED);
        };
        let seq = journal.append(record).map_err(|e| {
            tracing::error!(scan = %id, error = %e, "record not saved: records journal");
            ErrorCode::LOCAL_STORAGE_FAILED
        })?;
        {
            let mut m = self.lock();
            if m.records.insert(id.clone(), record.clone()).is_none() {
                m.order.push(id.clone());
            }
        }
        if self
            .writes
            .send(Write::Upsert(seq, Box::new(record.clone())))
            .is_err()
        {
            // Stopping: the journal has it, the next start writes it to the store.
            tracing::warn!(scan = %id, "record writer stopped; the record stays in the journal");
        }
        Ok(())
    }

    /// Waits until every save made so far is in the store.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.writes.send(Write::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The record counts by upload state, computed by the store from the records' states.
    ///
    /// # Errors
    /// The store failed.
    pub async fn statistics(&self) -> Result<Statistics, Error> {
        self.flush().await;
        let row = sqlx::query(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN mini_status <> 'uploaded' OR scan_status <> 'uploaded' OR cloud_status <> 'uploaded' \
                 OR user_status = 'init' OR user_status = 'fail' OR json_status <> 'complete' OR json_pri_status <> 'complete' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN user_status <> 'complete' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN user_status = 'fail' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN json_status <> 'complete' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN json_status = 'fail' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN json_pri_status <> 'complete' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN json_pri_status = 'fail' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN cloud_status <> 'uploaded' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN cloud_status = 'fail' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN mini_status <> 'uploaded' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN mini_status = 'fail' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN scan_status <> 'uploaded' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN scan_status = 'fail' THEN 1 ELSE 0 END), 0) \
             FROM station_records WHERE status <> 'deleted'",
        )
        .fetch_one(self.store.pool())
        .await?;
        let n = |i: usize| -> Result<u64, Error> {
            let v: i64 = row.try_get(i)?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(Statistics {
            total: n(0)?,
            uncomplete: n(1)?,
            user_uncomplete: n(2)?,
            user_fail: n(3)?,
            json_uncomplete: n(4)?,
            json_fail: n(5)?,
            json_pri_uncomplete: n(6)?,
            json_pri_fail: n(7)?,
            cloud_uncomplete: n(8)?,
            cloud_fail: n(9)?,
            mini_uncomplete: n(10)?,
            mini_fail: n(11)?,
            scan_uncomplete: n(12)?,
            scan_fail: n(13)?,
        })
    }

    /// One page of records whose id, request or customer contains `query` (case-insensitive), newest first:
    /// a store query.
    ///
    /// # Errors
    /// The store failed or a stored record does not decode.
    pub async fn search(&self, query: &str, page: u32, page_size: u32) -> Result<ScanPage, Error> {
        self.flush().await;
        let pattern = format!("%{}%", query.to_lowercase().replace(['%', '_'], ""));
        let size = i64::from(page_size.clamp(1, 100));
        let page = page.max(1);
        let offset = i64::from(page - 1) * size;
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) FROM station_records WHERE status <> 'deleted' AND search LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(self.store.pool())
        .await?
        .try_get(0)?;
        let rows = sqlx::query(
            "SELECT record FROM station_records WHERE status <> 'deleted' AND search LIKE $1 \
             ORDER BY created_ms DESC, scan_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(&pattern)
        .bind(size)
        .bind(offset)
        .fetch_all(self.store.pool())
        .await?;
        let list = rows
            .iter()
            .map(|row| {
                let text: String = row.try_get(0)?;
                serde_json::from_str(&text).map_err(Error::from)
            })
            .collect::<Result<Vec<ScanRecord>, Error>>()?;
        Ok(ScanPage {
            count: u64::try_from(count).unwrap_or(0),
            page,
            page_size: u32::try_from(size).unwrap_or(10),
            list,
        })
    }

    /// The bare store query of the newest `limit` records, decoded (the baseline of the list measurement).
    ///
    /// # Errors
    /// The store failed.
    pub async fn newest_from_store(&self, limit: i64) -> Result<Vec<ScanRecord>, Error> {
        let rows = sqlx::query(
            "SELECT record FROM station_records WHERE status <> 'deleted' \
             ORDER BY created_ms DESC, scan_id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get(0)?;
                serde_json::from_str(&text).map_err(Error::from)
            })
            .collect()
    }
}

/// The records in the journal, oldest first; lines that do not decode are skipped with a warning.
fn read_journal(file: &File) -> std::io::Result<Vec<ScanRecord>> {
    use std::io::{Read as _, Seek as _};
    let mut reader = BufReader::new(file);
    reader.seek(std::io::SeekFrom::Start(0))?;
    let mut records = Vec::new();
    let mut line = Vec::new();
    let mut number = 0_u64;
    loop {
        line.clear();
        let limit = u64::try_from(JOURNAL_MAX_LINE).unwrap_or(u64::MAX) + 1;
        let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            if line.len() > JOURNAL_MAX_LINE {
                tracing::warn!(line = number, "records journal: line too long, skipped");
                // The rest of the line.
                let mut rest = Vec::new();
                while reader.by_ref().take(limit).read_until(b'\n', &mut rest)? > 0 {
                    if rest.last() == Some(&b'\n') {
                        break;
                    }
                    rest.clear();
                }
                continue;
            }
            // The last line, cut by a crash: it was never acknowledged.
            tracing::warn!(line = number, "records journal: torn last line, skipped");
            break;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<ScanRecord>(text) {
            Ok(r) if r.scan_id.is_some() => records.push(r),
            Ok(_) => tracing::warn!(
                line = number,
                "records journal: record without scanId, skipped"
            ),
            Err(e) => tracing::warn!(line = number, error = %e, "records journal: line skipped"),
        }
    }
    Ok(records)
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Write>,
    journal: Arc<Mutex<Journal>>,
) {
    while let Some(w) = rx.recv().await {
        match w {
            Write::Flush(done) => {
                let _ = done.send(());
            }
            Write::Upsert(seq, record) => {
                // A failed write is retried: the record is acknowledged to the pad already.
                let mut delay = std::time::Duration::from_millis(100);
                while let Err(e) = upsert(&store, &record).await {
                    tracing::error!(scan = ?record.scan_id, error = %e, "record not written, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                journal
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .done(seq);
            }
        }
    }
}

async fn upsert(store: &Store, r: &ScanRecord) -> Result<(), Error> {
    let text = serde_json::to_string(r)?;
    let created = r
        .create_time
        .map(|t| t.get().and_utc().timestamp_millis())
        .unwrap_or_else(fleet::now_ms);
    let status = r
        .status
        .as_ref()
        .map_or("enable", |s| s.as_str())
        .to_owned();
    sqlx::query(
        "INSERT INTO station_records (scan_id, request_id, created_ms, record, status, user_status, json_status, \
         json_pri_status, cloud_status, mini_status, scan_status, search) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (scan_id) DO UPDATE SET request_id = excluded.request_id, record = excluded.record, \
         status = excluded.status, user_status = excluded.user_status, json_status = excluded.json_status, \
         json_pri_status = excluded.json_pri_status, cloud_status = excluded.cloud_status, \
         mini_status = excluded.mini_status, scan_status = excluded.scan_status, search = excluded.search",
    )
    .bind(r.scan_id.clone().unwrap_or_default())
    .bind(r.request_id.clone())
    .bind(created)
    .bind(text)
    .bind(status)
    .bind(submit_status(r.user_info.as_ref().and_then(|u| u.status.as_ref())))
    .bind(submit_status(r.result_status.as_ref()))
    .bind(submit_status(r.result_pri_status.as_ref()))
    .bind(cloud_status(r))
    .bind(block_status(r.mini.as_ref().and_then(|b| b.status.as_ref())))
    .bind(block_status(r.scan.as_ref().and_then(|b| b.status.as_ref())))
    .bind(search_text(r))
    .execute(store.writer())
    .await?;
    Ok(())
}

/// The station's view of the records ([`RecordStore`]): the mirror, so never a wait.
#[derive(Debug, Clone)]
pub struct StationRecords(pub Records);

impl RecordStore for StationRecords {
    fn save(&mut self, record: &ScanRecord) -> Result<(), ErrorCode> {
        self.0.put(record)
    }

    fn get(&self, scan_id: &str) -> Option<ScanRecord> {
        self.0
            .get(scan_id)
            .filter(|r| r.status != Some(RecordStatus::Deleted))
    }

    fn find_by_request(&self, request_id: &str) -> Option<ScanRecord> {
        let m = self.0.lock();
        m.order
            .iter()
            .rev()
            .filter_map(|id| m.records.get(id))
            .find(|r| {
                r.request_id.as_deref() == Some(request_id)
                    && r.status != Some(RecordStatus::Deleted)
            })
            .cloned()
    }

    fn page(&self, page: u32, page_size: u32) -> ScanPage {
        let m = self.0.lock();
        let listed: Vec<&ScanRecord> = m
            .order
            .iter()
            .rev()
            .filter_map(|id| m.records.get(id))
            .filter(|r| listed(r))
            .collect();
        let size = usize::try_from(page_size.clamp(1, 100)).unwrap_or(10);
        let page = page.max(1);
        let skip = usize::try_from(page - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(size);
        ScanPage {
            count: u64::try_from(listed.len()).unwrap_or(u64::MAX),
            page,
            page_size,
            list: listed.into_iter().skip(skip).take(size).cloned().collect(),
        }
    }
}
