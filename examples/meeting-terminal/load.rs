//! The simulator as a load generator: commands posted through the admin API at a steady rate to the online
//! terminals (time from `POST` to the terminal's `dev.cmd.response`, as the platform records it), and one large
//! upload timed against the bare cost of its bytes (base64 both ways and MD5) measured in the same run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fleet::client::AdminClient;

use super::sim::Sim;

/// The serial numbers of `sim`'s terminals that are logged in.
pub fn online(sim: &Sim) -> Vec<String> {
    sim.terminals
        .iter()
        .filter(|t| t.local().online)
        .map(|t| t.sn.clone())
        .collect()
}

/// p50, p99 and max of `v` (sorted here).
fn percentiles(v: &mut [i64]) -> (i64, i64, i64) {
    if v.is_empty() {
        return (0, 0, 0);
    }
    v.sort_unstable();
    // Nearest rank: the value below which `percent` % of the samples fall.
    let at = |percent: usize| v[((v.len() - 1) * percent).div_ceil(100).min(v.len() - 1)];
    (at(50), at(99), v[v.len() - 1])
}

/// Posts `cmd.data.update.user` at `rate` per second for `secs` to the terminals `online` in turn (here or in
/// another process), then reads
/// every command back: `created_at` is the `POST`, `finished_at` the platform's record of the terminal's
/// `dev.cmd.response` (both ms).
///
/// # Errors
/// The API refused a command or could not be read.
pub async fn commands(
    online: &[String],
    api: SocketAddr,
    token: Option<String>,
    rate: u32,
    secs: u64,
) -> Result<String, String> {
    let client = AdminClient::new(api, token);
    if online.is_empty() {
        return Err("no terminal to command".into());
    }
    let total = u64::from(rate) * secs;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let sn = online[usize::try_from(i).unwrap_or(0) % online.len()].clone();
        let client = client.clone();
        posts.spawn(async move {
            let body = serde_json::json!({
                "cmd": "cmd.data.update.user",
                "params": { "users": [{ "pin": format!("{}", 100_000 + i), "firstName": format!("load {i}"), "funSwitch": "0", "disable": "0" }] }
            });
            let r = client
                .post(&format!("/api/devices/{sn}/commands"), &body)
                .await
                .map_err(|e| e.to_string())?;
            if !(200..300).contains(&r.status) {
                return Err(format!("POST command to {sn}: {} {}", r.status, r.text()));
            }
            r.json()["id"]
                .as_i64()
                .ok_or_else(|| format!("no command id in {}", r.text()))
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = posts.join_next().await {
        ids.push(r.map_err(|e| e.to_string())??);
    }
    let posted_in = started.elapsed();
    // Let the last ones finish, then read them all back.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut latencies = Vec::with_capacity(ids.len());
    let mut states = std::collections::BTreeMap::<String, u64>::new();
    for id in &ids {
        loop {
            let c = client
                .get(&format!("/api/commands/{id}"))
                .await
                .map_err(|e| e.to_string())?
                .json();
            let state = c["state"].as_str().unwrap_or("?").to_owned();
            let pending = matches!(state.as_str(), "queued" | "sending" | "sent");
            if pending && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            if state == "acked" {
                if let (Some(a), Some(b)) = (c["created_at"].as_i64(), c["finished_at"].as_i64()) {
                    latencies.push(b - a);
                }
            }
            *states.entry(state).or_default() += 1;
            break;
        }
    }
    let (p50, p99, max) = percentiles(&mut latencies);
    Ok(format!(
        "commands: {} posted in {:.1} s ({:.0}/s) to {} terminals; states {states:?}; POST to dev.cmd.response p50 {p50} ms p99 {p99} ms max {max} ms",
        ids.len(),
        posted_in.as_secs_f64(),
        ids.len() as f64 / posted_in.as_secs_f64(),
        online.len(),
    ))
}

/// Uploads `mib` MiB from the first online terminal and compares its throughput with base64 encoding and
/// decoding plus MD5 of the same bytes in this process (the least any BEST upload costs).
///
/// # Errors
/// No terminal online, or the upload failed.
pub async fn upload(sim: &Sim, mib: u32) -> Result<String, String> {
    use base64::Engine as _;
    let t = sim
        .terminals
        .iter()
        .find(|t| t.local().online)
        .ok_or("no terminal online")?;
    let len = usize::try_from(mib).unwrap_or(1) * 1024 * 1024;
    let data: bytes::Bytes = (0..len)
        .map(|i| u8::try_from((i * 31 + 7) % 251).unwrap_or(0))
        .collect::<Vec<u8>>()
        .into();
    // The baseline: what the bytes cost without a protocol, chunk by chunk as the upload sends them.
    let base = Instant::now();
    let mut decoded = 0usize;
    for chunk in data.chunks(64 * 1024) {
        let text = base64::engine::general_purpose::STANDARD.encode(chunk);
        decoded += base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| e.to_string())?
            .len();
    }
    let digest = best_proto::Checksum::of(&data);
    let base = base.elapsed();
    let file_id = format!("load{}", std::process::id());
    let started = Instant::now();
    let report = t
        .upload(&file_id, data.clone(), None, Duration::from_secs(600))
        .await?;
    let took = started.elapsed();
    if report.code != best_proto::Code::Success || decoded != len {
        return Err(format!("upload refused: {report:?}"));
    }
    let mb = len as f64 / 1e6;
    Ok(format!(
        "upload: {mib} MiB from {} in {:.3} s = {:.1} MB/s; base64 both ways + MD5 of the same bytes {:.3} s = {:.1} MB/s; ratio {:.1}x (md5 {})",
        t.sn,
        took.as_secs_f64(),
        mb / took.as_secs_f64(),
        base.as_secs_f64(),
        mb / base.as_secs_f64(),
        took.as_secs_f64() / base.as_secs_f64(),
        hex::encode(digest.0),
    ))
}
