//! The attendance and access management server: terminals connect over raw TCP and WebSocket (access),
//! operators manage people and read attendance through the admin API and the dashboard.
//!
//! ```text
//! cargo run --example access-server                          # serve, defaults, store under ./data
//! cargo run --example access-server -- --config access.toml  # serve with a config file
//! cargo run --example access-server -- --terminals-listen 0.0.0.0:9300 --ws-listen 0.0.0.0:9301
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

// Shared with the demo and the tests, which use more of it.
#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "access-server",
    version,
    about = "Attendance and access management server (access terminals over TCP and WebSocket)"
)]
struct Cli {
    #[command(flatten)]
    common: fleet::CommonArgs,
    /// Where terminals connect over raw TCP (`terminals.listen`).
    #[arg(long, value_name = "ADDR")]
    terminals_listen: Option<String>,
    /// Where terminals connect over WebSocket (`terminals.ws_listen`).
    #[arg(long, value_name = "ADDR")]
    ws_listen: Option<String>,
}

fn load(cli: &Cli) -> Result<app::config::AccessConfig, fleet::ConfigError> {
    let mut overrides = cli.common.overrides("fleet");
    for (key, value) in [
        ("terminals.listen", &cli.terminals_listen),
        ("terminals.ws_listen", &cli.ws_listen),
    ] {
        if let Some(v) = value {
            overrides.push((key.into(), toml::Value::String(v.clone())));
        }
    }
    fleet::config::load(
        cli.common.config.as_deref(),
        app::config::ENV_PREFIX,
        &overrides,
        &cli.common.sets,
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("access-server: {e}");
            return ExitCode::from(2);
        }
    };
    fleet::telemetry::init_logging_with(config.fleet.log_format, app::LOG_DEFAULT);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("access-server: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("access-server: {e}");
            ExitCode::FAILURE
        }
    }
}
