//! Simulated attendance/access terminals on device-core's terminal session: they answer `get_device_info`,
//! keep a local person table that `download_person` changes, obey `set_device_info`, record
//! `send_user_command`s, and produce access records (card or face, in or out) for their people.
//!
//! Records go through a per-terminal buffer that survives the server being away: a record is appended to
//! the buffer when it is produced, uploaded in order, and removed only once the server answered it with
//! code 0. With a data directory the buffer is a file (`<uuid>.records`, one JSON line per record and one
//! per answered record), so the simulator itself can also restart without losing one. The server stores a
//! record uploaded twice (its answer lost with the connection) once, so none is lost and none doubled.
//! All randomness comes from the seed.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use access_proto::{
    AccessInfo, Code, Command, DeviceInfo, InOutType, LocalTimestamp, OpenDoorType, Request,
    RequestBody, Role,
};
use device_core::access::{TerminalCommand, TerminalConfig, TerminalEvent, TerminalSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::Handle;
use device_core::{BackoffConfig, RandomSource, SplitMix64};
use serde::{Deserialize, Serialize};

/// How terminals reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Raw TCP.
    Tcp,
    /// WebSocket (`ws://ADDR/`).
    Ws,
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Self::Tcp),
            "ws" => Ok(Self::Ws),
            other => Err(format!("`{other}` is not `tcp` or `ws`")),
        }
    }
}

/// How a door was opened, as the simulator reports it in `open_door_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// `1`: an access card.
    Card,
    /// `2`: face recognition.
    Face,
}

/// Which way a person went, as the simulator reports it in `in_out_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `1`: in.
    In,
    /// `2`: out.
    Out,
}

/// Simulation settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The server's terminal address (TCP or WebSocket listener, per `transport`).
    pub server: SocketAddr,
    /// The transport.
    pub transport: Transport,
    /// Number of terminals.
    pub terminals: u32,
    /// Number of the first terminal (uuids are `{prefix}{n:05}`).
    pub first: u32,
    /// uuid prefix.
    pub prefix: String,
    /// `community_code` reported by every terminal.
    pub community: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// Where record buffers are kept (`None`: in memory only).
    pub data_dir: Option<PathBuf>,
    /// The code answered to `download_person` (0: accepted).
    pub push_answer: i64,
    /// First reconnect delay.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

impl SimConfig {
    /// `terminals` terminals of community `C1` against `server`.
    pub fn new(server: SocketAddr, transport: Transport, terminals: u32, seed: u64) -> Self {
        Self {
            server,
            transport,
            terminals,
            first: 1,
            prefix: "SIM-T".into(),
            community: "C1".into(),
            seed,
            data_dir: None,
            push_answer: 0,
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
        }
    }
}

/// Counters over all terminals.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections made.
    pub connects: AtomicU64,
    /// `download_person` received.
    pub pushes: AtomicU64,
    /// Records produced.
    pub produced: AtomicU64,
    /// Records the server answered 0.
    pub uploaded: AtomicU64,
    /// Records the server refused with -1 (dropped: they would never be accepted).
    pub refused: AtomicU64,
    /// Upload attempts that failed (no connection, no answer, -3) and were retried.
    pub retries: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

impl Stats {
    /// Upload round-trip times (request to answer 0) recorded since the last call; clears them.
    pub fn take_latencies(&self) -> Vec<Duration> {
        std::mem::take(
            &mut *self
                .latencies
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// A person as the terminal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPerson {
    /// `person_id`.
    pub person_id: String,
    /// `person_name`.
    pub name: Option<String>,
    /// `card_number`.
    pub card_number: Option<String>,
    /// `id_number`.
    pub id_number: Option<String>,
    /// `role`.
    pub role: Option<i64>,
    /// Decoded size of `face`, `left_image`, `right_image` (0 when absent).
    pub image_bytes: [usize; 3],
    /// How many times it was pushed.
    pub pushes: u32,
}

/// What one terminal knows, for tests and reports.
#[derive(Debug, Clone, Default)]
pub struct TermView {
    /// Connected now.
    pub connected: bool,
    /// Connections made.
    pub connects: u32,
    /// The settings it reports.
    pub device_info: DeviceInfo,
    /// Its person table.
    pub people: BTreeMap<String, LocalPerson>,
    /// `send_user_command`s received: `(command_type, command_value)`.
    pub user_commands: Vec<(i64, String)>,
    /// Records not answered 0 yet.
    pub pending: usize,
    /// Records answered 0.
    pub uploaded: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Record { seq: u64, record: AccessInfo },
    Done { done: u64 },
}

/// The durable record buffer of one terminal.
#[derive(Debug)]
struct Buffer {
    file: Option<(PathBuf, std::fs::File)>,
    pending: VecDeque<(u64, AccessInfo)>,
    next_seq: u64,
}

impl Buffer {
    fn open(dir: Option<&Path>, uuid: &str) -> std::io::Result<Self> {
        let Some(dir) = dir else {
            return Ok(Self {
                file: None,
                pending: VecDeque::new(),
                next_seq: 1,
            });
        };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{uuid}.records"));
        let mut records = BTreeMap::new();
        let mut next_seq = 1;
        if let Ok(f) = std::fs::File::open(&path) {
            for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Line>(&line) {
                    Ok(Line::Record { seq, record }) => {
                        next_seq = next_seq.max(seq + 1);
                        records.insert(seq, record);
                    }
                    Ok(Line::Done { done }) => {
                        records.remove(&done);
                    }
                    // A line cut short by a crash is the last one: its record was never handed over.
                    Err(e) => eprintln!("{}: line {}: {e} (skipped)", path.display(), n + 1),
                }
            }
        }
        let pending: VecDeque<_> = records.into_iter().collect();
        // Rewrite it with only what is pending.
        let mut file = std::fs::File::create(&path)?;
        for (seq, record) in &pending {
            let line = serde_json::to_string(&Line::Record {
                seq: *seq,
                record: record.clone(),
            })?;
            writeln!(file, "{line}")?;
        }
        file.flush()?;
        let file = std::fs::OpenOptions::new().append(true).open(&path)?;
        Ok(Self {
            file: Some((path, file)),
            pending,
            next_seq,
        })
    }

    fn append(&mut self, line: &Line) -> std::io::Result<()> {
        if let Some((_, f)) = &mut self.file {
            let text = serde_json::to_string(line)?;
            writeln!(f, "{text}")?;
            f.flush()?;
        }
        Ok(())
    }

    fn push(&mut self, record: AccessInfo) -> std::io::Result<u64> {
        let seq = self.next_seq;
        self.append(&Line::Record {
            seq,
            record: record.clone(),
        })?;
        self.next_seq += 1;
        self.pending.push_back((seq, record));
        Ok(seq)
    }

    fn done(&mut self, seq: u64) -> std::io::Result<()> {
        if self.pending.front().is_some_and(|(s, _)| *s == seq) {
            self.pending.pop_front();
            self.append(&Line::Done { done: seq })?;
            // Start the file over once everything is answered and it has grown.
            if self.pending.is_empty() {
                if let Some((path, f)) = &mut self.file {
                    if f.metadata().map(|m| m.len() > 1 << 20).unwrap_or(false) {
                        *f = std::fs::File::create(&*path)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One simulated terminal.
pub struct Term {
    /// Its uuid.
    pub uuid: String,
    handle: Handle<TerminalSession>,
    client: Mutex<Option<Client<TerminalSession>>>,
    view: Mutex<TermView>,
    buffer: Mutex<Buffer>,
    wake: tokio::sync::Notify,
    changed: tokio::sync::Notify,
    /// The time and keys of the newest records, so that two records never share an identity.
    clock: Mutex<(Option<LocalTimestamp>, HashSet<String>)>,
    rng: Mutex<SplitMix64>,
    stats: Arc<Stats>,
    push_answer: i64,
}

impl std::fmt::Debug for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Term")
            .field("uuid", &self.uuid)
            .finish_non_exhaustive()
    }
}

impl Term {
    /// A snapshot of what it knows.
    pub fn view(&self) -> TermView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut TermView)) {
        f(&mut self.view.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_waiters();
    }

    /// Waits until `check` holds for its view, or `timeout` passes; returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&TermView) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if check(&self.view()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.view());
            }
        }
    }

    fn next_time(&self, key: &str) -> LocalTimestamp {
        let now = chrono::Local::now().naive_local();
        let now = LocalTimestamp::new(now).unwrap_or_else(|| {
            LocalTimestamp::from_ymd_hms(2000, 1, 1, 0, 0, 0).expect("a valid date")
        });
        let mut clock = self.clock.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, keys) = &mut *clock;
        let mut t = match *last {
            Some(l) if l >= now => l,
            _ => now,
        };
        if Some(t) != *last {
            keys.clear();
        }
        if keys.contains(key) {
            // The same person passing the same way twice in one second: a second later.
            t = LocalTimestamp::new(t.naive() + chrono::Duration::seconds(1)).unwrap_or(t);
            keys.clear();
        }
        *last = Some(t);
        keys.insert(key.to_owned());
        t
    }

    /// Produces a record of `person_id` (`None`: an unknown card), buffers it and has it uploaded.
    ///
    /// # Errors
    /// The buffer file could not be written.
    pub fn produce(
        &self,
        person_id: Option<&str>,
        opened: Opened,
        direction: Direction,
    ) -> std::io::Result<AccessInfo> {
        let person = person_id.and_then(|id| self.view().people.get(id).cloned());
        let open = match opened {
            Opened::Card => 1,
            Opened::Face => 2,
        };
        let dir = match direction {
            Direction::In => 1,
            Direction::Out => 2,
        };
        let card = person
            .as_ref()
            .and_then(|p| p.card_number.clone())
            .or_else(|| {
                person_id.is_none().then(|| {
                    format!(
                        "{}",
                        100_000
                            + self
                                .rng
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .next_u64()
                                % 900_000
                    )
                })
            });
        let key = format!("{person_id:?}/{card:?}/{open}/{dir}");
        let mut record = AccessInfo::at(self.next_time(&key));
        record.person_id = person_id.map(str::to_owned);
        record.card_number = card;
        record.id_number = person.as_ref().and_then(|p| p.id_number.clone());
        record.role = person.as_ref().and_then(|p| p.role).map(Role);
        record.open_door_type = Some(OpenDoorType(open));
        record.in_out_type = Some(InOutType(dir));
        record.community_code = self.view().device_info.community_code;
        self.buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.clone())?;
        self.stats.produced.fetch_add(1, Ordering::Relaxed);
        self.update(|v| v.pending += 1);
        self.wake.notify_one();
        Ok(record)
    }

    /// Produces a record for a random person of its table (an unknown card when the table is empty).
    ///
    /// # Errors
    /// As [`Term::produce`].
    pub fn produce_random(&self) -> std::io::Result<AccessInfo> {
        let people: Vec<String> = self.view().people.keys().cloned().collect();
        let r = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64();
        let person = (!people.is_empty()).then(|| {
            let i = usize::try_from(r % people.len() as u64).unwrap_or(0);
            people[i].clone()
        });
        let opened = if r & 0x100 == 0 {
            Opened::Card
        } else {
            Opened::Face
        };
        let direction = if r & 0x200 == 0 {
            Direction::In
        } else {
            Direction::Out
        };
        self.produce(person.as_deref(), opened, direction)
    }

    /// Sends `send_device_command` and returns the server's answer code.
    ///
    /// # Errors
    /// Not connected, or no answer.
    pub async fn device_command(&self, command_type: i64, value: &str) -> Result<i64, String> {
        let command = TerminalCommand::device_command(Command {
            command_type: access_proto::CommandType(command_type),
            command_value: value.to_owned(),
        });
        match self.handle.call(command).await {
            Ok(Some(r)) => Ok(r.code.value()),
            Ok(None) => Err("no answer".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Uploads buffered records in order until stopped.
    async fn upload_loop(self: Arc<Self>) {
        let mut delay = Duration::from_millis(50);
        loop {
            let next = self
                .buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending
                .front()
                .cloned();
            let Some((seq, record)) = next else {
                self.wake.notified().await;
                continue;
            };
            let started = Instant::now();
            match self.handle.call(TerminalCommand::upload(record)).await {
                Ok(Some(r)) if r.code == Code::Success || r.code == Code::GeneralError => {
                    let latency = started.elapsed();
                    if let Err(e) = self
                        .buffer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .done(seq)
                    {
                        eprintln!("{}: record buffer: {e}", self.uuid);
                    }
                    if r.code == Code::Success {
                        self.stats.uploaded.fetch_add(1, Ordering::Relaxed);
                        self.stats
                            .latencies
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(latency);
                        self.update(|v| {
                            v.pending = v.pending.saturating_sub(1);
                            v.uploaded += 1;
                        });
                    } else {
                        self.stats.refused.fetch_add(1, Ordering::Relaxed);
                        self.update(|v| v.pending = v.pending.saturating_sub(1));
                    }
                    delay = Duration::from_millis(50);
                }
                Err(device_core::runtime::CommandError::Stopped) => return,
                _ => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    async fn on_request(self: Arc<Self>, request: Request) {
        let (code, message) = match &request.body {
            RequestBody::DownloadPerson(dp) => {
                let p = &dp.person_info;
                let len = |i: &Option<access_proto::Image>| i.as_ref().map_or(0, |i| i.data.len());
                let person = LocalPerson {
                    person_id: p.person_id.clone(),
                    name: p.person_name.clone(),
                    card_number: p.card_number.clone(),
                    id_number: p.id_number.clone(),
                    role: p.role.map(|r| r.0),
                    image_bytes: [len(&p.face), len(&p.left_image), len(&p.right_image)],
                    pushes: 0,
                };
                self.stats.pushes.fetch_add(1, Ordering::Relaxed);
                if self.push_answer == 0 {
                    self.update(|v| {
                        let pushes = v.people.get(&person.person_id).map_or(0, |p| p.pushes);
                        v.people.insert(
                            person.person_id.clone(),
                            LocalPerson {
                                pushes: pushes + 1,
                                ..person
                            },
                        );
                    });
                    (Code::Success, String::new())
                } else {
                    (Code::from(self.push_answer), "simulated refusal".to_owned())
                }
            }
            RequestBody::SetDeviceInfo(s) => {
                let mut info = self.view().device_info;
                let d = &s.device_info;
                macro_rules! merge {
                    ($($f:ident),*) => { $( if d.$f.is_some() { info.$f = d.$f.clone(); } )* };
                }
                merge!(
                    device_ip,
                    device_port,
                    server_ip,
                    server_port,
                    address,
                    community_code
                );
                let _ = self
                    .handle
                    .call(TerminalCommand::ServeDeviceInfo(Some(info.clone())))
                    .await;
                self.update(|v| v.device_info = info);
                (Code::Success, String::new())
            }
            RequestBody::SendUserCommand(c) => {
                let c = (c.command_type.0, c.command_value.clone());
                self.update(|v| v.user_commands.push(c));
                (Code::Success, String::new())
            }
            other => (
                Code::GeneralError,
                format!("`{}` not supported", other.name()),
            ),
        };
        let _ = self
            .handle
            .call(TerminalCommand::answer(&request, code, message))
            .await;
    }
}

/// A running simulation.
#[derive(Debug)]
pub struct Sim {
    /// The terminals.
    pub terminals: Vec<Arc<Term>>,
    /// Counters.
    pub stats: Arc<Stats>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The uuid of terminal `n`.
pub fn uuid(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:05}")
}

impl Sim {
    /// Starts the terminals (record buffers reloaded from `data_dir`).
    ///
    /// # Errors
    /// A buffer file could not be opened.
    pub async fn start(config: SimConfig) -> std::io::Result<Arc<Self>> {
        let stats = Arc::new(Stats::default());
        let mut terminals = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..config.terminals {
            let n = config.first + i;
            let uuid = uuid(&config.prefix, n);
            let info = DeviceInfo {
                uuid: Some(uuid.clone()),
                device_ip: Some(format!("10.0.{}.{}", n / 250, n % 250 + 2)),
                device_port: Some(1545),
                server_ip: Some(config.server.ip().to_string()),
                server_port: Some(config.server.port()),
                address: Some(format!("Gate {n}")),
                community_code: Some(config.community.clone()),
                software_version: Some("sim-1.0".into()),
                hardware_version: Some("hw-1.0".into()),
            };
            let seed = config.seed ^ u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let session = TerminalSession::new(TerminalConfig::new(info.clone()))
                .with_rng(Box::new(SplitMix64::seeded(seed)));
            let client_config = ClientConfig::default()
                .backoff(
                    BackoffConfig::default()
                        .initial(config.reconnect_initial)
                        .max(config.reconnect_max),
                )
                .stable_after(Duration::from_millis(500))
                .jitter_seed(seed);
            let (client, mut events) = match config.transport {
                Transport::Tcp => Client::connect_tcp(session, config.server, client_config),
                Transport::Ws => {
                    Client::connect_ws(session, format!("ws://{}/", config.server), client_config)
                }
            };
            let buffer = Buffer::open(config.data_dir.as_deref(), &uuid)?;
            let pending = buffer.pending.len();
            let term = Arc::new(Term {
                uuid,
                handle: client.handle(),
                client: Mutex::new(Some(client)),
                view: Mutex::new(TermView {
                    device_info: info,
                    pending,
                    ..TermView::default()
                }),
                buffer: Mutex::new(buffer),
                wake: tokio::sync::Notify::new(),
                changed: tokio::sync::Notify::new(),
                clock: Mutex::new((None, HashSet::new())),
                rng: Mutex::new(SplitMix64::seeded(seed.rotate_left(17))),
                stats: stats.clone(),
                push_answer: config.push_answer,
            });
            let t = term.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    match event {
                        ClientEvent::Session(TerminalEvent::Connected) => {
                            t.stats.connects.fetch_add(1, Ordering::Relaxed);
                            t.update(|v| {
                                v.connected = true;
                                v.connects += 1;
                            });
                            t.wake.notify_one();
                        }
                        ClientEvent::Session(TerminalEvent::Disconnected(_))
                        | ClientEvent::Disconnected(_) => t.update(|v| v.connected = false),
                        ClientEvent::Session(TerminalEvent::Request(r)) => {
                            tokio::spawn(t.clone().on_request(r));
                        }
                        _ => {}
                    }
                }
            }));
            tasks.push(tokio::spawn(term.clone().upload_loop()));
            terminals.push(term);
        }
        Ok(Arc::new(Self {
            terminals,
            stats,
            tasks: Mutex::new(tasks),
        }))
    }

    /// The terminal with `uuid`.
    pub fn terminal(&self, uuid: &str) -> Option<&Arc<Term>> {
        self.terminals.iter().find(|t| t.uuid == uuid)
    }

    /// Records not answered yet, over all terminals.
    pub fn pending(&self) -> usize {
        self.terminals.iter().map(|t| t.view().pending).sum()
    }

    /// Closes every connection and stops; buffered records stay in their files.
    pub async fn shutdown(&self) {
        for t in &self.terminals {
            let client = t
                .client
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(c) = client {
                let _ = c.shutdown().await;
            }
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}

/// The `p`-quantile (0..=1) of `samples` (sorted in place); `None` when empty.
pub fn quantile(samples: &mut [Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    // The nearest rank: `p` of the way from the first sample to the last.
    let last = samples.len() - 1;
    let idx = (0..=last)
        .min_by(|a, b| {
            let at = |i: usize| (i as f64 - last as f64 * p).abs();
            at(*a).total_cmp(&at(*b))
        })
        .unwrap_or(last);
    samples.get(idx).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_what_was_not_answered_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let t = |s: &str| AccessInfo::at(s.parse().unwrap());
        let mut b = Buffer::open(Some(dir.path()), "T1").unwrap();
        let a = b.push(t("20240101080000")).unwrap();
        b.push(t("20240101080001")).unwrap();
        b.push(t("20240101080002")).unwrap();
        b.done(a).unwrap();
        drop(b);
        let mut b = Buffer::open(Some(dir.path()), "T1").unwrap();
        let left: Vec<String> = b.pending.iter().map(|(_, r)| r.time.to_string()).collect();
        assert_eq!(left, ["20240101080001", "20240101080002"]);
        let seq = b.push(t("20240101080003")).unwrap();
        assert_eq!(seq, 4, "sequence numbers continue");
        // An answer for anything but the oldest changes nothing (uploads are in order).
        b.done(seq).unwrap();
        assert_eq!(b.pending.len(), 3);
    }

    #[test]
    fn quantiles_pick_the_rank() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut s, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
