//! Simulated attendance/access terminals against an access server: they identify themselves, keep the
//! people the server pushes, and produce access records for them, buffered while the server is away.
//!
//! ```text
//! cargo run --example access-terminal -- --server 127.0.0.1:9200 --terminals 10 --transport tcp
//! cargo run --example access-terminal -- --server 127.0.0.1:9201 --terminals 10 --transport ws \
//!     --records-per-sec 50 --data-dir sim-data --duration 60
//! ```
#![forbid(unsafe_code)]
// The module is shared with the demo and the tests: `pub` marks its interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "sim.rs"]
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "access-terminal",
    version,
    about = "Simulated access terminals"
)]
struct Cli {
    /// The server's terminal listener (TCP, or the WebSocket listener with `--transport ws`).
    #[arg(long, default_value = "127.0.0.1:9200")]
    server: std::net::SocketAddr,
    /// Number of terminals.
    #[arg(long, default_value_t = 1)]
    terminals: u32,
    /// `tcp` or `ws`.
    #[arg(long, default_value = "tcp")]
    transport: sim::Transport,
    /// Number of the first terminal (uuids `SIM-T00001`, ...).
    #[arg(long, default_value_t = 1)]
    first: u32,
    /// `community_code` the terminals report.
    #[arg(long, default_value = "C1")]
    community: String,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep each terminal's record buffer in a file under this directory (survives restarts of both sides).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Access records per second over all terminals (0: none).
    #[arg(long, default_value_t = 0.0)]
    records_per_sec: f64,
    /// Stop after this many seconds, once every record is answered (0: run until Ctrl-C).
    #[arg(long, default_value_t = 0)]
    duration: u64,
    /// Print a status line every this many seconds (0: never).
    #[arg(long, default_value_t = 5)]
    report_every: u64,
}

fn report(s: &sim::Sim, started: Instant) {
    let st = &s.stats;
    let mut lat = st.take_latencies();
    let p50 = sim::quantile(&mut lat, 0.5).unwrap_or_default();
    let p99 = sim::quantile(&mut lat, 0.99).unwrap_or_default();
    let connected = s.terminals.iter().filter(|t| t.view().connected).count();
    println!(
        "t={:>5.1}s connected={connected}/{} pushes={} produced={} uploaded={} pending={} refused={} retries={} \
         upload p50={:.1}ms p99={:.1}ms ({} samples)",
        started.elapsed().as_secs_f64(),
        s.terminals.len(),
        st.pushes.load(Ordering::Relaxed),
        st.produced.load(Ordering::Relaxed),
        st.uploaded.load(Ordering::Relaxed),
        s.pending(),
        st.refused.load(Ordering::Relaxed),
        st.retries.load(Ordering::Relaxed),
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        lat.len(),
    );
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut config = sim::SimConfig::new(cli.server, cli.transport, cli.terminals, cli.seed);
    config.first = cli.first;
    config.community = cli.community;
    config.data_dir = cli.data_dir;
    let s = sim::Sim::start(config)
        .await
        .map_err(|e| format!("record buffer: {e}"))?;
    let started = Instant::now();
    let stop_at =
        (cli.duration > 0).then(|| tokio::time::Instant::now() + Duration::from_secs(cli.duration));
    let mut tick = tokio::time::interval(if cli.records_per_sec > 0.0 {
        Duration::from_secs_f64((1.0 / cli.records_per_sec).max(0.000_1))
    } else {
        Duration::from_secs(3600)
    });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut reports = tokio::time::interval(Duration::from_secs(cli.report_every.max(1)));
    reports.tick().await;
    let ctrl_c = fleet::telemetry::shutdown_signal();
    tokio::pin!(ctrl_c);
    let mut next = 0usize;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = tick.tick(), if cli.records_per_sec > 0.0 && stop_at.is_none_or(|t| tokio::time::Instant::now() < t) => {
                let t = &s.terminals[next % s.terminals.len()];
                next += 1;
                if let Err(e) = t.produce_random() {
                    return Err(format!("{}: record buffer: {e}", t.uuid));
                }
            }
            _ = reports.tick(), if cli.report_every > 0 => report(&s, started),
            _ = tokio::time::sleep(Duration::from_millis(100)), if stop_at.is_some() => {
                if stop_at.is_some_and(|t| tokio::time::Instant::now() >= t) && s.pending() == 0 {
                    break;
                }
            }
        }
    }
    report(&s, started);
    s.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "error");
    }
    fleet::telemetry::init_logging(fleet::LogFormat::Text);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("access-terminal: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("access-terminal: {e}");
            ExitCode::FAILURE
        }
    }
}
