//! The BEST meeting-room platform: terminals connect over WebSocket (best-w, `/best`) or MQTT (best-m, the
//! embedded broker or `--mqtt-url`), find their broker with the HTTP lookup, and get meetings and people pushed
//! as `cmd.data.*` commands; operators use the admin API and the dashboard.
//!
//! ```text
//! cargo run --example meeting-platform                                   # embedded broker, store under ./data
//! cargo run --example meeting-platform -- --mqtt-url mqtt://127.0.0.1:1883
//! cargo run --example meeting-platform -- products add meeting-v1 "Meeting terminal v1"
//! cargo run --example meeting-platform -- terminals add MT000001 meeting-v1 SECRETKEY --name "Room 1"
//! cargo run --example meeting-platform -- terminals import keys.txt      # `SN PRODUCT SECRET_KEY [NAME]`, `-`: stdin
//! cargo run --example meeting-platform -- terminals list
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (platform, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "app.rs"]
mod app;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "meeting-platform",
    version,
    about = "BEST meeting-room platform (best-w and best-m)"
)]
struct Cli {
    #[command(flatten)]
    common: fleet::CommonArgs,
    /// An external MQTT broker, `mqtt://HOST:PORT` (`mqtt.url`); without it the embedded broker runs.
    #[arg(long, value_name = "URL")]
    mqtt_url: Option<String>,
    /// Where best-w terminals connect (`terminals.ws_listen`).
    #[arg(long, value_name = "ADDR")]
    ws_listen: Option<String>,
    /// Where the broker lookup listens (`terminals.lookup_listen`).
    #[arg(long, value_name = "ADDR")]
    lookup_listen: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the platform (the default).
    Serve,
    /// Products (the devKey salt of their terminals).
    Products {
        #[command(subcommand)]
        action: ProductsCommand,
    },
    /// Provision terminals in the store.
    Terminals {
        #[command(subcommand)]
        action: TerminalsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ProductsCommand {
    /// Add a product.
    Add {
        /// Product id.
        id: String,
        /// Name.
        name: String,
    },
    /// List the products.
    List,
}

#[derive(Subcommand, Debug)]
enum TerminalsCommand {
    /// Register a terminal: serial number, product, secret key.
    Add {
        /// Serial number.
        sn: String,
        /// Product id.
        product_id: String,
        /// The secret key written at production.
        secret_key: String,
        /// Name shown on the dashboard.
        #[arg(long)]
        name: Option<String>,
    },
    /// Register terminals from `SN PRODUCT SECRET_KEY [NAME]` lines (`#` starts a comment, `-` reads standard
    /// input), such as `meeting-terminal --print-keys` writes; stops at the first bad line.
    Import {
        /// The file, or `-`.
        file: std::path::PathBuf,
    },
    /// List the terminals.
    List,
}

fn load(cli: &Cli) -> Result<app::config::MeetingConfig, fleet::ConfigError> {
    let mut overrides = cli.common.overrides("fleet");
    let s = |v: &str| toml::Value::String(v.to_owned());
    if let Some(u) = &cli.mqtt_url {
        overrides.push(("mqtt.url".into(), s(u)));
    }
    if let Some(a) = &cli.ws_listen {
        overrides.push(("terminals.ws_listen".into(), s(a)));
    }
    if let Some(a) = &cli.lookup_listen {
        overrides.push(("terminals.lookup_listen".into(), s(a)));
    }
    fleet::config::load(
        cli.common.config.as_deref(),
        app::config::ENV_PREFIX,
        &overrides,
        &cli.common.sets,
    )
}

/// One import line: serial number, product, secret key, name.
type TerminalLine = (String, String, String, Option<String>);

/// Parses `SN PRODUCT SECRET_KEY [NAME]` lines; an error names the line.
fn parse_terminals(text: &str) -> Result<Vec<TerminalLine>, String> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let mut parts = line.splitn(4, char::is_whitespace);
        let (Some(sn), Some(product), Some(key)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("line {n}: expected `SN PRODUCT SECRET_KEY [NAME]`"));
        };
        app::meetings::check_sn(sn).map_err(|e| format!("line {n}: {e}"))?;
        if !seen.insert(sn.to_owned()) {
            return Err(format!("line {n}: terminal {sn} is listed twice"));
        }
        let name = parts
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        out.push((sn.to_owned(), product.to_owned(), key.to_owned(), name));
    }
    Ok(out)
}

async fn provision(config: app::config::MeetingConfig, command: Command) -> Result<(), app::Error> {
    let (fleet, meetings) = app::open(&config).await?;
    match command {
        Command::Products {
            action: ProductsCommand::Add { id, name },
        } => {
            let p = meetings.add_product(&id, &name).await?;
            println!("added product {} ({})", p.id, p.name);
        }
        Command::Products {
            action: ProductsCommand::List,
        } => {
            for p in meetings.products().await? {
                println!("{:<40} {}", p.id, p.name);
            }
        }
        Command::Terminals {
            action:
                TerminalsCommand::Add {
                    sn,
                    product_id,
                    secret_key,
                    name,
                },
        } => {
            let t = meetings
                .add_terminal(&sn, &product_id, &secret_key, name.as_deref())
                .await?;
            println!("added terminal {} of {}", t.sn, t.product_id);
        }
        Command::Terminals {
            action: TerminalsCommand::Import { file },
        } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| format!("{}: {e}", file.display()))?;
            let lines = parse_terminals(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let mut added = 0;
            for (sn, product, key, name) in &lines {
                match meetings
                    .add_terminal(sn, product, key, name.as_deref())
                    .await
                {
                    Ok(_) => added += 1,
                    Err(app::meetings::MeetingError::Conflict(_)) => {}
                    Err(e) => return Err(format!("terminal {sn}: {e}").into()),
                }
            }
            println!(
                "added {added} terminals, {} registered already",
                lines.len() - added
            );
        }
        Command::Terminals {
            action: TerminalsCommand::List,
        } => {
            println!(
                "{:<20} {:<36} {:<10} {:<10} transport",
                "sn", "product", "registered", "accredited"
            );
            let mut after: Option<String> = None;
            loop {
                let page = meetings.terminals(after.as_deref(), 1000).await?;
                for t in &page {
                    println!(
                        "{:<20} {:<36} {:<10} {:<10} {}",
                        t.sn,
                        t.product_id,
                        t.registered,
                        t.accredited,
                        t.transport.as_deref().unwrap_or("-")
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 1000 => after = Some(last.sn.clone()),
                    _ => break,
                }
            }
        }
        Command::Serve => {}
    }
    fleet.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("meeting-platform: {e}");
            return ExitCode::from(2);
        }
    };
    fleet::telemetry::init_logging_with(config.fleet.log_format, app::LOG_DEFAULT);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meeting-platform: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => app::serve(config).await,
            Some(command) => provision(config, command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meeting-platform: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_terminals;

    #[test]
    fn import_lines_parse_and_errors_name_the_line() {
        let ok = parse_terminals("# keys\nMT1 p1 k1\n\nMT2 p1 k2 Room two\n").unwrap();
        assert_eq!(
            ok[1],
            (
                "MT2".into(),
                "p1".into(),
                "k2".into(),
                Some("Room two".into())
            )
        );
        assert_eq!(ok.len(), 2);
        assert_eq!(
            parse_terminals("MT1 p1\n").unwrap_err(),
            "line 1: expected `SN PRODUCT SECRET_KEY [NAME]`"
        );
        assert!(parse_terminals("a/b p k\n")
            .unwrap_err()
            .starts_with("line 1: `sn`"));
        assert_eq!(
            parse_terminals("A p k\nA p k\n").unwrap_err(),
            "line 2: terminal A is listed twice"
        );
    }
}
