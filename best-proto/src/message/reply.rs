//! Replies: the platform's `cmd.dev.response` to a device request and the device's `dev.cmd.response` to a
//! platform command (DECISIONS.md, best: same `mid`; `cmdId` echoed).

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::session::{AccreditResults, Factor, PublicKey, RegisterResults, ReportResults};
use super::types::Code;

/// `cmd.dev.response`: the platform's answer to a device request (top-level `code` and `message`, optional
/// `payload.results`).
///
/// A reply printed without `funcId` (the key exchange replies of best.md 2) decodes to this too and is encoded
/// with `funcId` `cmd.dev.response`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `code` - `00000000` on success.
    pub code: Code,
    /// `message` - text for the code.
    pub message: Option<String>,
    /// `payload.results`, when present.
    pub results: Option<Results>,
}

impl Response {
    /// A success reply with `message` `success`.
    #[must_use]
    pub fn ok(results: Option<Results>) -> Self {
        Self {
            code: Code::Success,
            message: Some("success".into()),
            results,
        }
    }

    /// An error reply.
    #[must_use]
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
            results: None,
        }
    }

    /// For a `30000002` reply, the offset the platform expects next (the last number in `message`, see
    /// [`UploadError::message`](crate::upload::UploadError::message)).
    #[must_use]
    pub fn expected_offset(&self) -> Option<u64> {
        if self.code != Code::FileOffsetMismatch {
            return None;
        }
        let message = self.message.as_deref()?;
        let end = message.rfind(|c: char| c.is_ascii_digit())? + 1;
        let start = message[..end]
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        message[start..end].parse().ok()
    }
}

/// `payload.results` of a [`Response`].
///
/// The reply does not say which request it answers, so the variant is chosen by the fields present, which are
/// disjoint between requests: `authCode` -> [`Results::Register`], `secret` -> [`Results::Accredit`],
/// `publicKey` -> [`Results::PublicKey`], `factor` -> [`Results::Factor`], any of `timezone`,
/// `supportHeartbeat`, `heartbeatInterval`, `multiBioDataSupport`, `multiBioPhotoSupport`, `funcIds` ->
/// [`Results::Report`]; anything else is kept as [`Results::Other`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Results {
    /// Reply to `device.exchange.publicKey`.
    PublicKey(PublicKey),
    /// Reply to `device.exchange.factor`.
    Factor(Factor),
    /// Reply to `dev.register`.
    Register(RegisterResults),
    /// Reply to `dev.accredit`.
    Accredit(AccreditResults),
    /// Reply to `dev.report`.
    Report(ReportResults),
    /// Results of no known shape, kept as sent.
    Other(Map<String, Value>),
}

const REPORT_KEYS: [&str; 6] = [
    "timezone",
    "supportHeartbeat",
    "heartbeatInterval",
    "multiBioDataSupport",
    "multiBioPhotoSupport",
    "funcIds",
];

fn typed<T: serde::de::DeserializeOwned, E: de::Error>(value: &Value) -> Result<T, E> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map_err(|e| E::custom(format_args!("at `{}`: {}", e.path(), e.inner())))
}

impl Results {
    fn from_map<E: de::Error>(map: Map<String, Value>) -> Result<Self, E> {
        let has = |k: &str| map.contains_key(k);
        let kind = if has("authCode") {
            1
        } else if has("secret") {
            2
        } else if has("publicKey") {
            3
        } else if has("factor") {
            4
        } else if REPORT_KEYS.iter().any(|k| has(k)) {
            5
        } else {
            return Ok(Self::Other(map));
        };
        let value = Value::Object(map);
        Ok(match kind {
            1 => Self::Register(typed(&value)?),
            2 => Self::Accredit(typed(&value)?),
            3 => Self::PublicKey(typed(&value)?),
            4 => Self::Factor(typed(&value)?),
            _ => {
                let report: ReportResults = typed(&value)?;
                // Only empty or null report fields: keep them raw, so the value re-encodes to itself.
                if report == ReportResults::default() {
                    if let Value::Object(map) = value {
                        return Ok(Self::Other(map));
                    }
                }
                Self::Report(report)
            }
        })
    }
}

impl Serialize for Results {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::PublicKey(r) => r.serialize(s),
            Self::Factor(r) => r.serialize(s),
            Self::Register(r) => r.serialize(s),
            Self::Accredit(r) => r.serialize(s),
            Self::Report(r) => r.serialize(s),
            Self::Other(r) => r.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Results {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        Self::from_map(map)
    }
}

/// `dev.cmd.response`: the device's answer to a platform command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdResponse {
    /// `code` - `00000000` on success.
    pub code: Code,
    /// `message` - text for the code.
    pub message: Option<String>,
    /// `payload.params.cmdId` - the command's `cmdId`, echoed.
    pub cmd_id: String,
}

impl CmdResponse {
    /// A success answer to the command `cmd_id`.
    #[must_use]
    pub fn ok(cmd_id: impl Into<String>) -> Self {
        Self {
            code: Code::Success,
            message: Some("success".into()),
            cmd_id: cmd_id.into(),
        }
    }
}

/// The params part of [`CmdResponse`].
#[derive(Serialize, Deserialize)]
pub(crate) struct CmdResponseParams {
    #[serde(rename = "cmdId")]
    pub(crate) cmd_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_told_apart_by_their_fields() {
        let r: Results = serde_json::from_str(r#"{"authCode":"a1"}"#).unwrap();
        assert_eq!(
            r,
            Results::Register(RegisterResults {
                auth_code: "a1".into()
            })
        );
        let r: Results = serde_json::from_str(r#"{"heartbeatInterval":"30"}"#).unwrap();
        let Results::Report(report) = r else {
            panic!("{r:?}")
        };
        assert_eq!(report.heartbeat_interval, Some(30));
        let r: Results = serde_json::from_str(r#"{"timezone":""}"#).unwrap();
        assert!(
            matches!(&r, Results::Other(m) if m["timezone"] == ""),
            "{r:?}"
        );
        let r: Results = serde_json::from_str(r#"{"serverTime":"x"}"#).unwrap();
        assert!(matches!(r, Results::Other(m) if m["serverTime"] == "x"));
        let e = serde_json::from_str::<Results>(r#"{"heartbeatInterval":"soon"}"#).unwrap_err();
        assert!(e.to_string().contains("at `heartbeatInterval`"), "{e}");
    }

    #[test]
    fn expected_offset_reads_the_last_number() {
        let r = Response::error(Code::FileOffsetMismatch, "expected offset 215");
        assert_eq!(r.expected_offset(), Some(215));
        let r = Response::error(Code::FileOffsetMismatch, "no number");
        assert_eq!(r.expected_offset(), None);
        let r = Response::error(Code::FileChecksumMismatch, "expected offset 215");
        assert_eq!(r.expected_offset(), None);
    }
}
