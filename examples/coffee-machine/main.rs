//! Simulated coffee machines against a coffee server, and its load generator.
//!
//! ```text
//! cargo run --example coffee-machine -- --server 127.0.0.1:9100 --machines 10 --seed 7
//! cargo run --release --example coffee-machine -- --server 127.0.0.1:9100 --machines 10000 --print-codes > codes.txt
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
    #[arg(long)]
    qrcode_rate: Option<f64>,
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
    let server = cli.server.ok_or("--server ADDR is required")?;
    let mut config = sim::SimConfig::new(server, cli.machines, cli.seed);
    config.first_vmc = cli.first_vmc;
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
