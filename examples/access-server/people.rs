//! People, their pictures and feature codes, the terminals they are pushed to, and the pushes' answers.
//!
//! A person belongs to one community (`community_code`); every terminal that reports that community in its
//! `get_device_info` receives the person with `download_person` through the fleet's persistent queue. A
//! queued push names the person, not its pictures: the delivery reads the person's current version (one
//! copy in memory, shared by every terminal it goes to), so a person with three 120 KB pictures pushed to
//! 2,000 terminals is held once and base64-encoded once per connection by the codec.
//!
//! The spec has no message that removes a person from a terminal: deleting a person removes it from the
//! store and cancels its pushes still queued; terminals keep what they received.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use access_proto::{FeatureCode, Image, ImageFormat, PersonInfo, Role};
use base64::Engine as _;
use bytes::Bytes;
use fleet::{CommandSpec, Fleet, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The command kind of a person push.
pub const PUSH_KIND: &str = "download_person";

/// Longest `person_id` and `community_code`, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest other text field of a person, in bytes.
pub const MAX_TEXT_LEN: usize = 256;
/// Room for a person's fields and the envelope of its `download_person`, beyond the base64 of its blobs.
const ENVELOPE_ROOM: usize = 8 * 1024;

/// A picture or feature code slot of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// `face`.
    Face,
    /// `left_image`.
    LeftImage,
    /// `right_image`.
    RightImage,
    /// `left_code`.
    LeftCode,
    /// `right_code`.
    RightCode,
}

impl Slot {
    /// Every slot.
    pub const ALL: [Self; 5] = [
        Self::Face,
        Self::LeftImage,
        Self::RightImage,
        Self::LeftCode,
        Self::RightCode,
    ];

    /// The wire (and stored) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::LeftImage => "left_image",
            Self::RightImage => "right_image",
            Self::LeftCode => "left_code",
            Self::RightCode => "right_code",
        }
    }

    /// Whether it is a picture (with width, height and format) rather than a feature code.
    pub fn is_image(self) -> bool {
        matches!(self, Self::Face | Self::LeftImage | Self::RightImage)
    }

    /// The slot named `name`.
    ///
    /// # Errors
    /// No such slot (the text lists them).
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "`{name}` is not one of face, left_image, right_image, left_code, right_code"
                )
            })
    }
}

/// A picture or feature code. Codes have no width, height or format (stored as 0).
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    /// Width in pixels (pictures).
    pub width: u32,
    /// Height in pixels (pictures).
    pub height: u32,
    /// Picture format (pictures; the spec's example uses 2).
    pub format: i64,
    /// The bytes.
    pub data: Bytes,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// A person's text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonFields {
    /// The community (site) whose terminals receive the person.
    pub community_code: String,
    /// `person_name`.
    #[serde(default)]
    pub person_name: Option<String>,
    /// `id_number`.
    #[serde(default)]
    pub id_number: Option<String>,
    /// `card_number`.
    #[serde(default)]
    pub card_number: Option<String>,
    /// `key_number`.
    #[serde(default)]
    pub key_number: Option<String>,
    /// `department_number`.
    #[serde(default)]
    pub department_number: Option<String>,
    /// `role`.
    #[serde(default)]
    pub role: Option<i64>,
}

/// A person with its blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `person_id`.
    pub person_id: String,
    /// The text fields.
    pub fields: PersonFields,
    /// Bumped by every change; a push records the version it delivered.
    pub version: i64,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Pictures and codes.
    pub blobs: BTreeMap<Slot, Blob>,
}

impl Person {
    /// The `person_info` of a `download_person`; the blobs are shared, not copied.
    pub fn to_info(&self) -> PersonInfo {
        let image = |slot: Slot| {
            self.blobs.get(&slot).map(|b| Image {
                width: b.width,
                height: b.height,
                format: ImageFormat(b.format),
                data: b.data.clone(),
            })
        };
        let code = |slot: Slot| {
            self.blobs.get(&slot).map(|b| FeatureCode {
                data: b.data.clone(),
            })
        };
        let f = &self.fields;
        PersonInfo {
            person_id: self.person_id.clone(),
            person_name: f.person_name.clone(),
            id_number: f.id_number.clone(),
            card_number: f.card_number.clone(),
            key_number: f.key_number.clone(),
            department_number: f.department_number.clone(),
            role: f.role.map(Role),
            face: image(Slot::Face),
            left_image: image(Slot::LeftImage),
            left_code: code(Slot::LeftCode),
            right_image: image(Slot::RightImage),
            right_code: code(Slot::RightCode),
        }
    }

    /// The API view (blob sizes, not bytes).
    pub fn view(&self) -> PersonView {
        PersonView {
            person_id: self.person_id.clone(),
            fields: self.fields.clone(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            blobs: self
                .blobs
                .iter()
                .map(|(slot, b)| BlobView {
                    slot: slot.as_str().to_owned(),
                    width: b.width,
                    height: b.height,
                    format: b.format,
                    length: b.data.len() as u64,
                })
                .collect(),
        }
    }
}

/// A blob as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlobView {
    /// `face`, `left_image`, `right_image`, `left_code` or `right_code`.
    pub slot: String,
    /// Width (pictures; 0 for codes).
    pub width: u32,
    /// Height (pictures; 0 for codes).
    pub height: u32,
    /// Format (pictures; 0 for codes).
    pub format: i64,
    /// Decoded size in bytes.
    pub length: u64,
}

/// A person as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonView {
    /// `person_id`.
    pub person_id: String,
    /// The text fields.
    #[serde(flatten)]
    pub fields: PersonFields,
    /// Version (bumped by every change).
    pub version: i64,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Pictures and codes, without their bytes.
    pub blobs: Vec<BlobView>,
}

/// A picture in an API body: `data` is standard base64; `length`, when given, must match.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInput {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Format (the spec's example uses 2).
    pub format: i64,
    /// Decoded byte count (optional check).
    #[serde(default)]
    pub length: Option<u64>,
    /// Standard base64 with padding.
    pub data: String,
}

/// A feature code in an API body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// Decoded byte count (optional check).
    #[serde(default)]
    pub length: Option<u64>,
    /// Standard base64 with padding.
    pub data: String,
}

/// Body of `POST /api/persons` and `PUT /api/persons/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    /// `person_id` (required by `POST`; under `PUT` it must match the path when given).
    #[serde(default)]
    pub person_id: Option<String>,
    /// The community whose terminals receive the person.
    pub community_code: String,
    /// `person_name`.
    #[serde(default)]
    pub person_name: Option<String>,
    /// `id_number`.
    #[serde(default)]
    pub id_number: Option<String>,
    /// `card_number`.
    #[serde(default)]
    pub card_number: Option<String>,
    /// `key_number`.
    #[serde(default)]
    pub key_number: Option<String>,
    /// `department_number`.
    #[serde(default)]
    pub department_number: Option<String>,
    /// `role`.
    #[serde(default)]
    pub role: Option<i64>,
    /// `face` picture.
    #[serde(default)]
    pub face: Option<ImageInput>,
    /// `left_image`.
    #[serde(default)]
    pub left_image: Option<ImageInput>,
    /// `right_image`.
    #[serde(default)]
    pub right_image: Option<ImageInput>,
    /// `left_code`.
    #[serde(default)]
    pub left_code: Option<CodeInput>,
    /// `right_code`.
    #[serde(default)]
    pub right_code: Option<CodeInput>,
}

/// Bad input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field (`face.data`, `person_id`).
    pub field: String,
    /// What was wrong.
    pub detail: String,
}

fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        detail: detail.into(),
    }
}

/// Checks an id (`person_id`, `community_code`): not empty, at most [`MAX_ID_LEN`] bytes, no control
/// characters.
///
/// # Errors
/// The text names the rule broken.
pub fn check_id(field: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(invalid(
            field,
            format!("{} bytes, more than {MAX_ID_LEN}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

fn check_text(field: &str, value: Option<&String>) -> Result<(), Invalid> {
    match value {
        Some(v) if v.len() > MAX_TEXT_LEN => Err(invalid(
            field,
            format!("{} bytes, more than {MAX_TEXT_LEN}", v.len()),
        )),
        _ => Ok(()),
    }
}

/// Decodes a base64 blob, checking `length` and the size limit.
///
/// # Errors
/// Not standard base64, a `length` that disagrees, or over `max` bytes.
pub fn decode_blob(
    field: &str,
    data: &str,
    length: Option<u64>,
    max: usize,
) -> Result<Bytes, Invalid> {
    // Refuse before decoding what could only decode to more than the limit.
    if data.len() / 4 * 3 > max.saturating_add(3) {
        return Err(invalid(
            format!("{field}.data"),
            format!("decodes to more than the limit of {max} bytes"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| invalid(format!("{field}.data"), format!("not standard base64: {e}")))?;
    check_blob_size(field, bytes.len(), max)?;
    if let Some(l) = length {
        if l != bytes.len() as u64 {
            return Err(invalid(
                format!("{field}.length"),
                format!("is {l} but `data` decodes to {} bytes", bytes.len()),
            ));
        }
    }
    Ok(Bytes::from(bytes))
}

/// Checks a decoded blob against the limit.
///
/// # Errors
/// Empty or over `max` bytes.
pub fn check_blob_size(field: &str, len: usize, max: usize) -> Result<(), Invalid> {
    if len == 0 {
        return Err(invalid(format!("{field}.data"), "is empty"));
    }
    if len > max {
        return Err(invalid(
            format!("{field}.data"),
            format!("{len} bytes, more than the limit of {max}"),
        ));
    }
    Ok(())
}

/// Checks that the person's `download_person` fits in one message of `max_message` bytes.
///
/// # Errors
/// It would not.
pub fn check_fits(blobs: &BTreeMap<Slot, Blob>, max_message: usize) -> Result<(), Invalid> {
    let encoded: usize = blobs.values().map(|b| b.data.len().div_ceil(3) * 4).sum();
    if encoded.saturating_add(ENVELOPE_ROOM) > max_message {
        return Err(invalid(
            "person",
            format!(
                "its pictures and codes take {encoded} bytes of base64: the `download_person` would exceed the \
                 {max_message}-byte message limit"
            ),
        ));
    }
    Ok(())
}

impl PersonInput {
    /// Checks the body and decodes its blobs. `path_id` is the id of a `PUT`.
    ///
    /// # Errors
    /// A field is missing, too long, or does not decode (the error names it).
    pub fn into_parts(
        self,
        path_id: Option<&str>,
        max_blob: usize,
        max_message: usize,
    ) -> Result<(String, PersonFields, BTreeMap<Slot, Blob>), Invalid> {
        let person_id = match (path_id, self.person_id) {
            (Some(p), Some(b)) if p != b => {
                return Err(invalid(
                    "person_id",
                    format!("`{b}` differs from the path's `{p}`"),
                ))
            }
            (Some(p), _) => p.to_owned(),
            (None, Some(b)) => b,
            (None, None) => return Err(invalid("person_id", "missing")),
        };
        check_id("person_id", &person_id)?;
        check_id("community_code", &self.community_code)?;
        for (field, v) in [
            ("person_name", &self.person_name),
            ("id_number", &self.id_number),
            ("card_number", &self.card_number),
            ("key_number", &self.key_number),
            ("department_number", &self.department_number),
        ] {
            check_text(field, v.as_ref())?;
        }
        let mut blobs = BTreeMap::new();
        for (slot, image) in [
            (Slot::Face, self.face),
            (Slot::LeftImage, self.left_image),
            (Slot::RightImage, self.right_image),
        ] {
            if let Some(i) = image {
                let data = decode_blob(slot.as_str(), &i.data, i.length, max_blob)?;
                blobs.insert(
                    slot,
                    Blob {
                        width: i.width,
                        height: i.height,
                        format: i.format,
                        data,
                    },
                );
            }
        }
        for (slot, code) in [
            (Slot::LeftCode, self.left_code),
            (Slot::RightCode, self.right_code),
        ] {
            if let Some(c) = code {
                let data = decode_blob(slot.as_str(), &c.data, c.length, max_blob)?;
                blobs.insert(
                    slot,
                    Blob {
                        width: 0,
                        height: 0,
                        format: 0,
                        data,
                    },
                );
            }
        }
        check_fits(&blobs, max_message)?;
        let fields = PersonFields {
            community_code: self.community_code,
            person_name: self.person_name,
            id_number: self.id_number,
            card_number: self.card_number,
            key_number: self.key_number,
            department_number: self.department_number,
            role: self.role,
        };
        Ok((person_id, fields, blobs))
    }
}

/// What went wrong with a people operation.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    /// Bad input.
    #[error("`{}`: {}", .0.field, .0.detail)]
    Invalid(Invalid),
    /// No such person.
    #[error("no person `{0}`")]
    Unknown(String),
    /// The person exists already.
    #[error("person `{0}` exists already")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PeopleError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

/// A terminal as registered from its `get_device_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Terminal {
    /// Its `uuid` (the device id).
    pub device_id: String,
    /// `community_code`.
    pub community_code: Option<String>,
    /// `address`.
    pub address: Option<String>,
    /// `device_ip` as reported.
    pub device_ip: Option<String>,
    /// `device_port` as reported.
    pub device_port: Option<i64>,
    /// `server_ip` as reported.
    pub server_ip: Option<String>,
    /// `server_port` as reported.
    pub server_port: Option<i64>,
    /// `software_version`.
    pub software_version: Option<String>,
    /// `hardware_version`.
    pub hardware_version: Option<String>,
    /// `tcp` or `ws`: the transport of its last connection.
    pub transport: String,
    /// The address its last connection came from.
    pub remote_addr: Option<String>,
    /// Last registered or changed (Unix ms).
    pub updated_at: i64,
}

/// One push of a person to a terminal and the terminal's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Push {
    /// The person.
    pub person_id: String,
    /// The terminal.
    pub device_id: String,
    /// The queued command (`/api/commands/{id}`).
    pub command_id: i64,
    /// Its delivery state.
    pub state: Option<String>,
    /// The person's version queued, then the one delivered.
    pub version: i64,
    /// The terminal's `code`: 0 success, -1 general error, -2 device fault, -3 database error, or another
    /// number as received; absent until it answers.
    pub code: Option<i64>,
    /// The terminal's `message`.
    pub message: Option<String>,
    /// Queued at (Unix ms).
    pub queued_at: i64,
    /// Answered at (Unix ms).
    pub answered_at: Option<i64>,
}

/// The queued command of a person's push: it names the person, so every delivery sends the current version
/// from one shared copy of its pictures.
fn push_spec(person_id: &str) -> CommandSpec {
    CommandSpec {
        kind: PUSH_KIND.into(),
        payload: serde_json::json!({ "cmd": PUSH_KIND, "person_id": person_id }),
        idempotent: true,
        expects_ack: true,
    }
}

/// People whose current version is kept in memory for deliveries.
const CACHE_PEOPLE: usize = 16;

struct Inner {
    fleet: Fleet,
    max_blob: usize,
    max_message: usize,
    cache: Mutex<VecDeque<Arc<Person>>>,
    /// One store load at a time for a person missing from the cache, so that 2,000 deliveries of a new
    /// person read it once.
    loading: tokio::sync::Mutex<()>,
}

/// The people service. Cheap to clone.
#[derive(Clone)]
pub struct People(Arc<Inner>);

impl std::fmt::Debug for People {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("People").finish_non_exhaustive()
    }
}

const PERSON_COLUMNS: &str =
    "person_id, community_code, person_name, id_number, card_number, key_number, \
     department_number, role, version, created_at, updated_at";

fn fields_from_row(row: &AnyRow) -> Result<(String, PersonFields, i64, i64, i64), sqlx::Error> {
    Ok((
        row.try_get("person_id")?,
        PersonFields {
            community_code: row.try_get("community_code")?,
            person_name: row.try_get("person_name")?,
            id_number: row.try_get("id_number")?,
            card_number: row.try_get("card_number")?,
            key_number: row.try_get("key_number")?,
            department_number: row.try_get("department_number")?,
            role: row.try_get("role")?,
        },
        row.try_get("version")?,
        row.try_get("created_at")?,
        row.try_get("updated_at")?,
    ))
}

fn dim(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

impl People {
    /// The people service over `fleet`'s store.
    pub fn new(fleet: Fleet, max_blob: usize, max_message: usize) -> Self {
        Self(Arc::new(Inner {
            fleet,
            max_blob,
            max_message,
            cache: Mutex::new(VecDeque::new()),
            loading: tokio::sync::Mutex::new(()),
        }))
    }

    /// The embedded migrations of the access tables for the store's database.
    pub fn migrator(backend: fleet::store::Backend) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/access-server/migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator =
            sqlx::migrate!("examples/access-server/migrations/postgres");
        match backend {
            fleet::store::Backend::Sqlite => &SQLITE,
            fleet::store::Backend::Postgres => &POSTGRES,
        }
    }

    /// The largest blob accepted.
    pub fn max_blob(&self) -> usize {
        self.0.max_blob
    }

    /// The message limit a person's push must fit in.
    pub fn max_message(&self) -> usize {
        self.0.max_message
    }

    fn fleet(&self) -> &Fleet {
        &self.0.fleet
    }

    fn forget(&self, person_id: &str) {
        self.0
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| p.person_id != person_id);
    }

    fn cached(&self, person_id: &str) -> Option<Arc<Person>> {
        self.0
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|p| p.person_id == person_id)
            .cloned()
    }

    /// Creates a person and queues its push to the terminals of its community; returns it and how many
    /// pushes were queued.
    ///
    /// # Errors
    /// It exists, or the store failed.
    pub async fn create(
        &self,
        person_id: String,
        fields: PersonFields,
        blobs: BTreeMap<Slot, Blob>,
    ) -> Result<(Person, usize), PeopleError> {
        let now = fleet::now_ms();
        let store = self.fleet().store();
        let mut tx = store.writer().begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO access_persons ({PERSON_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) \
             ON CONFLICT (person_id) DO NOTHING"
        ))
        .bind(&person_id)
        .bind(&fields.community_code)
        .bind(fields.person_name.as_deref())
        .bind(fields.id_number.as_deref())
        .bind(fields.card_number.as_deref())
        .bind(fields.key_number.as_deref())
        .bind(fields.department_number.as_deref())
        .bind(fields.role)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(PeopleError::Exists(person_id));
        }
        write_blobs(&mut tx, &person_id, &blobs).await?;
        tx.commit().await?;
        let person = Person {
            person_id,
            fields,
            version: 1,
            created_at: now,
            updated_at: now,
            blobs,
        };
        let queued = self.push_to_community(&person).await?;
        Ok((person, queued))
    }

    /// Replaces a person's fields and blobs (a new version) and queues its push to the terminals of its
    /// community (the old one's terminals keep what they have: the spec has no removal).
    ///
    /// # Errors
    /// No such person, or the store failed.
    pub async fn replace(
        &self,
        person_id: &str,
        fields: PersonFields,
        blobs: BTreeMap<Slot, Blob>,
    ) -> Result<(Person, usize), PeopleError> {
        let now = fleet::now_ms();
        let mut tx = self.fleet().store().writer().begin().await?;
        let row = sqlx::query(
            "UPDATE access_persons SET community_code = $2, person_name = $3, id_number = $4, card_number = $5, \
             key_number = $6, department_number = $7, role = $8, version = version + 1, updated_at = $9 \
             WHERE person_id = $1 RETURNING version, created_at",
        )
        .bind(person_id)
        .bind(&fields.community_code)
        .bind(fields.person_name.as_deref())
        .bind(fields.id_number.as_deref())
        .bind(fields.card_number.as_deref())
        .bind(fields.key_number.as_deref())
        .bind(fields.department_number.as_deref())
        .bind(fields.role)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(PeopleError::Unknown(person_id.to_owned()));
        };
        sqlx::query("DELETE FROM access_person_blobs WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        write_blobs(&mut tx, person_id, &blobs).await?;
        tx.commit().await?;
        self.forget(person_id);
        let person = Person {
            person_id: person_id.to_owned(),
            fields,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: now,
            blobs,
        };
        let queued = self.push_to_community(&person).await?;
        Ok((person, queued))
    }

    /// Sets one picture or code of a person (a new version) and queues its push.
    ///
    /// # Errors
    /// No such person, the blob is too large for the message limit, or the store failed.
    pub async fn set_blob(
        &self,
        person_id: &str,
        slot: Slot,
        blob: Blob,
    ) -> Result<(Person, usize), PeopleError> {
        let mut person = self
            .get(person_id)
            .await?
            .ok_or_else(|| PeopleError::Unknown(person_id.to_owned()))?;
        let mut blobs = person.blobs.clone();
        blobs.insert(slot, blob);
        check_fits(&blobs, self.0.max_message).map_err(PeopleError::Invalid)?;
        person.blobs = blobs;
        let fields = person.fields.clone();
        self.replace(person_id, fields, person.blobs).await
    }

    /// Deletes a person and cancels its queued pushes; returns how many were cancelled.
    ///
    /// # Errors
    /// No such person, or the store failed.
    pub async fn delete(&self, person_id: &str) -> Result<usize, PeopleError> {
        let store = self.fleet().store();
        let mut tx = store.writer().begin().await?;
        sqlx::query("DELETE FROM access_person_blobs WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM access_persons WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.forget(person_id);
        if gone.rows_affected() == 0 {
            return Err(PeopleError::Unknown(person_id.to_owned()));
        }
        let open: Vec<i64> = sqlx::query(
            "SELECT p.command_id FROM access_pushes p JOIN commands c ON c.id = p.command_id \
             WHERE p.person_id = $1 AND c.state = 'queued'",
        )
        .bind(person_id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get("command_id"))
        .collect::<Result<_, _>>()?;
        let mut cancelled = 0;
        for id in open {
            if let Some(c) = store.cancel(id).await? {
                if c.state == fleet::CommandState::Cancelled {
                    cancelled += 1;
                }
            }
        }
        Ok(cancelled)
    }

    /// One person with its blobs, from the store.
    ///
    /// # Errors
    /// The store failed.
    pub async fn get(&self, person_id: &str) -> Result<Option<Person>, PeopleError> {
        let pool = self.fleet().store().pool();
        let row = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM access_persons WHERE person_id = $1"
        ))
        .bind(person_id)
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (person_id, fields, version, created_at, updated_at) = fields_from_row(&row)?;
        let mut blobs = BTreeMap::new();
        let rows = sqlx::query(
            "SELECT slot, width, height, format, data FROM access_person_blobs WHERE person_id = $1",
        )
        .bind(&person_id)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let slot: String = r.try_get("slot")?;
            let slot = Slot::parse(&slot).map_err(|detail| StoreError::Corrupt {
                table: "access_person_blobs",
                detail,
            })?;
            let data: Vec<u8> = r.try_get("data")?;
            blobs.insert(
                slot,
                Blob {
                    width: dim(r.try_get::<Option<i64>, _>("width")?.unwrap_or(0)),
                    height: dim(r.try_get::<Option<i64>, _>("height")?.unwrap_or(0)),
                    format: r.try_get::<Option<i64>, _>("format")?.unwrap_or(0),
                    data: Bytes::from(data),
                },
            );
        }
        Ok(Some(Person {
            person_id,
            fields,
            version,
            created_at,
            updated_at,
            blobs,
        }))
    }

    /// The current version of a person for a delivery: from the cache, else loaded once.
    ///
    /// # Errors
    /// The store failed.
    pub async fn current(&self, person_id: &str) -> Result<Option<Arc<Person>>, PeopleError> {
        if let Some(p) = self.cached(person_id) {
            return Ok(Some(p));
        }
        let _one = self.0.loading.lock().await;
        if let Some(p) = self.cached(person_id) {
            return Ok(Some(p));
        }
        let Some(person) = self.get(person_id).await? else {
            return Ok(None);
        };
        let person = Arc::new(person);
        let mut cache = self.0.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_PEOPLE {
            cache.pop_front();
        }
        cache.push_back(person.clone());
        Ok(Some(person))
    }

    /// People, by `person_id`, after the cursor; optionally of one community.
    ///
    /// # Errors
    /// The store failed.
    pub async fn list(
        &self,
        community: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<PersonView>, PeopleError> {
        let pool = self.fleet().store().pool();
        let rows = sqlx::query(&format!(
            "SELECT {PERSON_COLUMNS} FROM access_persons WHERE ($1 IS NULL OR community_code = $1) \
             AND ($2 IS NULL OR person_id > $2) ORDER BY person_id LIMIT $3"
        ))
        .bind(community)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (person_id, fields, version, created_at, updated_at) = fields_from_row(&row)?;
            let blobs = sqlx::query(
                "SELECT slot, width, height, format, CAST(length(data) AS BIGINT) AS length \
                 FROM access_person_blobs WHERE person_id = $1 ORDER BY slot",
            )
            .bind(&person_id)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok(BlobView {
                    slot: r.try_get("slot")?,
                    width: dim(r.try_get::<Option<i64>, _>("width")?.unwrap_or(0)),
                    height: dim(r.try_get::<Option<i64>, _>("height")?.unwrap_or(0)),
                    format: r.try_get::<Option<i64>, _>("format")?.unwrap_or(0),
                    length: u64::try_from(r.try_get::<i64, _>("length")?).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            out.push(PersonView {
                person_id,
                fields,
                version,
                created_at,
                updated_at,
                blobs,
            });
        }
        Ok(out)
    }

    /// Registers or updates a terminal from its `get_device_info` (without `remote_addr`, the registered one
    /// is kept); returns whether it was registered and the community it had before (`None`: new, or it had
    /// none).
    ///
    /// # Errors
    /// The store failed.
    pub async fn register_terminal(
        &self,
        t: &Terminal,
    ) -> Result<(bool, Option<String>), PeopleError> {
        let store = self.fleet().store();
        let before =
            sqlx::query("SELECT community_code FROM access_terminals WHERE device_id = $1")
                .bind(&t.device_id)
                .fetch_optional(store.pool())
                .await?;
        let existed = before.is_some();
        let old: Option<String> = match before {
            Some(r) => r.try_get("community_code")?,
            None => None,
        };
        sqlx::query(
            "INSERT INTO access_terminals (device_id, community_code, address, device_ip, device_port, server_ip, \
             server_port, software_version, hardware_version, transport, remote_addr, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (device_id) DO UPDATE SET \
             community_code = $2, address = $3, device_ip = $4, device_port = $5, server_ip = $6, server_port = $7, \
             software_version = $8, hardware_version = $9, transport = $10, \
             remote_addr = COALESCE(excluded.remote_addr, access_terminals.remote_addr), updated_at = $12",
        )
        .bind(&t.device_id)
        .bind(t.community_code.as_deref())
        .bind(t.address.as_deref())
        .bind(t.device_ip.as_deref())
        .bind(t.device_port)
        .bind(t.server_ip.as_deref())
        .bind(t.server_port)
        .bind(t.software_version.as_deref())
        .bind(t.hardware_version.as_deref())
        .bind(&t.transport)
        .bind(t.remote_addr.as_deref())
        .bind(t.updated_at)
        .execute(store.writer())
        .await?;
        Ok((existed, old))
    }

    /// Registered terminals by id after the cursor, optionally of one community.
    ///
    /// # Errors
    /// The store failed.
    pub async fn terminals(
        &self,
        community: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Terminal>, PeopleError> {
        let rows = sqlx::query(
            "SELECT device_id, community_code, address, device_ip, device_port, server_ip, server_port, \
             software_version, hardware_version, transport, remote_addr, updated_at FROM access_terminals \
             WHERE ($1 IS NULL OR community_code = $1) AND ($2 IS NULL OR device_id > $2) \
             ORDER BY device_id LIMIT $3",
        )
        .bind(community)
        .bind(after)
        .bind(limit)
        .fetch_all(self.fleet().store().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Terminal {
                    device_id: r.try_get("device_id")?,
                    community_code: r.try_get("community_code")?,
                    address: r.try_get("address")?,
                    device_ip: r.try_get("device_ip")?,
                    device_port: r.try_get("device_port")?,
                    server_ip: r.try_get("server_ip")?,
                    server_port: r.try_get("server_port")?,
                    software_version: r.try_get("software_version")?,
                    hardware_version: r.try_get("hardware_version")?,
                    transport: r.try_get("transport")?,
                    remote_addr: r.try_get("remote_addr")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Queues the push of `person` to every terminal of its community.
    async fn push_to_community(&self, person: &Person) -> Result<usize, PeopleError> {
        // Terminals that still have a push of this person queued get nothing new (a delivery always sends
        // the current version).
        let waiting: std::collections::HashSet<String> = sqlx::query_scalar(
            "SELECT p.device_id FROM access_pushes p JOIN commands c ON c.id = p.command_id \
             WHERE p.person_id = $1 AND c.state = 'queued'",
        )
        .bind(&person.person_id)
        .fetch_all(self.fleet().store().pool())
        .await?
        .into_iter()
        .collect();
        let mut queued = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .terminals(Some(&person.fields.community_code), after.as_deref(), 1000)
                .await?;
            let devices: Vec<&str> = page
                .iter()
                .map(|t| t.device_id.as_str())
                .filter(|d| !waiting.contains(*d))
                .collect();
            queued += self
                .queue_pushes(&person.person_id, person.version, &devices)
                .await?;
            match page.last() {
                Some(last) if page.len() == 1000 => after = Some(last.device_id.clone()),
                _ => break,
            }
        }
        Ok(queued)
    }

    /// Queues the push of `person_id` to each of `devices`: the commands in one transaction, then their push
    /// rows in another, then delivery is woken (two commits for a page of a thousand terminals instead of two
    /// each). Delivery starts once the push rows exist; a delivery already under way for a terminal may still
    /// claim its command at once, and `record_answer` writes the row then. Returns how many were queued.
    async fn queue_pushes(
        &self,
        person_id: &str,
        version: i64,
        devices: &[&str],
    ) -> Result<usize, PeopleError> {
        if devices.is_empty() {
            return Ok(0);
        }
        let store = self.fleet().store();
        let ttl = Duration::from_secs(self.fleet().config().queue.default_ttl_secs);
        let commands = store
            .enqueue_many(devices, &push_spec(person_id), Some(ttl))
            .await?;
        let rows = async {
            let mut tx = store.writer().begin().await?;
            for command in &commands {
                sqlx::query(
                    "INSERT INTO access_pushes (person_id, device_id, command_id, version, queued_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (command_id) DO NOTHING",
                )
                .bind(person_id)
                .bind(&command.device_id)
                .bind(command.id)
                .bind(version)
                .bind(command.created_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }
        .await;
        // Woken even when the rows failed: the commands are queued, and `record_answer` writes a missing row.
        for command in &commands {
            self.fleet().wake(&command.device_id);
        }
        rows?;
        Ok(commands.len())
    }

    /// Queues the push of every person of `community` to terminal `device`; returns how many.
    ///
    /// # Errors
    /// The store failed.
    pub async fn push_community_to(
        &self,
        community: &str,
        device: &str,
    ) -> Result<usize, PeopleError> {
        let rows = sqlx::query(
            "SELECT person_id, version FROM access_persons WHERE community_code = $1 ORDER BY person_id",
        )
        .bind(community)
        .fetch_all(self.fleet().store().pool())
        .await?;
        self.queue_rows(&rows, device).await
    }

    /// Queues the push of every person of `community` whose current version was never queued for terminal
    /// `device`; returns how many. A person committed by a process that stopped before queuing its pushes
    /// reaches its terminals this way when they identify again (every terminal does after a restart).
    ///
    /// # Errors
    /// The store failed.
    pub async fn push_missing_to(
        &self,
        community: &str,
        device: &str,
    ) -> Result<usize, PeopleError> {
        let rows = sqlx::query(
            "SELECT p.person_id, p.version FROM access_persons p WHERE p.community_code = $1 AND NOT EXISTS \
             (SELECT 1 FROM access_pushes q WHERE q.person_id = p.person_id AND q.device_id = $2 \
             AND q.version >= p.version) ORDER BY p.person_id",
        )
        .bind(community)
        .bind(device)
        .fetch_all(self.fleet().store().pool())
        .await?;
        self.queue_rows(&rows, device).await
    }

    /// Queues the push of each `(person_id, version)` row to `device`; returns how many were queued.
    async fn queue_rows(&self, rows: &[AnyRow], device: &str) -> Result<usize, PeopleError> {
        let mut queued = 0;
        for r in rows {
            let person_id: String = r.try_get("person_id")?;
            if self
                .queue_push(&person_id, r.try_get("version")?, device)
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues one push unless one for the same person and terminal is still queued (a delivery always
    /// sends the person's current version). Returns whether a push was queued.
    async fn queue_push(
        &self,
        person_id: &str,
        version: i64,
        device: &str,
    ) -> Result<bool, PeopleError> {
        let store = self.fleet().store();
        let waiting = sqlx::query(
            "SELECT p.command_id FROM access_pushes p JOIN commands c ON c.id = p.command_id \
             WHERE p.person_id = $1 AND p.device_id = $2 AND c.state = 'queued' LIMIT 1",
        )
        .bind(person_id)
        .bind(device)
        .fetch_optional(store.pool())
        .await?;
        if waiting.is_some() {
            return Ok(false);
        }
        Ok(self.queue_pushes(person_id, version, &[device]).await? == 1)
    }

    /// Records a terminal's answer to push `command` of `person_id`, which delivered `version`. The push
    /// row is written here when its answer came before it (an upsert keyed by the command), so no answer's
    /// code is lost.
    ///
    /// # Errors
    /// The store failed.
    pub async fn record_answer(
        &self,
        command: &fleet::CommandRecord,
        person_id: &str,
        version: i64,
        code: i64,
        message: &str,
    ) -> Result<(), PeopleError> {
        sqlx::query(
            "INSERT INTO access_pushes (person_id, device_id, command_id, version, queued_at, code, message, \
             answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (command_id) DO UPDATE SET \
             version = excluded.version, code = excluded.code, message = excluded.message, \
             answered_at = excluded.answered_at",
        )
        .bind(person_id)
        .bind(&command.device_id)
        .bind(command.id)
        .bind(version)
        .bind(command.created_at)
        .bind(code)
        .bind(message)
        .bind(fleet::now_ms())
        .execute(self.fleet().store().writer())
        .await?;
        Ok(())
    }

    /// The pushes of a person (newest first), with their delivery state and answer.
    ///
    /// # Errors
    /// The store failed.
    pub async fn pushes(&self, person_id: &str, limit: i64) -> Result<Vec<Push>, PeopleError> {
        self.query_pushes(Some(person_id), limit).await
    }

    /// The pushes of every person (newest first).
    ///
    /// # Errors
    /// The store failed.
    pub async fn recent_pushes(&self, limit: i64) -> Result<Vec<Push>, PeopleError> {
        self.query_pushes(None, limit).await
    }

    async fn query_pushes(
        &self,
        person_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Push>, PeopleError> {
        let select = "SELECT p.person_id, p.device_id, p.command_id, c.state, p.version, p.code, p.message, \
             p.queued_at, p.answered_at FROM access_pushes p LEFT JOIN commands c ON c.id = p.command_id";
        let rows = match person_id {
            Some(id) => {
                sqlx::query(&format!(
                    "{select} WHERE p.person_id = $1 ORDER BY p.id DESC LIMIT $2"
                ))
                .bind(id)
                .bind(limit)
                .fetch_all(self.fleet().store().pool())
                .await?
            }
            None => {
                sqlx::query(&format!("{select} ORDER BY p.id DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(self.fleet().store().pool())
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(Push {
                    person_id: r.try_get("person_id")?,
                    device_id: r.try_get("device_id")?,
                    command_id: r.try_get("command_id")?,
                    state: r.try_get("state")?,
                    version: r.try_get("version")?,
                    code: r.try_get("code")?,
                    message: r.try_get("message")?,
                    queued_at: r.try_get("queued_at")?,
                    answered_at: r.try_get("answered_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

async fn write_blobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: &str,
    blobs: &BTreeMap<Slot, Blob>,
) -> Result<(), sqlx::Error> {
    for (slot, b) in blobs {
        sqlx::query(
            "INSERT INTO access_person_blobs (person_id, slot, width, height, format, data) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(person_id)
        .bind(slot.as_str())
        .bind(i64::from(b.width))
        .bind(i64::from(b.height))
        .bind(b.format)
        .bind(&b.data[..])
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> PersonInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn bodies_decode_and_errors_name_the_field() {
        let (id, fields, blobs) = input(serde_json::json!({
            "person_id": "p1", "community_code": "c1", "person_name": "Zhang",
            "face": {"width": 520, "height": 690, "format": 2, "length": 3, "data": "AQID"},
            "left_code": {"data": "YWI="}
        }))
        .into_parts(None, 1024, 1 << 20)
        .unwrap();
        assert_eq!((id.as_str(), fields.community_code.as_str()), ("p1", "c1"));
        assert_eq!(&blobs[&Slot::Face].data[..], &[1, 2, 3]);
        assert_eq!(&blobs[&Slot::LeftCode].data[..], b"ab");

        let bad =
            |json, path: Option<&str>, max| input(json).into_parts(path, max, 1 << 20).unwrap_err();
        let e = bad(
            serde_json::json!({"person_id": "p", "community_code": "c",
                "face": {"width": 1, "height": 1, "format": 2, "length": 4, "data": "AQID"}}),
            None,
            1024,
        );
        assert_eq!(e.field, "face.length");
        assert!(e.detail.contains("decodes to 3 bytes"), "{e:?}");
        let e = bad(
            serde_json::json!({"person_id": "p", "community_code": "c", "right_code": {"data": "not base64!"}}),
            None,
            1024,
        );
        assert_eq!(e.field, "right_code.data");
        let e = bad(
            serde_json::json!({"person_id": "p", "community_code": "c",
                "face": {"width": 1, "height": 1, "format": 2, "data": "AQIDBA=="}}),
            None,
            3,
        );
        assert_eq!(e.field, "face.data");
        assert!(e.detail.contains("limit of 3"), "{e:?}");
        let e = bad(
            serde_json::json!({"person_id": "p", "community_code": ""}),
            None,
            3,
        );
        assert_eq!(e.field, "community_code");
        let e = bad(
            serde_json::json!({"person_id": "p", "community_code": "c"}),
            Some("q"),
            3,
        );
        assert_eq!(e.field, "person_id");
        let e = bad(serde_json::json!({"community_code": "c"}), None, 3);
        assert_eq!(e.field, "person_id");
    }

    #[test]
    fn a_person_too_large_for_one_message_is_refused() {
        let mut blobs = BTreeMap::new();
        blobs.insert(
            Slot::Face,
            Blob {
                width: 1,
                height: 1,
                format: 2,
                data: Bytes::from(vec![0u8; 30_000]),
            },
        );
        assert!(check_fits(&blobs, 64 * 1024).is_ok());
        let e = check_fits(&blobs, 40_000).unwrap_err();
        assert_eq!(e.field, "person");
    }

    #[test]
    fn the_wire_person_shares_the_blobs() {
        let data = Bytes::from(vec![7u8; 1000]);
        let mut blobs = BTreeMap::new();
        blobs.insert(
            Slot::Face,
            Blob {
                width: 2,
                height: 3,
                format: 2,
                data: data.clone(),
            },
        );
        let p = Person {
            person_id: "p".into(),
            fields: PersonFields {
                community_code: "c".into(),
                role: Some(12),
                ..PersonFields::default()
            },
            version: 1,
            created_at: 0,
            updated_at: 0,
            blobs,
        };
        let info = p.to_info();
        let face = info.face.unwrap();
        assert_eq!(face.data.as_ptr(), data.as_ptr(), "the picture was copied");
        assert_eq!((face.width, face.height), (2, 3));
        assert_eq!(info.role, Some(Role(12)));
        assert!(info.left_image.is_none());
    }
}
