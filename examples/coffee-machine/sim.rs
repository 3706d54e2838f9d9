//! Simulated coffee machines on device-core's jetinno machine session: login, heartbeats, sales through the QR
//! flow, price pushes obeyed, status and error reports, reconnect with backoff. All randomness comes from the
//! seed, so a run can be replayed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use device_core::jetinno::{MachineCommand, MachineConfig, MachineEvent, MachineSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::{BackoffConfig, RandomSource, SplitMix64};
use jetinno_proto::{
    ErrorReport, MachineCode, MachineMessage, MachineState as Door, MachineStatus, PayType,
    ProductDone, QrCodeRequest, QrType, ServerMessage,
};

/// Simulation settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The coffee server's machine address.
    pub server: SocketAddr,
    /// Number of machines.
    pub machines: u32,
    /// The first machine number; the others follow.
    pub first_vmc: u64,
    /// Seed of every random choice (codes, sales, reports, backoff jitter).
    pub seed: u64,
    /// Mean time between random sales per machine; `None`: sales only when asked.
    pub sale_every: Option<Duration>,
    /// Mean time between random status/error reports per machine; `None`: none.
    pub report_every: Option<Duration>,
    /// Heartbeat interval (jetinno: 20 s).
    pub heartbeat: Duration,
    /// First reconnect delay (doubling up to `reconnect_max`).
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Local addresses the machines connect from, in turn (empty: the system's choice). On one host,
    /// `127.0.0.2`, `127.0.0.3`, ... make the simulated fleet come from many sources, as a real one does.
    pub sources: Vec<std::net::IpAddr>,
}

impl SimConfig {
    /// `machines` machines against `server`, numbers from 1001, no random traffic.
    pub fn new(server: SocketAddr, machines: u32, seed: u64) -> Self {
        Self {
            server,
            machines,
            first_vmc: 1001,
            seed,
            sale_every: None,
            report_every: None,
            heartbeat: device_core::jetinno::HEARTBEAT_INTERVAL,
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            sources: Vec::new(),
        }
    }
}

/// The 8-character code of machine `vmc_no` under `seed` (what an operator would provision).
pub fn machine_code(seed: u64, vmc_no: u64) -> String {
    let mut rng = SplitMix64::seeded(seed ^ vmc_no.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    format!("{:08x}", rng.next_u64() & 0xFFFF_FFFF)
}

/// Connects to `addr`, from `source` when given.
async fn connect(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(ip) = source else {
        return tokio::net::TcpStream::connect(addr).await;
    };
    let socket = if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

/// Default prices (product id -> fen) of a new machine.
pub fn default_prices() -> BTreeMap<u32, u32> {
    BTreeMap::from([(1, 300), (2, 350), (3, 400), (4, 450)])
}

/// What one machine has done, for the demo's checks and the load report.
#[derive(Debug, Clone, Default)]
pub struct MachineView {
    /// Logged in now.
    pub logged_in: bool,
    /// Successful logins so far.
    pub logins: u32,
    /// Refused logins so far.
    pub refused: u32,
    /// Current prices (product id -> fen).
    pub prices: BTreeMap<u32, u32>,
    /// Names of the server commands received, in order.
    pub commands: Vec<String>,
    /// Products made after a `pay_done`.
    pub dispensed: u32,
    /// Orders waiting for `pay_done`.
    pub awaiting_payment: Vec<String>,
}

/// Counters and latencies over all machines.
#[derive(Debug, Default)]
pub struct Stats {
    /// Successful logins.
    pub logins: AtomicU64,
    /// Refused logins.
    pub refused: AtomicU64,
    /// `qrcode` requests answered.
    pub qrcodes: AtomicU64,
    /// `qrcode` requests that failed (timeout, connection lost).
    pub qrcode_failures: AtomicU64,
    /// Products made.
    pub dispensed: AtomicU64,
    login_latency: Mutex<Vec<Duration>>,
    qrcode_rtt: Mutex<Vec<Duration>>,
}

/// p50 and p99 of `v` (sorted in place).
pub fn percentiles(v: &mut [Duration]) -> (Option<Duration>, Option<Duration>) {
    (percentile(v, 500), percentile(v, 990))
}

fn percentile(v: &mut [Duration], permille: usize) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let idx = ((v.len() - 1) * permille + 500) / 1000;
    v.get(idx.min(v.len() - 1)).copied()
}

impl Stats {
    /// p50 and p99 of connect-to-`login_r` times.
    pub fn login_percentiles(&self) -> (Option<Duration>, Option<Duration>) {
        let mut v = self
            .login_latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (percentile(&mut v, 500), percentile(&mut v, 990))
    }

    /// p50 and p99 of `qrcode` -> `qrcode_r` round trips.
    pub fn qrcode_percentiles(&self) -> (Option<Duration>, Option<Duration>) {
        let mut v = self
            .qrcode_rtt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (percentile(&mut v, 500), percentile(&mut v, 990))
    }
}

/// One simulated machine.
pub struct Machine {
    /// Machine number.
    pub vmc_no: u64,
    code: MachineCode,
    view: Mutex<MachineView>,
    changed: tokio::sync::Notify,
    client: tokio::sync::Mutex<Option<Client<MachineSession>>>,
    handle: Mutex<Option<device_core::runtime::Handle<MachineSession>>>,
    orders: AtomicU64,
    rng: Mutex<SplitMix64>,
}

impl Machine {
    /// A snapshot of what it has done.
    pub fn view(&self) -> MachineView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut MachineView)) {
        f(&mut self.view.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_waiters();
    }

    /// Waits until `check` holds for its view, at most `timeout`.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&MachineView) -> bool) -> bool {
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

    fn pick(&self, n: u64) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
            % n.max(1)
    }

    fn random(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_f64()
    }

    async fn send(&self, msg: MachineMessage) -> Result<(), String> {
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let handle = handle.ok_or("machine stopped")?;
        handle
            .call(MachineCommand::Send(msg))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Starts a sale of `product_id` at the machine's current price: `qrcode`, then (when the payment is
    /// confirmed) `pay_done` makes the product and `productdone` follows. Returns the order number once the
    /// QR code arrived.
    ///
    /// # Errors
    /// Not logged in, or no `qrcode_r` came.
    pub async fn buy(&self, product_id: u32, stats: &Stats) -> Result<String, String> {
        let amount = self
            .view()
            .prices
            .get(&product_id)
            .copied()
            .ok_or(format!("no product {product_id}"))?;
        let n = self.orders.fetch_add(1, Ordering::Relaxed);
        let order_no = format!("{}-{n:06}-{:04x}", self.vmc_no, self.pick(0x1_0000));
        let handle = self
            .handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let handle = handle.ok_or("machine stopped")?;
        self.update(|v| v.awaiting_payment.push(order_no.clone()));
        let started = Instant::now();
        let reply = handle
            .call(MachineCommand::RequestQrCode(QrCodeRequest {
                vmc_no: self.vmc_no,
                qr_type: QrType::All,
                product_id,
                amount,
                order_no: order_no.clone(),
            }))
            .await;
        match reply {
            Ok(Some(r)) if r.order_no == order_no && !r.qrcode.is_empty() => {
                stats.qrcodes.fetch_add(1, Ordering::Relaxed);
                stats
                    .qrcode_rtt
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(started.elapsed());
                Ok(order_no)
            }
            other => {
                stats.qrcode_failures.fetch_add(1, Ordering::Relaxed);
                self.update(|v| v.awaiting_payment.retain(|o| *o != order_no));
                Err(format!("qrcode for {order_no}: {other:?}"))
            }
        }
    }

    /// Sends a `machinestatus` report.
    ///
    /// # Errors
    /// The machine is stopped or its queue is full.
    pub async fn report_status(&self, open: bool) -> Result<(), String> {
        let status = if open {
            Door::DoorOpen
        } else {
            Door::DoorClose
        };
        self.send(
            MachineStatus {
                vmc_no: self.vmc_no,
                status,
            }
            .into(),
        )
        .await
    }

    /// Sends an `error` report (set or cleared).
    ///
    /// # Errors
    /// The machine is stopped or its queue is full.
    pub async fn report_error(&self, code: &str, set: bool) -> Result<(), String> {
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string();
        self.send(
            ErrorReport {
                vmc_no: self.vmc_no,
                datetime: now,
                error_code: code.to_owned(),
                error_description: format!("simulated fault {code}"),
                is_set: set,
                is_fatal_error: false,
                is_persistence_error: false,
            }
            .into(),
        )
        .await
    }

    async fn on_event(
        &self,
        event: ClientEvent<MachineEvent>,
        connected_at: &mut Option<Instant>,
        stats: &Stats,
    ) {
        match event {
            ClientEvent::Connected => *connected_at = Some(Instant::now()),
            ClientEvent::Session(MachineEvent::LoggedIn { .. }) => {
                if let Some(at) = connected_at.take() {
                    stats
                        .login_latency
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(at.elapsed());
                }
                stats.logins.fetch_add(1, Ordering::Relaxed);
                self.update(|v| {
                    v.logged_in = true;
                    v.logins += 1;
                });
            }
            ClientEvent::Session(MachineEvent::LoginRejected { .. }) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                self.update(|v| v.refused += 1);
            }
            ClientEvent::Session(MachineEvent::Server(msg)) => {
                self.on_server_message(msg, stats).await
            }
            ClientEvent::Disconnected(_) | ClientEvent::Session(MachineEvent::Disconnected(_)) => {
                self.update(|v| v.logged_in = false);
            }
            _ => {}
        }
    }

    async fn on_server_message(&self, msg: ServerMessage, stats: &Stats) {
        let name = msg.name().to_owned();
        self.update(|v| v.commands.push(name));
        match msg {
            ServerMessage::PriceSet(p) => self.update(|v| {
                for e in &p.price {
                    v.prices.insert(e.product_id, e.price_fen);
                }
            }),
            ServerMessage::PayDone(p) => {
                let waiting = self.view().awaiting_payment.contains(&p.order_no);
                if !waiting || !p.paydone {
                    return;
                }
                let product_id = 1;
                let done = ProductDone {
                    vmc_no: self.vmc_no,
                    product_name: format!("coffee {product_id}"),
                    product_id,
                    product_amount: p.product_amount,
                    pay_type: PayType::QrPay,
                    is_ok: true,
                    order_no: p.order_no.clone(),
                };
                if self.send(done.into()).await.is_ok() {
                    stats.dispensed.fetch_add(1, Ordering::Relaxed);
                    self.update(|v| {
                        v.dispensed += 1;
                        v.awaiting_payment.retain(|o| *o != p.order_no);
                    });
                }
            }
            _ => {}
        }
    }
}

/// A running simulation.
pub struct Sim {
    config: SimConfig,
    machines: Vec<Arc<Machine>>,
    by_vmc: HashMap<u64, usize>,
    /// Counters over all machines.
    pub stats: Arc<Stats>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Sim {
    /// Starts every machine.
    pub async fn start(config: SimConfig) -> Arc<Self> {
        let mut machines = Vec::new();
        let mut by_vmc = HashMap::new();
        for i in 0..config.machines {
            let vmc_no = config.first_vmc + u64::from(i);
            // Eight hex digits are always a valid code.
            let Ok(code) = MachineCode::new(machine_code(config.seed, vmc_no)) else {
                continue;
            };
            by_vmc.insert(vmc_no, machines.len());
            machines.push(Arc::new(Machine {
                vmc_no,
                code,
                view: Mutex::new(MachineView {
                    prices: default_prices(),
                    ..MachineView::default()
                }),
                changed: tokio::sync::Notify::new(),
                client: tokio::sync::Mutex::new(None),
                handle: Mutex::new(None),
                orders: AtomicU64::new(0),
                rng: Mutex::new(SplitMix64::seeded(config.seed.wrapping_add(vmc_no))),
            }));
        }
        let sim = Arc::new(Self {
            config,
            machines,
            by_vmc,
            stats: Arc::new(Stats::default()),
            background: Mutex::new(Vec::new()),
        });
        for m in &sim.machines {
            sim.connect(m).await;
        }
        for m in &sim.machines {
            sim.start_chatter(m.clone());
        }
        sim
    }

    /// Every machine.
    pub fn machines(&self) -> &[Arc<Machine>] {
        &self.machines
    }

    /// Machine `vmc_no`.
    pub fn machine(&self, vmc_no: u64) -> Option<Arc<Machine>> {
        self.by_vmc.get(&vmc_no).map(|i| self.machines[*i].clone())
    }

    /// The codes to provision: `(vmc_no, code)`.
    pub fn codes(&self) -> Vec<(u64, String)> {
        self.machines
            .iter()
            .map(|m| (m.vmc_no, m.code.expose().to_owned()))
            .collect()
    }

    async fn connect(&self, m: &Arc<Machine>) {
        let session = MachineSession::new(
            MachineConfig::new(m.vmc_no, m.code.clone(), "sim-1.0")
                .heartbeat(self.config.heartbeat),
        );
        let backoff = BackoffConfig::default()
            .initial(self.config.reconnect_initial)
            .max(self.config.reconnect_max);
        let client_config = ClientConfig::default()
            .backoff(backoff)
            .stable_after(Duration::from_secs(1))
            .jitter_seed(self.config.seed ^ m.vmc_no.rotate_left(17));
        let addr = self.config.server;
        let index = usize::try_from(m.vmc_no.wrapping_sub(self.config.first_vmc)).unwrap_or(0);
        let source = (!self.config.sources.is_empty())
            .then(|| self.config.sources[index % self.config.sources.len()]);
        let (client, mut events) =
            Client::spawn(session, move || connect(addr, source), client_config);
        *m.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(client.handle());
        *m.client.lock().await = Some(client);
        let (machine, stats) = (m.clone(), self.stats.clone());
        tokio::spawn(async move {
            let mut connected_at = None;
            while let Some(event) = events.recv().await {
                machine.on_event(event, &mut connected_at, &stats).await;
            }
        });
    }

    fn start_chatter(self: &Arc<Self>, m: Arc<Machine>) {
        let (sale_every, report_every) = (self.config.sale_every, self.config.report_every);
        if sale_every.is_none() && report_every.is_none() {
            return;
        }
        let stats = self.stats.clone();
        let task = tokio::spawn(async move {
            loop {
                // Exponential waits around the means, drawn from the machine's seeded generator.
                let wait = |mean: Duration, m: &Machine| {
                    mean.mul_f64(-(1.0 - m.random()).max(1e-9).ln().min(10.0))
                };
                let next_sale = sale_every.map(|d| wait(d, &m));
                let next_report = report_every.map(|d| wait(d, &m));
                let delay = [next_sale, next_report]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(Duration::from_secs(3600));
                tokio::time::sleep(delay).await;
                if !m.view().logged_in {
                    continue;
                }
                if next_sale == Some(delay) {
                    let product = 1 + u32::try_from(m.pick(4)).unwrap_or(0);
                    let _ = m.buy(product.min(4), &stats).await;
                } else if m.random() < 0.5 {
                    let _ = m.report_status(m.random() < 0.5).await;
                } else {
                    let code = format!("E{:02}", m.pick(20));
                    let _ = m.report_error(&code, m.random() < 0.7).await;
                }
            }
        });
        self.background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task);
    }

    /// Powers a machine off (its connection closes gracefully).
    pub async fn stop_machine(&self, vmc_no: u64) {
        let Some(m) = self.machine(vmc_no) else {
            return;
        };
        *m.handle.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(client) = m.client.lock().await.take() {
            let _ = client.shutdown().await;
        }
        m.update(|v| v.logged_in = false);
    }

    /// Powers a stopped machine on again.
    pub async fn start_machine(&self, vmc_no: u64) {
        if let Some(m) = self.machine(vmc_no) {
            if m.client.lock().await.is_none() {
                self.connect(&m).await;
            }
        }
    }

    /// Stops every machine.
    pub async fn shutdown(&self) {
        for t in self
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
        for m in &self.machines {
            *m.handle.lock().unwrap_or_else(PoisonError::into_inner) = None;
            if let Some(client) = m.client.lock().await.take() {
                let _ = client.shutdown().await;
            }
        }
    }
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("vmc_no", &self.vmc_no)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("machines", &self.machines.len())
            .finish_non_exhaustive()
    }
}
