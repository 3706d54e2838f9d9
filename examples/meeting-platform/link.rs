//! Everything the platform takes from device-core and best-proto: the best sessions over WebSocket (best-w) and
//! MQTT (best-m) at the same time, the event pumps into the fleet and the meetings, and the fleet [`Link`]
//! that writes queued `cmd.*` commands.
//!
//! Commands are stored as `{"params": {...}}` under their `funcId`; the `cmdId` on the wire is the queue's
//! command id, so a `dev.cmd.response` names the row it answers. Outcomes:
//!
//! | what happened | state |
//! | --- | --- |
//! | `dev.cmd.response` code `00000000` | `acked` |
//! | `dev.cmd.response` with another code | `failed` (code and message kept) |
//! | no answer within `terminals.command_timeout_secs` | `timed_out` |
//! | connection (or broker) lost before the answer, idempotent command | queued again |
//! | connection lost before the answer, `cmd.control.reboot` | `unknown`, never resent |
//!
//! Never more than the terminal's `maxPendingCmdCount` (capped by `terminals.max_pending_commands`) are in
//! flight: delivery waits for the `dev.report` that names it and answers "busy" at the limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use best_proto::{Code, DeviceMessage, PlatformMessage, Response, Results};
use device_core::best::{
    PlatformCommand, PlatformConfig, PlatformEvent, PlatformSession, UploadHandling,
};
use device_core::runtime::mqtt::MqttListener;
use device_core::runtime::server::{Server, ServerConfig, ServerEvent, ServerEvents, WsListener};
use device_core::runtime::CommandError;
use device_core::{RequestError, SendError};
use fleet::{BoxFuture, CommandRecord, DeliveryError, DeviceRecord, Problem};

use super::files::Files;
use super::meetings::Meetings;

/// The session type of both transports.
pub type Session = PlatformSession<Meetings>;

/// A terminal's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// best-w.
    WebSocket,
    /// best-m.
    Mqtt,
}

impl Transport {
    /// The name the API and the dashboard show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::Mqtt => "mqtt",
        }
    }

    /// Connection ids of both servers in one space (the fleet's presence keys them).
    fn conn_key(self, conn: u64) -> u64 {
        conn * 2 + u64::from(self == Self::Mqtt)
    }
}

/// Settings of the terminal side.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// `heartbeatInterval` of the report reply.
    pub heartbeat: Duration,
    /// How long a command waits for its answer.
    pub command_timeout: Duration,
    /// Cap on any terminal's `maxPendingCmdCount`.
    pub max_pending_commands: u32,
    /// Largest BEST message.
    pub max_message: usize,
    /// Most connections per transport.
    pub max_connections: usize,
    /// Answer a terminal's key exchange.
    pub key_exchange: bool,
}

impl LinkSettings {
    /// The session settings.
    pub fn session(&self) -> PlatformConfig {
        let mut config = PlatformConfig::default()
            .heartbeat_interval(self.heartbeat)
            .command_timeout(self.command_timeout)
            .max_pending_commands(usize::try_from(self.max_pending_commands).unwrap_or(16))
            // Uploads are kept on disk by the platform (files.rs), so they resume across connections.
            .uploads(UploadHandling::Application);
        config.codec = config.codec.max_message_len(self.max_message);
        config.key_exchange = self.key_exchange;
        config
    }
}

#[derive(Debug)]
struct Terminal {
    transport: Transport,
    /// The connection it logged in on (both transports' ids in one space).
    conn: u64,
    /// The report's `maxPendingCmdCount`, once reported.
    max: Option<usize>,
    in_flight: usize,
}

/// The terminal-facing servers.
pub struct TerminalLink {
    ws: Server<Session>,
    mqtt: Option<Server<Session>>,
    meetings: Meetings,
    files: Files,
    terminals: Mutex<HashMap<String, Terminal>>,
    max_pending: usize,
    /// For the tasks that wait for a command's answer.
    me: Weak<TerminalLink>,
}

impl std::fmt::Debug for TerminalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalLink")
            .field("ws", &self.ws.local_addr())
            .finish_non_exhaustive()
    }
}

impl TerminalLink {
    /// Serves best-w on `ws` and, with `mqtt`, best-m on the broker; returns the link and its event pumps,
    /// which end after [`TerminalLink::shutdown`].
    ///
    /// # Errors
    /// A listener has no address.
    pub fn start(
        ws: tokio::net::TcpListener,
        mqtt: Option<MqttListener>,
        meetings: Meetings,
        files: Files,
        settings: &LinkSettings,
    ) -> std::io::Result<(Arc<Self>, Vec<tokio::task::JoinHandle<()>>)> {
        let session = settings.session();
        let server_config = ServerConfig::default().max_connections(settings.max_connections);
        let make = {
            let (session, meetings) = (session.clone(), meetings.clone());
            move || PlatformSession::new(session.clone(), meetings.clone())
        };
        let (ws, ws_events) =
            Server::spawn(WsListener::new(ws), make.clone(), server_config.clone())?;
        let (mqtt, mqtt_events) = match mqtt {
            Some(listener) => {
                let (server, events) = Server::spawn(listener, make, server_config)?;
                (Some(server), Some(events))
            }
            None => (None, None),
        };
        let link = Arc::new_cyclic(|me| Self {
            ws,
            mqtt,
            meetings,
            files,
            terminals: Mutex::new(HashMap::new()),
            max_pending: usize::try_from(settings.max_pending_commands)
                .unwrap_or(16)
                .max(1),
            me: me.clone(),
        });
        let mut pumps = vec![tokio::spawn(pump(
            link.clone(),
            Transport::WebSocket,
            ws_events,
        ))];
        if let Some(events) = mqtt_events {
            pumps.push(tokio::spawn(pump(link.clone(), Transport::Mqtt, events)));
        }
        Ok((link, pumps))
    }

    /// Where best-w terminals connect.
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws.local_addr()
    }

    /// The transport terminal `sn` is logged in over, if it is.
    pub fn transport_of(&self, sn: &str) -> Option<Transport> {
        self.terminals().get(sn).map(|t| t.transport)
    }

    /// Terminals logged in over each transport: `(websocket, mqtt)`.
    pub fn counts(&self) -> (usize, usize) {
        let t = self.terminals();
        let mqtt = t
            .values()
            .filter(|t| t.transport == Transport::Mqtt)
            .count();
        (t.len() - mqtt, mqtt)
    }

    fn terminals(&self) -> std::sync::MutexGuard<'_, HashMap<String, Terminal>> {
        self.terminals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn server(&self, transport: Transport) -> Option<&Server<Session>> {
        match transport {
            Transport::WebSocket => Some(&self.ws),
            Transport::Mqtt => self.mqtt.as_ref(),
        }
    }

    /// Stops accepting and closes every terminal connection.
    pub async fn shutdown(&self) {
        for server in [Some(&self.ws), self.mqtt.as_ref()].into_iter().flatten() {
            if let Err(e) = server.shutdown().await {
                tracing::error!(error = %e, "terminal server task failed");
            }
        }
    }

    /// Answers a terminal request (best-effort: a failure means the connection is gone).
    async fn respond(&self, transport: Transport, sn: &str, mid: String, response: Response) {
        let Some(server) = self.server(transport) else {
            return;
        };
        let sn = sn.to_owned();
        if let Err(e) = server
            .call(&sn, PlatformCommand::Respond { mid, response })
            .await
        {
            tracing::debug!(sn, error = %e, "answer not sent");
        }
    }

    fn finished(&self, sn: &str) {
        if let Some(t) = self.terminals().get_mut(sn) {
            t.in_flight = t.in_flight.saturating_sub(1);
        }
        self.meetings.fleet().wake(sn);
    }

    /// Records the outcome of command `command` (delivered, so `sending` or `sent`).
    async fn outcome(
        &self,
        command: &CommandRecord,
        result: Result<Option<best_proto::CmdResponse>, CommandError>,
    ) {
        let sn = command.device_id.as_str();
        let (to, error) = match result {
            Ok(Some(answer)) => {
                self.meetings
                    .record_result(
                        command.id,
                        sn,
                        answer.code.as_str(),
                        answer.message.as_deref(),
                    )
                    .await;
                if answer.code == Code::Success {
                    ("acked", None)
                } else {
                    let text = format!(
                        "{}: {}",
                        answer.code.as_str(),
                        answer.message.unwrap_or_default()
                    );
                    ("failed", Some(text))
                }
            }
            Ok(None) => ("acked", None),
            Err(CommandError::Failed(RequestError::TimedOut(_))) => {
                ("timed_out", Some("no dev.cmd.response in time".to_owned()))
            }
            Err(e) if command.idempotent => ("queued", Some(e.to_string())),
            Err(e) => (
                "unknown",
                Some(format!("{e} before the answer; not resent")),
            ),
        };
        // The dispatcher marks the command `sent` after `deliver` returns; an answer can be faster.
        for _ in 0..200 {
            match set_state(&self.meetings, command.id, to, error.as_deref()).await {
                Ok(true) => break,
                Ok(false) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(e) => {
                    tracing::error!(id = command.id, error = %e, "command outcome not recorded");
                    break;
                }
            }
        }
        self.meetings
            .fleet()
            .event(
                Some(sn),
                "command",
                &serde_json::json!({ "id": command.id, "kind": command.kind, "state": to, "error": error }),
            )
            .await;
        self.finished(sn);
    }
}

/// Moves command `id` from `sent` to `to` (`queued` puts it back in line). `false`: it is not `sent` (yet).
async fn set_state(
    meetings: &Meetings,
    id: i64,
    to: &str,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let sql = if to == "queued" {
        "UPDATE commands SET state = 'queued', sent_at = NULL, error = $3 WHERE id = $1 AND state = 'sent' AND $2 = 'queued'"
    } else {
        "UPDATE commands SET state = $2, error = $3, finished_at = $4 WHERE id = $1 AND state = 'sent'"
    };
    let done = sqlx::query(sql)
        .bind(id)
        .bind(to)
        .bind(error)
        .bind(fleet::store::now_ms())
        .execute(meetings.fleet().store().writer())
        .await?;
    if done.rows_affected() == 1 {
        return Ok(true);
    }
    // Finished already (an operator, a TTL): nothing more to do.
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM commands WHERE id = $1")
        .bind(id)
        .fetch_optional(meetings.fleet().store().pool())
        .await?;
    Ok(!matches!(state.as_deref(), Some("sending" | "sent")))
}

/// The wire message of a stored command: its params with the command id as `cmdId`.
///
/// # Errors
/// The stored command does not decode as that `funcId` (the text names the field).
pub fn wire_message(
    func_id: &str,
    payload: &serde_json::Value,
    cmd_id: &str,
) -> Result<PlatformMessage, String> {
    let mut params = payload
        .get("params")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let Some(obj) = params.as_object_mut() else {
        return Err("`params`: expected a JSON object".into());
    };
    obj.insert("cmdId".into(), serde_json::Value::String(cmd_id.to_owned()));
    let envelope =
        serde_json::json!({ "funcId": func_id, "mid": "check", "payload": { "params": params } });
    let text = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
    let decoded = best_proto::DeviceCodec::new(best_proto::CodecConfig::default())
        .decode_text(&text)
        .map_err(|e| e.to_string())?;
    match decoded.message {
        PlatformMessage::Unknown(_) => {
            Err(format!("`cmd`: `{func_id}` is not a known BEST command"))
        }
        PlatformMessage::Response(_) => Err("`cmd`: `cmd.dev.response` is not a command".into()),
        m => Ok(m),
    }
}

impl fleet::Link for TerminalLink {
    fn deliver<'a>(
        &'a self,
        command: &'a CommandRecord,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let sn = command.device_id.clone();
            let message = wire_message(&command.kind, &command.payload, &command.id.to_string())
                .map_err(DeliveryError::Rejected)?;
            let transport = {
                let mut terminals = self.terminals();
                let Some(t) = terminals.get_mut(&sn) else {
                    return Err(DeliveryError::Offline);
                };
                let Some(max) = t.max else {
                    return Err(DeliveryError::Busy("waiting for dev.report".into()));
                };
                if t.in_flight >= max {
                    return Err(DeliveryError::Busy(format!(
                        "{max} commands in flight (maxPendingCmdCount)"
                    )));
                }
                t.in_flight += 1;
                t.transport
            };
            let Some(server) = self.server(transport).cloned() else {
                self.finished(&sn);
                return Err(DeliveryError::Offline);
            };
            if !server.is_established(&sn) {
                self.finished(&sn);
                return Err(DeliveryError::Offline);
            }
            fleet::telemetry::message_out(&command.kind);
            let Some(me) = self.me.upgrade() else {
                return Err(DeliveryError::Offline);
            };
            let command = command.clone();
            tokio::spawn(async move {
                let result = server.call(&sn, PlatformCommand::Send(message)).await;
                let result = match result {
                    // The connection ended between the check above and the call: nothing was written.
                    Err(
                        CommandError::Refused(SendError::NotReady | SendError::Closed)
                        | CommandError::UnknownPeer,
                    ) => Err(CommandError::Failed(RequestError::ConnectionLost)),
                    other => other,
                };
                me.outcome(&command, result).await;
            });
            Ok(())
        })
    }

    fn max_in_flight(&self) -> i64 {
        i64::try_from(self.max_pending).unwrap_or(16)
    }

    fn disconnect<'a>(&'a self, device: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let peer = device.to_owned();
            let ws = self.ws.close(&peer).await;
            let mqtt = match &self.mqtt {
                Some(mqtt) => mqtt.close(&peer).await,
                None => false,
            };
            ws || mqtt
        })
    }
}

/// The command catalog of the admin API: `{"cmd": "<funcId>", "params": {...}}`, checked against the BEST
/// codec (the `cmdId` is the queue's).
#[derive(Debug, Clone, Copy)]
pub struct Catalog;

impl fleet::CommandCatalog for Catalog {
    fn parse(
        &self,
        _device: &DeviceRecord,
        body: serde_json::Value,
    ) -> Result<fleet::CommandSpec, Problem> {
        let serde_json::Value::Object(mut obj) = body else {
            return Err(Problem::invalid("body", "expected a JSON object"));
        };
        let cmd = match obj.remove("cmd") {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(Problem::invalid(
                    "cmd",
                    format!("expected a string, got `{other}`"),
                ))
            }
            None => {
                return Err(Problem::invalid(
                    "cmd",
                    "missing (a BEST funcId such as `cmd.control.reboot`)",
                ))
            }
        };
        let params = obj
            .remove("params")
            .unwrap_or_else(|| serde_json::json!({}));
        if let Some(extra) = obj.keys().next() {
            return Err(Problem::invalid(
                extra,
                "unknown field (expected `cmd` and `params`)",
            ));
        }
        if params.get("cmdId").is_some() {
            return Err(Problem::invalid(
                "params.cmdId",
                "set by the platform (the command id)",
            ));
        }
        let spec = super::meetings::command_spec(&cmd, params);
        wire_message(&cmd, &spec.payload, "0")
            .map_err(|e| Problem::invalid(&error_field(&e), e))?;
        Ok(spec)
    }

    fn check_device(&self, id: &str, secret: &str) -> Result<(), Problem> {
        super::meetings::check_sn(id).map_err(|e| Problem::invalid("id", e))?;
        if secret.is_empty() {
            return Err(Problem::invalid(
                "secret",
                "the terminal's secret key must not be empty",
            ));
        }
        Ok(())
    }
}

/// The field a codec error names: `params.users[0]` from "at `payload.params.users[0]`", else `cmd`/`params`.
fn error_field(error: &str) -> String {
    if let Some(rest) = error.split("at `payload.").nth(1) {
        return rest.split('`').next().unwrap_or("params").to_owned();
    }
    if error.starts_with("`cmd`") {
        return "cmd".into();
    }
    "params".into()
}

/// Turns one server's session events into fleet and meeting updates.
async fn pump(link: Arc<TerminalLink>, transport: Transport, mut events: ServerEvents<Session>) {
    while let Some(event) = events.recv().await {
        match event {
            ServerEvent::Established { conn, peer } => {
                let fleet = link.meetings.fleet();
                link.terminals().insert(
                    peer.clone(),
                    Terminal {
                        transport,
                        conn: transport.conn_key(conn.get()),
                        max: None,
                        in_flight: 0,
                    },
                );
                let info = serde_json::json!({ "transport": transport.as_str() });
                fleet
                    .device_online(&peer, transport.conn_key(conn.get()), None, Some(&info))
                    .await;
                link.meetings
                    .terminal_seen(&peer, transport.as_str(), None)
                    .await;
            }
            ServerEvent::Closed {
                conn,
                peer: Some(sn),
                reason,
            } => {
                {
                    let mut terminals = link.terminals();
                    // A newer connection of the same terminal may have logged in before this one's end is seen.
                    if terminals
                        .get(&sn)
                        .is_some_and(|t| t.conn == transport.conn_key(conn.get()))
                    {
                        terminals.remove(&sn);
                    }
                }
                let why = reason.to_string();
                link.meetings
                    .fleet()
                    .device_offline(&sn, transport.conn_key(conn.get()), Some(&why))
                    .await;
            }
            ServerEvent::Session { peer, event, .. } => {
                on_session_event(&link, transport, peer, event).await
            }
            _ => {}
        }
    }
}

async fn on_session_event(
    link: &Arc<TerminalLink>,
    transport: Transport,
    sn: Option<String>,
    event: PlatformEvent,
) {
    let fleet = link.meetings.fleet().clone();
    if let Some(sn) = &sn {
        fleet.device_seen(sn);
    }
    match event {
        PlatformEvent::Registered { sn } => {
            fleet
                .event(Some(&sn), "registered_terminal", &serde_json::json!({}))
                .await
        }
        PlatformEvent::Accredited { sn } => {
            fleet
                .event(Some(&sn), "accredited", &serde_json::json!({}))
                .await
        }
        PlatformEvent::LoginFailed { sn, step, code } => {
            let why = format!("{step:?} refused with {}", code.as_str());
            fleet
                .login_refused(sn.as_deref().unwrap_or("?"), &why)
                .await;
        }
        PlatformEvent::Reported(report) => {
            let Some(sn) = sn else { return };
            let max = report
                .max_pending_cmd_count
                .map_or(1, |m| usize::try_from(m).unwrap_or(1))
                .clamp(1, link.max_pending);
            if let Some(t) = link.terminals().get_mut(&sn) {
                t.max = Some(max);
            }
            link.meetings
                .terminal_seen(&sn, transport.as_str(), i64::try_from(max).ok())
                .await;
            fleet.wake(&sn);
        }
        PlatformEvent::Heartbeat(_) => fleet::telemetry::message_in("dev.heartbeat"),
        PlatformEvent::Request { mid, message } => {
            let Some(sn) = sn else { return };
            fleet::telemetry::message_in(message.name());
            if matches!(
                message,
                DeviceMessage::FileUploadStart(_)
                    | DeviceMessage::FileUploadPackage(_)
                    | DeviceMessage::FileUploadEnd(_)
            ) {
                // Written and synced off the pump, so one terminal's upload does not hold up the others.
                let link = link.clone();
                link.files.clone().spawn(async move {
                    if let Some(response) = link.files.handle(&sn, &message).await {
                        link.respond(transport, &sn, mid, response).await;
                    }
                });
                return;
            }
            let response = match &message {
                DeviceMessage::UploadVerifyLogs(u) => {
                    match link.meetings.record_logs(&sn, &u.verify_logs).await {
                        Ok(_) => Response::ok(None),
                        Err(e) => Response::error(Code::MalformedParams, e.to_string()),
                    }
                }
                DeviceMessage::UploadVerifyPhotos(u) => {
                    match link.meetings.record_photos(&sn, &u.verify_photos).await {
                        Ok(_) => Response::ok(None),
                        Err(e) => Response::error(Code::MalformedParams, e.to_string()),
                    }
                }
                DeviceMessage::SyncTime => {
                    let now = chrono::Local::now().fixed_offset();
                    let mut map = serde_json::Map::new();
                    map.insert(
                        "time".into(),
                        now.format("%Y-%m-%d %H:%M:%S").to_string().into(),
                    );
                    map.insert(
                        "timestamp".into(),
                        now.timestamp_millis().to_string().into(),
                    );
                    map.insert("timezone".into(), now.offset().to_string().into());
                    Response::ok(Some(Results::Other(map)))
                }
                DeviceMessage::UploadUsers(_)
                | DeviceMessage::UploadUserPhotos(_)
                | DeviceMessage::UploadBioPhotos(_)
                | DeviceMessage::UploadMultiCards(_) => {
                    fleet
                        .event(
                            Some(&sn),
                            "upload",
                            &serde_json::json!({ "funcId": message.name() }),
                        )
                        .await;
                    Response::ok(None)
                }
                other => Response::error(
                    Code::UnsupportedFuncId,
                    format!("`{}` is not served by this platform", other.name()),
                ),
            };
            link.respond(transport, &sn, mid, response).await;
        }
        PlatformEvent::Offline { missed } => {
            fleet
                .event(
                    sn.as_deref(),
                    "heartbeats_missed",
                    &serde_json::json!({ "missed": missed }),
                )
                .await;
        }
        PlatformEvent::Malformed(e) => {
            fleet::telemetry::decode_error();
            fleet
                .event(
                    sn.as_deref(),
                    "malformed",
                    &serde_json::json!({ "error": e.to_string() }),
                )
                .await;
        }
        _ => {}
    }
}
