//! The HTTP broker lookup (best.md 3.1), sans-io: the device builds the signed request, the platform turns a
//! query string into a JSON reply. Any HTTP client or server can carry them.

use std::sync::Arc;

use best_proto::broker::{BrokerInfo, BrokerType, LookupQuery, LookupReply, LookupVerifier};
use best_proto::{Code, DecodeError, LookupConfig};

use crate::clock::WallClock;
use crate::rng::RandomSource;

/// The device side: signed `GET /v3/device/getBrokerServer` requests and their replies.
///
/// ```
/// use std::sync::Arc;
/// use best_proto::broker::BrokerType;
/// use device_core::best::BrokerLookup;
/// use device_core::{ManualClock, SplitMix64};
///
/// let clock = ManualClock::new(chrono::DateTime::parse_from_rfc3339("2022-03-01T02:47:51Z").unwrap());
/// let mut lookup = BrokerLookup::new("abcd", BrokerType::BestW, "aabbcc", Arc::new(clock)).with_rng(Box::new(SplitMix64::seeded(1)));
/// let uri = lookup.request().path_and_query();
/// assert!(uri.starts_with("/v3/device/getBrokerServer?sn=abcd&type=best-w&nonce="));
/// ```
pub struct BrokerLookup {
    sn: String,
    broker_type: BrokerType,
    secret_key: String,
    clock: Arc<dyn WallClock>,
    rng: Box<dyn RandomSource>,
}

impl std::fmt::Debug for BrokerLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerLookup")
            .field("sn", &self.sn)
            .field("broker_type", &self.broker_type)
            .finish_non_exhaustive()
    }
}

impl BrokerLookup {
    /// Lookups for device `sn` signed with its secret key; the timestamp comes from `clock`, nonces from
    /// [`OsRandom`](crate::OsRandom) (see [`BrokerLookup::with_rng`]).
    #[must_use]
    pub fn new(
        sn: impl Into<String>,
        broker_type: BrokerType,
        secret_key: impl Into<String>,
        clock: Arc<dyn WallClock>,
    ) -> Self {
        Self {
            sn: sn.into(),
            broker_type,
            secret_key: secret_key.into(),
            clock,
            rng: Box::new(crate::OsRandom),
        }
    }

    /// Replaces the random source ([`OsRandom`](crate::OsRandom) by default): tests pass a seeded
    /// [`SplitMix64`](crate::SplitMix64) to make the lookup deterministic.
    #[must_use]
    pub fn with_rng(mut self, rng: Box<dyn RandomSource>) -> Self {
        self.rng = rng;
        self
    }

    /// A fresh signed query: a new 32-hex-digit nonce (the most the spec allows) and the current time in ms.
    pub fn request(&mut self) -> LookupQuery {
        let nonce = super::random_hex(&mut *self.rng, 16);
        LookupQuery::signed(
            self.sn.clone(),
            self.broker_type.clone(),
            nonce,
            self.clock.unix_ms(),
            &self.secret_key,
        )
    }

    /// The broker from a reply body; a refusal is data (`Ok(Err(reply))`, its code and message).
    ///
    /// # Errors
    /// The body is not a lookup reply.
    pub fn parse_reply(body: &[u8]) -> Result<Result<BrokerInfo, LookupReply>, DecodeError> {
        let reply = LookupReply::from_json(body)?;
        match (&reply.code, &reply.payload) {
            (Code::Success, Some(p)) => Ok(Ok(p.results.clone())),
            _ => Ok(Err(reply)),
        }
    }
}

/// Where the platform finds each device's secret key and broker.
pub trait BrokerDirectory: Send + Sync {
    /// The secret key of device `sn`, `None` when unknown.
    fn secret_key(&self, sn: &str) -> Option<String>;
    /// The broker device `sn` must use for `broker_type`, `None` when that type is not served.
    fn broker(&self, sn: &str, broker_type: &BrokerType) -> Option<BrokerInfo>;
}

impl<D: BrokerDirectory + ?Sized> BrokerDirectory for Arc<D> {
    fn secret_key(&self, sn: &str) -> Option<String> {
        (**self).secret_key(sn)
    }
    fn broker(&self, sn: &str, broker_type: &BrokerType) -> Option<BrokerInfo> {
        (**self).broker(sn, broker_type)
    }
}

/// The platform side: one query string in, one JSON reply out. Checks the sign, the 300 s timestamp window, the
/// nonce length and nonce reuse per device ([`LookupVerifier`]); wall time from the injected clock.
pub struct LookupHandler<D> {
    verifier: LookupVerifier,
    directory: D,
    clock: Arc<dyn WallClock>,
}

impl<D> std::fmt::Debug for LookupHandler<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupHandler")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl<D: BrokerDirectory> LookupHandler<D> {
    /// A handler with the lookup limits of `config`.
    #[must_use]
    pub fn new(config: LookupConfig, directory: D, clock: Arc<dyn WallClock>) -> Self {
        Self {
            verifier: LookupVerifier::new(config),
            directory,
            clock,
        }
    }

    /// Answers one lookup given its query string (or path with query, or URL). Codes: `20000001` malformed
    /// params, `10000002` unknown device, `10000001` bad sign, stale timestamp or reused nonce, `20000002` broker
    /// type not served.
    pub fn handle(&mut self, query: &str) -> LookupReply {
        let query = match LookupQuery::parse(query) {
            Ok(q) => q,
            Err(e) => return LookupReply::error(Code::MalformedParams, e.to_string()),
        };
        let Some(secret_key) = self.directory.secret_key(&query.sn) else {
            return LookupReply::error(Code::UnknownDevice, "unknown device");
        };
        let now_ms = self.clock.unix_ms();
        self.verifier.prune(now_ms);
        if let Err(e) = self.verifier.verify(&query, &secret_key, now_ms) {
            return LookupReply::error(e.code(), e.to_string());
        }
        match self.directory.broker(&query.sn, &query.broker_type) {
            Some(info) => LookupReply::ok(info),
            None => LookupReply::error(Code::UnsupportedFuncId, "broker type not served"),
        }
    }

    /// [`LookupHandler::handle`], as the JSON body.
    pub fn handle_json(&mut self, query: &str) -> Vec<u8> {
        self.handle(query).to_json()
    }
}
