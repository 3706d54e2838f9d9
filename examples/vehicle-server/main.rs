//! The e-bike vehicle server (kingxun WebSvr): the mini-program API over HTTP, the binary AES link to one or
//! more vehicle instances, users and their vehicles in the store, the fleet admin API and dashboard.
//!
//! ```text
//! cargo run --example vehicle-instance -- --vehicles 100      # in one terminal (link on 127.0.0.1:9300)
//! cargo run --example vehicle-server                          # in another: API on :8090, dashboard on :8080
//! cargo run --example vehicle-server -- --instance instance-1=127.0.0.1:9300 --instance instance-2=127.0.0.1:9301
//! cargo run --example vehicle-server -- --config vehicle.toml
//! ```
//! Both processes must use the same store (`--data-dir`, or `--database-url`): the instances write the
//! vehicles' status and history there, the server reads it.
#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "vehicle-server",
    version,
    about = "E-bike vehicle server (kingxun WebSvr)"
)]
struct Cli {
    #[command(flatten)]
    common: fleet::CommonArgs,
    /// Where the mini-program API listens (`http.listen`).
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<String>,
    /// A vehicle instance as `NAME=ADDR` (repeat for several; replaces `[[instances]]`).
    #[arg(long = "instance", value_name = "NAME=ADDR")]
    instances: Vec<String>,
}

fn load(cli: &Cli) -> Result<app::config::VehicleConfig, String> {
    let mut overrides = cli.common.overrides("fleet");
    if let Some(a) = &cli.http_listen {
        overrides.push(("http.listen".into(), toml::Value::String(a.clone())));
    }
    let mut config: app::config::VehicleConfig = fleet::config::load(
        cli.common.config.as_deref(),
        app::config::ENV_PREFIX,
        &overrides,
        &cli.common.sets,
    )
    .map_err(|e| e.to_string())?;
    if !cli.instances.is_empty() {
        config.instances = cli
            .instances
            .iter()
            .map(|s| {
                let (name, addr) = s
                    .split_once('=')
                    .ok_or_else(|| format!("--instance `{s}`: expected NAME=ADDR"))?;
                let addr = addr
                    .parse()
                    .map_err(|e| format!("--instance `{s}`: address: {e}"))?;
                Ok(app::config::InstanceEntry {
                    name: name.to_owned(),
                    addr,
                })
            })
            .collect::<Result<_, String>>()?;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vehicle-server: {e}");
            return ExitCode::from(2);
        }
    };
    fleet::telemetry::init_logging_with(config.fleet.log_format, app::LOG_DEFAULT);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vehicle-server: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vehicle-server: {e}");
            ExitCode::FAILURE
        }
    }
}
