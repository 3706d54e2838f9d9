//! Simulated BEST meeting terminals: the platform's test peer and load generator.
//!
//! ```text
//! cargo run --example meeting-terminal -- --lookup http://127.0.0.1:9301 --terminals 10 --transport mqtt
//! cargo run --example meeting-terminal -- --print-keys --terminals 10 > keys.txt   # for `terminals import`
//! # as a load generator, once every terminal is online:
//! cargo run --release --example meeting-terminal -- --terminals 5000 --transport mqtt \
//!     --api 127.0.0.1:9080 --token T --commands-per-sec 200 --load-secs 30   # POST -> dev.cmd.response p99
//! cargo run --release --example meeting-terminal -- --upload-mib 10        # upload throughput vs base64+MD5
//! ```
#![forbid(unsafe_code)]
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "sim.rs"]
mod sim;

mod load;

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
    /// Stop after this many seconds (default: run until Ctrl-C, or until the loads below are done).
    #[arg(long)]
    duration_secs: Option<u64>,
    /// The platform's admin API, `HOST:PORT`, for `--commands-per-sec`.
    #[arg(long)]
    api: Option<std::net::SocketAddr>,
    /// The admin token.
    #[arg(long)]
    token: Option<String>,
    /// Once every terminal is online, post this many `cmd.data.update.user` per second through the API for
    /// `--load-secs` and report the time from `POST` to `dev.cmd.response`.
    #[arg(long)]
    commands_per_sec: Option<u32>,
    /// With `--commands-per-sec`: start no terminals, command terminals `--prefix`, `--first`, `--terminals` that
    /// run elsewhere (another simulator process holding them online).
    #[arg(long)]
    api_only: bool,
    /// Seconds of command load.
    #[arg(long, default_value_t = 30)]
    load_secs: u64,
    /// Once every terminal is online, upload a file of this many MiB from one and report its throughput
    /// against base64 + MD5 of the same bytes.
    #[arg(long)]
    upload_mib: Option<u32>,
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
        if cli.api_only {
            let (Some(api), Some(rate)) = (cli.api, cli.commands_per_sec) else {
                eprintln!("meeting-terminal: --api-only needs --api and --commands-per-sec");
                return ExitCode::FAILURE;
            };
            let sns: Vec<String> = (config.first..config.first + config.terminals)
                .map(|i| sim::sn(&config.prefix, i))
                .collect();
            return match load::commands(&sns, api, cli.token.clone(), rate, cli.load_secs).await {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("meeting-terminal: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let sim = sim::Sim::start(config);
        let started = tokio::time::Instant::now();
        if cli.commands_per_sec.is_some() || cli.upload_mib.is_some() {
            let n = sim.terminals.len();
            if !sim.wait_online(n, Duration::from_secs(600)).await {
                eprintln!(
                    "meeting-terminal: only {}/{n} terminals online after 600 s",
                    sim.online()
                );
                return ExitCode::FAILURE;
            }
            println!(
                "{n} terminals online in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let mut failed = false;
            if let Some(mib) = cli.upload_mib {
                match load::upload(&sim, mib).await {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("meeting-terminal: {e}");
                        failed = true;
                    }
                }
            }
            if let Some(rate) = cli.commands_per_sec {
                let Some(api) = cli.api else {
                    eprintln!("meeting-terminal: --commands-per-sec needs --api");
                    return ExitCode::FAILURE;
                };
                let online = load::online(&sim);
                match load::commands(&online, api, cli.token.clone(), rate, cli.load_secs).await {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("meeting-terminal: {e}");
                        failed = true;
                    }
                }
            }
            if let Some(s) = cli.duration_secs {
                tokio::time::sleep_until(started + Duration::from_secs(s)).await;
            }
            sim.stop();
            return if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
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
        ExitCode::SUCCESS
    })
}
