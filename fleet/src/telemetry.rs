//! Prometheus metrics and logging.
//!
//! Metrics (all prefixed `fleet_`):
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `fleet_devices_connected` | gauge | |
//! | `fleet_devices_registered` | gauge | |
//! | `fleet_logins_total` | counter | `result` = `ok` / `refused` |
//! | `fleet_messages_in_total` | counter | `name` (wire message name) |
//! | `fleet_messages_out_total` | counter | `name` |
//! | `fleet_decode_errors_total` | counter | |
//! | `fleet_connections_refused_total` | counter | |
//! | `fleet_events_written_total` | counter | |
//! | `fleet_commands` | gauge | `state` |
//! | `fleet_store_seconds` | summary | `op` |

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::LogFormat;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same handle).
pub fn install_metrics() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed by an embedding program; ours then only renders what it sees.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts a message received from a device.
pub fn message_in(name: &str) {
    metrics::counter!("fleet_messages_in_total", "name" => name.to_owned()).increment(1);
}

/// Counts a message sent to a device.
pub fn message_out(name: &str) {
    metrics::counter!("fleet_messages_out_total", "name" => name.to_owned()).increment(1);
}

/// Counts a frame that did not decode.
pub fn decode_error() {
    metrics::counter!("fleet_decode_errors_total").increment(1);
}

/// Counts a connection refused before its session started (limits, admission).
pub fn connection_refused() {
    metrics::counter!("fleet_connections_refused_total").increment(1);
}

/// Counts a login, accepted or refused.
pub fn login(ok: bool) {
    metrics::counter!("fleet_logins_total", "result" => if ok { "ok" } else { "refused" })
        .increment(1);
}

/// Starts the `tracing` subscriber: filter from `RUST_LOG` (default `info`), lines as text or JSON, to stderr.
/// Calling it again does nothing.
pub fn init_logging(format: LogFormat) {
    init_logging_with(format, "info");
}

/// As [`init_logging`], with `default` as the filter when `RUST_LOG` is unset (a deployment that wants
/// more or less than `info` by default).
pub fn init_logging_with(format: LogFormat, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Prints where the dashboard is and, when this start generated the admin token, the token (the only time it
/// is shown; the store keeps its hash).
pub fn announce_dashboard(admin: std::net::SocketAddr, token: &crate::AdminToken) {
    println!("dashboard: http://{admin}/");
    if let Some(token) = &token.generated {
        println!("admin token (generated now, shown once; stored hashed): {token}");
    }
}

/// Waits for SIGINT or SIGTERM ([`shutdown_signal`]), then runs the graceful stop `stop` makes, allowing it
/// `deadline` (`fleet.shutdown_timeout_secs`).
///
/// # Errors
/// The stop took longer than `deadline`.
pub async fn stop_on_signal<F>(
    deadline: std::time::Duration,
    stop: impl FnOnce() -> F,
) -> Result<(), String>
where
    F: std::future::Future<Output = ()>,
{
    shutdown_signal().await;
    tokio::time::timeout(deadline, stop())
        .await
        .map_err(|_| format!("shutdown took longer than {deadline:?}"))
}
