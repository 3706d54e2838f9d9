//! The foot-scanner station (aliscan): the station program beside a (simulated) 3D scanner. Pads connect over
//! WebSocket at `/aliscan`; the pad page is served at `/` on the same port.
//!
//! ```text
//! cargo run --example station                                   # http://127.0.0.1:8090/
//! cargo run --example station -- --cloud-sim                    # uploads go to a local stand-in cloud
//! cargo run --example station -- --config-dir conf --fail-step c3 --points 5000
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (station, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

// Shared with the demo and the tests, which use more of it.
#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aliscan_proto::CalibrationStep;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "station",
    version,
    about = "Foot-scanner station (aliscan) with its pad page"
)]
struct Cli {
    /// Where pads connect: the page at `/`, the WebSocket at `/aliscan`.
    #[arg(long, default_value = "0.0.0.0:8090")]
    listen: SocketAddr,
    /// Store (`fleet.db`) and scan files (`scans/`).
    #[arg(long, default_value = "data/station")]
    data_dir: PathBuf,
    /// A `postgres://` URL: keep the records in PostgreSQL.
    #[arg(long, env = "STATION_DATABASE_URL")]
    database_url: Option<String>,
    /// Folder of the spec's `.server.json` (intervals, QR code, statistics period).
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// The station's device id (first part of every scanId).
    #[arg(long, default_value = "DEV0001")]
    device_id: String,
    /// Calibration step that fails (`left`, `right`, `compute`, `c1`..`c8`, `8compute`).
    #[arg(long, value_parser = parse_step)]
    fail_step: Option<CalibrationStep>,
    /// Points in every scan's cloud (fewer than --min-points fails the scan with 100205).
    #[arg(long)]
    points: Option<u64>,
    /// The point-count threshold.
    #[arg(long, default_value_t = 20_000)]
    min_points: u64,
    /// Milliseconds a scan captures (`scanning`).
    #[arg(long, default_value_t = 2500)]
    scan_ms: u64,
    /// Milliseconds a scan computes (`computing`).
    #[arg(long, default_value_t = 2000)]
    compute_ms: u64,
    /// Milliseconds one calibration step takes.
    #[arg(long, default_value_t = 1200)]
    calibrate_ms: u64,
    /// Base URL of the cloud the records are uploaded to.
    #[arg(long)]
    cloud_url: Option<String>,
    /// Serve a simulated cloud at `/cloud` on the same port and upload there.
    #[arg(long)]
    cloud_sim: bool,
    /// Seed of the simulated scanner.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn parse_step(s: &str) -> Result<CalibrationStep, String> {
    let step = CalibrationStep::from(s);
    if app::scanner::STEPS.contains(&step) {
        Ok(step)
    } else {
        Err(format!(
            "unknown calibration step `{s}` (left, right, compute, c1..c8, 8compute)"
        ))
    }
}

fn settings(cli: &Cli) -> Result<app::Settings, app::Error> {
    let mut s = app::Settings {
        device_id: cli.device_id.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        cloud_sim: cli.cloud_sim,
        ..app::Settings::default()
    };
    if let Some(dir) = &cli.config_dir {
        s.read_config_dir(dir)?;
    }
    s.scanner.fail_step.clone_from(&cli.fail_step);
    s.scanner.points = cli.points;
    s.scanner.min_points = cli.min_points;
    s.scanner.scan_time = Duration::from_millis(cli.scan_ms);
    s.scanner.compute_time = Duration::from_millis(cli.compute_ms);
    s.scanner.calibrate_time = Duration::from_millis(cli.calibrate_ms);
    s.scanner.seed = cli.seed;
    if cli.cloud_url.is_some() {
        s.upload.cloud.clone_from(&cli.cloud_url);
    }
    Ok(s)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    fleet::telemetry::init_logging_with(fleet::LogFormat::Text, "info");
    let settings = match settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("station: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("station: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::serve(settings, cli.listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("station: {e}");
            ExitCode::FAILURE
        }
    }
}
