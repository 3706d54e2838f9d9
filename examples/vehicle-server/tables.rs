//! The vehicle tables of the shared store: what a vehicle instance writes (status, status history, positions,
//! events, trips) and what the vehicle server reads back for the HTTP API and the admin dashboard.
//!
//! The binary link between WebSvr and svrInstance carries only commands, so this store is how history reaches
//! the server: the reference deployment points both processes at the same database (one SQLite file or one
//! PostgreSQL database). Plain SQL that runs on both; times are Unix milliseconds.

use fleet::store::{Backend, Store};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// `status` bit: the vehicle is locked.
pub const STATUS_LOCKED: i64 = 0x01;
/// `status` bit: anti-theft guard is on.
pub const STATUS_GUARD: i64 = 0x02;
/// `status` bit: some light is on.
pub const STATUS_LIGHTS: i64 = 0x04;
/// `status` bit: a unlock limit (time, distance or charge) ended the last ride.
pub const STATUS_LIMIT_REACHED: i64 = 0x08;

/// Event type: the battery fell below the low-battery threshold.
pub const EVENT_LOW_BATTERY: i64 = 1;
/// Event type: the guard alarm went off (the vehicle was moved while guarded).
pub const EVENT_GUARD_ALARM: i64 = 2;
/// Event type: a ride was ended by its unlock limits (time, distance or lowest charge).
pub const EVENT_LIMIT_LOCK: i64 = 3;
/// Event type: a file (4020) was delivered.
pub const EVENT_FILE: i64 = 4;
/// Event type: electric locks (4004) were opened.
pub const EVENT_ELEC_LOCK: i64 = 5;

/// The embedded migrations of the vehicle tables for the store's database.
#[must_use]
pub fn migrator(backend: Backend) -> &'static sqlx::migrate::Migrator {
    static SQLITE: sqlx::migrate::Migrator =
        sqlx::migrate!("examples/vehicle-server/migrations/sqlite");
    static POSTGRES: sqlx::migrate::Migrator =
        sqlx::migrate!("examples/vehicle-server/migrations/postgres");
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// The current state of one vehicle, as its instance last wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusRow {
    /// devId.
    pub dev_id: u32,
    /// devType.
    pub dev_type: u8,
    /// The instance holding the vehicle (its name in the server's `[[instances]]`).
    pub instance: String,
    /// Whether the instance reports the vehicle connected.
    pub online: bool,
    /// Longitude.
    pub lng: f64,
    /// Latitude.
    pub lat: f64,
    /// State of charge, percent.
    pub soc: f64,
    /// Odometer, metres.
    pub mileage: f64,
    /// Speed, m/s.
    pub speed: f64,
    /// Whether a ride is under way.
    pub driving: bool,
    /// `STATUS_*` bits.
    pub status: i64,
    /// Battery id.
    pub battery_id: String,
    /// When the ride under way started, Unix ms.
    pub trip_start: Option<i64>,
    /// When this row was written, Unix ms.
    pub updated_at: i64,
}

/// A finished ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripRow {
    /// devId.
    pub dev_id: u32,
    /// The user who unlocked.
    pub usr_id: u32,
    /// Unlock time, Unix ms.
    pub time_start: i64,
    /// Lock time, Unix ms.
    pub time_end: i64,
    /// Start longitude.
    pub st_lng: f64,
    /// Start latitude.
    pub st_lat: f64,
    /// End longitude.
    pub end_lng: f64,
    /// End latitude.
    pub end_lat: f64,
    /// Distance, metres.
    pub distance_m: f64,
    /// Highest speed, m/s.
    pub max_speed: f64,
    /// Highest current, A.
    pub max_current: f64,
    /// Battery id.
    pub battery_id: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    /// devId.
    pub dev_id: u32,
    /// When, Unix ms.
    pub at: i64,
    /// `EVENT_*`.
    pub event_type: i64,
    /// What happened.
    pub event_desc: String,
}

/// A recorded position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionRow {
    /// When, Unix ms.
    pub at: i64,
    /// Longitude.
    pub lng: f64,
    /// Latitude.
    pub lat: f64,
    /// Speed, m/s.
    pub speed: f64,
}

/// One write of an instance; a batch of them goes in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replace the vehicle's current status.
    Status(StatusRow),
    /// Record a status snapshot in the history.
    StatusHistory(StatusRow),
    /// Record a position.
    Position {
        /// devId.
        dev_id: u32,
        /// The position.
        position: PositionRow,
    },
    /// Record an event.
    Event(EventRow),
    /// Record a finished ride.
    Trip(TripRow),
}

const UPSERT_STATUS: &str = "INSERT INTO vehicle_status (dev_id, dev_type, instance, online, lng, lat, soc, \
     mileage, speed, driving, status, battery_id, trip_start, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (dev_id) DO UPDATE SET dev_type = excluded.dev_type, instance = excluded.instance, \
     online = excluded.online, lng = excluded.lng, lat = excluded.lat, soc = excluded.soc, \
     mileage = excluded.mileage, speed = excluded.speed, driving = excluded.driving, \
     status = excluded.status, battery_id = excluded.battery_id, trip_start = excluded.trip_start, \
     updated_at = excluded.updated_at";

const STATUS_COLUMNS: &str =
    "dev_id, dev_type, instance, online, lng, lat, soc, mileage, speed, driving, \
     status, battery_id, trip_start, updated_at";

/// Writes `batch` in one transaction, in order.
///
/// # Errors
/// The database failed; nothing of the batch is written.
pub async fn write_batch(store: &Store, batch: &[Write]) -> Result<(), sqlx::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = store.writer().begin().await?;
    for w in batch {
        match w {
            Write::Status(s) => {
                sqlx::query(UPSERT_STATUS)
                    .bind(i64::from(s.dev_id))
                    .bind(i64::from(s.dev_type))
                    .bind(s.instance.clone())
                    .bind(i64::from(s.online))
                    .bind(s.lng)
                    .bind(s.lat)
                    .bind(s.soc)
                    .bind(s.mileage)
                    .bind(s.speed)
                    .bind(i64::from(s.driving))
                    .bind(s.status)
                    .bind(s.battery_id.clone())
                    .bind(s.trip_start)
                    .bind(s.updated_at)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::StatusHistory(s) => {
                let json = serde_json::to_string(s).unwrap_or_default();
                sqlx::query(
                    "INSERT INTO vehicle_status_history (dev_id, at, status) VALUES ($1, $2, $3)",
                )
                .bind(i64::from(s.dev_id))
                .bind(s.updated_at)
                .bind(json)
                .execute(&mut *tx)
                .await?;
            }
            Write::Position { dev_id, position } => {
                sqlx::query(
                    "INSERT INTO vehicle_positions (dev_id, at, lng, lat, speed) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(i64::from(*dev_id))
                .bind(position.at)
                .bind(position.lng)
                .bind(position.lat)
                .bind(position.speed)
                .execute(&mut *tx)
                .await?;
            }
            Write::Event(e) => {
                sqlx::query(
                    "INSERT INTO vehicle_events (dev_id, at, event_type, event_desc) VALUES ($1, $2, $3, $4)",
                )
                .bind(i64::from(e.dev_id))
                .bind(e.at)
                .bind(e.event_type)
                .bind(e.event_desc.clone())
                .execute(&mut *tx)
                .await?;
            }
            Write::Trip(t) => {
                sqlx::query(
                    "INSERT INTO vehicle_trips (dev_id, usr_id, time_start, time_end, st_lng, st_lat, \
                     end_lng, end_lat, distance_m, max_speed, max_current, battery_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(i64::from(t.dev_id))
                .bind(i64::from(t.usr_id))
                .bind(t.time_start)
                .bind(t.time_end)
                .bind(t.st_lng)
                .bind(t.st_lat)
                .bind(t.end_lng)
                .bind(t.end_lat)
                .bind(t.distance_m)
                .bind(t.max_speed)
                .bind(t.max_current)
                .bind(t.battery_id.clone())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await
}

/// Marks every vehicle of `instance` offline (the instance stops).
///
/// # Errors
/// The database failed.
pub async fn set_instance_online(
    store: &Store,
    instance: &str,
    online: bool,
    at: i64,
) -> Result<u64, sqlx::Error> {
    let r =
        sqlx::query("UPDATE vehicle_status SET online = $1, updated_at = $2 WHERE instance = $3")
            .bind(i64::from(online))
            .bind(at)
            .bind(instance.to_owned())
            .execute(store.writer())
            .await?;
    Ok(r.rows_affected())
}

fn u32_col(row: &AnyRow, name: &str) -> Result<u32, sqlx::Error> {
    let v: i64 = row.try_get(name)?;
    u32::try_from(v).map_err(|e| sqlx::Error::ColumnDecode {
        index: name.to_owned(),
        source: Box::new(e),
    })
}

fn status_from_row(row: &AnyRow) -> Result<StatusRow, sqlx::Error> {
    let dev_type: i64 = row.try_get("dev_type")?;
    Ok(StatusRow {
        dev_id: u32_col(row, "dev_id")?,
        dev_type: u8::try_from(dev_type).unwrap_or(u8::MAX),
        instance: row.try_get("instance")?,
        online: row.try_get::<i64, _>("online")? != 0,
        lng: row.try_get("lng")?,
        lat: row.try_get("lat")?,
        soc: row.try_get("soc")?,
        mileage: row.try_get("mileage")?,
        speed: row.try_get("speed")?,
        driving: row.try_get::<i64, _>("driving")? != 0,
        status: row.try_get("status")?,
        battery_id: row.try_get("battery_id")?,
        trip_start: row.try_get("trip_start")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The current status of one vehicle; `None` when no instance ever wrote it.
///
/// # Errors
/// The database failed.
pub async fn status(store: &Store, dev_id: u32) -> Result<Option<StatusRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {STATUS_COLUMNS} FROM vehicle_status WHERE dev_id = $1"
    ))
    .bind(i64::from(dev_id))
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(status_from_row).transpose()
}

/// A page of vehicles by devId (after `after`), each with its owner's usrId.
///
/// # Errors
/// The database failed.
pub async fn statuses(
    store: &Store,
    after: Option<u32>,
    limit: i64,
) -> Result<Vec<(StatusRow, Option<u32>)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {}, b.usr_id AS owner FROM vehicle_status s \
         LEFT JOIN vehicle_bindings b ON b.dev_id = s.dev_id AND b.owner_flag = 1 \
         WHERE s.dev_id > $1 ORDER BY s.dev_id LIMIT $2",
        STATUS_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(after.map_or(-1, i64::from))
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let owner: Option<i64> = r.try_get("owner")?;
            Ok((
                status_from_row(r)?,
                owner.and_then(|o| u32::try_from(o).ok()),
            ))
        })
        .collect()
}

/// Vehicles of `dev_type` that nobody owns, locked, online and with some charge: the ones a user may borrow.
///
/// # Errors
/// The database failed.
pub async fn free_vehicles(store: &Store, dev_type: u8) -> Result<Vec<StatusRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {STATUS_COLUMNS} FROM vehicle_status s WHERE dev_type = $1 AND online = 1 AND driving = 0 \
         AND NOT EXISTS (SELECT 1 FROM vehicle_bindings b WHERE b.dev_id = s.dev_id)"
    ))
    .bind(i64::from(dev_type))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(status_from_row).collect()
}

/// Status snapshots of `dev_id` between `from` and `to` (inclusive), oldest first, at most `limit`.
///
/// # Errors
/// The database failed.
pub async fn status_history(
    store: &Store,
    dev_id: u32,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<StatusRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status FROM vehicle_status_history WHERE dev_id = $1 AND at >= $2 AND at <= $3 \
         ORDER BY at, id LIMIT $4",
    )
    .bind(i64::from(dev_id))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("status")?;
            serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: Box::new(e),
            })
        })
        .collect()
}

/// Positions of `dev_id` from `from` on, oldest first, at most `limit`.
///
/// # Errors
/// The database failed.
pub async fn positions(
    store: &Store,
    dev_id: u32,
    from: i64,
    limit: i64,
) -> Result<Vec<PositionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at, lng, lat, speed FROM vehicle_positions WHERE dev_id = $1 AND at >= $2 \
         ORDER BY at, id LIMIT $3",
    )
    .bind(i64::from(dev_id))
    .bind(from)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PositionRow {
                at: r.try_get("at")?,
                lng: r.try_get("lng")?,
                lat: r.try_get("lat")?,
                speed: r.try_get("speed")?,
            })
        })
        .collect()
}

/// Events of `dev_id` between `from` and `to` (inclusive), oldest first, at most `limit`.
///
/// # Errors
/// The database failed.
pub async fn events(
    store: &Store,
    dev_id: u32,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at, event_type, event_desc FROM vehicle_events WHERE dev_id = $1 AND at >= $2 AND at <= $3 \
         ORDER BY at, id LIMIT $4",
    )
    .bind(i64::from(dev_id))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                dev_id,
                at: r.try_get("at")?,
                event_type: r.try_get("event_type")?,
                event_desc: r.try_get("event_desc")?,
            })
        })
        .collect()
}

const TRIP_COLUMNS: &str =
    "dev_id, usr_id, time_start, time_end, st_lng, st_lat, end_lng, end_lat, \
     distance_m, max_speed, max_current, battery_id";

fn trip_from_row(r: &AnyRow) -> Result<TripRow, sqlx::Error> {
    Ok(TripRow {
        dev_id: u32_col(r, "dev_id")?,
        usr_id: u32_col(r, "usr_id")?,
        time_start: r.try_get("time_start")?,
        time_end: r.try_get("time_end")?,
        st_lng: r.try_get("st_lng")?,
        st_lat: r.try_get("st_lat")?,
        end_lng: r.try_get("end_lng")?,
        end_lat: r.try_get("end_lat")?,
        distance_m: r.try_get("distance_m")?,
        max_speed: r.try_get("max_speed")?,
        max_current: r.try_get("max_current")?,
        battery_id: r.try_get("battery_id")?,
    })
}

/// The last finished ride of `dev_id`.
///
/// # Errors
/// The database failed.
pub async fn last_trip(store: &Store, dev_id: u32) -> Result<Option<TripRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {TRIP_COLUMNS} FROM vehicle_trips WHERE dev_id = $1 ORDER BY time_end DESC, id DESC LIMIT 1"
    ))
    .bind(i64::from(dev_id))
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(trip_from_row).transpose()
}

/// Rides of `dev_id` that ended between `from` and `to` (inclusive), oldest first, at most `limit`.
///
/// # Errors
/// The database failed.
pub async fn trips(
    store: &Store,
    dev_id: u32,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<TripRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {TRIP_COLUMNS} FROM vehicle_trips WHERE dev_id = $1 AND time_end >= $2 AND time_end <= $3 \
         ORDER BY time_end, id LIMIT $4"
    ))
    .bind(i64::from(dev_id))
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(trip_from_row).collect()
}
