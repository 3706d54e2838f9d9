//! The devproto demo: every reference deployment and its simulators in one process on loopback ports, one
//! section each: a coffee server and machines (logins, a sale, a price push, an offline command), a meeting
//! platform and terminals over WebSocket and MQTT (a meeting pushed, a photo upload cut and resumed, check-ins,
//! attendance), a foot-scanner station and a pad (book, scan, record, upload to the simulated cloud), an e-bike
//! vehicle server and instance (register, bind, ride, lock, trip, a bad hash refused), an access server and
//! terminals (a person pushed, records, one made while the server was down), each with a summary table.
//!
//! ```text
//! cargo run --example demo            # run the scenario, exit 0 when every step passed
//! cargo run --example demo -- --serve # then keep running: dashboard URL and admin token are printed
//! ```
//! Each deployment adds its steps in a module of its own (`coffee.rs`, `meeting.rs`, `station.rs`,
//! `vehicle.rs`, `access.rs`).
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
#[allow(dead_code)]
#[path = "../meeting-platform/app.rs"]
mod meeting;
#[allow(dead_code)]
#[path = "../meeting-terminal/sim.rs"]
mod meeting_sim;
#[path = "meeting.rs"]
mod meeting_steps;
mod scenario;
#[allow(dead_code)]
#[path = "../station/app.rs"]
mod station;
#[path = "station.rs"]
mod station_steps;
mod vehicle;
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../vehicle-app/client.rs"]
mod vehicle_app;
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../vehicle-instance/app.rs"]
mod vehicle_instance;
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../vehicle-server/app.rs"]
mod vehicle_server;

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
    let (mut meet, mut pads, mut bikes) = match (
        meeting_steps::Meeting::new(cli.seed),
        station_steps::Demo::new(),
        vehicle::Vehicle::new(),
    ) {
        (Ok(m), Ok(p), Ok(v)) => (m, p, v),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut access = access_steps::Access::default();
    // One section per deployment, in order; a failed step ends the run.
    let mut failed = section("coffee fleet", &mut ctx, &coffee_steps::steps()).await;
    if failed.is_none() {
        let title = "meeting rooms over WebSocket and MQTT";
        failed = section(title, &mut meet, &meeting_steps::steps()).await;
    }
    if failed.is_none() {
        failed = section("foot-scanner station", &mut pads, &station_steps::steps()).await;
    }
    if failed.is_none() {
        failed = section("e-bike vehicles", &mut bikes, &vehicle::steps()).await;
    }
    if failed.is_none() {
        failed = section("access terminals", &mut access, &access_steps::steps()).await;
    }
    if failed.is_none() && cli.serve {
        if let Some(server) = &ctx.server {
            println!();
            println!("dashboard:   http://{}/", server.admin_addr);
            println!("admin token: {}", ctx.token);
            println!("machines:    {}", server.machines_addr);
            if let Some(m) = &meet.platform {
                println!(
                    "meetings:    best-w ws://{}/best, best-m {}, lookup http://{}, dashboard http://{}/",
                    m.ws_addr,
                    m.broker.url(),
                    m.lookup_addr,
                    m.admin_addr
                );
            }
            if let Some(st) = &pads.station {
                println!("pad page:    http://{}/", st.addr);
            }
            if let Some(v) = &bikes.server {
                println!(
                    "vehicles:    API http://{}/, dashboard http://{}/",
                    v.http_addr, v.admin_addr
                );
            }
            if let Some(a) = &access.server {
                println!(
                    "access:      terminals tcp {} and ws {}, dashboard http://{}/ (token {})",
                    a.tcp_addr,
                    a.ws_addr,
                    a.admin_addr,
                    access_steps::TOKEN
                );
            }
            println!("Ctrl-C to stop.");
            fleet::telemetry::shutdown_signal().await;
        }
    }
    ctx.stop().await;
    meet.stop().await;
    pads.stop().await;
    bikes.stop().await;
    access.stop().await;
    match failed {
        None => ExitCode::SUCCESS,
        Some(step) => {
            eprintln!("demo: step `{step}` failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs one deployment's steps under a heading and prints its summary; the name of the first failed step.
async fn section<C>(title: &str, ctx: &mut C, steps: &[scenario::Step<C>]) -> Option<&'static str> {
    println!("\ndevproto demo: {title} ({} steps)", steps.len());
    let outcomes = scenario::run(ctx, steps).await;
    scenario::print_summary(&outcomes, steps.len());
    outcomes.iter().find(|o| !o.ok).map(|o| o.name)
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
