//! The broker lookup (best.md 3.1): before connecting, a device asks the platform over HTTPS where its broker is.
//!
//! ```text
//! GET /v3/device/getBrokerServer?sn={SN}&type={TYPE}&nonce={NONCE}&timestamp={ms}&sign={SIGN}
//! -> {"code":"00000000","message":"success","payload":{"results":{"url":"mqtts://host:port", ...}}}
//! ```
//!
//! ```
//! use best_proto::broker::{BrokerType, LookupQuery, LookupVerifier};
//! use best_proto::LookupConfig;
//!
//! // Device side.
//! let query = LookupQuery::signed("abcd", BrokerType::BestW, "123456", 1_646_102_871_000, "aabbcc");
//! assert_eq!(query.sign, "bdd58420c142a11569ff3eb8a9ec535c");
//! let uri = query.path_and_query();
//!
//! // Platform side: parse, then check window, nonce and sign.
//! let received = LookupQuery::parse(&uri).unwrap();
//! let mut verifier = LookupVerifier::new(LookupConfig::default());
//! assert!(verifier.verify(&received, "aabbcc", 1_646_102_871_000 + 2_000).is_ok());
//! // The same nonce again within the window is a replay.
//! assert!(verifier.verify(&received, "aabbcc", 1_646_102_871_000 + 3_000).is_err());
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::LookupConfig;
use crate::error::DecodeError;
use crate::message::Code;
use crate::value::string_enum;

/// Path of the broker lookup.
pub const LOOKUP_PATH: &str = "/v3/device/getBrokerServer";

/// Longest `sn` the [`LookupVerifier`] accepts (keeps its memory bounded).
pub const MAX_LOOKUP_SN_LEN: usize = 64;

string_enum! {
    /// `type` of the lookup: which broker the device wants.
    BrokerType {
        /// `push` - the push protocol's server.
        Push = "push",
        /// `best-w` - BEST over WebSocket.
        BestW = "best-w",
        /// `best-t` - BEST over the Tencent broker.
        BestT = "best-t",
        /// `best-m` - BEST over MQTT.
        BestM = "best-m",
        /// `best-a` - BEST over AWS IoT Core.
        BestA = "best-a",
    }
}

/// The query of a broker lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// `sn` - device serial number.
    pub sn: String,
    /// `type` - the broker wanted.
    pub broker_type: BrokerType,
    /// `nonce` - random, at most 32 characters, never reused.
    pub nonce: String,
    /// `timestamp` - Unix time in milliseconds.
    pub timestamp_ms: u64,
    /// `sign` - [`lookup_sign`](crate::sign::lookup_sign).
    pub sign: String,
}

/// Characters left as they are in a query value (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn percent_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn bad(name: &'static str, value: &str) -> DecodeError {
    DecodeError::BadQueryParam {
        name,
        value: value.chars().take(64).collect(),
    }
}

impl LookupQuery {
    /// A query signed with the device's secret key.
    #[must_use]
    pub fn signed(
        sn: impl Into<String>,
        broker_type: BrokerType,
        nonce: impl Into<String>,
        timestamp_ms: u64,
        secret_key: &str,
    ) -> Self {
        let (sn, nonce) = (sn.into(), nonce.into());
        let sign = crate::sign::lookup_sign(&sn, &nonce, timestamp_ms, secret_key);
        Self {
            sn,
            broker_type,
            nonce,
            timestamp_ms,
            sign,
        }
    }

    /// Whether `sign` matches the secret key (constant time). Does not check the time window or the nonce:
    /// [`LookupVerifier`] does all three.
    #[must_use]
    pub fn verify_sign(&self, secret_key: &str) -> bool {
        crate::sign::verify_lookup_sign(
            &self.sn,
            &self.nonce,
            self.timestamp_ms,
            secret_key,
            &self.sign,
        )
    }

    /// `sn=..&type=..&nonce=..&timestamp=..&sign=..`, values percent-encoded.
    #[must_use]
    pub fn to_query_string(&self) -> String {
        let mut out = String::with_capacity(128);
        let timestamp = self.timestamp_ms.to_string();
        let pairs = [
            ("sn", self.sn.as_str()),
            ("type", self.broker_type.as_str()),
            ("nonce", self.nonce.as_str()),
            ("timestamp", timestamp.as_str()),
            ("sign", self.sign.as_str()),
        ];
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            percent_encode(v, &mut out);
        }
        out
    }

    /// [`LOOKUP_PATH`]`?`[`to_query_string`](Self::to_query_string).
    #[must_use]
    pub fn path_and_query(&self) -> String {
        format!("{LOOKUP_PATH}?{}", self.to_query_string())
    }

    /// Parses a query string, a path with a query, or a whole URL (everything up to `?` is ignored). Unknown
    /// parameters are ignored; a repeated one keeps its last value.
    ///
    /// # Errors
    /// [`DecodeError::MissingQueryParam`] or [`DecodeError::BadQueryParam`] naming the parameter.
    pub fn parse(query: &str) -> Result<Self, DecodeError> {
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        let (mut sn, mut broker_type, mut nonce, mut timestamp, mut sign) =
            (None, None, None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "sn" => (&mut sn, "sn"),
                "type" => (&mut broker_type, "type"),
                "nonce" => (&mut nonce, "nonce"),
                "timestamp" => (&mut timestamp, "timestamp"),
                "sign" => (&mut sign, "sign"),
                _ => continue,
            };
            *slot.0 = Some(percent_decode(raw).ok_or_else(|| bad(slot.1, raw))?);
        }
        let need = |v: Option<String>, name| v.ok_or(DecodeError::MissingQueryParam { name });
        let timestamp = need(timestamp, "timestamp")?;
        Ok(Self {
            sn: need(sn, "sn")?,
            broker_type: BrokerType::from(need(broker_type, "type")?.as_str()),
            nonce: need(nonce, "nonce")?,
            timestamp_ms: timestamp
                .parse()
                .map_err(|_| bad("timestamp", &timestamp))?,
            sign: need(sign, "sign")?,
        })
    }
}

/// The lookup's reply: `code`, `message` and, on success, `payload.results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupReply {
    /// `code` - `00000000` on success.
    pub code: Code,
    /// `message` - text for the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `payload`, present on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<LookupPayload>,
}

/// `payload` of a [`LookupReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupPayload {
    /// `results`.
    pub results: BrokerInfo,
}

/// Where and how to connect: `payload.results` of a successful lookup.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// `url` - the broker, e.g. `mqtts://host:port`.
    pub url: String,
    /// `rootCA` - the broker's root CA, PEM.
    #[serde(rename = "rootCA", default, skip_serializing_if = "Option::is_none")]
    pub root_ca: Option<String>,
    /// `certificate` - the device certificate, PEM (certificate mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// `privateKey` - the device's private key (certificate mode). `Debug` prints its length only.
    #[serde(
        rename = "privateKey",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub private_key: Option<String>,
    /// `publicKey` - the device's public key (certificate mode).
    #[serde(rename = "publicKey", default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `companyId` - the owning company (always for best-a).
    #[serde(rename = "companyId", default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// `siteId` - the device's site (always for best-a).
    #[serde(rename = "siteId", default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
}

impl fmt::Debug for BrokerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerInfo")
            .field("url", &self.url)
            .field("root_ca", &self.root_ca.as_ref().map(String::len))
            .field("certificate", &self.certificate.as_ref().map(String::len))
            .field(
                "private_key",
                &self
                    .private_key
                    .as_ref()
                    .map(|k| format!("<{} bytes>", k.len())),
            )
            .field("public_key", &self.public_key.as_ref().map(String::len))
            .field("company_id", &self.company_id)
            .field("site_id", &self.site_id)
            .finish()
    }
}

impl LookupReply {
    /// A success reply.
    #[must_use]
    pub fn ok(results: BrokerInfo) -> Self {
        Self {
            code: Code::Success,
            message: Some("success".into()),
            payload: Some(LookupPayload { results }),
        }
    }

    /// An error reply.
    #[must_use]
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: Some(message.into()),
            payload: None,
        }
    }

    /// Parses a reply body (strict-then-lenient JSON).
    ///
    /// # Errors
    /// [`DecodeError::Json`] (name `getBrokerServer`) with the failing field.
    pub fn from_json(body: &[u8]) -> Result<Self, DecodeError> {
        proto_common::json::from_slice_lenient(body).map_err(|source| DecodeError::Json {
            name: "getBrokerServer".into(),
            source,
        })
    }

    /// The reply body as strict JSON.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        // Strings and an optional struct of strings: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a [`LookupVerifier`] refused a lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupRejection {
    /// `timestamp` is too far from the server clock.
    #[error("timestamp {timestamp_ms} is more than {window_ms} ms from the server time {now_ms}")]
    OutsideWindow {
        /// The lookup's timestamp.
        timestamp_ms: u64,
        /// The server time.
        now_ms: u64,
        /// The allowed difference.
        window_ms: u64,
    },
    /// `nonce` is longer than allowed.
    #[error("nonce of {len} characters exceeds the maximum of {max}")]
    NonceTooLong {
        /// Length of the nonce.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// `sn` is empty or longer than [`MAX_LOOKUP_SN_LEN`].
    #[error("sn of {len} characters is empty or exceeds the maximum of {max}")]
    BadSn {
        /// Length of the sn.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// `sign` does not match.
    #[error("sign does not match")]
    BadSign,
    /// The nonce was already used by this sn within the window.
    #[error("nonce already used within the window")]
    NonceReused,
    /// The nonce memory is full of unexpired entries (fail closed).
    #[error("{max} nonces are already tracked; try again later")]
    TooManyNonces {
        /// [`LookupConfig::max_tracked_nonces`].
        max: usize,
    },
}

impl LookupRejection {
    /// The code to answer with: `20000001` for malformed params (`nonce`, `sn`), `10000001` otherwise.
    #[must_use]
    pub fn code(&self) -> Code {
        match self {
            Self::NonceTooLong { .. } | Self::BadSn { .. } => Code::MalformedParams,
            _ => Code::BadCredentials,
        }
    }
}

/// Platform-side checks of broker lookups: time window, nonce length, sign (constant time) and nonce reuse.
///
/// Nonces are remembered per sn until their timestamp leaves the window, at most
/// [`LookupConfig::max_tracked_nonces`] at once (each at most [`MAX_LOOKUP_SN_LEN`] + `max_nonce_len` bytes of
/// text), so memory is bounded. Only correctly signed lookups are remembered, so a peer without the secret key
/// cannot fill the memory. When it is full of unexpired nonces the verifier refuses further lookups
/// ([`LookupRejection::TooManyNonces`]) rather than forget one. It never reads the clock: pass `now_ms`.
#[derive(Debug)]
pub struct LookupVerifier {
    config: LookupConfig,
    seen: HashSet<(String, String)>,
    /// `(timestamp + window, sn, nonce)`, oldest expiry first.
    expiries: BTreeSet<(u64, String, String)>,
}

impl LookupVerifier {
    /// A verifier with no nonces seen.
    #[must_use]
    pub fn new(config: LookupConfig) -> Self {
        Self {
            config,
            seen: HashSet::new(),
            expiries: BTreeSet::new(),
        }
    }

    /// Nonces currently remembered.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.config.window.as_millis()).unwrap_or(u64::MAX)
    }

    /// Forgets nonces whose timestamp has left the window at `now_ms`.
    pub fn prune(&mut self, now_ms: u64) {
        while let Some(first) = self.expiries.first() {
            if first.0 >= now_ms {
                break;
            }
            if let Some((_, sn, nonce)) = self.expiries.pop_first() {
                self.seen.remove(&(sn, nonce));
            }
        }
    }

    /// Checks one lookup against the device's secret key at server time `now_ms`, and remembers its nonce.
    ///
    /// # Errors
    /// The first check that failed, in this order: sn, nonce length, window, sign, reuse, memory.
    pub fn verify(
        &mut self,
        query: &LookupQuery,
        secret_key: &str,
        now_ms: u64,
    ) -> Result<(), LookupRejection> {
        let sn_len = query.sn.chars().count();
        if sn_len == 0 || sn_len > MAX_LOOKUP_SN_LEN {
            return Err(LookupRejection::BadSn {
                len: sn_len,
                max: MAX_LOOKUP_SN_LEN,
            });
        }
        let nonce_len = query.nonce.chars().count();
        if nonce_len > self.config.max_nonce_len {
            return Err(LookupRejection::NonceTooLong {
                len: nonce_len,
                max: self.config.max_nonce_len,
            });
        }
        let window_ms = self.window_ms();
        if query.timestamp_ms.abs_diff(now_ms) > window_ms {
            return Err(LookupRejection::OutsideWindow {
                timestamp_ms: query.timestamp_ms,
                now_ms,
                window_ms,
            });
        }
        if !query.verify_sign(secret_key) {
            return Err(LookupRejection::BadSign);
        }
        self.prune(now_ms);
        let key = (query.sn.clone(), query.nonce.clone());
        if self.seen.contains(&key) {
            return Err(LookupRejection::NonceReused);
        }
        if self.seen.len() >= self.config.max_tracked_nonces {
            return Err(LookupRejection::TooManyNonces {
                max: self.config.max_tracked_nonces,
            });
        }
        let expiry = query.timestamp_ms.saturating_add(window_ms);
        self.expiries.insert((expiry, key.0.clone(), key.1.clone()));
        self.seen.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T: u64 = 1_646_102_871_000;

    fn query(nonce: &str, ts: u64) -> LookupQuery {
        LookupQuery::signed("abcd", BrokerType::BestM, nonce, ts, "aabbcc")
    }

    #[test]
    fn query_string_round_trips_with_escapes() {
        let q = LookupQuery::signed("SN 1&2", BrokerType::Other("x=y".into()), "n%", T, "k");
        let s = q.to_query_string();
        assert_eq!(s.matches('&').count(), 4, "{s}");
        assert!(
            s.starts_with("sn=SN%201%262&type=x%3Dy&nonce=n%25&timestamp=1646102871000&sign="),
            "{s}"
        );
        assert_eq!(LookupQuery::parse(&s).unwrap(), q);
        let url = format!("https://dc.example.com{}", q.path_and_query());
        assert_eq!(LookupQuery::parse(&url).unwrap(), q);
    }

    #[test]
    fn parse_names_missing_and_bad_parameters() {
        let e = LookupQuery::parse("sn=a&type=push&nonce=1&sign=x").unwrap_err();
        assert!(
            matches!(e, DecodeError::MissingQueryParam { name: "timestamp" }),
            "{e}"
        );
        let e = LookupQuery::parse("sn=a&type=push&nonce=1&timestamp=soon&sign=x").unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::BadQueryParam {
                    name: "timestamp",
                    ..
                }
            ),
            "{e}"
        );
        let e = LookupQuery::parse("sn=%zz&type=push&nonce=1&timestamp=1&sign=x").unwrap_err();
        assert!(
            matches!(e, DecodeError::BadQueryParam { name: "sn", .. }),
            "{e}"
        );
    }

    #[test]
    fn verifier_enforces_window_nonce_sign_and_reuse() {
        let mut v = LookupVerifier::new(LookupConfig::default());
        // 300 s either way is accepted, 300.001 s is not.
        assert!(v.verify(&query("a", T), "aabbcc", T + 300_000).is_ok());
        assert!(v.verify(&query("b", T), "aabbcc", T - 300_000).is_ok());
        let e = v.verify(&query("c", T), "aabbcc", T + 300_001).unwrap_err();
        assert!(matches!(e, LookupRejection::OutsideWindow { .. }));
        assert_eq!(e.code(), Code::BadCredentials);
        let long = "n".repeat(33);
        let e = v.verify(&query(&long, T), "aabbcc", T).unwrap_err();
        assert_eq!(e, LookupRejection::NonceTooLong { len: 33, max: 32 });
        assert_eq!(e.code(), Code::MalformedParams);
        assert!(v.verify(&query(&"n".repeat(32), T), "aabbcc", T).is_ok());
        assert_eq!(
            v.verify(&query("d", T), "wrong", T),
            Err(LookupRejection::BadSign)
        );
        // A rejected sign is not remembered: the right key may still use that nonce.
        assert!(v.verify(&query("d", T), "aabbcc", T).is_ok());
        assert_eq!(
            v.verify(&query("d", T + 1), "aabbcc", T),
            Err(LookupRejection::NonceReused)
        );
        // Another device may use the same nonce.
        let other = LookupQuery::signed("efgh", BrokerType::BestM, "d", T, "k2");
        assert!(v.verify(&other, "k2", T).is_ok());
    }

    #[test]
    fn verifier_memory_is_bounded_and_expires() {
        let config = LookupConfig::default()
            .max_tracked_nonces(2)
            .window(Duration::from_secs(10));
        let mut v = LookupVerifier::new(config);
        assert!(v.verify(&query("1", T), "aabbcc", T).is_ok());
        assert!(v.verify(&query("2", T), "aabbcc", T).is_ok());
        assert_eq!(
            v.verify(&query("3", T), "aabbcc", T),
            Err(LookupRejection::TooManyNonces { max: 2 })
        );
        assert_eq!(v.tracked(), 2);
        // Once the first two leave the window they are forgotten and room is made.
        let later = T + 10_001;
        assert!(v.verify(&query("3", later), "aabbcc", later).is_ok());
        assert_eq!(v.tracked(), 1);
        // Nonce "1" is usable again: its old timestamp would be outside the window anyway.
        assert!(v.verify(&query("1", later), "aabbcc", later).is_ok());
    }

    #[test]
    fn reply_round_trips_and_hides_the_private_key() {
        let reply = LookupReply::from_json(
            br#"{"code":"00000000","message":"success","payload":{"results":{"url":"mqtts://h:8883","privateKey":"SECRET"}}}"#,
        )
        .unwrap();
        assert!(reply.code.is_success());
        let info = &reply.payload.as_ref().unwrap().results;
        assert_eq!(info.url, "mqtts://h:8883");
        assert!(!format!("{info:?}").contains("SECRET"));
        assert_eq!(LookupReply::from_json(&reply.to_json()).unwrap(), reply);
    }
}
