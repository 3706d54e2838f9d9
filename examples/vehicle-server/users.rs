//! Users, sessions, bindings and shares, and the checks every hashed request passes.
//!
//! The spec's login has no password field, so this deployment decides (README): `usrRegister`'s `authCode`
//! is the user's secret, stored as an Argon2id hash (PHC string, random 16-byte salt), never in clear;
//! `usrLogin` names the user by `usrOpenid` (the openid given at registration, or the mobile phone) and
//! proves it with `usrCode` = that secret. Each login or registration makes a new random 128-bit
//! `usrSessionId` (32 hex digits), valid `http.session_secs` (24 h); the previous one stops working.
//!
//! A hashed request passes, in order: the timestamp window (300 s), the user and its session (known, not
//! older than 24 h), the `hash` (MD5 over the hashed fields and the session id, compared in constant time)
//! and the replay check (a `hash` seen before within the window). Each failure is errCode 401 with a message
//! saying which check failed.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use fleet::store::Store;
use kingxun_proto::http::OwnerFlag;
use kingxun_proto::{HashedRequest, TimestampWindow};
use sqlx::Row;

/// A failed check, as the errCode and errMsg it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// errCode.
    pub code: i64,
    /// errMsg.
    pub message: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "store failed");
        Self::new(500, format!("store: {e}"))
    }
}

/// errCode 401.
pub const UNAUTHORIZED: i64 = 401;
/// errCode 403.
pub const FORBIDDEN: i64 = 403;
/// errCode 404.
pub const NOT_FOUND: i64 = 404;
/// errCode 0xFF.
pub const BAD_PARAMS: i64 = 0xFF;

/// The Argon2id hasher with the configured cost.
///
/// # Errors
/// The cost is outside Argon2's limits.
pub fn hasher(memory_kib: u32, iterations: u32) -> Result<Argon2<'static>, String> {
    let params = Params::new(memory_kib, iterations, 1, None)
        .map_err(|e| format!("http.argon2_memory_kib / argon2_iterations: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// One hashing thread's Argon2: the configured hasher and the block buffer it fills for every hash.
///
/// The buffer (`argon2_memory_kib` KiB) is made at the first hash and kept, so each thread holds one
/// buffer for its lifetime instead of allocating and freeing one per hash (which the system allocator does
/// not hand back reliably: the process grows with the number of logins). A stored hash with a larger cost
/// than configured is verified in a buffer made for it and freed at once.
pub struct SecretHasher {
    argon: Argon2<'static>,
    blocks: Vec<Block>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretHasher")
            .field("params", self.argon.params())
            .field("blocks", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

impl SecretHasher {
    /// A hasher with the cost of `argon` (see [`hasher`]); no memory is taken before the first hash.
    #[must_use]
    pub fn new(argon: Argon2<'static>) -> Self {
        Self {
            argon,
            blocks: Vec::new(),
        }
    }

    /// Blocks held now (0 before the first hash, then the configured cost's block count).
    #[must_use]
    pub fn buffer_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Runs `argon` into `out` in the kept buffer, or in a buffer of its own when `argon` needs more.
    fn fill(
        &mut self,
        argon: &Argon2<'_>,
        secret: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = argon.params().block_count();
        let kept = self.argon.params().block_count();
        if needed > kept {
            return argon.hash_password_into_with_memory(
                secret,
                salt,
                out,
                vec![Block::new(); needed],
            );
        }
        if self.blocks.len() < kept {
            self.blocks.resize(kept, Block::new());
        }
        argon.hash_password_into_with_memory(secret, salt, out, &mut self.blocks[..needed])
    }

    /// The PHC string (`$argon2id$v=19$m=..,t=..,p=1$salt$hash`) of `secret` with a fresh random salt.
    ///
    /// # Errors
    /// The system random source failed, or the secret is too long for Argon2.
    pub fn hash(&mut self, secret: &str) -> Result<String, String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| format!("random source: {e}"))?;
        let salt_b64 = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        let argon = self.argon.clone();
        let len = argon
            .params()
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut out = vec![0u8; len];
        self.fill(&argon, secret.as_bytes(), &salt, &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon.params()).map_err(|e| e.to_string())?,
            salt: Some(salt_b64.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(phc.to_string())
    }

    /// Whether `secret` matches the PHC string `stored`, with the algorithm, version and cost `stored`
    /// names (a hash made under another configured cost still verifies); the outputs are compared in
    /// constant time.
    #[must_use]
    pub fn verify(&mut self, secret: &str, stored: &str) -> bool {
        self.try_verify(secret, stored).unwrap_or(false)
    }

    fn try_verify(&mut self, secret: &str, stored: &str) -> Option<bool> {
        let phc = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (phc.salt?, phc.hash?);
        let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
        let version = phc
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(&phc).ok()?;
        let argon = Argon2::new(algorithm, version, params);
        let mut salt_buf = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buf).ok()?;
        let computed = Output::init_with(expected.len(), |out| {
            self.fill(&argon, secret.as_bytes(), salt, out)
                .map_err(|_| argon2::password_hash::Error::Password)
        })
        .ok()?;
        // `Output`'s equality is constant time.
        Some(computed == expected)
    }
}

type Job = Box<dyn FnOnce(&mut SecretHasher) + Send>;

/// Argon2 work on a fixed set of threads with a bounded queue: a flood of logins costs at most `workers`
/// hashes' memory (19 MiB each by default, one buffer per thread, kept) and CPU at a time, and is refused
/// beyond the queue, instead of growing the blocking thread pool.
#[derive(Clone)]
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool").finish_non_exhaustive()
    }
}

impl HashPool {
    /// `workers` threads sharing a queue of `queue` jobs, each with its own [`SecretHasher`]; the threads
    /// end when the last handle is dropped.
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn new(argon: Argon2<'static>, workers: usize, queue: usize) -> Result<Self, String> {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers.max(1) {
            let (rx, mut hasher) = (rx.clone(), SecretHasher::new(argon.clone()));
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut hasher),
                        Err(_) => return,
                    }
                })
                .map_err(|e| format!("argon2 worker: {e}"))?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut SecretHasher) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move |hasher: &mut SecretHasher| {
                let _ = tx.send(work(hasher));
            }))
            .map_err(|_| "too many logins under way: try again".to_owned())?;
        rx.await.map_err(|_| "password hashing stopped".to_owned())
    }

    /// [`SecretHasher::hash`] on the pool.
    ///
    /// # Errors
    /// The queue is full, or hashing failed.
    pub async fn hash(&self, secret: String) -> Result<String, String> {
        self.run(move |h| h.hash(&secret)).await?
    }

    /// [`SecretHasher::verify`] on the pool.
    ///
    /// # Errors
    /// The queue is full.
    pub async fn verify(&self, secret: String, stored: String) -> Result<bool, String> {
        self.run(move |h| h.verify(&secret, &stored)).await
    }
}

/// A new random session id: 32 lowercase hex digits.
///
/// # Errors
/// The system random source failed.
pub fn new_session_id() -> Result<String, String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| format!("random source: {e}"))?;
    Ok(hex::encode(id))
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// usrId.
    pub id: u32,
    /// Mobile phone.
    pub phone: String,
    /// Nickname.
    pub nickname: String,
    /// Argon2id PHC string.
    pub secret_hash: String,
    /// The current session and when it began.
    pub session: Option<(String, i64)>,
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    let id: i64 = r.try_get("id")?;
    let session_id: Option<String> = r.try_get("session_id")?;
    let session_at: Option<i64> = r.try_get("session_at")?;
    Ok(User {
        id: u32::try_from(id).unwrap_or(u32::MAX),
        phone: r.try_get("phone")?,
        nickname: r.try_get("nickname")?,
        secret_hash: r.try_get("secret_hash")?,
        session: session_id.zip(session_at),
    })
}

const USER_COLUMNS: &str = "id, phone, nickname, secret_hash, session_id, session_at";

/// The user with this id.
///
/// # Errors
/// The database failed.
pub async fn user(store: &Store, id: u32) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM vehicle_users WHERE id = $1"
    ))
    .bind(i64::from(id))
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// The user registered with this openid or phone.
///
/// # Errors
/// The database failed.
pub async fn user_by_login(store: &Store, login: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM vehicle_users WHERE openid = $1 OR phone = $1 ORDER BY id LIMIT 1"
    ))
    .bind(login.to_owned())
    .fetch_optional(store.pool())
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Registers a user; `None` when the phone or openid is registered already.
///
/// # Errors
/// The database failed.
pub async fn add_user(
    store: &Store,
    phone: &str,
    openid: Option<&str>,
    nickname: &str,
    secret_hash: &str,
    now: i64,
) -> Result<Option<u32>, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO vehicle_users (phone, openid, nickname, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(phone.to_owned())
    .bind(openid.map(str::to_owned))
    .bind(nickname.to_owned())
    .bind(secret_hash.to_owned())
    .bind(now)
    .execute(store.writer())
    .await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT id FROM vehicle_users WHERE phone = $1")
        .bind(phone.to_owned())
        .fetch_one(store.writer())
        .await?;
    let id: i64 = row.try_get("id")?;
    Ok(u32::try_from(id).ok())
}

/// Starts a new session for `usr_id` (the previous one ends).
///
/// # Errors
/// The database failed.
pub async fn set_session(
    store: &Store,
    usr_id: u32,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE vehicle_users SET session_id = $1, session_at = $2 WHERE id = $3")
        .bind(session_id.to_owned())
        .bind(now)
        .bind(i64::from(usr_id))
        .execute(store.writer())
        .await?;
    Ok(())
}

/// Records `hash` as used; `false` when it was used before (a replay).
///
/// # Errors
/// The database failed.
pub async fn first_use(store: &Store, hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO vehicle_seen_hashes (hash, at) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
    )
    .bind(hash.to_owned())
    .bind(now)
    .execute(store.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets hashes older than `before` (their timestamps are out of the window by then).
///
/// # Errors
/// The database failed.
pub async fn prune_hashes(store: &Store, before: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM vehicle_seen_hashes WHERE at < $1")
        .bind(before)
        .execute(store.writer())
        .await?;
    Ok(r.rows_affected())
}

/// The checks of a hashed request.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Timestamp window.
    pub window: TimestampWindow,
    /// Session lifetime, ms.
    pub session_ms: i64,
}

/// Authenticates a hashed request of `usr_id`: window, session, hash, replay (module docs).
///
/// # Errors
/// [`Refusal`] with errCode 401 naming the failed check, or the store's failure.
pub async fn authenticate(
    store: &Store,
    checks: Checks,
    usr_id: u32,
    request: &(dyn HashedRequest + Sync),
    timestamp: u64,
    now: i64,
) -> Result<User, Refusal> {
    let now_u = u64::try_from(now).unwrap_or(0);
    checks
        .window
        .check(timestamp, now_u)
        .map_err(|e| Refusal::new(UNAUTHORIZED, format!("field `timestamp`: {e}")))?;
    let user = user(store, usr_id)
        .await?
        .ok_or_else(|| Refusal::new(UNAUTHORIZED, format!("no user {usr_id}")))?;
    let Some((session_id, since)) = &user.session else {
        return Err(Refusal::new(
            UNAUTHORIZED,
            "no session: log in (usrLogin) first",
        ));
    };
    if now - since > checks.session_ms {
        return Err(Refusal::new(
            UNAUTHORIZED,
            "the session is older than 24 h: log in again",
        ));
    }
    if !request.verify_hash(session_id) {
        return Err(Refusal::new(UNAUTHORIZED, "field `hash`: wrong hash"));
    }
    if !first_use(store, &request.hash().to_ascii_lowercase(), now).await? {
        return Err(Refusal::new(
            UNAUTHORIZED,
            "replayed request: this hash was used before",
        ));
    }
    Ok(user)
}

/// How a user holds a vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Owner or family.
    pub flag: OwnerFlag,
    /// A family member may see positions.
    pub tracks: bool,
    /// A family member may see trips.
    pub trips: bool,
}

/// Every binding of a vehicle: (usrId, role), owner first.
///
/// # Errors
/// The database failed.
pub async fn bindings(store: &Store, dev_id: u32) -> Result<Vec<(u32, Role)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT usr_id, owner_flag, share_tracks, share_trips FROM vehicle_bindings WHERE dev_id = $1 \
         ORDER BY owner_flag, usr_id",
    )
    .bind(i64::from(dev_id))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let usr: i64 = r.try_get("usr_id")?;
            let flag: i64 = r.try_get("owner_flag")?;
            Ok((
                u32::try_from(usr).unwrap_or(u32::MAX),
                Role {
                    flag: OwnerFlag::from(u8::try_from(flag).unwrap_or(0)),
                    tracks: r.try_get::<i64, _>("share_tracks")? != 0,
                    trips: r.try_get::<i64, _>("share_trips")? != 0,
                },
            ))
        })
        .collect()
}

/// The vehicles bound to a user: (devId, devType, role), by devId.
///
/// # Errors
/// The database failed.
pub async fn user_vehicles(
    store: &Store,
    usr_id: u32,
) -> Result<Vec<(u32, u8, OwnerFlag)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT b.dev_id, b.owner_flag, s.dev_type FROM vehicle_bindings b \
         JOIN vehicle_status s ON s.dev_id = b.dev_id WHERE b.usr_id = $1 ORDER BY b.dev_id",
    )
    .bind(i64::from(usr_id))
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let dev: i64 = r.try_get("dev_id")?;
            let flag: i64 = r.try_get("owner_flag")?;
            let ty: i64 = r.try_get("dev_type")?;
            Ok((
                u32::try_from(dev).unwrap_or(u32::MAX),
                u8::try_from(ty).unwrap_or(u8::MAX),
                OwnerFlag::from(u8::try_from(flag).unwrap_or(0)),
            ))
        })
        .collect()
}

/// Binds a vehicle to a user with a role; `false` when the vehicle has an owner already (owner role) or
/// the user is bound already.
///
/// # Errors
/// The database failed.
pub async fn bind(
    store: &Store,
    dev_id: u32,
    usr_id: u32,
    role: Role,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO vehicle_bindings (dev_id, usr_id, owner_flag, share_tracks, share_trips, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(i64::from(dev_id))
    .bind(i64::from(usr_id))
    .bind(i64::from(u8::from(role.flag)))
    .bind(i64::from(role.tracks))
    .bind(i64::from(role.trips))
    .bind(now)
    .execute(store.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes one user's binding of a vehicle; with `all`, every binding (the owner unbinds).
///
/// # Errors
/// The database failed.
pub async fn unbind(
    store: &Store,
    dev_id: u32,
    usr_id: u32,
    all: bool,
) -> Result<u64, sqlx::Error> {
    let r = if all {
        sqlx::query("DELETE FROM vehicle_bindings WHERE dev_id = $1")
            .bind(i64::from(dev_id))
            .execute(store.writer())
            .await?
    } else {
        sqlx::query("DELETE FROM vehicle_bindings WHERE dev_id = $1 AND usr_id = $2")
            .bind(i64::from(dev_id))
            .bind(i64::from(usr_id))
            .execute(store.writer())
            .await?
    };
    Ok(r.rows_affected())
}

/// Changes a family member's share flags.
///
/// # Errors
/// The database failed.
pub async fn update_share(
    store: &Store,
    dev_id: u32,
    usr_id: u32,
    tracks: bool,
    trips: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE vehicle_bindings SET share_tracks = $1, share_trips = $2 WHERE dev_id = $3 AND usr_id = $4",
    )
    .bind(i64::from(tracks))
    .bind(i64::from(trips))
    .bind(i64::from(dev_id))
    .bind(i64::from(usr_id))
    .execute(store.writer())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn secrets_are_hashed_with_a_salt_and_verify() {
        let mut h = SecretHasher::new(hasher(64, 1).unwrap());
        assert_eq!(h.buffer_blocks(), 0, "no memory before the first hash");
        let h1 = h.hash("s3cret").unwrap();
        assert_eq!(h.buffer_blocks(), 64, "one buffer of the configured cost");
        let h2 = h.hash("s3cret").unwrap();
        assert!(h1.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h1}");
        assert_ne!(h1, h2, "a fresh salt each time");
        assert!(!h1.contains("s3cret"));
        assert!(h.verify("s3cret", &h1));
        assert!(h.verify("s3cret", &h2));
        assert!(!h.verify("s3cret!", &h1));
        assert!(!h.verify("", &h1));
        assert!(!h.verify("s3cret", "not a phc string"));
        assert!(
            !h.verify("s3cret", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"),
            "no hash part"
        );
        assert!(
            !h.verify("s3cret", &h1.replace("m=64", "m=128")),
            "the cost is hashed in"
        );
        assert_eq!(h.buffer_blocks(), 64, "the buffer is kept, not grown");
        assert!(hasher(1, 1).is_err());
        let pool = HashPool::new(hasher(64, 1).unwrap(), 1, 1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let h = rt.block_on(pool.hash("pooled".into())).unwrap();
        assert!(rt
            .block_on(pool.verify("pooled".into(), h.clone()))
            .unwrap());
        assert!(!rt.block_on(pool.verify("other".into(), h)).unwrap());
        let id = new_session_id().unwrap();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn hashes_match_the_password_hasher_both_ways() {
        let argon = hasher(256, 2).unwrap();
        let mut h = SecretHasher::new(argon.clone());
        // Made by the `PasswordHasher` path (fresh memory each time), as stored before the kept buffer.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let old = argon
            .hash_password(b"old secret", &salt)
            .unwrap()
            .to_string();
        let fresh = h.hash("warm the buffer").unwrap();
        assert!(h.verify("old secret", &old));
        assert!(!h.verify("old secret?", &old));
        // Made in the reused buffer, checked by the `PasswordVerifier` path.
        for secret in ["new secret", "another one"] {
            let new = h.hash(secret).unwrap();
            let parsed = PasswordHash::new(&new).unwrap();
            assert!(argon.verify_password(secret.as_bytes(), &parsed).is_ok());
            assert!(argon.verify_password(b"wrong", &parsed).is_err());
        }
        assert!(argon
            .verify_password(b"warm the buffer", &PasswordHash::new(&fresh).unwrap())
            .is_ok());
        // The same secret, salt and cost give the same output as the reference.
        let mine = PasswordHash::new(&old).unwrap();
        let mut out = [0u8; 32];
        h.fill(&argon, b"old secret", b"0123456789abcdef", &mut out)
            .unwrap();
        assert_eq!(mine.hash.unwrap().as_bytes(), out);
    }

    #[test]
    fn hashes_of_another_cost_still_verify() {
        let mut h = SecretHasher::new(hasher(128, 1).unwrap());
        h.hash("warm").unwrap();
        for (m, t) in [(64, 3), (512, 1), (128, 2)] {
            let other = hasher(m, t).unwrap();
            let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
            let stored = other.hash_password(b"secret", &salt).unwrap().to_string();
            assert!(stored.contains(&format!("m={m},t={t},p=1")), "{stored}");
            assert!(h.verify("secret", &stored), "{stored}");
            assert!(!h.verify("Secret", &stored), "{stored}");
            let mut from_new = SecretHasher::new(other.clone());
            let made = from_new.hash("secret").unwrap();
            assert!(h.verify("secret", &made), "{made}");
        }
        assert_eq!(
            h.buffer_blocks(),
            128,
            "a larger stored cost does not grow the kept buffer"
        );
        // Other variants and versions named in the string are honoured too.
        let i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"saltsaltsaltsalt").unwrap();
        let stored = i.hash_password(b"secret", &salt).unwrap().to_string();
        assert!(stored.starts_with("$argon2i$v=16$"), "{stored}");
        assert!(h.verify("secret", &stored));
        assert!(!h.verify("secret", &stored.replacen("$argon2i$", "$argon2id$", 1)));
    }
}
