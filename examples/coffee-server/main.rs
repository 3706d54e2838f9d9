//! The coffee-machine operator server: machines connect over TCP (jetinno), operators use the admin API and
//! the dashboard.
//!
//! ```text
//! cargo run --example coffee-server                          # serve, defaults, store under ./data
//! cargo run --example coffee-server -- --config coffee.toml  # serve with a config file
//! cargo run --example coffee-server -- machines add 1001 12345678 --name lobby
//! cargo run --example coffee-server -- machines import codes.txt   # `VMC_NO CODE [NAME]` lines, `-`: stdin
//! cargo run --example coffee-server -- machines list
//! cargo run --example coffee-server -- machines remove 1001
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (server, simulator, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

// Shared with the demo and the tests, which use more of it.
#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "coffee-server",
    version,
    about = "Coffee-machine operator server (jetinno)"
)]
struct Cli {
    #[command(flatten)]
    common: fleet::CommonArgs,
    /// Where machines connect (`machines.listen`).
    #[arg(long, value_name = "ADDR")]
    machines_listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Provision machines in the store.
    Machines {
        #[command(subcommand)]
        action: MachinesCommand,
    },
}

#[derive(Subcommand, Debug)]
enum MachinesCommand {
    /// Register a machine: its number (vmc_no) and its 8-character code.
    Add {
        /// Machine number.
        vmc_no: u64,
        /// The machine's 8-character code.
        code: String,
        /// Name shown on the dashboard.
        #[arg(long)]
        name: Option<String>,
    },
    /// Register many machines in one transaction from a file of `VMC_NO CODE [NAME]` lines (`#` starts a
    /// comment; `-` reads standard input), such as `coffee-machine --print-codes` writes. Machines registered
    /// already are skipped; a malformed line stops the import before anything is written.
    Import {
        /// The file, or `-`.
        file: std::path::PathBuf,
    },
    /// List registered machines.
    List,
    /// Remove a machine (it can no longer log in; its queued commands are cancelled).
    Remove {
        /// Machine number.
        vmc_no: u64,
    },
}

fn load(cli: &Cli) -> Result<app::config::CoffeeConfig, fleet::ConfigError> {
    let mut overrides = cli.common.overrides("fleet");
    if let Some(a) = &cli.machines_listen {
        overrides.push(("machines.listen".into(), toml::Value::String(a.clone())));
    }
    fleet::config::load(
        cli.common.config.as_deref(),
        app::config::ENV_PREFIX,
        &overrides,
        &cli.common.sets,
    )
}

async fn machines(
    config: app::config::CoffeeConfig,
    action: MachinesCommand,
) -> Result<(), app::Error> {
    let fleet = app::open_fleet(&config).await?;
    match action {
        MachinesCommand::Add { vmc_no, code, name } => {
            app::link::check_code(&code).map_err(|e| format!("code: {e}"))?;
            let id = vmc_no.to_string();
            let d = fleet
                .add_device(&id, name.as_deref().unwrap_or(&id), &code)
                .await?;
            println!("added machine {} ({})", d.id, d.name);
        }
        MachinesCommand::Import { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| format!("{}: {e}", file.display()))?;
            let machines = parse_machines(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let added = fleet.add_devices(&machines).await?;
            println!(
                "added {} machines, {} registered already",
                added.len(),
                machines.len() - added.len()
            );
        }
        MachinesCommand::List => {
            println!(
                "{:<12} {:<24} {:<14} last seen (UTC)",
                "vmc_no", "name", "version"
            );
            let mut after: Option<String> = None;
            loop {
                let page = fleet.store().devices(after.as_deref(), 1000).await?;
                for d in &page {
                    let seen = d
                        .last_seen
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map_or_else(
                            || "never".to_owned(),
                            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        );
                    println!(
                        "{:<12} {:<24} {:<14} {seen}",
                        d.id,
                        d.name,
                        d.version.as_deref().unwrap_or("-")
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 1000 => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
        MachinesCommand::Remove { vmc_no } => {
            if fleet.remove_device(&vmc_no.to_string()).await? {
                println!("removed machine {vmc_no}");
            } else {
                return Err(format!("no machine {vmc_no}").into());
            }
        }
    }
    fleet.shutdown().await;
    Ok(())
}

/// Parses `VMC_NO CODE [NAME]` lines into `(id, name, code)`; an error names the line.
fn parse_machines(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(vmc), Some(code)) = (parts.next(), parts.next().map(str::trim)) else {
            return Err(format!("line {n}: expected `VMC_NO CODE [NAME]`"));
        };
        let vmc: u64 = vmc
            .parse()
            .map_err(|e| format!("line {n}: machine number `{vmc}`: {e}"))?;
        app::link::check_code(code).map_err(|e| format!("line {n}: code: {e}"))?;
        let id = vmc.to_string();
        if !seen.insert(vmc) {
            return Err(format!("line {n}: machine {vmc} is listed twice"));
        }
        let name = parts.next().map(str::trim).filter(|s| !s.is_empty());
        out.push((id.clone(), name.unwrap_or(&id).to_owned(), code.to_owned()));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("coffee-server: {e}");
            return ExitCode::from(2);
        }
    };
    fleet::telemetry::init_logging_with(config.fleet.log_format, app::LOG_DEFAULT);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("coffee-server: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => app::serve(config).await,
            Some(Command::Machines { action }) => machines(config, action).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffee-server: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_machines;

    #[test]
    fn import_lines_parse_and_errors_name_the_line() {
        let ok =
            parse_machines("# provisioned\n1001 0a1b2c3d\n\n1002 12345678 lobby left\n").unwrap();
        assert_eq!(
            ok,
            vec![
                ("1001".into(), "1001".into(), "0a1b2c3d".into()),
                ("1002".into(), "lobby left".into(), "12345678".into()),
            ]
        );
        assert_eq!(
            parse_machines("1001\n").unwrap_err(),
            "line 1: expected `VMC_NO CODE [NAME]`"
        );
        assert!(parse_machines("1001 1234\n")
            .unwrap_err()
            .starts_with("line 1: code"));
        assert!(parse_machines("x 12345678\n")
            .unwrap_err()
            .starts_with("line 1: machine number"));
        assert_eq!(
            parse_machines("1 12345678\n1 12345678\n").unwrap_err(),
            "line 2: machine 1 is listed twice"
        );
    }
}
