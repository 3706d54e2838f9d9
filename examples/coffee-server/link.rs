//! Everything the coffee server takes from device-core and jetinno-proto: the machine-facing TCP server, the
//! event pump from sessions to the fleet and the orders, the typed API commands and their wire messages.
//!
//! Commands and the restart rule (jetinno has no acknowledgements, so `sent` is final for all of them):
//!
//! | `cmd` | idempotent | after a crash during delivery |
//! | --- | --- | --- |
//! | `priceset` | yes | sent again |
//! | `discount` | yes | sent again |
//! | `products` | no (makes a product) | `unknown`, never resent |
//! | `reboot` | no | `unknown`, never resent |
//! | `opendoor` | no | `unknown`, never resent |
//! | `rinsing` | no | `unknown`, never resent |
//! | `upgrade` | no | `unknown`, never resent |
//! | `pay_done` (payment flow only) | no | `unknown`, never resent |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use device_core::jetinno::{
    LoginFailure, MachineRegistry, ServerCommand, ServerConfig as SessionConfig,
    ServerEvent as SessionEvent, ServerSession,
};
use device_core::runtime::server::{
    AdmissionConfig, ConnectionId, Server, ServerConfig, ServerEvent,
};
use device_core::runtime::CommandError;
use device_core::SendError;
use fleet::{BoxFuture, CommandRecord, CommandSpec, DeliveryError, DeviceRecord, Fleet, Problem};
use jetinno_proto::{
    Discount, FastCode, MachineCode, OpenDoor, PayDone, PayType, PriceEntry, PriceSet, Products,
    QrCodeReply, QrType, Reboot, Rinsing, ServerMessage, Upgrade,
};
use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use super::orders::{Orders, ProductReport, QrRequest};

/// One price of a `priceset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Product.
    pub product_id: u32,
    /// Price in fen (1/100 yuan).
    pub price_fen: u32,
    /// Price type (the spec's third triple member). Default 1.
    #[serde(default = "one")]
    pub price_type: u32,
}

fn one() -> u32 {
    1
}

fn qr_pay() -> String {
    "qr_pay".into()
}

/// Declares [`CoffeeCommand`] (tagged by `cmd`, as the API takes it) and an externally tagged twin used to
/// parse it, so that an error names the field by its path (`price[0].product_id`).
macro_rules! commands {
    ($( $(#[$vmeta:meta])* $variant:ident = $wire:literal { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? } ),* $(,)?) => {
        /// A command for a coffee machine, as `POST /api/devices/{id}/commands` takes it (`cmd` names it).
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(tag = "cmd", deny_unknown_fields)]
        pub enum CoffeeCommand {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        enum ByName {
            $( #[serde(rename = $wire)] $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        impl From<ByName> for CoffeeCommand {
            fn from(b: ByName) -> Self {
                match b {
                    $( ByName::$variant { $($field),* } => Self::$variant { $($field),* } ),*
                }
            }
        }
    };
}

commands! {
    /// `priceset`: set product prices.
    PriceSet = "priceset" {
        /// The prices.
        price: Vec<Price>,
    },
    /// `discount`: set the discount (the spec's value, `80` in its example).
    Discount = "discount" {
        /// Discount value.
        discount: u32,
    },
    /// `products`: make a product without payment.
    Products = "products" {
        /// Product.
        product_id: u32,
        /// Taste code: hundreds strength, tens milk, ones sugar, each 0..=5.
        fastcode: u16,
        /// Whether it counts as paid. Default true.
        #[serde(default = "yes")]
        paydone: bool,
        /// Payment type. Default `fastcode`.
        #[serde(default = "fastcode_pay")]
        paytype: String,
    },
    /// `reboot`.
    Reboot = "reboot" {},
    /// `opendoor`.
    OpenDoor = "opendoor" {},
    /// `rinsing`.
    Rinsing = "rinsing" {},
    /// `upgrade`: download and install from `dir`.
    Upgrade = "upgrade" {
        /// Where the machine downloads the update.
        dir: String,
    },
    /// `pay_done`: pushed by the payment flow, not accepted from the API.
    PayDone = "pay_done" {
        /// The order.
        order_no: String,
        /// Amount in fen.
        product_amount: u32,
        /// Paid.
        paydone: bool,
        /// Payment type. Default `qr_pay`.
        #[serde(default = "qr_pay")]
        paytype: String,
    },
}

fn yes() -> bool {
    true
}

fn fastcode_pay() -> String {
    "fastcode".into()
}

/// Parses the API's JSON body; an error is `(field, message)`.
pub fn parse_command(body: serde_json::Value) -> Result<CoffeeCommand, (String, String)> {
    let bad = |field: &str, msg: String| (field.to_owned(), msg);
    let serde_json::Value::Object(mut obj) = body else {
        return Err(bad("body", "expected a JSON object".into()));
    };
    let cmd = match obj.remove("cmd") {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => return Err(bad("cmd", format!("expected a string, got `{other}`"))),
        None => return Err(bad("cmd", "missing".into())),
    };
    let mut by_name = serde_json::Map::new();
    by_name.insert(cmd.clone(), serde_json::Value::Object(obj));
    serde_path_to_error::deserialize::<_, ByName>(serde_json::Value::Object(by_name))
        .map(Into::into)
        .map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let inner = path.strip_prefix(&cmd).map(|p| p.trim_start_matches('.'));
            let field = match inner {
                None | Some("") if message.starts_with("unknown variant") => "cmd".to_owned(),
                None | Some("") => message.split('`').nth(1).unwrap_or("body").to_owned(),
                Some(p) => p.to_owned(),
            };
            (field, message)
        })
}

impl CoffeeCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::PriceSet { .. } => "priceset",
            Self::Discount { .. } => "discount",
            Self::Products { .. } => "products",
            Self::Reboot {} => "reboot",
            Self::OpenDoor {} => "opendoor",
            Self::Rinsing {} => "rinsing",
            Self::Upgrade { .. } => "upgrade",
            Self::PayDone { .. } => "pay_done",
        }
    }

    /// Whether sending it twice does no harm.
    pub fn idempotent(&self) -> bool {
        matches!(self, Self::PriceSet { .. } | Self::Discount { .. })
    }

    /// The wire message for machine `vmc_no`.
    ///
    /// # Errors
    /// A field is out of range (the text names it).
    pub fn to_wire(&self, vmc_no: u64) -> Result<ServerMessage, String> {
        Ok(match self {
            Self::PriceSet { price } => PriceSet {
                vmc_no,
                price: price
                    .iter()
                    .map(|p| PriceEntry::from((p.product_id, p.price_fen, p.price_type)))
                    .collect(),
            }
            .into(),
            Self::Discount { discount } => Discount {
                vmc_no,
                discount: *discount,
            }
            .into(),
            Self::Products {
                product_id,
                fastcode,
                paydone,
                paytype,
            } => Products {
                vmc_no,
                product_id: *product_id,
                fastcode: FastCode::try_from(i64::from(*fastcode))
                    .map_err(|e| format!("`fastcode`: {e}"))?,
                paydone: *paydone,
                paytype: PayType::from(paytype.as_str()),
            }
            .into(),
            Self::Reboot {} => Reboot { vmc_no }.into(),
            Self::OpenDoor {} => OpenDoor { vmc_no }.into(),
            Self::Rinsing {} => Rinsing { vmc_no }.into(),
            Self::Upgrade { dir } => Upgrade {
                vmc_no,
                dir: dir.clone(),
            }
            .into(),
            Self::PayDone {
                order_no,
                product_amount,
                paydone,
                paytype,
            } => PayDone {
                vmc_no,
                product_amount: *product_amount,
                order_no: order_no.clone(),
                paydone: *paydone,
                paytype: PayType::from(paytype.as_str()),
            }
            .into(),
        })
    }
}

/// Parses a device id as a jetinno machine number.
pub fn vmc_no(id: &str) -> Result<u64, String> {
    id.parse::<u64>()
        .map_err(|e| format!("`{id}` is not a machine number (vmc_no): {e}"))
}

/// Checks a machine code.
pub fn check_code(code: &str) -> Result<(), String> {
    MachineCode::new(code)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The command catalog of the admin API.
#[derive(Debug, Clone, Copy)]
pub struct Catalog;

impl fleet::CommandCatalog for Catalog {
    fn parse(
        &self,
        device: &DeviceRecord,
        body: serde_json::Value,
    ) -> Result<CommandSpec, Problem> {
        let command =
            parse_command(body).map_err(|(field, message)| Problem::invalid(&field, message))?;
        if matches!(command, CoffeeCommand::PayDone { .. }) {
            return Err(Problem::invalid(
                "cmd",
                "`pay_done` is pushed by the payment flow: use POST /api/orders/{order_no}/paid",
            ));
        }
        let vmc = vmc_no(&device.id).map_err(|e| Problem::invalid("id", e))?;
        // Refuse now what could never be sent.
        command.to_wire(vmc).map_err(|e| {
            let field = e.split('`').nth(1).unwrap_or("body").to_owned();
            Problem::invalid(&field, e)
        })?;
        Ok(CommandSpec {
            kind: command.name().into(),
            idempotent: command.idempotent(),
            expects_ack: false,
            payload: serde_json::to_value(&command)
                .map_err(|e| Problem::internal(e.to_string()))?,
        })
    }

    fn check_device(&self, id: &str, secret: &str) -> Result<(), Problem> {
        vmc_no(id).map_err(|e| Problem::invalid("id", e))?;
        check_code(secret).map_err(|e| Problem::invalid("secret", e))
    }
}

/// The login registry: the fleet's in-memory copy of the machine codes.
#[derive(Clone)]
struct Registry(Fleet);

impl MachineRegistry for Registry {
    fn machine_code(&self, vmc_no: u64) -> Option<MachineCode> {
        self.0
            .secret(&vmc_no.to_string())
            .and_then(|s| MachineCode::new(s).ok())
    }
}

type Session = ServerSession<Registry>;

/// Settings of the machine listener.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Most machine connections at once.
    pub max_connections: usize,
    /// Time a connection has to log in.
    pub login_timeout: Duration,
    /// Silence after which a machine is declared gone.
    pub peer_timeout: Duration,
    /// Time to answer a `qrcode`.
    pub qrcode_timeout: Duration,
    /// Most connections not logged in yet.
    pub max_pending: usize,
    /// Most connections not logged in yet from one source address.
    pub max_pending_per_source: usize,
}

/// The machine-facing server.
pub struct MachineLink {
    server: Server<Session>,
}

impl MachineLink {
    /// Starts serving machines on `listener`; returns the link and the event pump task, which ends after
    /// [`MachineLink::shutdown`] once every connection's last event is recorded.
    ///
    /// # Errors
    /// The listener has no address.
    pub fn start(
        listener: tokio::net::TcpListener,
        fleet: Fleet,
        orders: Orders,
        settings: &LinkSettings,
    ) -> std::io::Result<(Arc<Self>, tokio::task::JoinHandle<()>)> {
        let session_config = SessionConfig::default()
            .login_timeout(settings.login_timeout)
            .peer_timeout(settings.peer_timeout)
            .qrcode_timeout(settings.qrcode_timeout);
        let registry = Registry(fleet.clone());
        let (server, events) = Server::spawn(
            listener,
            move || ServerSession::new(session_config.clone(), registry.clone()),
            ServerConfig::default()
                .max_connections(settings.max_connections)
                .admission(
                    AdmissionConfig::default()
                        .max_pending(settings.max_pending)
                        .max_pending_per_source(settings.max_pending_per_source),
                ),
        )?;
        let link = Arc::new(Self { server });
        let pump = tokio::spawn(pump(link.clone(), fleet, orders, events));
        Ok((link, pump))
    }

    /// Where machines connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops accepting and closes every machine connection.
    pub async fn shutdown(&self) {
        if let Err(e) = self.server.shutdown().await {
            tracing::error!(error = %e, "machine server task failed");
        }
    }

    async fn send(&self, device: &str, msg: ServerMessage) -> Result<(), CommandError> {
        let name = msg.name().to_owned();
        // Device ids are machine numbers; one that is not cannot be connected.
        let peer = vmc_no(device).map_err(|_| CommandError::UnknownPeer)?;
        self.server.call(&peer, ServerCommand::Send(msg)).await?;
        fleet::telemetry::message_out(&name);
        Ok(())
    }
}

impl fleet::Link for MachineLink {
    fn deliver<'a>(
        &'a self,
        command: &'a CommandRecord,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let parsed: CoffeeCommand =
                serde_json::from_value(command.payload.clone()).map_err(|e| {
                    DeliveryError::Rejected(format!("stored command does not parse: {e}"))
                })?;
            let vmc = vmc_no(&command.device_id).map_err(DeliveryError::Rejected)?;
            let msg = parsed.to_wire(vmc).map_err(DeliveryError::Rejected)?;
            match self.send(&command.device_id, msg).await {
                Ok(()) => Ok(()),
                Err(CommandError::UnknownPeer | CommandError::Stopped) => {
                    Err(DeliveryError::Offline)
                }
                Err(CommandError::Refused(SendError::NotReady | SendError::Closed)) => {
                    Err(DeliveryError::Offline)
                }
                Err(CommandError::Refused(e @ SendError::Full { .. })) => {
                    Err(DeliveryError::Busy(e.to_string()))
                }
                Err(e) => Err(DeliveryError::Rejected(e.to_string())),
            }
        })
    }

    fn disconnect<'a>(&'a self, device: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            match vmc_no(device) {
                Ok(peer) => self.server.close(&peer).await,
                Err(_) => false,
            }
        })
    }
}

/// Refused connections are reported once per window with a count: a reconnect storm or a flood must not
/// write a log line and an event each.
const REFUSALS_WINDOW: Duration = Duration::from_secs(10);

/// Counts refused connections between reports.
#[derive(Debug, Default)]
struct Refusals {
    last_report: Option<std::time::Instant>,
    since: u64,
}

/// What to report: `count` refusals since the previous report, this one included.
#[derive(Debug, PartialEq, Eq)]
struct RefusalSummary {
    count: u64,
}

impl Refusals {
    fn refused(&mut self, now: std::time::Instant) -> Option<RefusalSummary> {
        self.since += 1;
        let due = self
            .last_report
            .is_none_or(|at| now.duration_since(at) >= REFUSALS_WINDOW);
        if !due {
            return None;
        }
        self.last_report = Some(now);
        let count = std::mem::take(&mut self.since);
        Some(RefusalSummary { count })
    }
}

fn conn_key(conn: ConnectionId) -> u64 {
    conn.get()
}

/// Turns session events into fleet and order updates.
async fn pump(
    link: Arc<MachineLink>,
    fleet: Fleet,
    orders: Orders,
    mut events: tokio::sync::mpsc::Receiver<ServerEvent<Session>>,
) {
    let mut refusals = Refusals::default();
    // The order handlers run off the pump; the pump ends only after the last of them, so none is cut off
    // by the store closing at shutdown.
    let handlers = TaskTracker::new();
    while let Some(event) = events.recv().await {
        match event {
            ServerEvent::Accepted { addr, .. } => tracing::debug!(%addr, "machine connected"),
            ServerEvent::Refused { addr, reason } => {
                let reason = format!("{reason:?}");
                fleet::telemetry::connection_refused();
                if let Some(summary) = refusals.refused(std::time::Instant::now()) {
                    tracing::warn!(
                        last_addr = %addr,
                        %reason,
                        refused = summary.count,
                        "machine connections refused (one line per {} s at most)",
                        REFUSALS_WINDOW.as_secs()
                    );
                    fleet
                        .event(
                            None,
                            "connection_refused",
                            &serde_json::json!({ "addr": addr.to_string(), "reason": reason, "count": summary.count }),
                        )
                        .await;
                }
            }
            ServerEvent::Closed {
                conn,
                peer: Some(vmc),
                reason,
            } => {
                let why = reason.to_string();
                fleet
                    .device_offline(&vmc.to_string(), conn_key(conn), Some(&why))
                    .await;
            }
            ServerEvent::Session { conn, peer, event } => {
                let device = peer.map(|p| p.to_string());
                let ctx = Handlers {
                    link: &link,
                    fleet: &fleet,
                    orders: &orders,
                    tasks: &handlers,
                };
                on_session_event(&ctx, conn_key(conn), device, event).await;
            }
            _ => {}
        }
    }
    handlers.close();
    handlers.wait().await;
}

/// What a session event's handler works with.
struct Handlers<'a> {
    link: &'a Arc<MachineLink>,
    fleet: &'a Fleet,
    orders: &'a Orders,
    tasks: &'a TaskTracker,
}

async fn on_session_event(
    ctx: &Handlers<'_>,
    conn: u64,
    device: Option<String>,
    event: SessionEvent,
) {
    let Handlers {
        link,
        fleet,
        orders,
        tasks,
    } = *ctx;
    if let Some(d) = &device {
        fleet.device_seen(d);
    }
    let device_ref = device.as_deref();
    match event {
        SessionEvent::LoggedIn(login) => {
            fleet::telemetry::message_in("login");
            // The session answered it.
            fleet::telemetry::message_out("login_r");
            let id = login.vmc_no.to_string();
            let info = login
                .linux_driver_version
                .as_ref()
                .map(|v| serde_json::json!({ "linux_driver_version": v }));
            fleet
                .device_online(&id, conn, Some(&login.version), info.as_ref())
                .await;
        }
        SessionEvent::LoginFailed { vmc_no, reason } => {
            fleet::telemetry::message_in("login");
            fleet::telemetry::message_out("login_r");
            let why = match reason {
                LoginFailure::UnknownMachine => "unknown machine",
                LoginFailure::BadSign => "wrong signature",
                LoginFailure::InvalidDate { .. } => "login date is not a valid yyyyMMdd date",
                LoginFailure::DateOutOfWindow { .. } => "login date outside the accepted window",
                _ => "refused",
            };
            fleet.login_refused(&vmc_no.to_string(), why).await;
        }
        SessionEvent::QrCodeRequested(req) => {
            fleet::telemetry::message_in("qrcode");
            let request = QrRequest {
                device_id: req.vmc_no.to_string(),
                order_no: req.order_no.clone(),
                product_id: req.product_id,
                amount_fen: req.amount,
                qr_type: req.qr_type.to_string(),
            };
            let (link, fleet, orders) = (link.clone(), fleet.clone(), orders.clone());
            // Orders are answered concurrently; the session makes sure each is answered at most once.
            tasks.spawn(async move {
                match orders.qrcode(&request).await {
                    Ok(order) => {
                        let reply = QrCodeReply {
                            vmc_no: req.vmc_no,
                            qr_type: if req.qr_type == QrType::All {
                                QrType::All
                            } else {
                                req.qr_type.clone()
                            },
                            qrcode: order.pay_url.unwrap_or_default(),
                            order_no: order.order_no,
                        };
                        if let Err(e) = link.send(&request.device_id, reply.into()).await {
                            tracing::warn!(order = %request.order_no, error = %e, "qrcode_r not sent");
                            fleet
                                .event(
                                    Some(&request.device_id),
                                    "qrcode_unanswered",
                                    &serde_json::json!({ "order_no": request.order_no, "error": e.to_string() }),
                                )
                                .await;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(order = %request.order_no, error = %e, "qrcode refused");
                        fleet
                            .event(
                                Some(&request.device_id),
                                "qrcode_refused",
                                &serde_json::json!({ "order_no": request.order_no, "error": e.to_string() }),
                            )
                            .await;
                    }
                }
            });
        }
        SessionEvent::QrCodeExpired { order_no } => {
            fleet
                .event(
                    device_ref,
                    "qrcode_expired",
                    &serde_json::json!({ "order_no": order_no }),
                )
                .await;
        }
        SessionEvent::Status(s) => {
            fleet::telemetry::message_in("machinestatus");
            fleet
                .event(
                    device_ref,
                    "status",
                    &serde_json::json!({ "status": s.status.as_str() }),
                )
                .await;
        }
        SessionEvent::Error(e) => {
            fleet::telemetry::message_in("error");
            fleet
                .event(
                    device_ref,
                    "error",
                    &serde_json::json!({
                        "error_code": e.error_code, "description": e.error_description, "set": e.is_set,
                        "fatal": e.is_fatal_error, "persistent": e.is_persistence_error, "datetime": e.datetime,
                    }),
                )
                .await;
        }
        SessionEvent::ProductDone(p) => {
            fleet::telemetry::message_in("productdone");
            let report = ProductReport {
                device_id: p.vmc_no.to_string(),
                order_no: p.order_no.clone(),
                product_name: p.product_name.clone(),
                pay_type: p.pay_type.to_string(),
                ok: p.is_ok,
            };
            let (fleet, orders) = (fleet.clone(), orders.clone());
            // Off the pump, as `qrcode` is: its store round trips must not hold up every machine's events.
            tasks.spawn(async move {
                if let Err(e) = orders.product_done(&report).await {
                    tracing::warn!(order = %p.order_no, error = %e, "productdone not applied");
                    fleet
                        .event(
                            Some(&report.device_id),
                            "productdone_unmatched",
                            &serde_json::json!({ "order_no": p.order_no, "ok": p.is_ok, "error": e.to_string() }),
                        )
                        .await;
                }
            });
        }
        SessionEvent::Unknown(u) => {
            fleet::telemetry::message_in("unknown");
            fleet
                .event(
                    device_ref,
                    "unknown_message",
                    &serde_json::json!({ "cmd": u.cmd, "raw": u.raw }),
                )
                .await;
        }
        SessionEvent::Malformed(why) => {
            fleet::telemetry::decode_error();
            fleet
                .event(
                    device_ref,
                    "malformed",
                    &serde_json::json!({ "error": why.to_string() }),
                )
                .await;
        }
        // Last-seen was updated above; the session answered it.
        SessionEvent::Heartbeat => {
            fleet::telemetry::message_in("hb");
            fleet::telemetry::message_out("hb");
        }
        SessionEvent::Disconnected(_) => {}
        // An event this server does not know yet (device-core's enum grows) may come with every frame, such
        // as heartbeats: counted and logged at debug, never a store write each.
        other => {
            fleet::telemetry::message_in("other");
            tracing::debug!(device = device_ref, event = ?other, "session event not handled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet::CommandCatalog;

    fn device() -> DeviceRecord {
        DeviceRecord {
            id: "1001".into(),
            name: "m".into(),
            created_at: 0,
            last_seen: None,
            version: None,
            info: None,
        }
    }

    #[test]
    fn refused_connections_are_reported_once_per_window_with_a_count() {
        let mut r = Refusals::default();
        let t0 = std::time::Instant::now();
        assert_eq!(r.refused(t0), Some(RefusalSummary { count: 1 }));
        for i in 1..=500 {
            assert_eq!(r.refused(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(
            r.refused(t0 + REFUSALS_WINDOW),
            Some(RefusalSummary { count: 501 })
        );
    }

    #[test]
    fn api_commands_parse_to_wire_messages() {
        let spec = Catalog
            .parse(&device(), serde_json::json!({"cmd": "priceset", "price": [{"product_id": 1, "price_fen": 350}]}))
            .unwrap();
        assert!(spec.idempotent && !spec.expects_ack);
        let cmd: CoffeeCommand = serde_json::from_value(spec.payload).unwrap();
        let ServerMessage::PriceSet(p) = cmd.to_wire(1001).unwrap() else {
            panic!()
        };
        assert_eq!(p.price, vec![PriceEntry::from((1, 350, 1))]);
        let reboot = Catalog
            .parse(&device(), serde_json::json!({"cmd": "reboot"}))
            .unwrap();
        assert!(!reboot.idempotent);
    }

    #[test]
    fn bad_commands_name_the_field() {
        let err = Catalog
            .parse(&device(), serde_json::json!({"cmd": "priceset", "price": [{"product_id": "x", "price_fen": 1}]}))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("price[0].product_id"), "{err:?}");
        let err = Catalog
            .parse(&device(), serde_json::json!({"cmd": "fly"}))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("cmd"), "{err:?}");
        let err = Catalog
            .parse(
                &device(),
                serde_json::json!({"cmd": "products", "product_id": 1, "fastcode": 263}),
            )
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("fastcode"), "{err:?}");
        let err = Catalog
            .parse(&device(), serde_json::json!({"cmd": "pay_done", "order_no": "a", "product_amount": 1, "paydone": true}))
            .unwrap_err();
        assert!(err.detail.contains("payment flow"), "{err:?}");
        assert!(Catalog.check_device("12a", "12345678").is_err());
        assert!(Catalog.check_device("12", "1234").is_err());
        assert!(Catalog.check_device("12", "12345678").is_ok());
    }
}
