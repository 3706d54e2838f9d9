//! Load tool for the foot-scanner station: a station in this process, `--pads` pad sessions (device-core's,
//! over WebSocket on loopback) as the load.
//!
//! It measures (1) how long a status change takes to reach every pad: one pad books and releases the station
//! `--changes` times, each change timed from the command until the last pad has the push; (2) `files/scan/list`
//! of `--records` records, the pad's round trip, against the bare store query of the same rows plus the JSON
//! encode of the page, measured in the same run.
//!
//! ```text
//! cargo run --release --example station-pads -- --pads 50 --changes 200 --records 100 --lists 200
//! ```
#![forbid(unsafe_code)]
// The modules are shared by several binaries (station, demo, tests): `pub` marks their interface.
#![allow(unreachable_pub)]

#[allow(dead_code)]
#[path = "../station/app.rs"]
mod app;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aliscan_proto::{ScanPage, Sex, StationStatus};
use clap::Parser;
use device_core::aliscan::{PadCommand, PadConfig, PadEvent, PadReply, PadSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};

#[derive(Parser, Debug)]
#[command(
    name = "station-pads",
    about = "Load tool: pads against the foot-scanner station"
)]
struct Cli {
    /// Pads connected at once.
    #[arg(long, default_value_t = 50)]
    pads: usize,
    /// Status changes timed.
    #[arg(long, default_value_t = 200)]
    changes: usize,
    /// Records in the store for the list measurement.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// `files/scan/list` calls timed (and as many baseline queries).
    #[arg(long, default_value_t = 200)]
    lists: usize,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The nearest-rank percentile, `per_mille` of 1000.
fn percentile(sorted: &[Duration], per_mille: u64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let last = sorted.len() - 1;
    let rank = (last as u64 * per_mille + 500) / 1000;
    sorted[usize::try_from(rank).unwrap_or(last).min(last)]
}

fn summary(name: &str, mut v: Vec<Duration>) -> Duration {
    v.sort();
    let mean = v.iter().sum::<Duration>() / u32::try_from(v.len().max(1)).unwrap_or(1);
    println!(
        "{name:<46} n={:<5} mean {:>9.3} ms  p50 {:>9.3} ms  p99 {:>9.3} ms  max {:>9.3} ms",
        v.len(),
        mean.as_secs_f64() * 1e3,
        percentile(&v, 500).as_secs_f64() * 1e3,
        percentile(&v, 990).as_secs_f64() * 1e3,
        v.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    percentile(&v, 500)
}

async fn run(cli: Cli) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let mut settings = app::Settings {
        data_dir: dir.path().to_path_buf(),
        init_time: Duration::from_millis(10),
        statistics_every: None,
        ..app::Settings::default()
    };
    settings.upload.cloud = None;
    settings.scanner.model_bytes = 16 * 1024;
    settings.scanner.data_dir = dir.path().join("scans");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = app::start_on(settings.clone(), listener).await?;
    while running.station.state().status != StationStatus::Free {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The records: one computed scan, copied under distinct ids and times.
    let template = app::scanner::compute(
        &settings.scanner,
        "DEV0001-20260101-000000",
        &Sex::Female,
        100_000,
        1,
    )
    .map_err(|c| format!("compute: {}", app::code_text(c)))?;
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or("date")?;
    for i in 0..cli.records {
        let t = base + chrono::Duration::seconds(i64::try_from(i)?);
        let mut r = template.clone();
        r.scan_id = Some(format!("DEV0001-{}", t.format("%Y%m%d-%H%M%S")));
        r.request_id = Some(format!("req-{i}"));
        r.sex = Some(Sex::Female);
        r.create_time = aliscan_proto::StationTime::new(t);
        running
            .records
            .put(&r)
            .map_err(|c| format!("put: {}", app::code_text(c)))?;
    }
    running.records.flush().await;

    // The pads.
    let url = format!("ws://{}/aliscan", running.addr);
    let received: Arc<Mutex<Vec<Vec<Instant>>>> = Arc::new(Mutex::new(vec![Vec::new(); cli.pads]));
    let mut clients = Vec::new();
    for i in 0..cli.pads {
        let (client, mut events) = Client::connect_ws(
            PadSession::new(PadConfig::new(format!("pad-{i}"))),
            url.clone(),
            ClientConfig::default(),
        );
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let received = received.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            while let Some(e) = events.recv().await {
                match e {
                    ClientEvent::Session(PadEvent::Connected(_)) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    ClientEvent::Session(PadEvent::Status(s))
                        if matches!(s.status, StationStatus::Booking | StationStatus::Free) =>
                    {
                        let now = Instant::now();
                        if let Ok(mut all) = received.lock() {
                            all[i].push(now);
                        }
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), ready_rx)
            .await
            .map_err(|_| format!("pad-{i} did not connect"))??;
        clients.push(client);
    }
    // Only the pushes of the timed changes count (each pad was also sent the status when it connected).
    tokio::time::sleep(Duration::from_millis(200)).await;
    received
        .lock()
        .map_err(|_| "poisoned")?
        .iter_mut()
        .for_each(Vec::clear);
    println!(
        "station on {}; {} pads connected; {} records stored",
        running.addr,
        cli.pads,
        running.records.all().len()
    );

    // (1) Status change -> every pad.
    let mut fanout = Vec::new();
    let driver = clients[0].handle();
    for k in 0..cli.changes {
        let command = if k % 2 == 0 {
            PadCommand::Book
        } else {
            PadCommand::Reset
        };
        let sent = Instant::now();
        match driver.call(command).await {
            Ok(Some(PadReply::Status(_))) => {}
            other => return Err(format!("change {k}: {other:?}").into()),
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let last = {
                let all = received.lock().map_err(|_| "poisoned")?;
                if all.iter().all(|v| v.len() > k) {
                    all.iter().map(|v| v[k]).max()
                } else {
                    None
                }
            };
            if let Some(last) = last {
                fanout.push(last.saturating_duration_since(sent));
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("change {k} did not reach every pad").into());
            }
            tokio::task::yield_now().await;
        }
    }

    // (2) files/scan/list of the records vs the bare store query + JSON encode.
    let size = u32::try_from(cli.records.min(100))?;
    let mut listed = Vec::new();
    for _ in 0..cli.lists {
        let t = Instant::now();
        match driver
            .call(PadCommand::ListRecords {
                page: 1,
                page_size: size,
            })
            .await
        {
            Ok(Some(PadReply::Records(p))) if p.list.len() == size as usize => {}
            other => return Err(format!("list: {:?}", other.map(|r| r.map(|_| ()))).into()),
        }
        listed.push(t.elapsed());
    }
    let mut bare = Vec::new();
    let mut bytes = 0;
    for _ in 0..cli.lists {
        let t = Instant::now();
        let rows = running.records.newest_from_store(i64::from(size)).await?;
        let page = ScanPage {
            count: rows.len() as u64,
            page: 1,
            page_size: size,
            list: rows,
        };
        bytes = serde_json::to_vec(&page)?.len();
        bare.push(t.elapsed());
    }

    println!();
    let fan = summary(&format!("status change -> all {} pads", cli.pads), fanout);
    let list = summary(&format!("files/scan/list of {size} over WebSocket"), listed);
    let base = summary(
        &format!("baseline: store query of {size} + JSON encode"),
        bare,
    );
    println!(
        "\nlist page {} KiB; list / baseline (p50) = {:.2}; fan-out p50 per pad = {:.1} us",
        bytes / 1024,
        list.as_secs_f64() / base.as_secs_f64().max(1e-9),
        fan.as_secs_f64() * 1e6 / cli.pads.max(1) as f64
    );
    for c in clients {
        let _ = c.shutdown().await;
    }
    running.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    fleet::telemetry::init_logging(fleet::LogFormat::Text);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("station-pads: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("station-pads: {e}");
            ExitCode::FAILURE
        }
    }
}
