//! The devproto demo: a coffee server and simulated coffee machines in one process on loopback ports, a
//! scenario that exercises the fleet (logins, a sale, a price push, an offline command), a summary table;
//! then an access server with simulated terminals (a person pushed, records, one made while it was down).
//!
//! ```text
//! cargo run --example demo            # run the scenario, exit 0 when every step passed
//! cargo run --example demo -- --serve # then keep running: dashboard URL and admin token are printed
//! ```
//! Each deployment adds its steps in a module of its own (`coffee.rs`, `access.rs`).
#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

// Shared with the coffee-server example and its tests, which use other parts.
#[allow(dead_code)]
#[path = "../coffee-server/app.rs"]
mod coffee;
#[allow(dead_code)]
#[path = "../coffee-machine/sim.rs"]
mod sim;

#[allow(dead_code)]
#[path = "../access-server/app.rs"]
mod access;
#[allow(dead_code)]
#[path = "../access-terminal/sim.rs"]
mod access_sim;
#[path = "access.rs"]
mod access_steps;
#[path = "coffee.rs"]
mod coffee_steps;
mod scenario;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "demo",
    version,
    about = "Runs the devproto fleet demo scenario"
)]
struct Cli {
    /// Keep running after the scenario (Ctrl-C to stop).
    #[arg(long)]
    serve: bool,
    /// Seed of the simulated machines.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

async fn run(cli: Cli) -> ExitCode {
    let mut ctx = match coffee_steps::Coffee::new(cli.seed) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let steps = coffee_steps::steps();
    println!("devproto demo: coffee fleet ({} steps)", steps.len());
    let outcomes = scenario::run(&mut ctx, &steps).await;
    scenario::print_summary(&outcomes, steps.len());
    let mut failed = outcomes.iter().find(|o| !o.ok).map(|o| o.name);
    let mut access = access_steps::Access::default();
    if failed.is_none() {
        failed = access.run().await;
    }
    if failed.is_none() && cli.serve {
        if let Some(server) = &ctx.server {
            println!();
            println!("dashboard:   http://{}/", server.admin_addr);
            println!("admin token: {}", ctx.token);
            println!("machines:    {}", server.machines_addr);
            println!("Ctrl-C to stop.");
            fleet::telemetry::shutdown_signal().await;
        }
    }
    ctx.stop().await;
    access.stop().await;
    match failed {
        None => ExitCode::SUCCESS,
        Some(step) => {
            eprintln!("demo: step `{step}` failed");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Quiet by default: the progress and the summary are the output.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,device_core::runtime::client=error");
    }
    fleet::telemetry::init_logging(fleet::LogFormat::Text);
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
