//! A command-line stand-in for the e-bike mini-program: signs its requests with kingxun-proto's `hash`.
//!
//! ```text
//! cargo run --example vehicle-app -- register 13800000000 s3cret-pass Alice
//! cargo run --example vehicle-app -- login 13800000000 s3cret-pass
//! cargo run --example vehicle-app -- devs
//! cargo run --example vehicle-app -- bind 1001
//! cargo run --example vehicle-app -- unlock 1001 --allow-time 30
//! cargo run --example vehicle-app -- status 1001
//! cargo run --example vehicle-app -- pos 1001
//! cargo run --example vehicle-app -- lock 1001
//! cargo run --example vehicle-app -- trips 1001
//! cargo run --release --example vehicle-app -- load --dev-ids 1001-1200 --rate 200 --duration 30
//! ```
//! `register` and `login` keep the session in `--session FILE` (default `vehicle-app-session.json`); the other
//! commands sign with it. Each prints the server's JSON answer; a non-zero `errCode` exits 1.
#![forbid(unsafe_code)]
// The modules are shared by several binaries (app, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "client.rs"]
mod client;
mod load;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "vehicle-app", version, about = "E-bike mini-program stand-in")]
struct Cli {
    /// The vehicle server's mini-program API.
    #[arg(long, default_value = "127.0.0.1:8090")]
    server: SocketAddr,
    /// Where the session of `register` / `login` is kept.
    #[arg(long, default_value = "vehicle-app-session.json")]
    session: PathBuf,
    /// devType of the vehicles.
    #[arg(long, default_value_t = 1)]
    dev_type: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Registers a user (the secret is the `authCode`) and keeps the session.
    Register {
        /// Mobile phone.
        phone: String,
        /// Secret, 6 to 128 characters.
        secret: String,
        /// Nickname.
        nickname: String,
    },
    /// Logs in (phone or openid, and the secret) and keeps the session.
    Login {
        /// Mobile phone or openid.
        login: String,
        /// Secret.
        secret: String,
    },
    /// Lists the user's vehicles.
    Devs,
    /// Binds a vehicle to the user as its owner.
    Bind {
        /// devId.
        dev_id: u32,
    },
    /// Unbinds a vehicle.
    Unbind {
        /// devId.
        dev_id: u32,
    },
    /// Unlocks a vehicle.
    Unlock {
        /// devId.
        dev_id: u32,
        /// Minutes the ride may last (0: no limit).
        #[arg(long, default_value_t = 0)]
        allow_time: u16,
        /// Lowest state of charge, percent.
        #[arg(long, default_value_t = 10)]
        lowest_soc: u8,
        /// Farthest distance, metres (0: no limit).
        #[arg(long, default_value_t = 0)]
        farthest: u32,
    },
    /// Locks a vehicle (ends the ride).
    Lock {
        /// devId.
        dev_id: u32,
    },
    /// The vehicle's status.
    Status {
        /// devId.
        dev_id: u32,
    },
    /// The vehicle's position (and the ride's track while ridden).
    Pos {
        /// devId.
        dev_id: u32,
    },
    /// The vehicle's trips of the last `--hours` hours.
    Trips {
        /// devId.
        dev_id: u32,
        /// How far back.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
    /// Load mode: one user per vehicle (registered and bound now), then unlock/lock toggles at `--rate`
    /// signed requests per second for `--duration` seconds; prints the round trip to the RespCode.
    Load {
        /// Vehicles, as `1001-1200,20001-20200` (none may be bound yet).
        #[arg(long)]
        dev_ids: String,
        /// Requests per second, all vehicles together.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Seconds of load.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// First a `devStatus` phase at the same rate (no link), to compare with.
        #[arg(long)]
        baseline: bool,
    },
    /// The vehicle's events of the last `--hours` hours.
    Events {
        /// devId.
        dev_id: u32,
        /// How far back.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

fn load_session(path: &PathBuf) -> Result<(u32, String), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run `login` first)", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let usr = v["usrId"]
        .as_u64()
        .and_then(|u| u32::try_from(u).ok())
        .ok_or_else(|| format!("{}: no usrId", path.display()))?;
    let session = v["usrSessionId"]
        .as_str()
        .ok_or_else(|| format!("{}: no usrSessionId", path.display()))?;
    Ok((usr, session.to_owned()))
}

fn save_session(path: &PathBuf, session: &(u32, String)) -> Result<(), String> {
    let v = serde_json::json!({ "usrId": session.0, "usrSessionId": session.1 });
    std::fs::write(path, v.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

async fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let mut app = client::AppClient::new(cli.server);
    let ty = cli.dev_type;
    let since = |hours: u64| client::now_ms().saturating_sub(hours.saturating_mul(3_600_000));
    let answer = match cli.command {
        Command::Register {
            phone,
            secret,
            nickname,
        } => {
            let v = app.register(&phone, &secret, &nickname).await;
            if let Some(s) = &app.session {
                save_session(&cli.session, s)?;
            }
            v
        }
        Command::Login { login, secret } => {
            let v = app.login(&login, &secret).await;
            if let Some(s) = &app.session {
                save_session(&cli.session, s)?;
            }
            v
        }
        Command::Load {
            dev_ids,
            rate,
            duration,
            baseline,
        } => {
            let ids = load::parse_ids(&dev_ids)?;
            let report = load::run(
                cli.server,
                ty,
                ids,
                rate,
                std::time::Duration::from_secs(duration),
                baseline,
            )
            .await?;
            return Ok(serde_json::Value::String(report));
        }
        command => {
            app.session = Some(load_session(&cli.session)?);
            match command {
                Command::Devs => app.devs().await,
                Command::Bind { dev_id } => app.bind(dev_id, ty).await,
                Command::Unbind { dev_id } => app.unbind(dev_id, ty).await,
                Command::Unlock {
                    dev_id,
                    allow_time,
                    lowest_soc,
                    farthest,
                } => {
                    app.unlock(dev_id, ty, (allow_time, lowest_soc, farthest))
                        .await
                }
                Command::Lock { dev_id } => app.lock(dev_id, ty).await,
                Command::Status { dev_id } => app.status(dev_id, ty).await,
                Command::Pos { dev_id } => app.position(dev_id, ty).await,
                Command::Trips { dev_id, hours } => {
                    app.trips(dev_id, ty, since(hours), client::now_ms()).await
                }
                Command::Events { dev_id, hours } => {
                    app.events(dev_id, ty, since(hours), client::now_ms()).await
                }
                Command::Register { .. } | Command::Login { .. } | Command::Load { .. } => {
                    return Err("register and login are handled above".into())
                }
            }
        }
    };
    answer.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vehicle-app: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(v) => {
            // A report (the load mode's) is text; an answer is JSON.
            match v {
                serde_json::Value::String(text) => println!("{text}"),
                v => println!("{}", client::pretty(&v)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vehicle-app: {e}");
            ExitCode::FAILURE
        }
    }
}
