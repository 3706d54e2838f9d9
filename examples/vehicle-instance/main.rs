//! A kingxun svrInstance with simulated e-bikes: the vehicle server (WebSvr) links to it over the binary AES
//! link and sends it 4001-4005, 4020, 4040 and 4041; it writes the bikes' status, positions, events and trips
//! into the store it shares with the server.
//!
//! ```text
//! cargo run --example vehicle-instance -- --vehicles 100
//! cargo run --example vehicle-instance -- --vehicles 5000 --name instance-2 --first-id 20001 --listen 127.0.0.1:9301
//! cargo run --example vehicle-instance -- --database-url postgres://user:pass@host/db --vehicles 10000
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (instance, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "vehicle-instance",
    version,
    about = "Kingxun svrInstance with simulated e-bikes"
)]
struct Cli {
    /// Number of simulated vehicles.
    #[arg(long, default_value_t = 10)]
    vehicles: u32,
    /// Where the vehicle server connects.
    #[arg(long, default_value = "127.0.0.1:9300")]
    listen: SocketAddr,
    /// This instance's name (the server's `[[instances]] name`).
    #[arg(long, default_value = "instance-1")]
    name: String,
    /// devId of the first vehicle; the others follow.
    #[arg(long, default_value_t = 1001)]
    first_id: u32,
    /// devType of the vehicles.
    #[arg(long, default_value_t = 1)]
    dev_type: u8,
    /// Seed of placement, batteries and alarms.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds between simulation steps (and history writes).
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// Riding speed, m/s.
    #[arg(long, default_value_t = 5.0)]
    speed: f64,
    /// Initial KEY of the link, 32 hex digits (default: the demo key, `kingxun-demo-key`).
    #[arg(long, env = "VEHICLE_LINK_KEY")]
    key: Option<String>,
    /// Initial IV of the link, 32 hex digits (default: the demo IV, `kingxun-demo-iv!`).
    #[arg(long, env = "VEHICLE_LINK_IV")]
    iv: Option<String>,
    /// Store directory (SQLite `fleet.db`), shared with the vehicle server.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// PostgreSQL or SQLite URL of the store shared with the vehicle server (instead of `--data-dir`).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

async fn run(cli: Cli) -> Result<(), app::Error> {
    let mut settings = app::InstanceSettings::default();
    if let Some(k) = &cli.key {
        settings.key = app::parse_key("--key", k)?;
    }
    if let Some(iv) = &cli.iv {
        settings.iv = app::parse_key("--iv", iv)?;
    }
    if cli.tick_ms == 0 {
        return Err("--tick-ms: must be at least 1".into());
    }
    if !(cli.speed.is_finite() && cli.speed >= 0.0) {
        return Err("--speed: must be a non-negative number".into());
    }
    settings.tick = Duration::from_millis(cli.tick_ms);
    settings.bikes.instance = cli.name;
    settings.bikes.vehicles = cli.vehicles;
    settings.bikes.first_id = cli.first_id;
    settings.bikes.dev_type = cli.dev_type;
    settings.bikes.seed = cli.seed;
    settings.bikes.speed_mps = cli.speed;
    let store = app::open_store(cli.database_url.as_deref(), &cli.data_dir).await?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", cli.listen))?;
    let running = app::start(store, listener, settings).await?;
    println!(
        "vehicle instance: {} vehicles, link on {}",
        running.vehicle_count(),
        running.addr
    );
    fleet::telemetry::shutdown_signal().await;
    running.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    fleet::telemetry::init_logging_with(fleet::LogFormat::Text, "info");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vehicle-instance: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vehicle-instance: {e}");
            ExitCode::FAILURE
        }
    }
}
