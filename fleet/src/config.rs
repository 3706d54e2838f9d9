//! Configuration: one typed struct per deployment, read from defaults, a TOML file, environment variables and
//! command-line flags, in that order (each overrides the one before).
//!
//! - Defaults: the struct's `Default`, so a deployment starts with no file.
//! - File: `--config FILE` (TOML). Unknown keys are errors.
//! - Environment: `PREFIX_SECTION__KEY=value` sets `section.key` (`COFFEE_SERVER_FLEET__ADMIN__LISTEN`), the
//!   value read as a TOML value when it parses as one, else as a string.
//! - Flags: the deployment's own flags, and `--set section.key=value` for any key.
//!
//! A bad value is an error naming the key: ``fleet.admin.listen: invalid socket address syntax``.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file `{path}`: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A `--set` flag is not `key=value`.
    #[error("`--set {0}`: expected KEY=VALUE")]
    BadSet(String),
    /// A key has a bad value, or is unknown.
    #[error("config key `{key}`: {message}")]
    Key {
        /// The key, dotted (`fleet.admin.listen`).
        key: String,
        /// What was wrong.
        message: String,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The admin HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Address of the admin API and dashboard. Default `127.0.0.1:8080` (loopback only).
    pub listen: SocketAddr,
    /// Bearer token for mutating routes. Default none: one is generated at first start, stored (hashed) and
    /// printed once.
    pub token: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
        }
    }
}

/// The events log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EventsConfig {
    /// Events older than this many days are deleted. Default 30.
    pub retention_days: u32,
    /// At most this many events are kept (the oldest go first). Default 1,000,000.
    pub max_events: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            max_events: 1_000_000,
        }
    }
}

/// The command queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct QueueConfig {
    /// A command not delivered within this many seconds expires, unless the request sets its own TTL.
    /// Default 86,400 (one day).
    pub default_ttl_secs: u64,
    /// A sent command awaiting an acknowledgement times out after this many seconds. Default 60.
    pub ack_timeout_secs: u64,
    /// Finished commands (acknowledged, failed, expired, cancelled, or sent where no acknowledgement comes)
    /// older than this many days are deleted; queued and in-flight ones never are. Default 30.
    pub retention_days: u32,
    /// At most this many finished commands are kept (the oldest go first). Default 1,000,000.
    pub max_finished: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 86_400,
            ack_timeout_secs: 60,
            retention_days: 30,
            max_finished: 1_000_000,
        }
    }
}

/// Settings every deployment shares (the `[fleet]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FleetConfig {
    /// Directory of the embedded SQLite store. Default `data`.
    pub data_dir: PathBuf,
    /// A database URL (`postgres://...` or `sqlite://FILE?mode=rwc`) instead of the file under `data_dir`.
    /// Default none.
    pub database_url: Option<String>,
    /// Admin API.
    pub admin: AdminConfig,
    /// Events log retention.
    pub events: EventsConfig,
    /// Command queue.
    pub queue: QueueConfig,
    /// Log format. Default `text`. `RUST_LOG` sets the filter (default `info`).
    pub log_format: LogFormat,
    /// On SIGINT/SIGTERM, how many seconds shutdown may take before the process exits anyway. Default 10.
    pub shutdown_timeout_secs: u64,
    /// How often (seconds) last-seen times are written and the login registry is reloaded from the store.
    /// Default 5.
    pub flush_interval_secs: u64,
    /// Steady traffic (heartbeats, reports) updates a device's stored last-seen time at most this often
    /// (seconds); connects and disconnects are written at the next flush. The API shows the live time.
    /// Default 60.
    pub last_seen_write_secs: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            admin: AdminConfig::default(),
            events: EventsConfig::default(),
            queue: QueueConfig::default(),
            log_format: LogFormat::Text,
            shutdown_timeout_secs: 10,
            flush_interval_secs: 5,
            last_seen_write_secs: 60,
        }
    }
}

/// Flags every deployment takes (flatten into its clap struct).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store (`fleet.data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL instead of the embedded store (`fleet.database_url`).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Admin API address (`fleet.admin.listen`).
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<String>,
    /// Log format (`fleet.log_format`).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Sets any configuration key: `--set fleet.events.retention_days=7`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl CommonArgs {
    /// The flags as `key=value` overrides, the fleet ones under `prefix` (`fleet`).
    #[must_use]
    pub fn overrides(&self, prefix: &str) -> Vec<(String, toml::Value)> {
        let mut out = Vec::new();
        let s = |v: &str| toml::Value::String(v.to_owned());
        if let Some(d) = &self.data_dir {
            out.push((format!("{prefix}.data_dir"), s(&d.display().to_string())));
        }
        if let Some(u) = &self.database_url {
            out.push((format!("{prefix}.database_url"), s(u)));
        }
        if let Some(a) = &self.admin_listen {
            out.push((format!("{prefix}.admin.listen"), s(a)));
        }
        if let Some(f) = self.log_format {
            let name = match f {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            };
            out.push((format!("{prefix}.log_format"), s(name)));
        }
        out
    }
}

/// Reads a TOML value from an environment variable or flag: a TOML literal when it is one, else a string.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn set_key(root: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), ConfigError> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut table = root;
    for part in parts {
        let entry = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(ConfigError::Key {
                    key: key.to_owned(),
                    message: format!("`{part}` is not a section"),
                })
            }
        };
    }
    table.insert(last.to_owned(), value);
    Ok(())
}

/// Loads a deployment's configuration: defaults, then `file`, then environment variables starting with
/// `env_prefix` (`COFFEE_SERVER_`), then `overrides`, then `--set` strings.
///
/// # Errors
/// [`ConfigError`], naming the file or key.
pub fn load<T: DeserializeOwned + Serialize + Default>(
    file: Option<&Path>,
    env_prefix: &str,
    overrides: &[(String, toml::Value)],
    sets: &[String],
) -> Result<T, ConfigError> {
    let mut root = toml::Table::try_from(T::default()).map_err(|e| ConfigError::Key {
        key: String::new(),
        message: e.to_string(),
    })?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        merge(&mut root, table);
    }
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(env_prefix) && k.len() > env_prefix.len())
        .collect();
    env.sort();
    for (name, raw) in env {
        let key = name[env_prefix.len()..]
            .to_ascii_lowercase()
            .replace("__", ".");
        set_key(&mut root, &key, parse_value(&raw))?;
    }
    for (key, value) in overrides {
        set_key(&mut root, key, value.clone())?;
    }
    for set in sets {
        let (key, raw) = set
            .split_once('=')
            .ok_or_else(|| ConfigError::BadSet(set.clone()))?;
        set_key(&mut root, key.trim(), parse_value(raw.trim()))?;
    }
    let text = toml::to_string(&root).map_err(|e| ConfigError::Key {
        key: String::new(),
        message: e.to_string(),
    })?;
    let de = toml::Deserializer::parse(&text).map_err(|e| ConfigError::Key {
        key: String::new(),
        message: e.to_string(),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        ConfigError::Key {
            key,
            message: inner.message().to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        fleet: FleetConfig,
        name: String,
    }

    #[test]
    fn defaults_need_no_file() {
        let c: Demo = load(None, "FLEET_TEST_NONE_", &[], &[]).unwrap();
        assert_eq!(c, Demo::default());
        assert_eq!(c.fleet.admin.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn file_then_flags_override_and_bad_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "name = \"a\"\n[fleet.admin]\nlisten = \"127.0.0.1:9\"\n",
        )
        .unwrap();
        let c: Demo = load(
            Some(&path),
            "FLEET_TEST_NONE_",
            &[("fleet.data_dir".into(), toml::Value::String("d".into()))],
            &["fleet.events.retention_days=7".into()],
        )
        .unwrap();
        assert_eq!(c.name, "a");
        assert_eq!(c.fleet.admin.listen.port(), 9);
        assert_eq!(c.fleet.data_dir, PathBuf::from("d"));
        assert_eq!(c.fleet.events.retention_days, 7);

        let err = load::<Demo>(
            None,
            "FLEET_TEST_NONE_",
            &[],
            &["fleet.admin.listen=nowhere".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fleet.admin.listen"), "{err}");
        let err = load::<Demo>(None, "FLEET_TEST_NONE_", &[], &["fleet.colour=1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let err = load::<Demo>(
            None,
            "FLEET_TEST_NONE_",
            &[],
            &["fleet.events.max_events=-1".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fleet.events.max_events"), "{err}");
        std::fs::write(&path, "name = ").unwrap();
        let err = load::<Demo>(Some(&path), "FLEET_TEST_NONE_", &[], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    }

    #[test]
    fn environment_variables_set_keys() {
        std::env::set_var("FLEET_TEST_ENV_FLEET__SHUTDOWN_TIMEOUT_SECS", "3");
        std::env::set_var("FLEET_TEST_ENV_NAME", "from env");
        let c: Demo = load(None, "FLEET_TEST_ENV_", &[], &[]).unwrap();
        assert_eq!(c.fleet.shutdown_timeout_secs, 3);
        assert_eq!(c.name, "from env");
    }
}
