//! Simulated BEST meeting terminals on device-core's device session: broker lookup, onboarding
//! (register -> accredit -> login -> report), heartbeats, a local user and meeting table that the platform's
//! `cmd.data.*` commands change, and check-ins of meeting members. Shared by the `meeting-terminal` binary, the
//! demo and the tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use best_proto::broker::BrokerType;
use best_proto::{
    CmdResponse, Code, DeviceMessage, PlatformMessage, RecordType, Report, UpdateBioPhotos,
    UploadVerifyLogs, UserCategory, VerifyLog, VerifyStatus, VerifyStyle,
};
use device_core::best::{BrokerLookup, DeviceCommand, DeviceConfig, DeviceEvent, DeviceSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::mqtt::{self, BrokerAddr, MqttConfig};
use device_core::runtime::Handle;
use device_core::{BackoffConfig, SplitMix64, SystemClock};
use tokio::sync::watch;

/// The product of simulated terminals (the devKey salt).
pub const PRODUCT: &str = "meeting-v1";

/// How a terminal reaches the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// best-w.
    Ws,
    /// best-m.
    Mqtt,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ws" | "websocket" => Ok(Self::Ws),
            "mqtt" => Ok(Self::Mqtt),
            other => Err(format!("transport `{other}`: expected `ws` or `mqtt`")),
        }
    }
}

/// Serial number of terminal `i`.
pub fn sn(prefix: &str, i: u32) -> String {
    format!("{prefix}{i:06}")
}

/// The secret key of terminal `sn` under `seed` (what a factory would write).
pub fn secret_key(seed: u64, sn: &str) -> String {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in sn.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = SplitMix64::seeded(h);
    format!("{:016x}", device_core::RandomSource::next_u64(&mut rng))
}

/// Settings of a simulator run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The platform's lookup, `http://host:port`.
    pub lookup: String,
    /// Terminals.
    pub terminals: u32,
    /// Number of the first terminal.
    pub first: u32,
    /// Serial number prefix.
    pub prefix: String,
    /// Transport.
    pub transport: Transport,
    /// Seed of the keys, nonces and jitter.
    pub seed: u64,
    /// The report's `maxPendingCmdCount`.
    pub max_pending: u32,
    /// Reconnect backoff.
    pub backoff: BackoffConfig,
    /// Largest BEST message over MQTT.
    pub max_payload: usize,
    /// How long each onboarding step waits for its reply.
    pub handshake_timeout: Duration,
    /// Run device-core's optional key exchange before onboarding, on every connection.
    pub key_exchange: bool,
}

impl SimConfig {
    /// `n` terminals over `transport` from `MT000001`.
    pub fn new(lookup: impl Into<String>, n: u32, transport: Transport, seed: u64) -> Self {
        Self {
            lookup: lookup.into(),
            terminals: n,
            first: 1,
            prefix: "MT".into(),
            transport,
            seed,
            max_pending: 4,
            backoff: BackoffConfig::default()
                .initial(Duration::from_millis(200))
                .max(Duration::from_secs(5)),
            max_payload: 256 * 1024,
            handshake_timeout: Duration::from_secs(5),
            key_exchange: false,
        }
    }
}

/// What a terminal holds, changed by the platform's commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    /// Users by pin: name.
    pub users: BTreeMap<String, String>,
    /// Meetings by id: name.
    pub meetings: BTreeMap<String, String>,
    /// Members by meeting id.
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// Commands answered.
    pub commands: u64,
    /// Reboots asked for.
    pub reboots: u64,
    /// Room name (`cmd.option.set`).
    pub room: Option<String>,
    /// Logged in now.
    pub online: bool,
    /// Logins so far.
    pub logins: u64,
    /// The `authCode` the platform issued.
    pub auth_code: Option<String>,
    /// The `secret` the platform issued.
    pub secret: Option<String>,
    /// The first offset each upload's current attempt reported: where it resumed, after a cut.
    pub first_progress: BTreeMap<String, u64>,
    /// A cut armed by [`Terminal::upload`]: close the connection once this file's upload passes the offset.
    pub cut: Option<(String, u64)>,
    /// Key exchanges completed.
    pub key_exchanges: u64,
    /// Photos fetched by `cmd.data.update.bioPhoto`, by `(pin, type, no, index)`.
    pub photos: BTreeMap<(String, u32, u32, u32), Photo>,
}

/// A photo a terminal fetched: what a test compares with what it set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// Its length in bytes.
    pub len: usize,
    /// Lowercase hex MD5 of its bytes.
    pub md5: String,
}

/// Counters of a run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Logins.
    pub logins: AtomicU64,
    /// Commands answered.
    pub commands: AtomicU64,
    /// Lookups refused or failed.
    pub lookup_failures: AtomicU64,
    /// Onboarding refusals.
    pub refused: AtomicU64,
}

/// One simulated terminal.
#[derive(Debug)]
pub struct Terminal {
    /// Serial number.
    pub sn: String,
    /// Its state.
    pub local: Arc<Mutex<Local>>,
    handle: watch::Receiver<Option<Handle<DeviceSession>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A running simulator.
#[derive(Debug)]
pub struct Sim {
    /// The terminals.
    pub terminals: Vec<Terminal>,
    /// Counters.
    pub stats: Arc<Stats>,
}

/// The `dev.report` of a simulated terminal.
pub fn report(max_pending: u32) -> Report {
    serde_json::from_value(serde_json::json!({
        "fwVer": "2.0.0", "devModel": "SIM-MEETING", "commType": "ethernet", "ip": "127.0.0.1",
        "netmask": "255.0.0.0", "gateway": "127.0.0.1", "mac": "02:00:00:00:00:01",
        "lockCount": "1", "userCount": "0", "maxUserCount": "30000", "transactionCount": "0",
        "maxTransactionCount": "50000", "multiBioDataSupport": "0:0:0:0:0:0:0:0:0:0",
        "multiBioVer": "0:0:0:0:0:0:0:0:0:0", "multiBioDataCount": "0:0:0:0:0:0:0:0:0:0",
        "maxMultiBioDataCount": "0:0:0:0:0:0:0:0:0:0", "verifyStyles": "100000000010",
        "maxPendingCmdCount": max_pending.to_string(), "maxPackageSize": "64",
        "funcIds": []
    }))
    .unwrap_or_else(|e| unreachable!("the simulator's report is valid: {e}"))
}

fn lock(local: &Mutex<Local>) -> std::sync::MutexGuard<'_, Local> {
    local.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies a platform command to the local tables; returns whether to ask for the platform time.
fn apply(local: &mut Local, command: &PlatformMessage) -> bool {
    local.commands += 1;
    match command {
        PlatformMessage::UpdateUsers(u) => {
            for user in &u.users {
                local
                    .users
                    .insert(user.pin.clone(), user.first_name.clone());
            }
        }
        PlatformMessage::UpdateMeetings(m) => {
            for meeting in &m.meetings {
                local
                    .meetings
                    .insert(meeting.id.clone(), meeting.name.clone());
            }
        }
        PlatformMessage::UpdateMeetingMembers(m) => {
            for members in &m.members {
                local.members.insert(
                    members.meeting_id.clone(),
                    members.pins.iter().cloned().collect(),
                );
            }
        }
        PlatformMessage::DeleteUsers(p) => {
            for pin in &p.pins {
                local.users.remove(pin);
            }
        }
        PlatformMessage::DeleteMeetings(d) => {
            for id in &d.meetings {
                local.meetings.remove(id);
                local.members.remove(id);
            }
        }
        PlatformMessage::DeleteMeetingMembers(d) => {
            if let Some(m) = local.members.get_mut(&d.meeting_id) {
                for pin in &d.pins {
                    m.remove(pin);
                }
            }
        }
        PlatformMessage::ClearUsers(_) => local.users.clear(),
        PlatformMessage::ClearAll(_) => {
            local.users.clear();
            local.meetings.clear();
            local.members.clear();
        }
        PlatformMessage::SetOptions(o) => local.room = Some(o.option.name.clone()),
        PlatformMessage::Reboot(_) => local.reboots += 1,
        PlatformMessage::SyncTime(_) => return true,
        _ => {}
    }
    false
}

impl Sim {
    /// Starts the terminals; each looks its broker up, connects and onboards on its own.
    pub fn start(config: SimConfig) -> Arc<Self> {
        let stats = Arc::new(Stats::default());
        let terminals = (config.first..config.first + config.terminals)
            .map(|i| {
                let sn = sn(&config.prefix, i);
                let local = Arc::new(Mutex::new(Local::default()));
                let (tx, rx) = watch::channel(None);
                let task = tokio::spawn(run(
                    config.clone(),
                    sn.clone(),
                    u64::from(i),
                    local.clone(),
                    tx,
                    stats.clone(),
                ));
                Terminal {
                    sn,
                    local,
                    handle: rx,
                    task,
                }
            })
            .collect();
        Arc::new(Self { terminals, stats })
    }

    /// Terminal `sn`.
    pub fn terminal(&self, sn: &str) -> Option<&Terminal> {
        self.terminals.iter().find(|t| t.sn == sn)
    }

    /// Terminals logged in now.
    pub fn online(&self) -> usize {
        self.terminals
            .iter()
            .filter(|t| lock(&t.local).online)
            .count()
    }

    /// Waits until `n` terminals are logged in, or `timeout`.
    pub async fn wait_online(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.online() < n {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Stops every terminal.
    pub fn stop(&self) {
        for t in &self.terminals {
            t.task.abort();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Terminal {
    /// A copy of the local tables.
    pub fn local(&self) -> Local {
        lock(&self.local).clone()
    }

    /// Checks `pin` in to `meeting`: refused locally when the terminal does not hold that member, otherwise
    /// sent as `dev.data.upload.verifyLog`; returns the platform's answer code.
    ///
    /// # Errors
    /// Not a member here, not connected, or the request failed.
    pub async fn check_in(&self, meeting: &str, pin: &str) -> Result<Code, String> {
        let member = lock(&self.local)
            .members
            .get(meeting)
            .is_some_and(|m| m.contains(pin));
        if !member {
            return Err(format!(
                "{pin} is not a member of meeting {meeting} on {}",
                self.sn
            ));
        }
        let handle = self
            .handle
            .borrow()
            .clone()
            .ok_or_else(|| format!("{} is not connected", self.sn))?;
        let now = chrono::Local::now().fixed_offset();
        let log = VerifyLog {
            pin: pin.to_owned(),
            meet_code: meeting.to_owned(),
            verify_time: now,
            verify_style: VerifyStyle(1),
            status: VerifyStatus::SignInWindow,
            category: UserCategory::Normal,
            log_id: format!("{}-{}-{}", self.sn, pin, now.timestamp_millis()),
            record_type: RecordType::SignIn,
        };
        let request = DeviceMessage::UploadVerifyLogs(UploadVerifyLogs {
            verify_logs: vec![log],
        });
        match handle.call(DeviceCommand::Request(request)).await {
            Ok(Some(response)) => Ok(response.code),
            Ok(None) => Err("no answer".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// How an upload went ([`Terminal::upload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReport {
    /// The platform's answer to `dev.file.upload.end`.
    pub code: Code,
    /// Connections the upload took (2 after one cut).
    pub attempts: u32,
    /// Where the last attempt resumed, bytes (0 when it started from the beginning).
    pub resumed_at: u64,
}

impl Terminal {
    /// Uploads `data` as `file_id` in chunks of the report's `maxPackageSize`. With `cut_at`, the connection is
    /// cut once the platform holds that many bytes, as a network drop would; the terminal connects again and
    /// the upload resumes where the platform says it stands. Waits up to `timeout` in all.
    ///
    /// # Errors
    /// Not connected in time, refused, or still unfinished after 5 connections.
    pub async fn upload(
        &self,
        file_id: &str,
        data: bytes::Bytes,
        cut_at: Option<u64>,
        timeout: Duration,
    ) -> Result<UploadReport, String> {
        let id = best_proto::FileId::new(file_id).map_err(|e| format!("fileId: {e}"))?;
        {
            let mut l = lock(&self.local);
            l.cut = cut_at.map(|at| (file_id.to_owned(), at));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut attempts = 0;
        let mut resumed_at = 0;
        loop {
            // Wait for a logged-in connection (a new one after a cut).
            while !lock(&self.local).online {
                if tokio::time::Instant::now() > deadline {
                    return Err(format!(
                        "{} did not come online to upload {file_id}",
                        self.sn
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let Some(handle) = self.handle.borrow().clone() else {
                continue;
            };
            attempts += 1;
            lock(&self.local).first_progress.remove(file_id);
            let call = handle.call(DeviceCommand::Upload {
                file_id: id.clone(),
                data: data.clone(),
            });
            match tokio::time::timeout_at(deadline, call).await {
                Err(_) => return Err(format!("upload of {file_id} unfinished after {timeout:?}")),
                Ok(Ok(Some(response))) => {
                    if attempts > 1 {
                        resumed_at = lock(&self.local)
                            .first_progress
                            .get(file_id)
                            .copied()
                            .unwrap_or(0);
                    }
                    return Ok(UploadReport {
                        code: response.code,
                        attempts,
                        resumed_at,
                    });
                }
                Ok(Ok(None)) => return Err("no answer to the upload".into()),
                Ok(Err(e)) if attempts < 5 => {
                    tracing::debug!(sn = self.sn, error = %e, "upload interrupted; resuming");
                    // The cut connection's end may not be seen yet: let it go offline first.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Err(e)) => return Err(format!("upload of {file_id}: {e}")),
            }
        }
    }
}

/// Largest photo a simulated terminal fetches.
const MAX_PHOTO: usize = 1024 * 1024;

/// Fetches the photos of a `cmd.data.update.bioPhoto` by their URLs and keeps their length and MD5; answers
/// success when every one arrived, otherwise `20000001` naming the first failure.
async fn fetch_photos(
    local: &Mutex<Local>,
    update: &UpdateBioPhotos,
    cmd_id: String,
) -> CmdResponse {
    use http_body_util::BodyExt as _;
    use md5::Digest as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    for photo in &update.bio_photos {
        let fetched = async {
            let uri: hyper::Uri = photo.url.parse().map_err(|e| format!("{e}"))?;
            let resp = client.get(uri).await.map_err(|e| format!("{e}"))?;
            if resp.status() != hyper::StatusCode::OK {
                return Err(format!("status {}", resp.status()));
            }
            let body = http_body_util::Limited::new(resp.into_body(), MAX_PHOTO)
                .collect()
                .await
                .map_err(|e| format!("{e}"))?;
            Ok::<_, String>(body.to_bytes())
        };
        match tokio::time::timeout(Duration::from_secs(10), fetched).await {
            Ok(Ok(bytes)) => {
                let key = (
                    photo.pin.clone(),
                    photo.bio_type.code(),
                    photo.no.unwrap_or(0),
                    photo.index.unwrap_or(0),
                );
                let md5 = hex::encode(md5::Md5::digest(&bytes));
                lock(local).photos.insert(
                    key,
                    Photo {
                        len: bytes.len(),
                        md5,
                    },
                );
            }
            Ok(Err(e)) => return failed(cmd_id, format!("photo {}: {e}", photo.url)),
            Err(_) => return failed(cmd_id, format!("photo {}: timed out", photo.url)),
        }
    }
    CmdResponse::ok(cmd_id)
}

fn failed(cmd_id: String, message: String) -> CmdResponse {
    CmdResponse {
        code: Code::MalformedParams,
        message: Some(message),
        cmd_id,
    }
}

async fn run(
    config: SimConfig,
    sn: String,
    index: u64,
    local: Arc<Mutex<Local>>,
    handle: watch::Sender<Option<Handle<DeviceSession>>>,
    stats: Arc<Stats>,
) {
    let key = secret_key(config.seed, &sn);
    let broker_type = match config.transport {
        Transport::Ws => BrokerType::BestW,
        Transport::Mqtt => BrokerType::BestM,
    };
    let seed = config.seed.wrapping_add(index.wrapping_mul(0x9e37_79b9));
    let mut lookup = BrokerLookup::new(sn.clone(), broker_type, key.clone(), Arc::new(SystemClock))
        .with_rng(Box::new(SplitMix64::seeded(seed)));
    let mut backoff = device_core::Backoff::new(config.backoff);
    let mut rng = SplitMix64::seeded(seed ^ 1);
    let info = loop {
        match device_core::runtime::http::lookup(
            &config.lookup,
            &mut lookup,
            Duration::from_secs(10),
        )
        .await
        {
            Ok(info) => break info,
            Err(e) => {
                stats.lookup_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(sn, error = %e, "lookup failed");
                tokio::time::sleep(backoff.next_delay(&mut rng)).await;
            }
        }
    };
    let mut device = DeviceConfig::new(sn.clone(), PRODUCT, key, report(config.max_pending));
    // A login published while the platform is not subscribed (both reconnecting after a broker restart) is
    // lost: retry it after 5 s rather than the session's default 30 s.
    device.handshake_timeout = config.handshake_timeout;
    device.key_exchange = config.key_exchange;
    // Each pass is one client: it ends when an armed cut closes the connection mid-upload, and the next pass
    // connects again with the credentials the platform issued (a terminal that lost its link, not a new one).
    let mut generation = 0u64;
    loop {
        generation += 1;
        let mut device = device.clone();
        {
            let l = lock(&local);
            device.auth_code.clone_from(&l.auth_code);
            device.secret.clone_from(&l.secret);
        }
        let session = DeviceSession::new(device)
            .with_rng(Box::new(SplitMix64::seeded(seed ^ 2 ^ (generation << 8))));
        let client_config = ClientConfig::default()
            .backoff(config.backoff)
            .jitter_seed(seed ^ 3 ^ (generation << 8));
        let (client, mut events) = match config.transport {
            Transport::Ws => Client::connect_ws(session, info.url.clone(), client_config),
            Transport::Mqtt => {
                let broker = match BrokerAddr::parse(&info.url) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(sn, error = %e, "the lookup named no usable broker");
                        return;
                    }
                };
                mqtt::client(
                    session,
                    broker,
                    sn.clone(),
                    MqttConfig::default().max_payload(config.max_payload),
                    client_config,
                )
            }
        };
        let h = client.handle();
        let _ = handle.send(Some(h.clone()));
        let mut cut = false;
        while let Some(event) = events.recv().await {
            match event {
                ClientEvent::Session(DeviceEvent::LoggedIn(_)) => {
                    stats.logins.fetch_add(1, Ordering::Relaxed);
                    let mut l = lock(&local);
                    l.online = true;
                    l.logins += 1;
                }
                ClientEvent::Session(DeviceEvent::KeyExchanged(_)) => {
                    lock(&local).key_exchanges += 1;
                }
                ClientEvent::Session(DeviceEvent::Registered { auth_code }) => {
                    let mut l = lock(&local);
                    l.auth_code = Some(auth_code);
                    l.secret = None;
                }
                ClientEvent::Session(DeviceEvent::Accredited(results)) => {
                    lock(&local).secret = Some(results.secret);
                }
                ClientEvent::Session(DeviceEvent::HandshakeRejected { step, response }) => {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        sn,
                        ?step,
                        code = response.code.as_str(),
                        "onboarding refused"
                    );
                }
                ClientEvent::Session(DeviceEvent::Command { command, .. }) => {
                    let sync = apply(&mut lock(&local), &command);
                    stats.commands.fetch_add(1, Ordering::Relaxed);
                    if let Some(cmd_id) = command.cmd_id().map(str::to_owned) {
                        let h = h.clone();
                        let local = local.clone();
                        tokio::spawn(async move {
                            let response = match &command {
                                PlatformMessage::UpdateBioPhotos(p) => {
                                    fetch_photos(&local, p, cmd_id).await
                                }
                                _ => CmdResponse::ok(cmd_id),
                            };
                            let _ = h.call(DeviceCommand::Respond(response)).await;
                            if sync {
                                let _ = h
                                    .call(DeviceCommand::Request(DeviceMessage::SyncTime))
                                    .await;
                            }
                        });
                    }
                }
                ClientEvent::Session(DeviceEvent::UploadProgress {
                    file_id, offset, ..
                }) => {
                    let fire = {
                        let mut l = lock(&local);
                        l.first_progress
                            .entry(file_id.as_str().to_owned())
                            .or_insert(offset);
                        let armed = l
                            .cut
                            .as_ref()
                            .is_some_and(|(f, at)| *f == file_id.as_str() && offset >= *at);
                        if armed && !cut {
                            l.cut = None;
                        }
                        armed && !cut
                    };
                    if fire {
                        cut = true;
                        tracing::info!(sn, %file_id, offset, "cutting the connection mid-upload");
                        h.close().await;
                    }
                }
                ClientEvent::Disconnected(_)
                | ClientEvent::Session(DeviceEvent::Disconnected(_)) => {
                    lock(&local).online = false;
                }
                _ => {}
            }
        }
        lock(&local).online = false;
        drop(client);
        if !cut {
            return;
        }
    }
}
