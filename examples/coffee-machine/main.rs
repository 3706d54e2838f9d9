//! Simulated coffee machines against a coffee server, and its load generator.
//!
//! ```text
//! cargo run --example coffee-machine -- --server 127.0.0.1:9100 --machines 10 --seed 7
//! cargo run --release --example coffee-machine -- --machines 10000 --print-codes > codes.txt
//! cargo run --release --example coffee-server -- machines import codes.txt
//! cargo run --release --example coffee-machine -- --server 127.0.0.1:9100 --machines 10000 \
//!     --sale-every 0 --report-every 0 --duration 60                      # login storm, then steady heartbeats
//! cargo run --release --example coffee-machine -- --server 127.0.0.1:9100 --machines 10000 \
//!     --orders-per-sec 500 --duration 30                                  # qrcode round trips under load
//! cargo run --release --example coffee-machine -- --api 127.0.0.1:8080 --api-requests 500   # admin API p99
//! ```
//! Every machine logs in with the code `machine_code(seed, vmc_no)`; `--print-codes` prints the
//! `vmc_no code` pairs to provision (`coffee-server machines add VMC_NO CODE`).
#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

// Shared with the demo, which uses more of it.
#[allow(dead_code)]
#[path = "sim.rs"]
mod sim;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "coffee-machine",
    version,
    about = "Simulated jetinno coffee machines and load generator"
)]
struct Cli {
    /// The coffee server's machine address.
    #[arg(long, value_name = "ADDR")]
    server: Option<SocketAddr>,
    /// Connect from this many loopback addresses in turn (127.0.0.2, 127.0.0.3, ...), so a fleet simulated on
    /// one host arrives from many sources as a real one does (0: the system's choice).
    #[arg(long, default_value_t = 0)]
    sources: u8,
    /// Heartbeat interval in seconds (jetinno: 20).
    #[arg(long, default_value_t = 20.0)]
    heartbeat_secs: f64,
    /// The coffee server's admin address: time `--api-requests` sequential `GET --api-path` requests
    /// (after the machines logged in, when `--server` is given too) and report p50/p99.
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// Requests of the `--api` measurement.
    #[arg(long, default_value_t = 200)]
    api_requests: u32,
    /// Route of the `--api` measurement.
    #[arg(long, default_value = "/api/devices")]
    api_path: String,
    /// Number of machines.
    #[arg(long, default_value_t = 1)]
    machines: u32,
    /// First machine number.
    #[arg(long, default_value_t = 1001)]
    first_vmc: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean seconds between random sales per machine (0: none).
    #[arg(long, default_value_t = 60.0)]
    sale_every: f64,
    /// Mean seconds between status/error reports per machine (0: none).
    #[arg(long, default_value_t = 120.0)]
    report_every: f64,
    /// Print the `vmc_no code` pairs to provision and exit.
    #[arg(long)]
    print_codes: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// After all machines logged in, run this many `qrcode` requests per second for `--duration` and report
    /// the round trips.
    #[arg(long, alias = "orders-per-sec", value_name = "PER_SEC")]
    qrcode_rate: Option<f64>,
}

/// Times `n` sequential `GET path` requests; prints p50/p99 and the body size.
async fn measure_api(addr: SocketAddr, path: &str, n: u32) -> Result<(), String> {
    let client = fleet::client::AdminClient::new(addr, None);
    let mut times = Vec::with_capacity(n as usize);
    let mut bytes = 0;
    for _ in 0..n.max(1) {
        let started = Instant::now();
        let r = client
            .get(path)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        times.push(started.elapsed());
        if r.status != 200 {
            return Err(format!("GET {path}: HTTP {}: {}", r.status, r.text()));
        }
        bytes = r.text().len();
    }
    let (p50, p99) = sim::percentiles(&mut times);
    println!(
        "GET {path}: {} requests, {bytes} bytes each; p50 {} p99 {}",
        times.len(),
        fmt(p50),
        fmt(p99)
    );
    Ok(())
}

fn secs(s: f64) -> Option<Duration> {
    (s > 0.0).then(|| Duration::from_secs_f64(s))
}

fn fmt(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".into(),
        |d| format!("{:.2} ms", d.as_secs_f64() * 1000.0),
    )
}

async fn run(cli: Cli) -> Result<(), String> {
    if cli.print_codes {
        for i in 0..cli.machines {
            let vmc = cli.first_vmc + u64::from(i);
            println!("{vmc} {}", sim::machine_code(cli.seed, vmc));
        }
        return Ok(());
    }
    let Some(server) = cli.server else {
        let api = cli.api.ok_or("--server ADDR (or --api ADDR) is required")?;
        return measure_api(api, &cli.api_path, cli.api_requests).await;
    };
    let mut config = sim::SimConfig::new(server, cli.machines, cli.seed);
    config.first_vmc = cli.first_vmc;
    config.heartbeat = secs(cli.heartbeat_secs).ok_or("--heartbeat-secs must be positive")?;
    config.sources = (0..cli.sources.min(250))
        .map(|i| std::net::IpAddr::from([127, 0, 0, 2 + i]))
        .collect();
    config.reconnect_initial = Duration::from_secs(1);
    config.reconnect_max = Duration::from_secs(60);
    if cli.qrcode_rate.is_none() {
        config.sale_every = secs(cli.sale_every);
        config.report_every = secs(cli.report_every);
    }
    let started = Instant::now();
    let sim = sim::Sim::start(config).await;
    let n = u64::from(cli.machines);
    let login_deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let logins = sim.stats.logins.load(Ordering::Relaxed);
        if logins >= n || Instant::now() > login_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let storm = started.elapsed();
    let logins = sim.stats.logins.load(Ordering::Relaxed);
    let (p50, p99) = sim.stats.login_percentiles();
    println!(
        "logins: {logins}/{n} in {:.2} s ({:.0}/s), refused {}; login p50 {} p99 {}",
        storm.as_secs_f64(),
        logins as f64 / storm.as_secs_f64().max(1e-9),
        sim.stats.refused.load(Ordering::Relaxed),
        fmt(p50),
        fmt(p99)
    );
    if let Some(api) = cli.api {
        measure_api(api, &cli.api_path, cli.api_requests).await?;
    }
    let stop = async {
        match cli.duration {
            Some(d) => tokio::time::sleep(Duration::from_secs_f64(d)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    if let Some(rate) = cli.qrcode_rate.filter(|r| *r > 0.0) {
        let machines = sim.machines().to_vec();
        let sim2 = sim.clone();
        let load = async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            let mut i = 0usize;
            loop {
                tick.tick().await;
                let m = machines[i % machines.len()].clone();
                i += 1;
                let stats = sim2.stats.clone();
                tokio::spawn(async move {
                    let _ = m.buy(1, &stats).await;
                });
            }
        };
        tokio::select! {
            () = stop => {}
            () = load => {}
        }
        let (q50, q99) = sim.stats.qrcode_percentiles();
        println!(
            "qrcode: {} answered, {} failed; p50 {} p99 {}",
            sim.stats.qrcodes.load(Ordering::Relaxed),
            sim.stats.qrcode_failures.load(Ordering::Relaxed),
            fmt(q50),
            fmt(q99)
        );
    } else {
        stop.await;
        let (q50, q99) = sim.stats.qrcode_percentiles();
        println!(
            "sales: {} qrcodes, {} dispensed; qrcode p50 {} p99 {}",
            sim.stats.qrcodes.load(Ordering::Relaxed),
            sim.stats.dispensed.load(Ordering::Relaxed),
            fmt(q50),
            fmt(q99)
        );
    }
    sim.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    fleet::telemetry::init_logging(fleet::LogFormat::Text);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coffee-machine: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffee-machine: {e}");
            ExitCode::FAILURE
        }
    }
}
