//! The links to the vehicle instances: one device-core WebSvr client per instance (9001 with the initial
//! KEY/IV, then `newIV`; 9002 every 30 s; reconnect with backoff), commands correlated by `seq` with a timeout.
//!
//! Whether each link is verified is tracked from its session's events, so a command for an instance that is
//! down fails at once ([`LinkError::Down`]) instead of waiting for a connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use device_core::kingxun::{WebSvrCommand, WebSvrConfig, WebSvrEvent, WebSvrSession};
use device_core::runtime::client::{Client, ClientConfig, ClientEvent};
use device_core::runtime::{CommandError, Handle};
use device_core::{BackoffConfig, RequestError, SendError};
use kingxun_proto::RespCode;
use serde::Serialize;

use super::config::{InstanceEntry, LinkConfig};

/// Why a command got no RespCode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The vehicle's instance is not in `[[instances]]`.
    #[error("vehicle instance `{0}` is not configured")]
    UnknownInstance(String),
    /// The link to the instance is not verified now.
    #[error("vehicle instance `{0}` is not connected")]
    Down(String),
    /// No RespCode within the timeout.
    #[error("vehicle instance `{0}` did not answer within {1:?}")]
    TimedOut(String, Duration),
    /// The link dropped before the RespCode came.
    #[error("the link to vehicle instance `{0}` was lost before the answer")]
    Lost(String),
    /// Too many commands under way on the link.
    #[error("vehicle instance `{0}` is busy: {1}")]
    Busy(String, String),
}

/// What the dashboard shows of one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    /// Instance name.
    pub name: String,
    /// Its address.
    pub addr: String,
    /// Whether the link is verified now.
    pub up: bool,
    /// `totalDevCount` of the last 9002 reply.
    pub vehicles: u32,
}

struct InstanceLink {
    addr: SocketAddr,
    handle: Handle<WebSvrSession>,
    up: Arc<AtomicBool>,
    count: Arc<AtomicU32>,
}

/// The links to every configured instance.
pub struct Instances {
    links: BTreeMap<String, InstanceLink>,
    clients: Mutex<Vec<Client<WebSvrSession>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    timeout: Duration,
}

impl std::fmt::Debug for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances")
            .field("instances", &self.links.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Parses a 16-byte KEY or IV given as 32 hex digits; the error names the key.
///
/// # Errors
/// Not 32 hex digits.
pub fn parse_key(key: &str, text: &str) -> Result<[u8; 16], String> {
    let bytes = hex::decode(text).map_err(|e| format!("{key}: {e}"))?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{key}: {} bytes, expected 16 (32 hex digits)", bytes.len()))
}

impl Instances {
    /// Starts a client per instance; each connects and reconnects on its own.
    ///
    /// # Errors
    /// A KEY or IV is not 32 hex digits, or two instances share a name.
    pub fn start(entries: &[InstanceEntry], config: &LinkConfig) -> Result<Self, String> {
        let key = parse_key("link.key", &config.key)?;
        let iv = parse_key("link.iv", &config.iv)?;
        let timeout = Duration::from_secs(config.request_timeout_secs.max(1));
        let mut links = BTreeMap::new();
        let mut clients = Vec::new();
        let mut tasks = Vec::new();
        for entry in entries {
            if links.contains_key(&entry.name) {
                return Err(format!("instances: `{}` is listed twice", entry.name));
            }
            let session = WebSvrSession::new(
                WebSvrConfig::new(key, iv)
                    .svr_host(config.svr_host.clone())
                    .request_timeout(timeout)
                    .heartbeat(Duration::from_secs(config.heartbeat_secs.max(1)))
                    .max_in_flight(4096)
                    .outbox_capacity(4096),
            );
            let client_config = ClientConfig::default()
                .backoff(
                    BackoffConfig::default()
                        .initial(Duration::from_millis(200))
                        .max(Duration::from_secs(5)),
                )
                .stable_after(Duration::from_secs(2));
            let (client, mut events) = Client::connect_tcp(session, entry.addr, client_config);
            let up = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU32::new(0));
            let name = entry.name.clone();
            let (task_up, task_count) = (up.clone(), count.clone());
            tasks.push(tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    match event {
                        ClientEvent::Session(WebSvrEvent::LoggedIn { session_id, .. }) => {
                            task_up.store(true, Ordering::SeqCst);
                            tracing::info!(instance = %name, session_id, "instance linked");
                        }
                        ClientEvent::Session(WebSvrEvent::Status(s)) => {
                            task_count.store(s.total_dev_count, Ordering::Relaxed);
                        }
                        ClientEvent::Session(WebSvrEvent::LoginRejected { code }) => {
                            task_up.store(false, Ordering::SeqCst);
                            tracing::warn!(instance = %name, code = u8::from(code), "instance refused the 9001");
                        }
                        ClientEvent::Session(WebSvrEvent::Disconnected(_))
                        | ClientEvent::Disconnected(_)
                            if task_up.swap(false, Ordering::SeqCst) =>
                        {
                            tracing::warn!(instance = %name, "instance link lost");
                        }
                        ClientEvent::Session(WebSvrEvent::Malformed(e)) => {
                            tracing::warn!(instance = %name, error = %e, "malformed frame from instance");
                        }
                        _ => {}
                    }
                }
            }));
            links.insert(
                entry.name.clone(),
                InstanceLink {
                    addr: entry.addr,
                    handle: client.handle(),
                    up,
                    count,
                },
            );
            clients.push(client);
        }
        Ok(Self {
            links,
            clients: Mutex::new(clients),
            tasks: Mutex::new(tasks),
            timeout,
        })
    }

    /// Whether the link to `instance` is verified now.
    #[must_use]
    pub fn is_up(&self, instance: &str) -> bool {
        self.links
            .get(instance)
            .is_some_and(|l| l.up.load(Ordering::SeqCst))
    }

    /// Every link's state.
    #[must_use]
    pub fn views(&self) -> Vec<LinkView> {
        self.links
            .iter()
            .map(|(name, l)| LinkView {
                name: name.clone(),
                addr: l.addr.to_string(),
                up: l.up.load(Ordering::SeqCst),
                vehicles: l.count.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Sends a device command to `instance` and waits for the vehicle's RespCode.
    ///
    /// # Errors
    /// [`LinkError`]: unknown or disconnected instance (at once), timeout, link lost, too busy.
    pub async fn send(
        &self,
        instance: &str,
        command: impl Into<WebSvrCommand>,
    ) -> Result<RespCode, LinkError> {
        let name = instance.to_owned();
        let link = self
            .links
            .get(instance)
            .ok_or_else(|| LinkError::UnknownInstance(name.clone()))?;
        if !link.up.load(Ordering::SeqCst) {
            return Err(LinkError::Down(name));
        }
        // The session times the request out itself; this bound only guards against a stalled driver.
        let call = link.handle.call(command.into());
        match tokio::time::timeout(self.timeout + Duration::from_secs(2), call).await {
            Err(_) => Err(LinkError::TimedOut(name, self.timeout)),
            Ok(Ok(Some(reply))) => Ok(reply.code()),
            Ok(Ok(None)) => Err(LinkError::Lost(name)),
            Ok(Err(CommandError::Refused(SendError::NotReady))) => Err(LinkError::Down(name)),
            Ok(Err(CommandError::Refused(e))) => Err(LinkError::Busy(name, e.to_string())),
            Ok(Err(CommandError::Failed(RequestError::TimedOut(d)))) => {
                Err(LinkError::TimedOut(name, d))
            }
            Ok(Err(_)) => Err(LinkError::Lost(name)),
        }
    }

    /// Closes every link.
    pub async fn shutdown(&self) {
        // The event tasks go first: a link closed on purpose is not reported as lost.
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
        let clients =
            std::mem::take(&mut *self.clients.lock().unwrap_or_else(PoisonError::into_inner));
        for c in clients {
            let _ = c.shutdown().await;
        }
    }
}
