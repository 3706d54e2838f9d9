//! What a meeting-room platform is for: the terminal registry (products, terminals, issued credentials),
//! people, meetings and their members, check-ins and the per-command results, all in the store.
//!
//! Meetings and people reach a room's terminal as `cmd.data.update.user`, `cmd.data.update.meeting` and
//! `cmd.data.update.meetingMember` commands through the fleet's persistent queue; the terminal's check-ins
//! (`dev.data.upload.verifyLog`, `verifyPhoto`) come back and make the attendance report.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use best_proto::broker::{BrokerInfo, BrokerType};
use best_proto::{Meeting as WireMeeting, MeetingMembers, User, VerifyLog, VerifyPhoto};
use chrono::{DateTime, FixedOffset};
use device_core::best::{BrokerDirectory, DeviceRecord, DeviceRegistry};
use fleet::store::now_ms;
use fleet::{CommandSpec, Fleet, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Why a meeting-platform operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    /// A field is wrong (the field, what is wrong).
    #[error("`{0}`: {1}")]
    Invalid(String, String),
    /// Something named does not exist (what, which).
    #[error("unknown {0} `{1}`")]
    Unknown(&'static str, String),
    /// It exists already.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credential journal could not be read or emptied (its path, why).
    #[error("credential journal {0}")]
    Journal(String),
}

impl From<sqlx::Error> for MeetingError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

/// A product (the devKey salt of its terminals is its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A terminal of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Terminal {
    /// Serial number.
    pub sn: String,
    /// Its product.
    pub product_id: String,
    /// Registered (`dev.register` issued an `authCode`).
    pub registered: bool,
    /// Accredited (`dev.accredit` issued a `secret`).
    pub accredited: bool,
    /// The transport of its last login: `websocket` or `mqtt`.
    pub transport: Option<String>,
    /// Its `maxPendingCmdCount` from the last `dev.report`.
    pub max_pending: Option<i64>,
}

/// A person who can attend meetings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    /// Staff number (`pin`).
    pub pin: String,
    /// Name.
    pub name: String,
    /// Card number, if any.
    pub card: Option<String>,
    /// The person's photo (set with `PUT /api/people/{pin}/photo`; ignored in `POST /api/people`).
    #[serde(default, skip_deserializing)]
    pub photo: Option<StoredPhoto>,
    /// The person's biometric photos (set with `PUT /api/people/{pin}/bio-photos`; ignored in
    /// `POST /api/people`).
    #[serde(default, skip_deserializing)]
    pub bio_photos: Vec<StoredPhoto>,
}

/// Largest photo, bytes of JPEG (before base64).
pub const MAX_PHOTO_BYTES: usize = 256 * 1024;

/// Most biometric photos of one person.
pub const MAX_BIO_PHOTOS: usize = 20;

/// The bio type position of a person's photo: 9, visible-light face (DECISIONS.md bio type positions). The
/// spec has no command that pushes a portrait, so the photo reaches terminals as the `cmd.data.update.bioPhoto`
/// of type 9, individual 0, template 0.
pub const PHOTO_BIO_TYPE: u32 = 9;

/// A stored photo as the API shows it: its key, size and checksum, and where terminals fetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredPhoto {
    /// Bio type position (0 general, 1 fingerprint, 2 near-infrared face, 3 voiceprint, 4 iris, 5 retina,
    /// 6 palm print, 7 finger vein, 8 palm, 9 visible-light face).
    #[serde(rename = "type")]
    pub bio_type: u32,
    /// Which individual (finger, eye); 0 by default.
    pub no: u32,
    /// Template number of that individual; 0 by default.
    pub index: u32,
    /// Bytes of JPEG.
    pub len: i64,
    /// Lowercase hex MD5 of the JPEG.
    pub md5: String,
    /// Path on the admin API where it is served (`GET`, no token: the path carries the MD5).
    pub path: String,
}

/// Body of `PUT /api/people/{pin}/photo`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhoto {
    /// The JPEG, base64 (standard alphabet, padded), at most 256 KiB decoded.
    pub jpeg: String,
}

/// One biometric photo of `PUT /api/people/{pin}/bio-photos`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBioPhoto {
    /// Bio type position, 0 to 9 (DECISIONS.md); 9 with `no` 0 and `index` 0 is the person's photo.
    #[serde(rename = "type")]
    pub bio_type: u32,
    /// Which individual; default 0.
    #[serde(default)]
    pub no: u32,
    /// Template number; default 0.
    #[serde(default)]
    pub index: u32,
    /// The JPEG, base64, at most 256 KiB decoded.
    pub jpeg: String,
}

/// Body of `PUT /api/people/{pin}/bio-photos`: replaces the person's biometric photos.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBioPhotos {
    /// The photos, at most 20, each key (`type`, `no`, `index`) once.
    pub bio_photos: Vec<NewBioPhoto>,
}

/// Reply of the photo routes: what is stored and the queued pushes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotosSet {
    /// The person with their photos.
    pub person: Person,
    /// The `cmd.data.update.bioPhoto` commands queued to the rooms of the person's meetings.
    pub commands: Vec<i64>,
}

/// Decodes and checks a base64 JPEG of field `field`.
fn jpeg(field: &str, text: &str) -> Result<Vec<u8>, MeetingError> {
    use base64::Engine as _;
    if text.len() > MAX_PHOTO_BYTES.div_ceil(3) * 4 {
        return Err(MeetingError::Invalid(
            field.into(),
            format!("more than {MAX_PHOTO_BYTES} bytes of JPEG"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| MeetingError::Invalid(field.into(), format!("not base64: {e}")))?;
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(MeetingError::Invalid(
            field.into(),
            format!("{} bytes of JPEG, at most {MAX_PHOTO_BYTES}", bytes.len()),
        ));
    }
    if !bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Err(MeetingError::Invalid(
            field.into(),
            "not a JPEG (no FF D8 FF start of image)".into(),
        ));
    }
    Ok(bytes)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}

/// The journal of issued credentials: one JSON line per `authCode` or `secret`, on disk before the session
/// replies, replayed into the store at the next start.
#[derive(Debug)]
struct Journal {
    path: std::path::PathBuf,
    lock: std::sync::Mutex<()>,
}

/// One line of the credential journal.
#[derive(Debug, Serialize, Deserialize)]
struct JournalLine {
    sn: String,
    /// `auth_code` or `secret`.
    kind: String,
    value: String,
}

/// The file, in the data directory, that holds credentials issued but maybe not yet in the store.
pub const CREDENTIAL_JOURNAL: &str = "credentials.journal";

impl Journal {
    /// Appends one credential and waits until it is on disk (`fsync` of the data).
    fn append(&self, line: &JournalLine) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        text.push('\n');
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }
}

/// A meeting as the API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeeting {
    /// Id; default: made from the room and the start.
    #[serde(default)]
    pub id: Option<String>,
    /// The room's terminal.
    pub sn: String,
    /// Name.
    pub name: String,
    /// Who booked it. Default `platform`.
    #[serde(default)]
    pub applicant: Option<String>,
    /// Start, RFC 3339.
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// Members' staff numbers (registered people).
    pub members: Vec<String>,
}

/// A stored meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Meeting {
    /// Id.
    pub id: String,
    /// The room's terminal.
    pub sn: String,
    /// Name.
    pub name: String,
    /// Who booked it.
    pub applicant: String,
    /// Start (Unix ms).
    pub start_ms: i64,
    /// End (Unix ms).
    pub end_ms: i64,
    /// Members' staff numbers.
    pub members: Vec<String>,
}

/// One member's line of an attendance report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attendee {
    /// Staff number.
    pub pin: String,
    /// Name.
    pub name: Option<String>,
    /// Whether a check-in arrived.
    pub present: bool,
    /// The first check-in's `verifyTime` as the terminal wrote it.
    pub first_check_in: Option<String>,
    /// Check-in records (logs and photos).
    pub records: i64,
}

/// `GET /api/meetings/{id}/attendance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attendance {
    /// The meeting.
    pub meeting: Meeting,
    /// Members present.
    pub present: usize,
    /// Members absent.
    pub absent: usize,
    /// One line per member.
    pub attendees: Vec<Attendee>,
}

/// A check-in record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckIn {
    /// Id.
    pub id: i64,
    /// Meeting (`meetCode`).
    pub meeting_id: String,
    /// Terminal.
    pub sn: String,
    /// Staff number.
    pub pin: String,
    /// `log` or `photo`.
    pub kind: String,
    /// `verifyTime` / `photoTime` as sent.
    pub verify_time: String,
    /// Received at (Unix ms).
    pub received_at: i64,
}

#[derive(Debug, Clone, Default)]
struct Credentials {
    product_id: String,
    auth_code: Option<String>,
    secret: Option<String>,
}

/// The platform's state over the store, with the terminal credentials the sessions check cached in memory.
#[derive(Clone)]
pub struct Meetings {
    fleet: Fleet,
    credentials: Arc<RwLock<HashMap<String, Credentials>>>,
    brokers: Arc<RwLock<Brokers>>,
    journal: Arc<Journal>,
    photo_base: Arc<RwLock<String>>,
}

/// What the lookup hands out.
#[derive(Debug, Clone, Default)]
pub struct Brokers {
    /// best-w URL (`ws://host:port/best`).
    pub ws: Option<String>,
    /// best-m URL (`mqtt://host:port`).
    pub mqtt: Option<String>,
}

impl std::fmt::Debug for Meetings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meetings").finish_non_exhaustive()
    }
}

/// `cmd.data.*` names and the shape of their stored payload: `{"params": {...}}` without `cmdId`.
pub fn command_spec(func_id: &str, params: serde_json::Value) -> CommandSpec {
    let idempotent = !matches!(func_id, "cmd.control.reboot");
    CommandSpec {
        kind: func_id.to_owned(),
        payload: serde_json::json!({ "params": params }),
        idempotent,
        expects_ack: true,
    }
}

fn params_of<T: Serialize>(value: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("cmdId");
    }
    v
}

fn time(field: &str, text: &str) -> Result<DateTime<FixedOffset>, MeetingError> {
    DateTime::parse_from_rfc3339(text).map_err(|e| {
        MeetingError::Invalid(
            field.into(),
            format!("`{text}` is not an RFC 3339 time: {e}"),
        )
    })
}

fn meeting_from_row(row: &sqlx::any::AnyRow, members: Vec<String>) -> Result<Meeting, sqlx::Error> {
    Ok(Meeting {
        id: row.try_get("id")?,
        sn: row.try_get("sn")?,
        name: row.try_get("name")?,
        applicant: row.try_get("applicant")?,
        start_ms: row.try_get("start_ms")?,
        end_ms: row.try_get("end_ms")?,
        members,
    })
}

impl Meetings {
    /// The store's migrations of the meeting tables.
    pub fn migrator(backend: fleet::store::Backend) -> sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/meeting-platform/migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/meeting-platform/migrations/postgres");
        let m = match backend {
            fleet::store::Backend::Sqlite => &SQLITE,
            fleet::store::Backend::Postgres => &POSTGRES,
        };
        sqlx::migrate::Migrator {
            migrations: m.migrations.clone(),
            ignore_missing: true,
            locking: m.locking,
            no_tx: m.no_tx,
        }
    }

    /// The platform over `fleet`'s store; loads the terminal credentials.
    ///
    /// # Errors
    /// Store failure.
    pub async fn load(fleet: Fleet) -> Result<Self, MeetingError> {
        let journal = Journal {
            path: fleet.config().data_dir.join(CREDENTIAL_JOURNAL),
            lock: std::sync::Mutex::new(()),
        };
        Self::replay(fleet.store().writer(), &journal.path).await?;
        let rows = sqlx::query("SELECT sn, product_id, auth_code, secret FROM meeting_terminals")
            .fetch_all(fleet.store().pool())
            .await?;
        let mut map = HashMap::new();
        for row in rows {
            map.insert(
                row.try_get::<String, _>("sn")?,
                Credentials {
                    product_id: row.try_get("product_id")?,
                    auth_code: row.try_get("auth_code")?,
                    secret: row.try_get("secret")?,
                },
            );
        }
        Ok(Self {
            fleet,
            credentials: Arc::new(RwLock::new(map)),
            brokers: Arc::default(),
            journal: Arc::new(journal),
            photo_base: Arc::default(),
        })
    }

    /// Writes the credentials of the journal at `path` into the store, in the order they were issued, then
    /// empties it. A line cut short by a crash (the last one) is skipped with a warning: its reply never left.
    /// Returns how many credentials were applied.
    ///
    /// # Errors
    /// The journal cannot be read or emptied, or a store failure (the journal is then kept).
    pub async fn replay(
        writer: &sqlx::AnyPool,
        path: &std::path::Path,
    ) -> Result<usize, MeetingError> {
        let io = |e: std::io::Error| MeetingError::Journal(format!("{}: {e}", path.display()));
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(e)),
        };
        let mut applied = 0;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let entry: JournalLine = match serde_json::from_str(line) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(line = n + 1, error = %e, "credential journal line skipped");
                    continue;
                }
            };
            let Some(issued) = Issued::named(&entry.kind) else {
                tracing::warn!(
                    line = n + 1,
                    kind = %entry.kind,
                    "credential journal line skipped"
                );
                continue;
            };
            sqlx::query(issued.sql())
                .bind(&entry.sn)
                .bind(&entry.value)
                .execute(writer)
                .await?;
            applied += 1;
        }
        std::fs::File::create(path)
            .map_err(io)?
            .sync_all()
            .map_err(io)?;
        if applied > 0 {
            tracing::info!(applied, "issued credentials replayed from the journal");
        }
        Ok(applied)
    }

    /// Sets the base URL (`http://host:port` of the admin API as terminals reach it) of the photo URLs pushed
    /// in `cmd.data.update.bioPhoto`.
    pub fn set_photo_base(&self, base: String) {
        *self
            .photo_base
            .write()
            .unwrap_or_else(PoisonError::into_inner) = base;
    }

    /// The fleet.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Sets what the lookup hands out.
    pub fn set_brokers(&self, brokers: Brokers) {
        *self.brokers.write().unwrap_or_else(PoisonError::into_inner) = brokers;
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.fleet.store().pool()
    }

    fn writer(&self) -> &sqlx::AnyPool {
        self.fleet.store().writer()
    }

    /// Adds a product.
    ///
    /// # Errors
    /// Bad fields, a duplicate, a store failure.
    pub async fn add_product(&self, id: &str, name: &str) -> Result<Product, MeetingError> {
        if id.is_empty() || id.len() > 64 {
            return Err(MeetingError::Invalid(
                "id".into(),
                "1 to 64 characters".into(),
            ));
        }
        let done = sqlx::query(
            "INSERT INTO meeting_products (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        if done.rows_affected() == 0 {
            return Err(MeetingError::Conflict(format!("product `{id}` exists")));
        }
        Ok(Product {
            id: id.into(),
            name: name.into(),
        })
    }

    /// The products.
    ///
    /// # Errors
    /// Store failure.
    pub async fn products(&self) -> Result<Vec<Product>, MeetingError> {
        let rows = sqlx::query("SELECT id, name FROM meeting_products ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Product {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Provisions terminal `sn` of `product_id` with its secret key (the fleet device and its registry row).
    ///
    /// # Errors
    /// Bad fields, an unknown product, a duplicate, a store failure.
    pub async fn add_terminal(
        &self,
        sn: &str,
        product_id: &str,
        secret_key: &str,
        name: Option<&str>,
    ) -> Result<Terminal, MeetingError> {
        check_sn(sn)?;
        if secret_key.is_empty() || secret_key.len() > 128 {
            return Err(MeetingError::Invalid(
                "secret_key".into(),
                "1 to 128 characters".into(),
            ));
        }
        let product = sqlx::query("SELECT id FROM meeting_products WHERE id = $1")
            .bind(product_id)
            .fetch_optional(self.pool())
            .await?;
        if product.is_none() {
            return Err(MeetingError::Unknown("product", product_id.into()));
        }
        let inserted = sqlx::query(
            "INSERT INTO meeting_terminals (sn, product_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(sn)
        .bind(product_id)
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(MeetingError::Conflict(format!("terminal `{sn}` exists")));
        }
        if let Err(e) = self
            .fleet
            .add_device(sn, name.unwrap_or(sn), secret_key)
            .await
        {
            sqlx::query("DELETE FROM meeting_terminals WHERE sn = $1")
                .bind(sn)
                .execute(self.writer())
                .await?;
            return Err(e.into());
        }
        self.credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                sn.to_owned(),
                Credentials {
                    product_id: product_id.to_owned(),
                    ..Credentials::default()
                },
            );
        Ok(Terminal {
            sn: sn.into(),
            product_id: product_id.into(),
            registered: false,
            accredited: false,
            transport: None,
            max_pending: None,
        })
    }

    /// The terminals, by serial number.
    ///
    /// # Errors
    /// Store failure.
    pub async fn terminals(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Terminal>, MeetingError> {
        let rows = sqlx::query(
            "SELECT sn, product_id, auth_code, secret, transport, max_pending FROM meeting_terminals \
             WHERE sn > $1 ORDER BY sn LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Terminal {
                    sn: r.try_get("sn")?,
                    product_id: r.try_get("product_id")?,
                    registered: r.try_get::<Option<String>, _>("auth_code")?.is_some(),
                    accredited: r.try_get::<Option<String>, _>("secret")?.is_some(),
                    transport: r.try_get("transport")?,
                    max_pending: r.try_get("max_pending")?,
                })
            })
            .collect()
    }

    /// Records the transport of a login and the terminal's `maxPendingCmdCount`.
    pub async fn terminal_seen(&self, sn: &str, transport: &str, max_pending: Option<i64>) {
        let done = sqlx::query(
            "UPDATE meeting_terminals SET transport = $2, max_pending = COALESCE($3, max_pending) WHERE sn = $1",
        )
        .bind(sn)
        .bind(transport)
        .bind(max_pending)
        .execute(self.writer())
        .await;
        if let Err(e) = done {
            tracing::warn!(sn, error = %e, "terminal transport not recorded");
        }
    }

    /// Adds or replaces a person.
    ///
    /// # Errors
    /// Bad fields, a store failure.
    pub async fn put_person(&self, person: &Person) -> Result<(), MeetingError> {
        if person.pin.is_empty() || person.pin.len() > 32 {
            return Err(MeetingError::Invalid(
                "pin".into(),
                "1 to 32 characters".into(),
            ));
        }
        if person.name.is_empty() {
            return Err(MeetingError::Invalid(
                "name".into(),
                "must not be empty".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO meeting_people (pin, name, card, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pin) DO UPDATE SET name = excluded.name, card = excluded.card",
        )
        .bind(&person.pin)
        .bind(&person.name)
        .bind(&person.card)
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The people.
    ///
    /// # Errors
    /// Store failure.
    pub async fn people(&self) -> Result<Vec<Person>, MeetingError> {
        let rows = sqlx::query("SELECT pin, name, card FROM meeting_people ORDER BY pin")
            .fetch_all(self.pool())
            .await?;
        let mut photos = self.photos(None).await?;
        rows.iter()
            .map(|r| {
                let pin: String = r.try_get("pin")?;
                let (photo, bio_photos) = split_photos(photos.remove(&pin).unwrap_or_default());
                Ok(Person {
                    pin,
                    name: r.try_get("name")?,
                    card: r.try_get("card")?,
                    photo,
                    bio_photos,
                })
            })
            .collect()
    }

    /// One person with their photos.
    ///
    /// # Errors
    /// Store failure.
    pub async fn person(&self, pin: &str) -> Result<Option<Person>, MeetingError> {
        let row = sqlx::query("SELECT pin, name, card FROM meeting_people WHERE pin = $1")
            .bind(pin)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let (photo, bio_photos) = split_photos(
            self.photos(Some(pin))
                .await?
                .remove(pin)
                .unwrap_or_default(),
        );
        Ok(Some(Person {
            pin: r.try_get("pin")?,
            name: r.try_get("name")?,
            card: r.try_get("card")?,
            photo,
            bio_photos,
        }))
    }

    /// The stored photos of `pin` (or everyone), by pin, in key order.
    async fn photos(
        &self,
        pin: Option<&str>,
    ) -> Result<HashMap<String, Vec<StoredPhoto>>, MeetingError> {
        let rows = sqlx::query(
            "SELECT pin, bio_type, no, idx, len, md5 FROM meeting_photos WHERE ($1 = '' OR pin = $1) \
             ORDER BY pin, bio_type, no, idx",
        )
        .bind(pin.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        let mut map: HashMap<String, Vec<StoredPhoto>> = HashMap::new();
        for r in rows {
            let pin: String = r.try_get("pin")?;
            let key = |c: &str| -> Result<u32, MeetingError> {
                let v: i64 = r.try_get(c)?;
                u32::try_from(v).map_err(|_| {
                    MeetingError::Store(StoreError::Corrupt {
                        table: "meeting_photos",
                        detail: format!("`{c}` {v}"),
                    })
                })
            };
            let (bio_type, no, index) = (key("bio_type")?, key("no")?, key("idx")?);
            let md5: String = r.try_get("md5")?;
            map.entry(pin.clone()).or_default().push(StoredPhoto {
                path: photo_path(&pin, bio_type, no, index, &md5),
                bio_type,
                no,
                index,
                len: r.try_get("len")?,
                md5,
            });
        }
        Ok(map)
    }

    /// Sets the photo of person `pin` and queues its push to the rooms of the person's meetings.
    ///
    /// # Errors
    /// An unknown person, a bad photo (field `jpeg`), a store failure.
    pub async fn set_photo(&self, pin: &str, photo: &NewPhoto) -> Result<PhotosSet, MeetingError> {
        let bytes = jpeg("jpeg", &photo.jpeg)?;
        self.set_photos(pin, vec![((PHOTO_BIO_TYPE, 0, 0), bytes)])
            .await
    }

    /// Adds or replaces biometric photos of person `pin` (by `type`, `no`, `index`) and queues their push to
    /// the rooms of the person's meetings.
    ///
    /// # Errors
    /// An unknown person, a bad photo (field `bio_photos[i].…`), a store failure.
    pub async fn set_bio_photos(
        &self,
        pin: &str,
        new: &NewBioPhotos,
    ) -> Result<PhotosSet, MeetingError> {
        if new.bio_photos.is_empty() || new.bio_photos.len() > MAX_BIO_PHOTOS {
            return Err(MeetingError::Invalid(
                "bio_photos".into(),
                format!("1 to {MAX_BIO_PHOTOS} photos"),
            ));
        }
        let mut photos = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, p) in new.bio_photos.iter().enumerate() {
            if p.bio_type > 9 {
                return Err(MeetingError::Invalid(
                    format!("bio_photos[{i}].type"),
                    format!("{} is no bio type position (0 to 9)", p.bio_type),
                ));
            }
            if p.no > 99 || p.index > 99 {
                return Err(MeetingError::Invalid(
                    format!("bio_photos[{i}].{}", if p.no > 99 { "no" } else { "index" }),
                    "0 to 99".into(),
                ));
            }
            let key = (p.bio_type, p.no, p.index);
            if key == (PHOTO_BIO_TYPE, 0, 0) {
                return Err(MeetingError::Invalid(
                    format!("bio_photos[{i}].type"),
                    "type 9, no 0, index 0 is the person's photo: set it with `PUT /api/people/{pin}/photo`"
                        .into(),
                ));
            }
            if !seen.insert(key) {
                return Err(MeetingError::Invalid(
                    format!("bio_photos[{i}]"),
                    format!("type {}, no {}, index {} given twice", key.0, key.1, key.2),
                ));
            }
            photos.push((key, jpeg(&format!("bio_photos[{i}].jpeg"), &p.jpeg)?));
        }
        self.set_photos(pin, photos).await
    }

    async fn set_photos(
        &self,
        pin: &str,
        photos: Vec<((u32, u32, u32), Vec<u8>)>,
    ) -> Result<PhotosSet, MeetingError> {
        use base64::Engine as _;
        if !pin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(MeetingError::Invalid(
                "pin".into(),
                format!("`{pin}`: photos need a pin of letters, digits, `.`, `_` or `-` (it is part of their URL)"),
            ));
        }
        if self.person(pin).await?.is_none() {
            return Err(MeetingError::Unknown("person", pin.into()));
        }
        let mut keys = Vec::new();
        for ((bio_type, no, index), bytes) in &photos {
            let md5 = md5_hex(bytes);
            sqlx::query(
                "INSERT INTO meeting_photos (pin, bio_type, no, idx, jpeg, len, md5, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (pin, bio_type, no, idx) DO UPDATE SET \
                 jpeg = excluded.jpeg, len = excluded.len, md5 = excluded.md5, updated_at = excluded.updated_at",
            )
            .bind(pin)
            .bind(i64::from(*bio_type))
            .bind(i64::from(*no))
            .bind(i64::from(*index))
            .bind(base64::engine::general_purpose::STANDARD.encode(bytes))
            .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
            .bind(&md5)
            .bind(now_ms())
            .execute(self.writer())
            .await?;
            keys.push((*bio_type, *no, *index));
        }
        let person = self
            .person(pin)
            .await?
            .ok_or_else(|| MeetingError::Unknown("person", pin.into()))?;
        let pushed: Vec<StoredPhoto> = person
            .photo
            .iter()
            .chain(&person.bio_photos)
            .filter(|p| keys.contains(&(p.bio_type, p.no, p.index)))
            .cloned()
            .collect();
        let rooms = sqlx::query(
            "SELECT DISTINCT m.sn FROM meeting_meetings m JOIN meeting_members mm ON mm.meeting_id = m.id \
             WHERE mm.pin = $1 ORDER BY m.sn",
        )
        .bind(pin)
        .fetch_all(self.pool())
        .await?;
        let mut commands = Vec::new();
        for room in rooms {
            let sn: String = room.try_get("sn")?;
            if let Some(id) = self.push_photos(&sn, pin, &pushed).await? {
                commands.push(id);
            }
        }
        Ok(PhotosSet { person, commands })
    }

    /// Queues `cmd.data.update.bioPhoto` of `photos` of `pin` to terminal `sn`: the terminal fetches each
    /// JPEG from the admin API.
    async fn push_photos(
        &self,
        sn: &str,
        pin: &str,
        photos: &[StoredPhoto],
    ) -> Result<Option<i64>, MeetingError> {
        if photos.is_empty() {
            return Ok(None);
        }
        let base = self
            .photo_base
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let list: Vec<serde_json::Value> = photos
            .iter()
            .map(|p| {
                serde_json::json!({
                    "pin": pin, "no": p.no.to_string(), "index": p.index.to_string(),
                    "type": p.bio_type.to_string(), "url": format!("{base}{}", p.path),
                })
            })
            .collect();
        let spec = command_spec(
            "cmd.data.update.bioPhoto",
            serde_json::json!({ "bioPhotos": list }),
        );
        let (fleet::store::Enqueued::New(record) | fleet::store::Enqueued::Existing(record)) =
            self.fleet.enqueue(sn, &spec, None, None).await?;
        Ok(Some(record.id))
    }

    /// The JPEG of a stored photo, when `md5` is its current checksum.
    ///
    /// # Errors
    /// Store failure.
    pub async fn photo_jpeg(
        &self,
        pin: &str,
        key: (u32, u32, u32),
        md5: &str,
    ) -> Result<Option<Vec<u8>>, MeetingError> {
        use base64::Engine as _;
        let row = sqlx::query(
            "SELECT jpeg FROM meeting_photos WHERE pin = $1 AND bio_type = $2 AND no = $3 AND idx = $4 AND md5 = $5",
        )
        .bind(pin)
        .bind(i64::from(key.0))
        .bind(i64::from(key.1))
        .bind(i64::from(key.2))
        .bind(md5)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("jpeg")?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Some)
            .map_err(|e| {
                MeetingError::Store(StoreError::Corrupt {
                    table: "meeting_photos",
                    detail: format!("jpeg of `{pin}`: {e}"),
                })
            })
    }

    /// Stores a meeting and queues its push to the room's terminal: its members as users, the meeting, the
    /// member list. Returns the meeting and the queued command ids.
    ///
    /// # Errors
    /// Bad fields, an unknown terminal or person, a duplicate id, a store failure.
    pub async fn create_meeting(
        &self,
        new: &NewMeeting,
    ) -> Result<(Meeting, Vec<i64>), MeetingError> {
        let start = time("start", &new.start)?;
        let end = time("end", &new.end)?;
        if end <= start {
            return Err(MeetingError::Invalid(
                "end".into(),
                "must be after `start`".into(),
            ));
        }
        if new.name.is_empty() {
            return Err(MeetingError::Invalid(
                "name".into(),
                "must not be empty".into(),
            ));
        }
        if self.fleet.store().device(&new.sn).await?.is_none() {
            return Err(MeetingError::Unknown("terminal", new.sn.clone()));
        }
        let mut people = Vec::new();
        for (i, pin) in new.members.iter().enumerate() {
            match self.person(pin).await? {
                Some(p) => people.push(p),
                None => {
                    return Err(MeetingError::Invalid(
                        format!("members[{i}]"),
                        format!("unknown person `{pin}`"),
                    ))
                }
            }
        }
        let id = new
            .id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", new.sn, start.timestamp()));
        if id.is_empty() || id.len() > 32 {
            return Err(MeetingError::Invalid(
                "id".into(),
                "1 to 32 characters".into(),
            ));
        }
        let applicant = new.applicant.clone().unwrap_or_else(|| "platform".into());
        let inserted = sqlx::query(
            "INSERT INTO meeting_meetings (id, sn, name, applicant, start_ms, end_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&new.sn)
        .bind(&new.name)
        .bind(&applicant)
        .bind(start.timestamp_millis())
        .bind(end.timestamp_millis())
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(MeetingError::Conflict(format!("meeting `{id}` exists")));
        }
        for pin in &new.members {
            sqlx::query("INSERT INTO meeting_members (meeting_id, pin) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&id)
                .bind(pin)
                .execute(self.writer())
                .await?;
        }
        let users: Vec<User> = people
            .iter()
            .map(|p| User::new(p.pin.clone(), p.name.clone()))
            .collect();
        let wire_meeting = WireMeeting {
            name: new.name.clone(),
            start_sign_in_time: Some(start - chrono::Duration::minutes(30)),
            last_sign_in_time: Some(end),
            earliest_sign_out_time: None,
            last_sign_out_time: end + chrono::Duration::minutes(30),
            id: id.clone(),
            start_time: start,
            end_time: end,
            applicant: applicant.clone(),
        };
        let specs = [
            command_spec(
                "cmd.data.update.user",
                serde_json::json!({ "users": users }),
            ),
            command_spec(
                "cmd.data.update.meeting",
                serde_json::json!({ "meeting": [params_of(&wire_meeting)] }),
            ),
            command_spec(
                "cmd.data.update.meetingMember",
                serde_json::json!({ "members": [params_of(&MeetingMembers { meeting_id: id.clone(), pins: new.members.clone() })] }),
            ),
        ];
        let mut ids = Vec::new();
        for spec in &specs {
            let (fleet::store::Enqueued::New(record) | fleet::store::Enqueued::Existing(record)) =
                self.fleet.enqueue(&new.sn, spec, None, None).await?;
            ids.push(record.id);
        }
        // The members' photos follow their user records.
        for p in &people {
            let photos: Vec<StoredPhoto> = p.photo.iter().chain(&p.bio_photos).cloned().collect();
            if let Some(id) = self.push_photos(&new.sn, &p.pin, &photos).await? {
                ids.push(id);
            }
        }
        let meeting = Meeting {
            id,
            sn: new.sn.clone(),
            name: new.name.clone(),
            applicant,
            start_ms: start.timestamp_millis(),
            end_ms: end.timestamp_millis(),
            members: new.members.clone(),
        };
        Ok((meeting, ids))
    }

    /// One meeting.
    ///
    /// # Errors
    /// Store failure.
    pub async fn meeting(&self, id: &str) -> Result<Option<Meeting>, MeetingError> {
        let row = sqlx::query(
            "SELECT id, sn, name, applicant, start_ms, end_ms FROM meeting_meetings WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let members =
            sqlx::query("SELECT pin FROM meeting_members WHERE meeting_id = $1 ORDER BY pin")
                .bind(id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| r.try_get("pin"))
                .collect::<Result<Vec<String>, _>>()?;
        Ok(Some(meeting_from_row(&row, members)?))
    }

    /// Meetings, newest start first.
    ///
    /// # Errors
    /// Store failure.
    pub async fn meetings(&self, limit: i64) -> Result<Vec<Meeting>, MeetingError> {
        let rows = sqlx::query(
            "SELECT id, sn, name, applicant, start_ms, end_ms FROM meeting_meetings ORDER BY start_ms DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| meeting_from_row(r, Vec::new()).map_err(MeetingError::from))
            .collect()
    }

    /// Stores verification records of terminal `sn`; repeats (same `logId`) are kept once. Returns how many
    /// were new.
    ///
    /// # Errors
    /// Store failure.
    pub async fn record_logs(&self, sn: &str, logs: &[VerifyLog]) -> Result<u64, MeetingError> {
        let mut new = 0;
        for log in logs {
            let status = serde_json::to_value(log.record_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            new += self
                .insert_checkin(
                    sn,
                    &log.meet_code,
                    &log.pin,
                    &log.log_id,
                    "log",
                    &log.verify_time.to_rfc3339(),
                    &status,
                )
                .await?;
        }
        Ok(new)
    }

    /// Stores verification photos of terminal `sn`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn record_photos(
        &self,
        sn: &str,
        photos: &[VerifyPhoto],
    ) -> Result<u64, MeetingError> {
        let mut new = 0;
        for (i, photo) in photos.iter().enumerate() {
            let at = photo.photo_time.map(|t| t.to_rfc3339()).unwrap_or_default();
            let log_id = photo
                .log_id
                .clone()
                .unwrap_or_else(|| format!("{}-{}-{at}-{i}", photo.meet_code, photo.pin));
            new += self
                .insert_checkin(
                    sn,
                    &photo.meet_code,
                    &photo.pin,
                    &log_id,
                    "photo",
                    &at,
                    "photo",
                )
                .await?;
        }
        Ok(new)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_checkin(
        &self,
        sn: &str,
        meeting: &str,
        pin: &str,
        log_id: &str,
        kind: &str,
        at: &str,
        status: &str,
    ) -> Result<u64, MeetingError> {
        let done = sqlx::query(
            "INSERT INTO meeting_checkins (meeting_id, sn, pin, log_id, kind, verify_time, status, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(meeting)
        .bind(sn)
        .bind(pin)
        .bind(log_id)
        .bind(kind)
        .bind(at)
        .bind(status)
        .bind(now_ms())
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Check-ins, newest first.
    ///
    /// # Errors
    /// Store failure.
    pub async fn checkins(
        &self,
        meeting: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CheckIn>, MeetingError> {
        let rows = sqlx::query(
            "SELECT id, meeting_id, sn, pin, kind, verify_time, received_at FROM meeting_checkins \
             WHERE ($1 = '' OR meeting_id = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(meeting.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CheckIn {
                    id: r.try_get("id")?,
                    meeting_id: r.try_get("meeting_id")?,
                    sn: r.try_get("sn")?,
                    pin: r.try_get("pin")?,
                    kind: r.try_get("kind")?,
                    verify_time: r.try_get("verify_time")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect()
    }

    /// The attendance report of meeting `id`: every member, present when a check-in of the meeting arrived.
    ///
    /// # Errors
    /// Store failure.
    pub async fn attendance(&self, id: &str) -> Result<Option<Attendance>, MeetingError> {
        let Some(meeting) = self.meeting(id).await? else {
            return Ok(None);
        };
        let mut attendees = Vec::new();
        for pin in &meeting.members {
            let name = self.person(pin).await?.map(|p| p.name);
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(verify_time) AS first FROM meeting_checkins WHERE meeting_id = $1 AND pin = $2",
            )
            .bind(id)
            .bind(pin)
            .fetch_one(self.pool())
            .await?;
            let records: i64 = row.try_get("n")?;
            attendees.push(Attendee {
                pin: pin.clone(),
                name,
                present: records > 0,
                first_check_in: row.try_get("first")?,
                records,
            });
        }
        let present = attendees.iter().filter(|a| a.present).count();
        Ok(Some(Attendance {
            absent: attendees.len() - present,
            present,
            meeting,
            attendees,
        }))
    }

    /// Records a terminal's `dev.cmd.response` to command `command_id`.
    pub async fn record_result(
        &self,
        command_id: i64,
        sn: &str,
        code: &str,
        message: Option<&str>,
    ) {
        let done = sqlx::query(
            "INSERT INTO meeting_command_results (command_id, sn, code, message, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(command_id)
        .bind(sn)
        .bind(code)
        .bind(message)
        .bind(now_ms())
        .execute(self.writer())
        .await;
        if let Err(e) = done {
            tracing::warn!(command_id, error = %e, "dev.cmd.response not recorded");
        }
    }

    /// The recorded `dev.cmd.response` of a command: `(code, message)`.
    ///
    /// # Errors
    /// Store failure.
    pub async fn result(
        &self,
        command_id: i64,
    ) -> Result<Option<(String, Option<String>)>, MeetingError> {
        let row =
            sqlx::query("SELECT code, message FROM meeting_command_results WHERE command_id = $1")
                .bind(command_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| (r.get("code"), r.get("message"))))
    }

    /// Makes an issued credential durable before the session replies:
    /// journals it, then writes it through to the store. The journal append is synced to disk. This blocks the calling thread for the write and the `fsync` (a few milliseconds), which is
    /// acceptable because onboarding is rare; [`DeviceRegistry`] is synchronous and the session writes its
    /// reply as soon as this returns. A failure is logged loudly; the credential stays in the cache and the
    /// store write is still attempted.
    fn issue(&self, sn: &str, issued: Issued, value: &str) {
        let kind = issued.name();
        let line = JournalLine {
            sn: sn.to_owned(),
            kind: kind.to_owned(),
            value: value.to_owned(),
        };
        let done = self.journal.append(&line);
        if let Err(e) = done {
            tracing::error!(
                sn,
                kind,
                journal = %self.journal.path.display(),
                error = %e,
                "ISSUED CREDENTIAL NOT JOURNALED: a crash before the store write loses it"
            );
        }
        let sql = issued.sql();
        let (pool, sn, value) = (self.writer().clone(), sn.to_owned(), value.to_owned());
        tokio::spawn(async move {
            if let Err(e) = sqlx::query(sql).bind(&sn).bind(&value).execute(&pool).await {
                tracing::error!(sn, error = %e, "issued credential not stored");
            }
        });
    }
}

/// A credential the platform issues to a terminal.
#[derive(Debug, Clone, Copy)]
enum Issued {
    /// `dev.register`'s `authCode`.
    AuthCode,
    /// `dev.accredit`'s `secret`.
    Secret,
}

impl Issued {
    /// Its `kind` in the journal.
    fn name(self) -> &'static str {
        match self {
            Self::AuthCode => "auth_code",
            Self::Secret => "secret",
        }
    }

    /// The kind of a journal line, if it is one.
    fn named(kind: &str) -> Option<Self> {
        [Self::AuthCode, Self::Secret]
            .into_iter()
            .find(|i| i.name() == kind)
    }

    /// Its store write (a new `authCode` also clears the `secret`).
    fn sql(self) -> &'static str {
        match self {
            Self::AuthCode => {
                "UPDATE meeting_terminals SET auth_code = $2, secret = NULL WHERE sn = $1"
            }
            Self::Secret => "UPDATE meeting_terminals SET secret = $2 WHERE sn = $1",
        }
    }
}

/// Where the admin API serves a photo; the MD5 makes the path unguessable without the photo and changes with it.
fn photo_path(pin: &str, bio_type: u32, no: u32, index: u32, md5: &str) -> String {
    format!("/api/photos/{pin}/{bio_type}/{no}/{index}/{md5}")
}

/// The person's photo (type 9, 0, 0) apart from the other biometric photos.
fn split_photos(photos: Vec<StoredPhoto>) -> (Option<StoredPhoto>, Vec<StoredPhoto>) {
    let (photo, bio): (Vec<_>, Vec<_>) = photos
        .into_iter()
        .partition(|p| (p.bio_type, p.no, p.index) == (PHOTO_BIO_TYPE, 0, 0));
    (photo.into_iter().next(), bio)
}

/// A serial number fits a topic level and the store.
pub fn check_sn(sn: &str) -> Result<(), MeetingError> {
    if sn.is_empty() || sn.len() > 64 || sn.contains(['/', '+', '#', '\0', ' ']) {
        return Err(MeetingError::Invalid(
            "sn".into(),
            format!("`{sn}`: 1 to 64 characters, none of `/ + #` or spaces"),
        ));
    }
    Ok(())
}

impl DeviceRegistry for Meetings {
    fn device(&self, sn: &str) -> Option<DeviceRecord> {
        let secret_key = self.fleet.secret(sn)?;
        let creds = self
            .credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sn)
            .cloned()?;
        let mut record = DeviceRecord::new(creds.product_id, secret_key);
        record.auth_code = creds.auth_code;
        record.secret = creds.secret;
        Some(record)
    }

    fn store_auth_code(&self, sn: &str, auth_code: &str) {
        if let Some(c) = self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(sn)
        {
            c.auth_code = Some(auth_code.to_owned());
            c.secret = None;
        }
        self.issue(sn, Issued::AuthCode, auth_code);
    }

    fn store_secret(&self, sn: &str, secret: &str) {
        if let Some(c) = self
            .credentials
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(sn)
        {
            c.secret = Some(secret.to_owned());
        }
        self.issue(sn, Issued::Secret, secret);
    }
}

impl BrokerDirectory for Meetings {
    fn secret_key(&self, sn: &str) -> Option<String> {
        // Only terminals of the registry (with a product) are looked up.
        self.credentials
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(sn)
            .then(|| self.fleet.secret(sn))
            .flatten()
    }

    fn broker(&self, _sn: &str, broker_type: &BrokerType) -> Option<BrokerInfo> {
        let brokers = self.brokers.read().unwrap_or_else(PoisonError::into_inner);
        let url = match broker_type {
            BrokerType::BestW => brokers.ws.clone(),
            BrokerType::BestM => brokers.mqtt.clone(),
            _ => None,
        }?;
        Some(BrokerInfo {
            url,
            root_ca: None,
            certificate: None,
            private_key: None,
            public_key: None,
            company_id: None,
            site_id: None,
        })
    }
}
