//! The station program's configuration file, `.server.json` (spec "配置文件 .server.json 说明").
//!
//! Every section and key is optional: a missing one takes the default listed on its field, which is the
//! value of the spec's example file where that value is real (placeholders such as `xxx` default to empty).
//! Unknown keys are ignored; a key of the wrong type is an error naming its path (`localFile.deleteLife`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::interval::{CronSpec, Interval};

/// The whole `.server.json`.
///
/// ```
/// use std::time::Duration;
/// use aliscan_proto::ServerConfig;
/// let config = ServerConfig::from_json(br#"{"localFile": {"deleteLife": "2w"}, "unknown": 1}"#).unwrap();
/// assert_eq!(config.local_file.delete_life.to_duration(), Some(Duration::from_secs(14 * 86400)));
/// assert_eq!(config.ws.url_prefix, "/aliscan");
/// let err = ServerConfig::from_json(br#"{"qrCode": {"size": "big"}}"#).unwrap_err();
/// assert!(err.to_string().contains("qrCode.size"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// `log` - the station program's own log.
    pub log: LogConfig,
    /// `http` - the HTTP server of the pad's pages, data and logs.
    pub http: HttpConfig,
    /// `ws` - the WebSocket endpoint.
    pub ws: WsConfig,
    /// `api` - back-end APIs.
    pub api: ApiConfig,
    /// `qrCode` - the QR codes printed for scans.
    #[serde(rename = "qrCode")]
    pub qr_code: QrCodeConfig,
    /// `localExe` - the scanner programs and their logs.
    #[serde(rename = "localExe")]
    pub local_exe: LocalExeConfig,
    /// `localFile` - local scan data and its intervals.
    #[serde(rename = "localFile")]
    pub local_file: LocalFileConfig,
    /// `mode` - run mode (`dev` in the spec's example). Default: empty.
    pub mode: String,
    /// `cron` - periodic jobs.
    pub cron: CronConfig,
}

impl ServerConfig {
    /// Parses a `.server.json` (strict, then once more with trailing commas removed).
    ///
    /// # Errors
    /// [`DecodeError::ServerConfig`] naming the key path of the value that did not fit.
    pub fn from_json(text: &[u8]) -> Result<Self, DecodeError> {
        proto_common::json::from_slice_lenient(text)
            .map_err(|source| DecodeError::ServerConfig { source })
    }
}

/// `log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LogConfig {
    /// `output` - where the log goes. Default: `file`.
    pub output: String,
    /// `path` - the log file. Default: `logs/fa.log`.
    pub path: String,
    /// `level` - `info`; the spec asks for `error` in production. Default: `info`.
    pub level: String,
    /// `max` - how many log files to keep. Default: 10.
    pub max: u32,
    /// `maxAge` - how many days to keep log files. Default: 30.
    #[serde(rename = "maxAge")]
    pub max_age: u32,
    /// `localtime` - stamp the log in local time. Default: `true`.
    pub localtime: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            output: "file".into(),
            path: "logs/fa.log".into(),
            level: "info".into(),
            max: 10,
            max_age: 30,
            localtime: true,
        }
    }
}

/// `http`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HttpConfig {
    /// `port` - listen address, Go style (`:80`). Default: `:80`.
    pub port: String,
    /// `static` - the served folders and their URL prefixes.
    #[serde(rename = "static")]
    pub static_files: StaticConfig,
    /// `fsUrl` - page that simulates messages to the pad. Default: empty.
    #[serde(rename = "fsUrl")]
    pub fs_url: String,
    /// `dsUrl` - page that simulates the device (named in the spec's usage notes). Default: absent.
    #[serde(rename = "dsUrl", default, skip_serializing_if = "Option::is_none")]
    pub ds_url: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            port: ":80".into(),
            static_files: StaticConfig::default(),
            fs_url: String::new(),
            ds_url: None,
        }
    }
}

impl HttpConfig {
    /// The TCP port of [`HttpConfig::port`] (`:80` -> 80, `0.0.0.0:8080` -> 8080).
    #[must_use]
    pub fn port_number(&self) -> Option<u16> {
        self.port.rsplit(':').next()?.parse().ok()
    }
}

/// `http.static`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StaticConfig {
    /// `path` - folder of the pad's pages. Default: empty.
    pub path: String,
    /// `urlPrefix` - URL prefix of the pad's pages. Default: `/s`.
    #[serde(rename = "urlPrefix")]
    pub url_prefix: String,
    /// `fileUrlPrefix` - URL prefix of the scan data. Default: `/f`.
    #[serde(rename = "fileUrlPrefix")]
    pub file_url_prefix: String,
    /// `logUrlPrefix` - URL prefix of this program's logs. Default: `/l`.
    #[serde(rename = "logUrlPrefix")]
    pub log_url_prefix: String,
    /// `logSdkUrlPrefix` - URL prefix of the scanner SDK's logs. Default: `/s`.
    #[serde(rename = "logSdkUrlPrefix")]
    pub log_sdk_url_prefix: String,
    /// `logNSUrlPrefix` - URL prefix of the NS program's logs. Default: `/ns`.
    #[serde(rename = "logNSUrlPrefix")]
    pub log_ns_url_prefix: String,
    /// `logOLUrlPrefix` - URL prefix of the online-update program's logs. Default: `/ol`.
    #[serde(rename = "logOLUrlPrefix")]
    pub log_ol_url_prefix: String,
}

impl Default for StaticConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            url_prefix: "/s".into(),
            file_url_prefix: "/f".into(),
            log_url_prefix: "/l".into(),
            log_sdk_url_prefix: "/s".into(),
            log_ns_url_prefix: "/ns".into(),
            log_ol_url_prefix: "/ol".into(),
        }
    }
}

/// `ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct WsConfig {
    /// `urlPrefix` - the WebSocket path. Default: `/aliscan` (DECISIONS.md).
    #[serde(rename = "urlPrefix")]
    pub url_prefix: String,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            url_prefix: "/aliscan".into(),
        }
    }
}

/// `api`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ApiConfig {
    /// `taobao` - the Taobao open-platform API.
    pub taobao: TaobaoConfig,
}

/// `api.taobao`. `Debug` prints the secret's and the token's lengths, not their values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaobaoConfig {
    /// `url` - API endpoint. Default: `https://eco.taobao.com/router/rest`.
    pub url: String,
    /// `appKey` - application key. Default: empty.
    #[serde(rename = "appKey")]
    pub app_key: String,
    /// `appSecret` - application secret. Default: empty.
    #[serde(rename = "appSecret")]
    pub app_secret: String,
    /// `token` - session token. Default: empty.
    pub token: String,
}

impl Default for TaobaoConfig {
    fn default() -> Self {
        Self {
            url: "https://eco.taobao.com/router/rest".into(),
            app_key: String::new(),
            app_secret: String::new(),
            token: String::new(),
        }
    }
}

impl fmt::Debug for TaobaoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaobaoConfig")
            .field("url", &self.url)
            .field("app_key", &self.app_key)
            .field(
                "app_secret",
                &format_args!("<{} bytes>", self.app_secret.len()),
            )
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .finish()
    }
}

/// `qrCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct QrCodeConfig {
    /// `size` - side of the square QR image, in pixels. Default: 256.
    pub size: u32,
    /// `urlPrefix` - URL prefix encoded in the QR code. Default: empty.
    #[serde(rename = "urlPrefix")]
    pub url_prefix: String,
}

impl Default for QrCodeConfig {
    fn default() -> Self {
        Self {
            size: 256,
            url_prefix: String::new(),
        }
    }
}

/// `localExe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LocalExeConfig {
    /// `path` - the scanner program to launch. Default: empty.
    pub path: String,
    /// `logPath` - this program's log folder. Default: empty.
    #[serde(rename = "logPath")]
    pub log_path: String,
    /// `sdkLogPath` - the scanner SDK's log folder. Default: `../scanner/footscansdk_log`.
    #[serde(rename = "sdkLogPath")]
    pub sdk_log_path: String,
    /// `nsLogPath` - the NS program's log folder. Default: `../scanner/logs`.
    #[serde(rename = "nsLogPath")]
    pub ns_log_path: String,
    /// `olLogPath` - the online-update daemon's log folder. Default: `../OnlineUpdate/logs`.
    #[serde(rename = "olLogPath")]
    pub ol_log_path: String,
    /// `licensePath` - where the license file is kept. Default: empty.
    #[serde(rename = "licensePath")]
    pub license_path: String,
}

impl Default for LocalExeConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            log_path: String::new(),
            sdk_log_path: "../scanner/footscansdk_log".into(),
            ns_log_path: "../scanner/logs".into(),
            ol_log_path: "../OnlineUpdate/logs".into(),
            license_path: String::new(),
        }
    }
}

/// `localFile`: the scan data and the intervals that govern it (grammar: [`Interval`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LocalFileConfig {
    /// `path` - folder of the scan data. Default: empty.
    pub path: String,
    /// `retryUploadInterval` - wait before retrying a failed upload. Default: `30` (hours).
    #[serde(rename = "retryUploadInterval")]
    pub retry_upload_interval: Interval,
    /// `deleteLife` - age after which scan data is deleted. Default: `30` (hours).
    #[serde(rename = "deleteLife")]
    pub delete_life: Interval,
    /// `validBookPeriod` - how long a booking holds. Default: `3` (hours).
    #[serde(rename = "validBookPeriod")]
    pub valid_book_period: Interval,
    /// `informFrontInterval` - how often to remind the pad of an upgrade it has not taken. Default: `4` (hours).
    #[serde(rename = "informFrontInterval")]
    pub inform_front_interval: Interval,
    /// `logInterval` - how far back logs are uploaded. Default: `7` (hours).
    #[serde(rename = "logInterval")]
    pub log_interval: Interval,
}

impl Default for LocalFileConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            retry_upload_interval: Interval::hours(30),
            delete_life: Interval::hours(30),
            valid_book_period: Interval::hours(3),
            inform_front_interval: Interval::hours(4),
            log_interval: Interval::hours(7),
        }
    }
}

/// `cron`: periodic jobs, each `@every <interval>` (see [`CronSpec`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CronConfig {
    /// `cronOnSoft` - check for updates. Default: `@every 5h`.
    #[serde(rename = "cronOnSoft")]
    pub on_soft: CronSpec,
    /// `cronOnStatus` - check the device status. Default: `@every 5m`.
    #[serde(rename = "cronOnStatus")]
    pub on_status: CronSpec,
    /// `cronOnSoftDI` - check for front-end and device update reminders. Default: `@every 1m`.
    #[serde(rename = "cronOnSoftDI")]
    pub on_soft_di: CronSpec,
    /// `cronOnSoftD` - resume interrupted downloads. Default: `@every 5h`.
    #[serde(rename = "cronOnSoftD")]
    pub on_soft_d: CronSpec,
    /// `cronOnCheckTBBrandInfo` - check the brand and store against the back end. Default: `@every 5h`.
    #[serde(rename = "cronOnCheckTBBrandInfo")]
    pub on_check_tb_brand_info: CronSpec,
    /// `cronOnUpload` - upload pending data. Default: `@every 1h`.
    #[serde(rename = "cronOnUpload")]
    pub on_upload: CronSpec,
    /// `cronOnClearExpireFile` - delete expired data. Default: `@every 1h`.
    #[serde(rename = "cronOnClearExpireFile")]
    pub on_clear_expire_file: CronSpec,
    /// `statistics` - push `files/scan/statistics`. Default: `@every 10m`.
    pub statistics: CronSpec,
    /// `informFront` - tell the pad about updates. Default: `true`.
    #[serde(rename = "informFront")]
    pub inform_front: bool,
}

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            on_soft: CronSpec::new("@every 5h"),
            on_status: CronSpec::new("@every 5m"),
            on_soft_di: CronSpec::new("@every 1m"),
            on_soft_d: CronSpec::new("@every 5h"),
            on_check_tb_brand_info: CronSpec::new("@every 5h"),
            on_upload: CronSpec::new("@every 1h"),
            on_clear_expire_file: CronSpec::new("@every 1h"),
            statistics: CronSpec::new("@every 10m"),
            inform_front: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_name_the_key_path() {
        for (json, path) in [
            (
                r#"{"localFile":{"deleteLife":true}}"#,
                "localFile.deleteLife",
            ),
            (r#"{"cron":{"informFront":"yes"}}"#, "cron.informFront"),
            (r#"{"log":{"max":-1}}"#, "log.max"),
            (r#"{"http":{"static":{"path":1}}}"#, "http.static.path"),
        ] {
            let DecodeError::ServerConfig { source } =
                ServerConfig::from_json(json.as_bytes()).unwrap_err()
            else {
                panic!("wrong error kind");
            };
            assert_eq!(source.path(), path, "{json}");
        }
    }

    #[test]
    fn empty_object_gives_defaults_and_port_parses() {
        let c = ServerConfig::from_json(b"{}").unwrap();
        assert_eq!(c, ServerConfig::default());
        assert_eq!(c.http.port_number(), Some(80));
        assert_eq!(c.local_file.retry_upload_interval.as_str(), "30");
        assert!(format!("{:?}", c.api.taobao).contains("app_secret: <0 bytes>"));
        let mut h = HttpConfig {
            port: "0.0.0.0:8080".into(),
            ..HttpConfig::default()
        };
        assert_eq!(h.port_number(), Some(8080));
        h.port = "eighty".into();
        assert_eq!(h.port_number(), None);
    }
}
