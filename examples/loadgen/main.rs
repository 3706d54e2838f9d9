//! loadgen: what a connection costs the device-core server driver, and how fast a device logs in through a
//! flood, per protocol and transport. Everything runs on 127.0.0.1; every loop is bounded.
//!
//! ```text
//! ulimit -n 20000    # each process holds one descriptor per connection
//! cargo run --release --example loadgen -- rss --protocol jetinno --transport tcp --devices 10000
//! cargo run --release --example loadgen -- latency --protocol best --transport ws --logins 1000 --flood 1000 --slow 50
//! cargo run --release --example loadgen -- serve --protocol jetinno --transport tcp   # the server alone
//! ```
//!
//! `rss` and `latency` start the server in a child process (this program with `serve`), so the server's
//! resident memory (`VmRSS` of `/proc/<pid>/status`, read by the server itself) holds no client state:
//! `rss` reports (VmRSS with N logged-in idle devices - VmRSS before) / N. `latency` times logins (connect to
//! the session's login event) one after another, alone and through a flood, in `--rounds` rounds (default 5)
//! that alternate which side goes first, so that drift on a shared machine falls on both sides alike. Each
//! round times its share of `--logins` alone, and as many through the flood: `--flood` idle unauthenticated
//! connections and `--slow` clients sending one byte a second, opened and held by the server (all of them, or
//! no new high for 3 s) before the logins start and dropped after them. It reports the median and the 99th
//! percentile of both sides over all rounds; `--flood 0 --slow 0` compares the tool with itself, which shows
//! the noise of the machine. The flood comes from 127.0.0.1, like the devices, so the child server lifts the
//! per-source limit (`--per-source`) and the flood meets the pending budget, the harder case.
//!
//! Protocols: `jetinno`, `kingxun`, `access` (TCP; `ws` also works), `best`, `aliscan` (WebSocket).

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::server::{
    AdmissionConfig, Server, ServerConfig, ServerEvent, ServerEvents, WsListener,
};
use device_core::{BackoffConfig, Session};
use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const KEY: [u8; 16] = *b"loadgen-kx-key!!";
const IV: [u8; 16] = *b"loadgen-kx-iv!!!";
const PRODUCT: &str = "5d9b11e1a3f448ae81f9f920e976d852";
const SECRET: &str = "123456";
/// How long the server is left alone before each side's logins, the same for both sides.
const QUIET: Duration = Duration::from_millis(300);
/// How long any wait of the tool may take before it gives up.
const BOUND: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Jetinno,
    Kingxun,
    Access,
    Best,
    Aliscan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Ws,
}

#[derive(Debug, Clone)]
struct Args {
    mode: String,
    proto: Proto,
    transport: Transport,
    devices: usize,
    logins: usize,
    rounds: usize,
    flood: usize,
    slow: usize,
    per_source: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: loadgen rss|latency|serve [options]")?;
    let mut args = Args {
        mode,
        proto: Proto::Jetinno,
        transport: Transport::Tcp,
        devices: 1000,
        logins: 200,
        rounds: 5,
        flood: 1000,
        slow: 50,
        per_source: None,
    };
    let mut transport_set = false;
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--protocol" => {
                args.proto = match value.as_str() {
                    "jetinno" => Proto::Jetinno,
                    "kingxun" => Proto::Kingxun,
                    "access" => Proto::Access,
                    "best" => Proto::Best,
                    "aliscan" => Proto::Aliscan,
                    other => return Err(format!("unknown protocol `{other}`")),
                }
            }
            "--transport" => {
                transport_set = true;
                args.transport = match value.as_str() {
                    "tcp" => Transport::Tcp,
                    "ws" => Transport::Ws,
                    other => return Err(format!("unknown transport `{other}`")),
                }
            }
            "--devices" => args.devices = number()?,
            "--logins" => args.logins = number()?.max(1),
            "--rounds" => args.rounds = number()?.max(1),
            "--flood" => args.flood = number()?,
            "--slow" => args.slow = number()?,
            "--per-source" => args.per_source = Some(number()?.max(1)),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if !transport_set && matches!(args.proto, Proto::Best | Proto::Aliscan) {
        args.transport = Transport::Ws;
    }
    if args.transport == Transport::Tcp && matches!(args.proto, Proto::Best | Proto::Aliscan) {
        return Err(format!("{:?} runs over WebSocket only", args.proto));
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = rt.block_on(async {
        match args.mode.as_str() {
            "serve" => serve(&args).await,
            "rss" => rss(&args).await,
            "latency" => latency(&args).await,
            other => Err(format!("unknown mode `{other}`")),
        }
    });
    if let Err(e) = result {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The server (the child process)

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Connections open and established, counted from the server's events.
#[derive(Default)]
struct Counts {
    open: AtomicUsize,
    established: AtomicUsize,
}

/// Reads every event, answers what the devices ask, counts connections.
fn run_events<S>(
    server: Server<S>,
    mut events: ServerEvents<S>,
    counts: Arc<Counts>,
    answer: fn(&Server<S>, &S::Peer, S::Event),
) where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                ServerEvent::Accepted { .. } => {
                    counts.open.fetch_add(1, Ordering::Relaxed);
                }
                ServerEvent::Established { .. } => {
                    counts.established.fetch_add(1, Ordering::Relaxed);
                }
                ServerEvent::Closed { peer, .. } => {
                    counts.open.fetch_sub(1, Ordering::Relaxed);
                    if peer.is_some() {
                        counts.established.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                ServerEvent::Session {
                    peer: Some(peer),
                    event,
                    ..
                } => answer(&server, &peer, event),
                _ => {}
            }
        }
    });
}

fn server_config(args: &Args) -> ServerConfig {
    let mut admission = AdmissionConfig::default();
    if let Some(n) = args.per_source {
        admission = admission.max_pending_per_source(n);
    }
    ServerConfig::default().admission(admission)
}

fn spawn_server<S, E>(
    listener: TcpListener,
    transport: Transport,
    endpoint: E,
    config: ServerConfig,
    counts: Arc<Counts>,
    answer: fn(&Server<S>, &S::Peer, S::Event),
) -> Result<(), String>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
    E: device_core::Endpoint<S>,
{
    let (server, events) = match transport {
        Transport::Tcp => Server::spawn(listener, endpoint, config),
        Transport::Ws => Server::spawn(WsListener::new(listener), endpoint, config),
    }
    .map_err(|e| e.to_string())?;
    // The server lives as long as the process: its handle is kept by the event task.
    run_events(server, events, counts, answer);
    Ok(())
}

async fn serve(args: &Args) -> Result<(), String> {
    use device_core::{access, aliscan, best, jetinno, kingxun};
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let counts = Arc::new(Counts::default());
    let config = server_config(args);
    let c = counts.clone();
    match args.proto {
        Proto::Jetinno => {
            let registry: Arc<dyn jetinno::MachineRegistry> = Arc::new(machine_code);
            spawn_server(
                listener,
                args.transport,
                move || {
                    jetinno::ServerSession::new(jetinno::ServerConfig::default(), registry.clone())
                },
                config,
                c,
                |_, _, _| {},
            )?;
        }
        Proto::Kingxun => spawn_server(
            listener,
            args.transport,
            || kingxun::InstanceSession::new(kingxun::InstanceConfig::new(KEY, IV), Fleet),
            config,
            c,
            |_, _, _| {},
        )?,
        Proto::Access => spawn_server(
            listener,
            args.transport,
            || access::ServerSession::new(access::ServerConfig::default()),
            config,
            c,
            |server, peer, event| {
                if let access::ServerEvent::Request(request) = event {
                    let answer =
                        access::ServerCommand::answer(&request, access_proto::Code::Success, "");
                    let (server, peer) = (server.clone(), peer.clone());
                    tokio::spawn(async move { server.call(&peer, answer).await });
                }
            },
        )?,
        Proto::Best => {
            let registry = Arc::new(best::MemoryRegistry::new());
            for i in 0..100_000 {
                registry.insert(best_sn(i), best::DeviceRecord::new(PRODUCT, SECRET));
            }
            spawn_server(
                listener,
                args.transport,
                move || {
                    best::PlatformSession::new(best::PlatformConfig::default(), registry.clone())
                },
                config,
                c,
                |server, peer, event| {
                    if let best::PlatformEvent::Request { mid, .. } = event {
                        let respond = best::PlatformCommand::Respond {
                            mid,
                            response: best_proto::Response::ok(None),
                        };
                        let (server, peer) = (server.clone(), peer.clone());
                        tokio::spawn(async move { server.call(&peer, respond).await });
                    }
                },
            )?;
        }
        Proto::Aliscan => {
            let station = aliscan::Station::new(
                aliscan::StationConfig::new("LOADGEN")
                    .initial_status(aliscan_proto::StationStatus::Free),
                Box::new(aliscan::SimulatedScanner::new()),
                Box::new(aliscan::MemoryStore::default()),
                Box::new(aliscan::UploadQueue::new()),
            );
            spawn_server(
                listener,
                args.transport,
                aliscan::StationEndpoint::new(station),
                config,
                c,
                |_, _, _| {},
            )?;
        }
    }
    println!("addr {addr}");
    // Answer `stats` lines until stdin closes.
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "stats" {
            println!(
                "stats rss_kib={} open={} established={}",
                rss_kib(),
                counts.open.load(Ordering::Relaxed),
                counts.established.load(Ordering::Relaxed)
            );
        }
    }
    Ok(())
}

fn machine_code(vmc_no: u64) -> Option<jetinno_proto::MachineCode> {
    jetinno_proto::MachineCode::new(format!("{:08}", vmc_no % 100_000_000)).ok()
}

fn best_sn(i: usize) -> String {
    format!("LG{i:06}")
}

/// Answers every vehicle command at once.
struct Fleet;

impl device_core::kingxun::InstanceHandler for Fleet {
    fn device_count(&self) -> u32 {
        0
    }

    fn command(
        &mut self,
        _command: &device_core::kingxun::DeviceCommand,
    ) -> device_core::kingxun::Dispatch {
        device_core::kingxun::Dispatch::Answer(kingxun_proto::RespCode::Ok)
    }
}

// ---------------------------------------------------------------------------------------------------------
// The parent: a child server, devices, floods

/// The server child process and its stats line protocol.
struct Child {
    process: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    addr: SocketAddr,
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    rss_kib: u64,
    open: usize,
    established: usize,
}

impl Child {
    async fn start(args: &Args, per_source: Option<usize>) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("serve")
            .arg("--protocol")
            .arg(format!("{:?}", args.proto).to_lowercase())
            .arg("--transport")
            .arg(format!("{:?}", args.transport).to_lowercase());
        if let Some(n) = per_source {
            command.arg("--per-source").arg(n.to_string());
        }
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdin = process.stdin.take().ok_or("no stdin")?;
        let stdout = process.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(BOUND, lines.next_line())
            .await
            .map_err(|_| "the server did not start")?
            .map_err(|e| e.to_string())?
            .ok_or("the server exited")?;
        let addr = first
            .strip_prefix("addr ")
            .ok_or_else(|| format!("unexpected `{first}`"))?
            .parse()
            .map_err(|e| format!("{e}"))?;
        Ok(Self {
            process,
            stdin,
            lines,
            addr,
        })
    }

    async fn stats(&mut self) -> Result<Stats, String> {
        self.stdin
            .write_all(b"stats\n")
            .await
            .map_err(|e| e.to_string())?;
        let line = self
            .lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the server exited")?;
        let field = |name: &str| -> Result<u64, String> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| format!("no {name} in `{line}`"))?
                .parse()
                .map_err(|e| format!("{e}"))
        };
        Ok(Stats {
            rss_kib: field("rss_kib")?,
            open: usize::try_from(field("open")?).unwrap_or(usize::MAX),
            established: usize::try_from(field("established")?).unwrap_or(usize::MAX),
        })
    }

    /// Polls until the flood is in: `total` connections pending, or no new high for 3 s (a flood the server
    /// keeps dropping); returns the number pending then.
    async fn settled(&mut self, total: usize) -> Result<usize, String> {
        let start = Instant::now();
        let mut high = 0;
        let mut since = Instant::now();
        loop {
            let stats = self.stats().await?;
            let pending = stats.open.saturating_sub(stats.established);
            if pending >= total || (pending <= high && since.elapsed() >= Duration::from_secs(3)) {
                return Ok(pending);
            }
            if pending > high {
                high = pending;
                since = Instant::now();
            }
            if start.elapsed() > BOUND {
                return Err(format!("the flood never settled; last {stats:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `done` holds (bounded).
    async fn until(&mut self, done: impl Fn(&Stats) -> bool) -> Result<Stats, String> {
        let start = Instant::now();
        loop {
            let stats = self.stats().await?;
            if done(&stats) {
                return Ok(stats);
            }
            if start.elapsed() > BOUND {
                return Err(format!("gave up waiting; last {stats:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.process.wait()).await;
        let _ = self.process.kill().await;
    }
}

/// A logged-in device: dropping it closes its connection.
type Device = Box<dyn Send>;

fn client_config(i: usize) -> ClientConfig {
    ClientConfig::default()
        .backoff(
            BackoffConfig::default()
                .initial(Duration::from_millis(200))
                .max(Duration::from_secs(2)),
        )
        .jitter_seed(u64::try_from(i).unwrap_or(0))
}

/// Runs a client until `logged_in` picks out its login event; then keeps it (and drains its events).
async fn until_logged_in<S>(
    client: Client<S>,
    mut events: tokio::sync::mpsc::Receiver<ClientEvent<S::Event>>,
    logged_in: fn(&S::Event) -> bool,
) -> Result<Device, String>
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    let found = tokio::time::timeout(BOUND, async {
        while let Some(event) = events.recv().await {
            if let ClientEvent::Session(e) = &event {
                if logged_in(e) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    if found != Ok(true) {
        return Err("a device did not log in".into());
    }
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok(Box::new((client, DropAbort(drain))))
}

struct DropAbort(tokio::task::JoinHandle<()>);

impl Drop for DropAbort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn ws_url(proto: Proto, addr: SocketAddr) -> String {
    match proto {
        Proto::Best => format!("ws://{addr}/best"),
        Proto::Aliscan => format!("ws://{addr}/aliscan"),
        _ => format!("ws://{addr}/"),
    }
}

fn connect<S>(
    session: S,
    transport: Transport,
    proto: Proto,
    addr: SocketAddr,
    i: usize,
) -> (
    Client<S>,
    tokio::sync::mpsc::Receiver<ClientEvent<S::Event>>,
)
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    match transport {
        Transport::Tcp => Client::connect_tcp(session, addr, client_config(i)),
        Transport::Ws => Client::connect_ws(session, ws_url(proto, addr), client_config(i)),
    }
}

fn best_report() -> best_proto::Report {
    serde_json::from_value(serde_json::json!({
        "fwVer": "1.1.21", "devModel": "TDB08Z", "commType": "ethernet", "ip": "192.168.1.5",
        "netmask": "255.255.255.0", "gateway": "192.168.1.1", "mac": "00:17:61:12:e5:07",
        "lockCount": "1", "userCount": "50", "maxUserCount": "30000", "transactionCount": "115",
        "maxTransactionCount": "50000", "multiBioDataSupport": "0:1:1:0:0:0:0:0:0:0",
        "multiBioVer": "0:10.0:7.0:0:0:0:0:0:0:0", "multiBioDataCount": "0:100:200:0:0:0:0:0:0:0",
        "maxMultiBioDataCount": "0:10000:2000:0:0:0:0:0:0:0", "verifyStyles": "100000000010",
        "maxPendingCmdCount": "4", "maxPackageSize": "64", "funcIds": []
    }))
    .expect("a valid report")
}

/// Connects device number `i` and returns it once logged in.
async fn device(args: &Args, addr: SocketAddr, i: usize) -> Result<Device, String> {
    use device_core::{access, aliscan, best, jetinno, kingxun};
    let t = args.transport;
    let p = args.proto;
    match p {
        Proto::Jetinno => {
            let vmc_no = u64::try_from(i + 1).unwrap_or(1);
            let code = machine_code(vmc_no).ok_or("a machine code")?;
            let session =
                jetinno::MachineSession::new(jetinno::MachineConfig::new(vmc_no, code, "1.0"));
            let (client, events) = connect(session, t, p, addr, i);
            until_logged_in(client, events, |e| {
                matches!(e, jetinno::MachineEvent::LoggedIn { .. })
            })
            .await
        }
        Proto::Kingxun => {
            let session = kingxun::WebSvrSession::new(kingxun::WebSvrConfig::new(KEY, IV));
            let (client, events) = connect(session, t, p, addr, i);
            until_logged_in(client, events, |e| {
                matches!(e, kingxun::WebSvrEvent::LoggedIn { .. })
            })
            .await
        }
        Proto::Access => {
            let info = access_proto::DeviceInfo {
                uuid: Some(format!("T{i:06}")),
                ..access_proto::DeviceInfo::default()
            };
            let session = access::TerminalSession::new(access::TerminalConfig::new(info));
            let (client, events) = connect(session, t, p, addr, i);
            let handle = client.handle();
            let device = until_logged_in(client, events, |e| {
                matches!(e, access::TerminalEvent::Connected)
            })
            .await?;
            // The terminal has no login: it counts as logged in once the server identified it and answered
            // its first request (requests wait for identification).
            let time: access_proto::LocalTimestamp = "20261122080000"
                .parse()
                .map_err(|e: access_proto::TimestampError| e.to_string())?;
            let mut record = access_proto::AccessInfo::at(time);
            record.person_id = Some("loadgen".into());
            tokio::time::timeout(BOUND, handle.call(access::TerminalCommand::upload(record)))
                .await
                .map_err(|_| "no answer in time")?
                .map_err(|e| e.to_string())?;
            Ok(device)
        }
        Proto::Best => {
            let config = best::DeviceConfig::new(best_sn(i), PRODUCT, SECRET, best_report());
            let session = best::DeviceSession::new(config);
            let (client, events) = connect(session, t, p, addr, i);
            until_logged_in(client, events, |e| {
                matches!(e, best::DeviceEvent::LoggedIn(_))
            })
            .await
        }
        Proto::Aliscan => {
            let session = aliscan::PadSession::new(aliscan::PadConfig::new(format!("pad-{i}")));
            let (client, events) = connect(session, t, p, addr, i);
            until_logged_in(client, events, |e| {
                matches!(e, aliscan::PadEvent::Connected(_))
            })
            .await
        }
    }
}

async fn rss(args: &Args) -> Result<(), String> {
    let mut child = Child::start(args, args.per_source).await?;
    let addr = child.addr;
    let before = child.stats().await?;
    let started = Instant::now();
    // At most 32 logins at once: within the default per-source pending limit of 64.
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::with_capacity(args.devices);
    for i in 0..args.devices {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let d = device(&args, addr, i).await;
            drop(permit);
            d
        }));
    }
    let mut devices = Vec::with_capacity(args.devices);
    for task in tasks {
        devices.push(task.await.map_err(|e| e.to_string())??);
    }
    let n = args.devices;
    let after = child.until(|s| s.established >= n).await?;
    // Let the allocator settle after the burst of logins, then read again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = Stats {
        rss_kib: child.stats().await?.rss_kib,
        ..after
    };
    let per = (after.rss_kib.saturating_sub(before.rss_kib) as f64 * 1024.0) / n.max(1) as f64;
    println!(
        "rss {:?}/{:?}: {n} logged-in idle devices in {:.1} s; server VmRSS {} KiB -> {} KiB; {:.0} B ({:.1} KiB) per connection",
        args.proto,
        args.transport,
        started.elapsed().as_secs_f64(),
        before.rss_kib,
        after.rss_kib,
        per,
        per / 1024.0
    );
    drop(devices);
    child.stop().await;
    Ok(())
}

/// Median and 99th percentile, in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    // Nearest rank, in whole percent so no float is cast to an index.
    let at = |percent: usize| {
        let last = samples.len().saturating_sub(1);
        samples
            .get((last * percent + 50) / 100)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    (at(50), at(99))
}

async fn timed_logins(
    n: usize,
    args: &Args,
    addr: SocketAddr,
    first_id: usize,
) -> Result<Vec<Duration>, String> {
    let mut samples = Vec::with_capacity(n);
    for k in 0..n {
        let start = Instant::now();
        let d = device(args, addr, first_id + k).await?;
        samples.push(start.elapsed());
        drop(d);
    }
    Ok(samples)
}

/// Idle unauthenticated connections (`idle`) and one-byte-a-second senders (`slow`), reopened whenever the
/// server drops them, until `stop` is set (or the tool's bound passes).
fn flood(
    proto: Proto,
    transport: Transport,
    addr: SocketAddr,
    idle: usize,
    slow: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let deadline = Instant::now() + BOUND;
    // Connections are opened a few dozen at a time: a thousand SYNs at once overflow the listen queue, and
    // the dropped ones come back only with the kernel's retransmits, seconds later.
    let gate = Arc::new(Semaphore::new(64));
    for _ in 0..idle {
        let stop = stop.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok(permit) = gate.acquire().await else {
                    return;
                };
                let Ok(stream) = TcpStream::connect(addr).await else {
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                match transport {
                    Transport::Tcp => {
                        drop(permit);
                        let mut stream = stream;
                        let mut buf = [0u8; 64];
                        while let Ok(n) = stream.read(&mut buf).await {
                            if n == 0 || stop.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                    }
                    Transport::Ws => {
                        let opened =
                            tokio_tungstenite::client_async(ws_url(proto, addr), stream).await;
                        drop(permit);
                        if let Ok((mut ws, _)) = opened {
                            while let Some(Ok(_)) = ws.next().await {}
                        }
                    }
                }
            }
        }));
    }
    for _ in 0..slow {
        let stop = stop.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let trickle: &[u8] = match transport {
                Transport::Ws => b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
                // A packet head that announces a long packet (jetinno), or the start of a JSON object.
                Transport::Tcp => b"999900000000{\"cmd\":\"login\",\"vmc_no\":1,\"padding\":\"",
            };
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok(permit) = gate.acquire().await else {
                    return;
                };
                let connected = TcpStream::connect(addr).await;
                drop(permit);
                let Ok(mut stream) = connected else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                for byte in trickle.iter().cycle() {
                    tick.tick().await;
                    if stop.load(Ordering::Relaxed) || stream.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    tasks
}

async fn latency(args: &Args) -> Result<(), String> {
    // The flood comes from 127.0.0.1 like the devices: lift the per-source limit so it meets the budget.
    let mut child = Child::start(args, Some(args.per_source.unwrap_or(1 << 20))).await?;
    let addr = child.addr;
    // Rounds alternate which side goes first (alone then flooded, flooded then alone), so that drift on a
    // shared machine and whatever one side leaves behind fall on both sides alike. Each side starts once the
    // server holds nothing (no login and no flood of the side before); the flood is held in full before its
    // logins start and dropped after them.
    let per_round = args.logins.div_ceil(args.rounds);
    let (mut alone, mut flooded) = (Vec::new(), Vec::new());
    let mut held = Vec::new();
    for round in 0..args.rounds {
        let base = round * per_round * 2;
        for with_flood in [round % 2 == 1, round % 2 == 0] {
            child.until(|s| s.open == 0).await?;
            if !with_flood {
                tokio::time::sleep(QUIET).await;
                alone.extend(timed_logins(per_round, args, addr, base).await?);
                continue;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let tasks = flood(
                args.proto,
                args.transport,
                addr,
                args.flood,
                args.slow,
                stop.clone(),
            );
            let pending = child.settled(args.flood + args.slow).await?;
            tokio::time::sleep(QUIET).await;
            flooded.extend(timed_logins(per_round, args, addr, base + per_round).await?);
            let during = child.stats().await?;
            held.push((pending, during.open.saturating_sub(during.established)));
            stop.store(true, Ordering::Relaxed);
            for task in tasks {
                task.abort();
            }
        }
    }
    let (m0, p0) = percentiles(alone);
    let (m1, p1) = percentiles(flooded);
    let held: Vec<String> = held.iter().map(|(b, a)| format!("{b}/{a}")).collect();
    println!(
        "latency {:?}/{:?}: {} rounds of {per_round} logins alone and {per_round} through {} idle + {} slow \
         unauthenticated connections (pending at the start/end of each flooded round: {}): alone median \
         {m0:.3} ms, p99 {p0:.3} ms; flooded median {m1:.3} ms ({:+.0} %), p99 {p1:.3} ms ({:+.0} %)",
        args.proto,
        args.transport,
        args.rounds,
        args.flood,
        args.slow,
        held.join(" "),
        (m1 / m0 - 1.0) * 100.0,
        (p1 / p0 - 1.0) * 100.0,
    );
    child.stop().await;
    Ok(())
}
