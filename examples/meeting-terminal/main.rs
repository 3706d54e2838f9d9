//! Simulated BEST meeting terminals: the platform's test peer and load generator.
//!
//! ```text
//! cargo run --example meeting-terminal -- --lookup http://127.0.0.1:9301 --terminals 10 --transport mqtt
//! cargo run --example meeting-terminal -- --print-keys --terminals 10 > keys.txt   # for `terminals import`
//! ```
#![forbid(unsafe_code)]
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "sim.rs"]
mod sim;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "meeting-terminal",
    version,
    about = "Simulated BEST meeting terminals"
)]
struct Cli {
    /// The platform's broker lookup, `http://HOST:PORT`.
    #[arg(long, default_value = "http://127.0.0.1:9301")]
    lookup: String,
    /// How many terminals.
    #[arg(long, default_value_t = 1)]
    terminals: u32,
    /// Number of the first terminal.
    #[arg(long, default_value_t = 1)]
    first: u32,
    /// Serial number prefix.
    #[arg(long, default_value = "MT")]
    prefix: String,
    /// `ws` (best-w) or `mqtt` (best-m).
    #[arg(long, default_value = "ws")]
    transport: sim::Transport,
    /// Seed of the secret keys, nonces and backoff jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print `SN PRODUCT SECRET_KEY` lines for `meeting-platform terminals import` and exit.
    #[arg(long)]
    print_keys: bool,
    /// Run the optional key exchange (X25519) before onboarding, on every connection.
    #[arg(long)]
    key_exchange: bool,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration_secs: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_keys {
        for i in cli.first..cli.first + cli.terminals {
            let sn = sim::sn(&cli.prefix, i);
            println!("{sn} {} {}", sim::PRODUCT, sim::secret_key(cli.seed, &sn));
        }
        return ExitCode::SUCCESS;
    }
    fleet::telemetry::init_logging_with(fleet::LogFormat::Text, "info");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meeting-terminal: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut config = sim::SimConfig::new(cli.lookup, cli.terminals, cli.transport, cli.seed);
        config.first = cli.first;
        config.prefix = cli.prefix;
        config.key_exchange = cli.key_exchange;
        let sim = sim::Sim::start(config);
        let started = tokio::time::Instant::now();
        let stop = async {
            match cli.duration_secs {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => fleet::telemetry::shutdown_signal().await,
            }
        };
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = tick.tick() => println!(
                    "{:>6.1}s online {}/{} logins {} commands {} lookup failures {} refused {}",
                    started.elapsed().as_secs_f64(),
                    sim.online(),
                    sim.terminals.len(),
                    sim.stats.logins.load(Ordering::Relaxed),
                    sim.stats.commands.load(Ordering::Relaxed),
                    sim.stats.lookup_failures.load(Ordering::Relaxed),
                    sim.stats.refused.load(Ordering::Relaxed),
                ),
            }
        }
        sim.stop();
    });
    ExitCode::SUCCESS
}
