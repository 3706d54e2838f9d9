//! The devproto demo: a coffee server and simulated coffee machines in one process on loopback ports, a
//! scenario that exercises the fleet (logins, a sale, a price push, an offline command), a summary table.
//!
//! ```text
//! cargo run --example demo            # run the scenario, exit 0 when every step passed
//! cargo run --example demo -- --serve # then keep running: dashboard URL and admin token are printed
//! ```
//! Each deployment adds its steps in a module of its own (`coffee.rs`).
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

#[path = "coffee.rs"]
mod coffee_steps;
#[allow(dead_code)]
#[path = "../meeting-platform/app.rs"]
mod meeting;
#[allow(dead_code)]
#[path = "../meeting-terminal/sim.rs"]
mod meeting_sim;
#[path = "meeting.rs"]
mod meeting_steps;
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
    if failed.is_none() {
        failed = meeting_steps::run(cli.seed).await;
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
        std::env::set_var("RUST_LOG", "warn");
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
