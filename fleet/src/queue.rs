//! The persistent command queue: per-device FIFO delivery through a deployment's [`Link`].
//!
//! States, each one a fact the store records when it happens:
//!
//! | state | meaning |
//! | --- | --- |
//! | `queued` | accepted by the API, waiting for the device to be connected and logged in |
//! | `sending` | handed to the device's connection; the outcome is not recorded yet |
//! | `sent` | written to the device's connection. Final for commands the protocol does not acknowledge |
//! | `acked` | the device acknowledged it (only protocols with acknowledgements) |
//! | `failed` | the connection refused it, or the device answered with a failure |
//! | `timed_out` | sent, but no acknowledgement came in time |
//! | `expired` | its TTL passed before it could be delivered |
//! | `cancelled` | cancelled by the operator while queued, or its device was removed |
//! | `unknown` | the server stopped during its delivery and it is not idempotent: it may or may not have reached the device, and it is never resent |
//!
//! After a restart ([`crate::Store::recover`]), a command that was `sending` (or `sent` and awaiting an
//! acknowledgement) is queued again when it is idempotent and becomes `unknown` when it is not.
//!
//! At most [`Link::max_in_flight`] commands per device occupy delivery slots at once (`sending`, or `sent`
//! awaiting an acknowledgement); delivery is in queue order.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::presence::Presence;
use crate::store::Store;

/// A command's delivery state (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Waiting for the device.
    Queued,
    /// Handed to the connection, outcome not yet recorded.
    Sending,
    /// Written to the device's connection.
    Sent,
    /// Acknowledged by the device.
    Acked,
    /// Refused by the connection or failed on the device.
    Failed,
    /// Sent, no acknowledgement in time.
    TimedOut,
    /// TTL passed before delivery.
    Expired,
    /// Cancelled while queued.
    Cancelled,
    /// Interrupted by a server stop; never resent.
    Unknown,
}

impl CommandState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 9] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Acked,
        Self::Failed,
        Self::TimedOut,
        Self::Expired,
        Self::Cancelled,
        Self::Unknown,
    ];

    /// The name stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Acked => "acked",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for CommandState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown command state `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// A command as a deployment parsed it from the API: what to store and how to deliver it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// The command's name (`priceset`, `reboot`, ...).
    pub kind: String,
    /// The typed command as JSON; the deployment's [`Link`] turns it into a wire message.
    pub payload: serde_json::Value,
    /// Whether sending it twice does no harm (a price set) or not (a reboot, a door opening).
    pub idempotent: bool,
    /// Whether the protocol acknowledges it; when not, `sent` is its final state.
    pub expects_ack: bool,
}

/// A command in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommandRecord {
    /// Id.
    pub id: i64,
    /// Target device.
    pub device_id: String,
    /// Command name.
    pub kind: String,
    /// The command (JSON).
    pub payload: serde_json::Value,
    /// Safe to send twice.
    pub idempotent: bool,
    /// The protocol acknowledges it.
    pub expects_ack: bool,
    /// Delivery state.
    pub state: CommandState,
    /// The `Idempotency-Key` it was queued with.
    pub idempotency_key: Option<String>,
    /// Queued at (Unix ms).
    pub created_at: i64,
    /// Expires at (Unix ms), if it has a TTL.
    pub expires_at: Option<i64>,
    /// Written to the connection at (Unix ms).
    pub sent_at: Option<i64>,
    /// Reached its final state at (Unix ms).
    pub finished_at: Option<i64>,
    /// Why it failed, expired, was cancelled or is unknown.
    pub error: Option<String>,
    /// Delivery attempts (more than 1 only for idempotent commands resent after a restart).
    pub attempts: i64,
}

/// A boxed future, for the object-safe [`Link`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a [`Link`] did not write a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The device has no logged-in connection; nothing was written. The command stays queued.
    #[error("device offline")]
    Offline,
    /// The connection cannot take it now (its outbound queue is full); nothing was written. Retried shortly.
    #[error("connection busy: {0}")]
    Busy(String),
    /// The command cannot be sent (it does not encode, the session refuses it): it fails.
    #[error("{0}")]
    Rejected(String),
}

/// How a deployment writes a queued command to its device's connection.
pub trait Link: Send + Sync + 'static {
    /// Writes `command` to the device's connection. `Ok` means written; a [`DeliveryError`] means it was not.
    fn deliver<'a>(
        &'a self,
        command: &'a CommandRecord,
    ) -> BoxFuture<'a, Result<(), DeliveryError>>;

    /// Closes the device's connection if it has one (a removed device must not stay logged in); returns
    /// whether one was closed.
    fn disconnect<'a>(&'a self, device: &'a str) -> BoxFuture<'a, bool>;

    /// Most commands per device in delivery at once (the protocol's limit; 1 when it has none).
    fn max_in_flight(&self) -> i64 {
        1
    }
}

/// What the dispatcher's caller hears about each delivery.
pub(crate) type OnDelivered = Arc<dyn Fn(&CommandRecord, CommandState) + Send + Sync>;

/// Wakes per-device delivery workers. Cheap to clone.
///
/// It knows which devices may have queued commands (loaded from the store at start, added by every
/// [`Dispatcher::wake`], dropped when a device's queue is found empty), so a login of a device with an empty
/// queue costs no store query; the maintenance round wakes online devices the store says have queued
/// commands, which covers what this process did not see.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    wake: mpsc::UnboundedSender<String>,
    pending: Arc<Mutex<HashSet<String>>>,
}

impl Dispatcher {
    /// Starts the dispatcher; it ends when `stop` turns true, after the deliveries under way are recorded.
    pub(crate) fn spawn(
        store: Store,
        presence: Arc<Presence>,
        link: Arc<dyn Link>,
        on_delivered: OnDelivered,
        stop: watch::Receiver<bool>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (wake, rx) = mpsc::unbounded_channel();
        let this = Self {
            wake,
            pending: Arc::default(),
        };
        let task = tokio::spawn(run(
            store,
            presence,
            link,
            on_delivered,
            this.clone(),
            rx,
            stop,
        ));
        (this, task)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for delivery of `device`'s queue (it may have new commands).
    pub(crate) fn wake(&self, device: &str) {
        self.pending().insert(device.to_owned());
        let _ = self.wake.send(device.to_owned());
    }

    /// Asks for delivery of `device`'s queue if it may hold commands (a login).
    pub(crate) fn wake_if_pending(&self, device: &str) {
        if self.pending().contains(device) {
            let _ = self.wake.send(device.to_owned());
        }
    }

    fn emptied(&self, device: &str) {
        self.pending().remove(device);
    }
}

/// How long a device waits after a busy connection or a store failure before its queue is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

async fn run(
    store: Store,
    presence: Arc<Presence>,
    link: Arc<dyn Link>,
    on_delivered: OnDelivered,
    me: Dispatcher,
    mut rx: mpsc::UnboundedReceiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    match store.devices_with_queued().await {
        Ok(devices) => {
            for device in devices {
                if presence.is_online(&device) {
                    me.wake(&device);
                } else {
                    me.pending().insert(device);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "command queue: queued devices not loaded"),
    }
    let mut active: HashSet<String> = HashSet::new();
    let mut again: HashSet<String> = HashSet::new();
    let mut workers: JoinSet<(String, bool)> = JoinSet::new();
    let stop_workers = stop.clone();
    let spawn = |workers: &mut JoinSet<(String, bool)>, device: String| {
        let (store, presence, link, on_delivered, stop, me) = (
            store.clone(),
            presence.clone(),
            link.clone(),
            on_delivered.clone(),
            stop_workers.clone(),
            me.clone(),
        );
        workers.spawn(async move {
            let retry = drain(
                &store,
                &presence,
                &*link,
                &*on_delivered,
                &device,
                &stop,
                &me,
            )
            .await;
            (device, retry)
        });
    };
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            device = rx.recv() => {
                let Some(device) = device else { break };
                if active.contains(&device) {
                    again.insert(device);
                } else {
                    active.insert(device.clone());
                    spawn(&mut workers, device);
                }
            }
            Some(done) = workers.join_next(), if !workers.is_empty() => {
                let Ok((device, retry)) = done else { continue };
                if again.remove(&device) {
                    spawn(&mut workers, device);
                } else {
                    active.remove(&device);
                    if retry {
                        let me = me.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(RETRY_AFTER).await;
                            me.wake(&device);
                        });
                    }
                }
            }
        }
    }
    // Let the deliveries under way record their outcome.
    while workers.join_next().await.is_some() {}
}

/// Delivers the device's queue while it is online. Returns whether to retry soon.
async fn drain(
    store: &Store,
    presence: &Presence,
    link: &dyn Link,
    on_delivered: &(dyn Fn(&CommandRecord, CommandState) + Send + Sync),
    device: &str,
    stop: &watch::Receiver<bool>,
    me: &Dispatcher,
) -> bool {
    loop {
        if *stop.borrow() || !presence.is_online(device) {
            return false;
        }
        match store.in_flight(device).await {
            Ok(n) if n >= link.max_in_flight() => return false,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(device, error = %e, "command queue: store failed");
                return true;
            }
        }
        let command = match store.claim_next(device).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                me.emptied(device);
                return false;
            }
            Err(e) => {
                tracing::warn!(device, error = %e, "command queue: store failed");
                return true;
            }
        };
        let outcome = link.deliver(&command).await;
        let recorded = match &outcome {
            Ok(()) => store
                .mark_sent(command.id)
                .await
                .map(|_| CommandState::Sent),
            Err(DeliveryError::Offline | DeliveryError::Busy(_)) => store
                .unclaim(command.id)
                .await
                .map(|_| CommandState::Queued),
            Err(DeliveryError::Rejected(why)) => store
                .finish(
                    command.id,
                    CommandState::Sending,
                    CommandState::Failed,
                    Some(why),
                )
                .await
                .map(|_| CommandState::Failed),
        };
        match recorded {
            Ok(state) => {
                if state != CommandState::Queued {
                    // Recorded as a `command` event; at fleet scale a log line each is noise.
                    tracing::debug!(device, id = command.id, kind = %command.kind, %state, "command delivered");
                    on_delivered(&command, state);
                }
            }
            Err(e) => {
                // The row stays `sending`: recovery at the next start decides, by idempotency.
                tracing::error!(device, id = command.id, error = %e, "command queue: outcome not recorded");
                return true;
            }
        }
        match outcome {
            Ok(()) | Err(DeliveryError::Rejected(_)) => {}
            Err(DeliveryError::Offline) => return false,
            Err(DeliveryError::Busy(_)) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_their_names() {
        for state in CommandState::ALL {
            assert_eq!(state.as_str().parse::<CommandState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::String(state.as_str().into())
            );
        }
        let err = "delivered".parse::<CommandState>().unwrap_err();
        assert!(
            err.contains("`delivered`") && err.contains("timed_out"),
            "{err}"
        );
    }
}
