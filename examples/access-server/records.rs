//! Access records (`upload_access_info`): stored in batches by one writer, answered once committed, queried
//! by person, terminal, time range, direction and open-door type, exported as CSV.
//!
//! A record is identified by what the terminal reported: terminal, `time`, `person_id`, `card_number`,
//! `id_number`, `open_door_type` and `in_out_type`. A terminal that uploads a record again (its answer was
//! lost with the connection) is answered 0 once more and the record is stored once.

use std::time::Instant;

use access_proto::{AccessInfo, LocalTimestamp};
use fleet::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

/// Longest text field of a record accepted, in bytes.
pub const MAX_FIELD_LEN: usize = 256;
/// Most records committed in one transaction.
const BATCH: usize = 512;

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessRecord {
    /// Row id.
    pub id: i64,
    /// The terminal (its `uuid`).
    pub device_id: String,
    /// `person_id`.
    pub person_id: Option<String>,
    /// `time`: the terminal's local time, `yyyyMMddHHmmss`.
    pub time: String,
    /// `id_number`.
    pub id_number: Option<String>,
    /// `card_number`.
    pub card_number: Option<String>,
    /// `role`.
    pub role: Option<i64>,
    /// `open_door_type` (the simulator uses 1 card, 2 face).
    pub open_door_type: Option<i64>,
    /// `in_out_type` (the simulator uses 1 in, 2 out).
    pub in_out_type: Option<i64>,
    /// `community_code`.
    pub community_code: Option<String>,
    /// When the server stored it (Unix ms).
    pub received_at: i64,
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only this person.
    pub person_id: Option<String>,
    /// Only this terminal.
    pub device_id: Option<String>,
    /// `time` at or after (`yyyyMMddHHmmss`).
    pub from: Option<String>,
    /// `time` at or before (`yyyyMMddHHmmss`).
    pub to: Option<String>,
    /// Only this `in_out_type`.
    pub in_out_type: Option<i64>,
    /// Only this `open_door_type`.
    pub open_door_type: Option<i64>,
    /// After this `(time, id)` (the cursor).
    pub after: Option<(String, i64)>,
    /// At most this many.
    pub limit: i64,
}

/// Why a record was not stored, as the answer's code tells the terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A field is unacceptable (answered -1).
    #[error("`{field}`: {detail}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The store failed (answered -3).
    #[error("store: {0}")]
    Store(String),
}

/// Checks a record's text fields.
///
/// # Errors
/// A field longer than [`MAX_FIELD_LEN`].
pub fn check(info: &AccessInfo) -> Result<(), RecordError> {
    for (field, v) in [
        ("access_info.person_id", &info.person_id),
        ("access_info.id_number", &info.id_number),
        ("access_info.card_number", &info.card_number),
        ("access_info.community_code", &info.community_code),
    ] {
        if let Some(v) = v.as_ref().filter(|v| v.len() > MAX_FIELD_LEN) {
            return Err(RecordError::Invalid {
                field,
                detail: format!("{} bytes, more than {MAX_FIELD_LEN}", v.len()),
            });
        }
    }
    Ok(())
}

/// The identity of a record (see the module docs).
pub fn record_key(device_id: &str, info: &AccessInfo) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    [
        device_id.to_owned(),
        info.time.to_string(),
        opt(&info.person_id),
        opt(&info.card_number),
        opt(&info.id_number),
        num(info.open_door_type.map(|t| t.0)),
        num(info.in_out_type.map(|t| t.0)),
    ]
    .join("\u{1f}")
}

struct Job {
    device_id: String,
    info: AccessInfo,
    queued: Instant,
    done: oneshot::Sender<Result<bool, RecordError>>,
}

enum Msg {
    Record(Box<Job>),
    Close,
}

/// The records service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Records {
    store: Store,
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

const RECORD_COLUMNS: &str =
    "id, device_id, person_id, time, id_number, card_number, role, open_door_type, \
     in_out_type, community_code, received_at";

fn from_row(r: &AnyRow) -> Result<AccessRecord, sqlx::Error> {
    Ok(AccessRecord {
        id: r.try_get("id")?,
        device_id: r.try_get("device_id")?,
        person_id: r.try_get("person_id")?,
        time: r.try_get("time")?,
        id_number: r.try_get("id_number")?,
        card_number: r.try_get("card_number")?,
        role: r.try_get("role")?,
        open_door_type: r.try_get("open_door_type")?,
        in_out_type: r.try_get("in_out_type")?,
        community_code: r.try_get("community_code")?,
        received_at: r.try_get("received_at")?,
    })
}

impl Records {
    /// Starts the writer; it ends after [`Records::close`], once the records handed over are stored.
    pub fn start(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * BATCH);
        let task = tokio::spawn(writer(store.clone(), rx));
        (Self { store, tx }, task)
    }

    /// Stores a record; `Ok(true)` when new, `Ok(false)` when it was stored already. Returns once it is
    /// committed.
    ///
    /// # Errors
    /// A field is unacceptable, or the store failed.
    pub async fn store(&self, device_id: &str, info: AccessInfo) -> Result<bool, RecordError> {
        check(&info)?;
        let (done, wait) = oneshot::channel();
        let job = Job {
            device_id: device_id.to_owned(),
            info,
            queued: Instant::now(),
            done,
        };
        self.tx
            .send(Msg::Record(Box::new(job)))
            .await
            .map_err(|_| RecordError::Store("the server is shutting down".into()))?;
        wait.await
            .unwrap_or_else(|_| Err(RecordError::Store("the records writer stopped".into())))
    }

    /// Stops the writer after the records handed over so far.
    pub async fn close(&self) {
        let _ = self.tx.send(Msg::Close).await;
    }

    /// Records matching `f`, by `time` then id.
    ///
    /// # Errors
    /// The store failed.
    pub async fn query(&self, f: &RecordFilter) -> Result<Vec<AccessRecord>, StoreError> {
        let (after_time, after_id) = match &f.after {
            Some((t, id)) => (Some(t.as_str()), Some(*id)),
            None => (None, None),
        };
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM access_records WHERE ($1 IS NULL OR person_id = $1) \
             AND ($2 IS NULL OR device_id = $2) AND ($3 IS NULL OR time >= $3) AND ($4 IS NULL OR time <= $4) \
             AND ($5 IS NULL OR in_out_type = $5) AND ($6 IS NULL OR open_door_type = $6) \
             AND ($7 IS NULL OR time > $7 OR (time = $7 AND id > $8)) ORDER BY time, id LIMIT $9"
        ))
        .bind(f.person_id.as_deref())
        .bind(f.device_id.as_deref())
        .bind(f.from.as_deref())
        .bind(f.to.as_deref())
        .bind(f.in_out_type)
        .bind(f.open_door_type)
        .bind(after_time)
        .bind(after_id.unwrap_or(0))
        .bind(f.limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(Into::into)
    }
}

/// Commits records in batches: whatever arrived while the previous batch was written goes in the next one.
async fn writer(store: Store, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
    let mut closing = false;
    while !closing {
        match rx.recv().await {
            Some(Msg::Record(job)) => batch.push(*job),
            Some(Msg::Close) | None => break,
        }
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(Msg::Record(job)) => batch.push(*job),
                Ok(Msg::Close) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let outcome = write(&store, &batch).await;
        for (job, result) in batch.drain(..).zip(outcome) {
            metrics::histogram!("access_record_store_seconds")
                .record(job.queued.elapsed().as_secs_f64());
            let _ = job.done.send(result);
        }
    }
    // Answer what is left, so no terminal is told 0 for a record that was not stored.
    rx.close();
    while let Some(msg) = rx.recv().await {
        if let Msg::Record(job) = msg {
            let _ = job.done.send(Err(RecordError::Store(
                "the server is shutting down".into(),
            )));
        }
    }
}

/// Writes a batch in one transaction; one outcome per job.
async fn write(store: &Store, batch: &[Job]) -> Vec<Result<bool, RecordError>> {
    let attempt = async {
        let mut tx = store.writer().begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        let now = fleet::now_ms();
        for job in batch {
            let i = &job.info;
            let done = sqlx::query(
                "INSERT INTO access_records (record_key, device_id, person_id, time, id_number, card_number, role, \
                 open_door_type, in_out_type, community_code, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (record_key) DO NOTHING",
            )
            .bind(record_key(&job.device_id, i))
            .bind(&job.device_id)
            .bind(i.person_id.as_deref())
            .bind(i.time.to_string())
            .bind(i.id_number.as_deref())
            .bind(i.card_number.as_deref())
            .bind(i.role.map(|r| r.0))
            .bind(i.open_door_type.map(|t| t.0))
            .bind(i.in_out_type.map(|t| t.0))
            .bind(i.community_code.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            out.push(Ok(done.rows_affected() == 1));
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(out)
    };
    match attempt.await {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!(error = %e, records = batch.len(), "access records not stored");
            batch
                .iter()
                .map(|_| Err(RecordError::Store(e.to_string())))
                .collect()
        }
    }
}

/// Parses a `from`/`to` bound: `yyyyMMddHHmmss`.
///
/// # Errors
/// Not such a time.
pub fn time_bound(raw: &str) -> Result<String, String> {
    raw.parse::<LocalTimestamp>()
        .map(|t| t.to_string())
        .map_err(|e| e.to_string())
}

/// Parses a direction: `in` (1), `out` (2), or the number.
///
/// # Errors
/// Neither.
pub fn direction(raw: &str) -> Result<i64, String> {
    match raw {
        "in" => Ok(1),
        "out" => Ok(2),
        n => n
            .parse()
            .map_err(|_| format!("`{n}` is not `in`, `out` or an in_out_type number")),
    }
}

/// Parses an open-door type: `card` (1), `face` (2), or the number.
///
/// # Errors
/// Neither.
pub fn open_door(raw: &str) -> Result<i64, String> {
    match raw {
        "card" => Ok(1),
        "face" => Ok(2),
        n => n
            .parse()
            .map_err(|_| format!("`{n}` is not `card`, `face` or an open_door_type number")),
    }
}

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

/// The CSV header line.
pub const CSV_HEADER: &str = "id,device_id,person_id,time,id_number,card_number,role,open_door_type,in_out_type,community_code,received_at\n";

/// Appends records as CSV lines (RFC 4180 quoting).
pub fn write_csv(out: &mut String, records: &[AccessRecord]) {
    for r in records {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let fields = [
            r.id.to_string(),
            r.device_id.clone(),
            opt(&r.person_id),
            r.time.clone(),
            opt(&r.id_number),
            opt(&r.card_number),
            num(r.role),
            num(r.open_door_type),
            num(r.in_out_type),
            opt(&r.community_code),
            r.received_at.to_string(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(out, f);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use access_proto::{InOutType, OpenDoorType};

    fn info() -> AccessInfo {
        let mut i = AccessInfo::at("20190823123435".parse().unwrap());
        i.person_id = Some("p1".into());
        i.in_out_type = Some(InOutType(1));
        i.open_door_type = Some(OpenDoorType(2));
        i
    }

    #[test]
    fn the_key_tells_records_apart_and_repeats_match() {
        let a = info();
        assert_eq!(record_key("t1", &a), record_key("t1", &a.clone()));
        assert_ne!(record_key("t1", &a), record_key("t2", &a));
        let mut out = a.clone();
        out.in_out_type = Some(InOutType(2));
        assert_ne!(record_key("t1", &a), record_key("t1", &out));
    }

    #[test]
    fn long_fields_are_refused_by_name() {
        let mut i = info();
        i.card_number = Some("9".repeat(MAX_FIELD_LEN + 1));
        let e = check(&i).unwrap_err();
        assert!(e.to_string().contains("access_info.card_number"), "{e}");
    }

    #[test]
    fn filters_parse_names_and_numbers() {
        assert_eq!(direction("in"), Ok(1));
        assert_eq!(direction("2"), Ok(2));
        assert!(direction("sideways").is_err());
        assert_eq!(open_door("face"), Ok(2));
        assert!(open_door("x").is_err());
        assert_eq!(time_bound("20240101000000").unwrap(), "20240101000000");
        assert!(time_bound("2024-01-01").is_err());
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let r = AccessRecord {
            id: 1,
            device_id: "t,1".into(),
            person_id: Some("p\"1".into()),
            time: "20190823123435".into(),
            id_number: None,
            card_number: Some("123".into()),
            role: Some(12),
            open_door_type: Some(1),
            in_out_type: Some(2),
            community_code: None,
            received_at: 5,
        };
        let mut out = String::new();
        write_csv(&mut out, &[r]);
        assert_eq!(out, "1,\"t,1\",\"p\"\"1\",20190823123435,,123,12,1,2,,5\n");
    }
}
