//! Everything the access server takes from device-core and access-proto: the terminal-facing servers (raw
//! TCP and WebSocket at once), the event pumps from sessions to the fleet, people and records, the typed API
//! commands and their delivery.
//!
//! Commands (every one is a request the terminal answers; its `code` is recorded with the command):
//!
//! | `cmd` | idempotent | answer `code` 0 | other `code` | no answer in time |
//! | --- | --- | --- | --- | --- |
//! | `download_person` (queued by the people API) | yes | `acked` | `failed`, `code -N: message` | `timed_out` |
//! | `set_device_info` | yes | `acked` | `failed` | `timed_out` |
//! | `send_user_command` | no | `acked` | `failed` | `timed_out` |
//!
//! A delivery waits for the terminal's answer and records `sent` and the answer together. A connection
//! lost before the answer puts an idempotent command back in the queue (it is sent again when the terminal
//! is back) and leaves a non-idempotent one `sent` until it times out: it may have reached the terminal.
//! An acked `set_device_info` is followed by a `get_device_info`, so that the terminal's registry row (and
//! the people of a community it moved to) follow at once, not at the next liveness probe.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use access_proto::{
    Code, Command, CommandType, DeviceInfo, Request, RequestBody, Response, ResponseBody,
};
use device_core::access::{
    Admission, Refusal, ServerCommand, ServerConfig as SessionConfig, ServerEvent as SessionEvent,
    ServerSession,
};
use device_core::runtime::server::{
    AdmissionConfig, ConnectionId, Server, ServerConfig, ServerEvent, WsListener,
};
use device_core::runtime::{CommandError, DriverConfig};
use device_core::{RequestError, SendError};
use fleet::{BoxFuture, CommandRecord, CommandSpec, DeliveryError, DeviceRecord, Fleet, Problem};
use serde::{Deserialize, Serialize};

use super::people::{self, People, Terminal};
use super::records::{RecordError, Records};

/// The transport a terminal is connected over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Raw TCP, one JSON object per message.
    Tcp,
    /// WebSocket, one JSON message per text frame.
    Ws,
}

impl Transport {
    /// `tcp` or `ws`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Ws => "ws",
        }
    }

    /// The presence key of a connection: connection ids of the two servers are counted apart.
    fn conn_key(self, conn: ConnectionId) -> u64 {
        conn.get() * 2 + u64::from(self == Self::Ws)
    }
}

/// A command for a terminal, as `POST /api/devices/{id}/commands` takes it (`cmd` names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "cmd", deny_unknown_fields)]
pub enum AccessCommand {
    /// `set_device_info`: change the terminal's settings (only the fields given).
    #[serde(rename = "set_device_info")]
    SetDeviceInfo {
        /// The settings to change.
        #[schema(value_type = Object)]
        device_info: DeviceSettings,
    },
    /// `send_user_command`: a custom command.
    #[serde(rename = "send_user_command")]
    SendUserCommand {
        /// `command_type`.
        command_type: i64,
        /// `command_value`.
        command_value: String,
    },
    /// `download_person`: push a person (its current version) to this terminal.
    #[serde(rename = "download_person")]
    DownloadPerson {
        /// The person.
        person_id: String,
    },
}

/// The settings `set_device_info` may change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSettings {
    /// `device_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_ip: Option<String>,
    /// `device_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_port: Option<u16>,
    /// `server_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<String>,
    /// `server_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    /// `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `community_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_code: Option<String>,
}

impl AccessCommand {
    fn name(&self) -> &'static str {
        match self {
            Self::SetDeviceInfo { .. } => "set_device_info",
            Self::SendUserCommand { .. } => "send_user_command",
            Self::DownloadPerson { .. } => people::PUSH_KIND,
        }
    }

    /// Whether sending it twice does no harm.
    pub fn idempotent(&self) -> bool {
        !matches!(self, Self::SendUserCommand { .. })
    }
}

/// [`AccessCommand`] externally tagged, so that a parse error keeps the field's path.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
enum ByName {
    #[serde(rename = "set_device_info")]
    SetDeviceInfo { device_info: DeviceSettings },
    #[serde(rename = "send_user_command")]
    SendUserCommand {
        command_type: i64,
        command_value: String,
    },
    #[serde(rename = "download_person")]
    DownloadPerson { person_id: String },
}

impl From<ByName> for AccessCommand {
    fn from(b: ByName) -> Self {
        match b {
            ByName::SetDeviceInfo { device_info } => Self::SetDeviceInfo { device_info },
            ByName::SendUserCommand {
                command_type,
                command_value,
            } => Self::SendUserCommand {
                command_type,
                command_value,
            },
            ByName::DownloadPerson { person_id } => Self::DownloadPerson { person_id },
        }
    }
}

/// Parses the API's JSON body; an error is `(field, message)`.
pub fn parse_command(body: serde_json::Value) -> Result<AccessCommand, (String, String)> {
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

/// The command catalog of the admin API.
#[derive(Debug, Clone, Copy)]
pub struct Catalog;

impl fleet::CommandCatalog for Catalog {
    fn parse(
        &self,
        _device: &DeviceRecord,
        body: serde_json::Value,
    ) -> Result<CommandSpec, Problem> {
        let command =
            parse_command(body).map_err(|(field, message)| Problem::invalid(&field, message))?;
        match &command {
            AccessCommand::DownloadPerson { person_id } => {
                people::check_id("person_id", person_id)
                    .map_err(|e| Problem::invalid(&e.field, e.detail))?;
            }
            AccessCommand::SetDeviceInfo { device_info } => {
                if let Some(c) = &device_info.community_code {
                    people::check_id("device_info.community_code", c)
                        .map_err(|e| Problem::invalid(&e.field, e.detail))?;
                }
            }
            AccessCommand::SendUserCommand { .. } => {}
        }
        Ok(CommandSpec {
            kind: command.name().into(),
            idempotent: command.idempotent(),
            expects_ack: true,
            payload: serde_json::to_value(&command)
                .map_err(|e| Problem::internal(e.to_string()))?,
        })
    }

    fn check_device(&self, id: &str, _secret: &str) -> Result<(), Problem> {
        check_uuid(id).map_err(|e| Problem::invalid("id", e))
    }
}

/// Longest terminal `uuid` admitted, in bytes.
pub const MAX_UUID_LEN: usize = 64;

/// Checks a terminal `uuid` (the device id): at most [`MAX_UUID_LEN`] bytes, no control characters, no `/`.
///
/// # Errors
/// The text names the rule broken.
pub fn check_uuid(uuid: &str) -> Result<(), String> {
    if uuid.is_empty() || uuid.len() > MAX_UUID_LEN {
        return Err(format!(
            "uuid must be 1..={MAX_UUID_LEN} bytes, not {}",
            uuid.len()
        ));
    }
    if uuid.chars().any(|c| c.is_control() || c == '/') {
        return Err("uuid contains a control character or `/`".into());
    }
    Ok(())
}

/// Admits terminals whose `uuid` can serve as a device id.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidPolicy;

impl Admission for UuidPolicy {
    fn admit(&self, info: &DeviceInfo) -> Result<(), Refusal> {
        check_uuid(info.uuid.as_deref().unwrap_or("")).map_err(Refusal::general)
    }
}

type Session = ServerSession<UuidPolicy>;

/// Settings of the terminal listeners.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Most connections per listener.
    pub max_connections: usize,
    /// Time to answer the identifying `get_device_info`.
    pub identify_timeout: Duration,
    /// Interval of liveness probes.
    pub probe_interval: Duration,
    /// Silence after which a terminal is gone.
    pub peer_timeout: Duration,
    /// Time a request waits for its answer.
    pub request_timeout: Duration,
    /// Longest message.
    pub max_message: usize,
    /// Most connections not identified yet.
    pub max_pending: usize,
    /// Most connections not identified yet per source address.
    pub max_pending_per_source: usize,
    /// Most `download_person` deliveries under way at once (each holds an encoded person until written).
    pub max_concurrent_pushes: usize,
}

/// The terminal-facing servers.
pub struct TerminalLink {
    tcp: Server<Session>,
    ws: Server<Session>,
    /// The transport each identified terminal was last identified on.
    routes: Mutex<HashMap<String, Transport>>,
    fleet: Fleet,
    people: People,
    records: Records,
    /// Bounds the memory of a person pushed to a whole fleet: each delivery under way holds its encoding.
    pushes: tokio::sync::Semaphore,
}

impl std::fmt::Debug for TerminalLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalLink")
            .field("tcp", &self.tcp.local_addr())
            .field("ws", &self.ws.local_addr())
            .finish_non_exhaustive()
    }
}

impl TerminalLink {
    /// Starts serving terminals on `tcp` (raw TCP) and `ws` (WebSocket); returns the link and its two event
    /// pumps, which end after [`TerminalLink::shutdown`] once every connection's last event is recorded.
    ///
    /// # Errors
    /// A listener has no address.
    pub fn start(
        tcp: tokio::net::TcpListener,
        ws: tokio::net::TcpListener,
        fleet: Fleet,
        people: People,
        records: Records,
        settings: &LinkSettings,
    ) -> std::io::Result<(Arc<Self>, Vec<tokio::task::JoinHandle<()>>)> {
        let session_config = SessionConfig::default()
            .identify_timeout(settings.identify_timeout)
            .probe_interval(Some(settings.probe_interval))
            .peer_timeout(settings.peer_timeout)
            .request_timeout(settings.request_timeout)
            .codec(access_proto::CodecConfig::default().max_message_len(settings.max_message));
        let server_config = ServerConfig::default()
            .max_connections(settings.max_connections)
            .admission(
                AdmissionConfig::default()
                    .max_pending(settings.max_pending)
                    .max_pending_per_source(settings.max_pending_per_source)
                    .establish_timeout(settings.identify_timeout + Duration::from_secs(5)),
            )
            // A large person to a slow link takes a while to write; silence is the session's business.
            .driver(
                DriverConfig::default()
                    .idle_timeout(settings.peer_timeout + Duration::from_secs(30))
                    .write_timeout(Duration::from_secs(60)),
            );
        let make = {
            let c = session_config.clone();
            move || ServerSession::with_admission(c.clone(), UuidPolicy)
        };
        let (tcp, tcp_events) = Server::spawn(tcp, make.clone(), server_config.clone())?;
        let (ws, ws_events) = Server::spawn(WsListener::new(ws), make, server_config)?;
        let link = Arc::new(Self {
            tcp,
            ws,
            routes: Mutex::new(HashMap::new()),
            fleet,
            people,
            records,
            pushes: tokio::sync::Semaphore::new(settings.max_concurrent_pushes.max(1)),
        });
        let pumps = vec![
            tokio::spawn(pump(link.clone(), Transport::Tcp, tcp_events)),
            tokio::spawn(pump(link.clone(), Transport::Ws, ws_events)),
        ];
        Ok((link, pumps))
    }

    /// Where terminals connect over raw TCP.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr()
    }

    /// Where terminals connect over WebSocket.
    pub fn ws_addr(&self) -> SocketAddr {
        self.ws.local_addr()
    }

    /// Stops accepting and closes every terminal connection.
    pub async fn shutdown(&self) {
        for server in [&self.tcp, &self.ws] {
            if let Err(e) = server.shutdown().await {
                tracing::error!(error = %e, "terminal server task failed");
            }
        }
    }

    fn server(&self, t: Transport) -> &Server<Session> {
        match t {
            Transport::Tcp => &self.tcp,
            Transport::Ws => &self.ws,
        }
    }

    /// The server `uuid` is established on (the transport it was identified on last when both are).
    fn route(&self, uuid: &str) -> Option<&Server<Session>> {
        let uuid = uuid.to_owned();
        let last = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&uuid)
            .copied();
        let order = match last {
            Some(Transport::Ws) => [Transport::Ws, Transport::Tcp],
            _ => [Transport::Tcp, Transport::Ws],
        };
        order
            .into_iter()
            .map(|t| self.server(t))
            .find(|s| s.is_established(&uuid))
    }

    /// Sends a request to terminal `uuid` and waits for its answer.
    ///
    /// # Errors
    /// Not connected, refused by the session, or no answer.
    pub async fn request(&self, uuid: &str, body: RequestBody) -> Result<Response, CommandError> {
        let name = body.name().to_owned();
        let server = self.route(uuid).ok_or(CommandError::UnknownPeer)?;
        let reply = server
            .call(&uuid.to_owned(), ServerCommand::Request(body))
            .await?;
        fleet::telemetry::message_out(&name);
        reply.ok_or(CommandError::Failed(RequestError::ConnectionLost))
    }

    /// Records a command's answer: `sent` (it was written, since it was answered), then `acked` for code 0
    /// or `failed` with the code and message.
    async fn record_answer(&self, command: &CommandRecord, response: &Response) {
        let code = response.code.value();
        let store = self.fleet.store();
        if let Err(e) = store.mark_sent(command.id).await {
            tracing::warn!(id = command.id, error = %e, "command answer not recorded");
            return;
        }
        let error = (code != 0).then(|| format!("code {code}: {}", response.message));
        if let Err(e) = self
            .fleet
            .acknowledge(command.id, code == 0, error.as_deref())
            .await
        {
            tracing::warn!(id = command.id, error = %e, "command answer not recorded");
        }
        self.fleet
            .event(
                Some(&command.device_id),
                "command_answered",
                &serde_json::json!({ "id": command.id, "kind": command.kind, "code": code, "message": response.message }),
            )
            .await;
    }

    async fn deliver_command(&self, command: &CommandRecord) -> Result<(), DeliveryError> {
        let parsed: AccessCommand = serde_json::from_value(command.payload.clone())
            .map_err(|e| DeliveryError::Rejected(format!("stored command does not parse: {e}")))?;
        let mut pushed_version = None;
        let _permit = match &parsed {
            AccessCommand::DownloadPerson { .. } => Some(
                self.pushes
                    .acquire()
                    .await
                    .map_err(|_| DeliveryError::Offline)?,
            ),
            _ => None,
        };
        let body = match &parsed {
            AccessCommand::DownloadPerson { person_id } => {
                let person = self
                    .people
                    .current(person_id)
                    .await
                    .map_err(|e| DeliveryError::Busy(e.to_string()))?
                    .ok_or_else(|| {
                        DeliveryError::Rejected(format!("person `{person_id}` was deleted"))
                    })?;
                pushed_version = Some(person.version);
                RequestBody::DownloadPerson(access_proto::DownloadPerson {
                    person_info: person.to_info(),
                })
            }
            AccessCommand::SetDeviceInfo { device_info } => {
                let d = device_info.clone();
                RequestBody::SetDeviceInfo(access_proto::SetDeviceInfo {
                    device_info: DeviceInfo {
                        device_ip: d.device_ip,
                        device_port: d.device_port,
                        server_ip: d.server_ip,
                        server_port: d.server_port,
                        address: d.address,
                        community_code: d.community_code,
                        ..DeviceInfo::default()
                    },
                })
            }
            AccessCommand::SendUserCommand {
                command_type,
                command_value,
            } => RequestBody::SendUserCommand(Command {
                command_type: CommandType(*command_type),
                command_value: command_value.clone(),
            }),
        };
        match self.request(&command.device_id, body).await {
            Ok(response) => {
                // The command's state first: a push with its code recorded is then final everywhere.
                self.record_answer(command, &response).await;
                match (&parsed, pushed_version) {
                    (AccessCommand::DownloadPerson { person_id }, Some(version)) => {
                        if let Err(e) = self
                            .people
                            .record_answer(
                                command,
                                person_id,
                                version,
                                response.code.value(),
                                &response.message,
                            )
                            .await
                        {
                            tracing::warn!(id = command.id, error = %e, "push answer not recorded");
                        }
                    }
                    (AccessCommand::SetDeviceInfo { .. }, _) if response.code.is_success() => {
                        self.reprobe(&command.device_id).await;
                    }
                    _ => {}
                }
                Ok(())
            }
            Err(CommandError::UnknownPeer | CommandError::Stopped) => Err(DeliveryError::Offline),
            Err(CommandError::Refused(SendError::NotReady | SendError::Closed)) => {
                Err(DeliveryError::Offline)
            }
            Err(CommandError::Refused(
                e @ (SendError::Full { .. } | SendError::TooManyInFlight { .. }),
            )) => Err(DeliveryError::Busy(e.to_string())),
            // Lost with the connection: sent again when idempotent, else left `sent` to time out.
            Err(CommandError::Failed(RequestError::ConnectionLost)) if command.idempotent => {
                Err(DeliveryError::Offline)
            }
            Err(CommandError::Failed(_)) => Ok(()),
            Err(e) => Err(DeliveryError::Rejected(e.to_string())),
        }
    }

    /// Asks terminal `uuid` for its settings right after it accepted new ones, so that its registry row and
    /// the people of a new community follow at once rather than at the next liveness probe.
    async fn reprobe(&self, uuid: &str) {
        let transport = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(uuid)
            .copied()
            .unwrap_or(Transport::Tcp);
        match self.request(uuid, RequestBody::GetDeviceInfo).await {
            Ok(Response {
                code,
                body: ResponseBody::GetDeviceInfo(reply),
                ..
            }) if code.is_success() => {
                if let Some(info) = reply.device_info {
                    // The device id stays the one identified on connect.
                    let terminal = Terminal {
                        device_id: uuid.to_owned(),
                        ..terminal_of(&info, transport, None)
                    };
                    register(self, terminal).await;
                }
            }
            Ok(other) => {
                tracing::debug!(
                    terminal = uuid,
                    code = other.code.value(),
                    "settings not read back"
                )
            }
            Err(e) => tracing::debug!(terminal = uuid, error = %e, "settings not read back"),
        }
    }

    /// Answers a terminal request on the connection it came from.
    async fn answer(
        &self,
        transport: Transport,
        uuid: &str,
        request: &Request,
        code: Code,
        msg: &str,
    ) {
        let answer = ServerCommand::answer(request, code, msg);
        if let Err(e) = self.server(transport).call(&uuid.to_owned(), answer).await {
            tracing::debug!(terminal = uuid, error = %e, "answer not sent");
        }
    }
}

impl fleet::Link for TerminalLink {
    fn deliver<'a>(
        &'a self,
        command: &'a CommandRecord,
    ) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(self.deliver_command(command))
    }

    fn disconnect<'a>(&'a self, device: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let peer = device.to_owned();
            let tcp = self.server(Transport::Tcp).close(&peer).await;
            let ws = self.server(Transport::Ws).close(&peer).await;
            tcp || ws
        })
    }
}

/// Turns one server's session events into fleet, people and record updates.
async fn pump(
    link: Arc<TerminalLink>,
    transport: Transport,
    mut events: tokio::sync::mpsc::Receiver<ServerEvent<Session>>,
) {
    let mut addrs: HashMap<ConnectionId, SocketAddr> = HashMap::new();
    while let Some(event) = events.recv().await {
        match event {
            ServerEvent::Accepted { conn, addr } => {
                addrs.insert(conn, addr);
            }
            ServerEvent::Refused { addr, reason } => {
                fleet::telemetry::connection_refused();
                tracing::debug!(%addr, ?reason, "terminal connection refused");
            }
            ServerEvent::Closed { conn, peer, reason } => {
                addrs.remove(&conn);
                let why = reason.to_string();
                // The connection's own error (an over-long message, broken framing) is kept with it.
                if matches!(
                    reason,
                    device_core::runtime::Disconnect::Session(device_core::CloseReason::Protocol(
                        _
                    )) | device_core::runtime::Disconnect::Transport(_)
                ) {
                    link.fleet
                        .event(
                            peer.as_deref(),
                            "connection_error",
                            &serde_json::json!({ "transport": transport.as_str(), "error": why }),
                        )
                        .await;
                }
                if let Some(uuid) = peer {
                    link.fleet
                        .device_offline(&uuid, transport.conn_key(conn), Some(&why))
                        .await;
                }
            }
            ServerEvent::Session { conn, peer, event } => {
                if let Some(p) = &peer {
                    link.fleet.device_seen(p);
                }
                let addr = addrs.get(&conn).copied();
                on_session_event(&link, transport, conn, addr, peer, event).await;
            }
            _ => {}
        }
    }
}

fn terminal_of(info: &DeviceInfo, transport: Transport, addr: Option<SocketAddr>) -> Terminal {
    Terminal {
        device_id: info.uuid.clone().unwrap_or_default(),
        community_code: info.community_code.clone().filter(|c| !c.is_empty()),
        address: info.address.clone(),
        device_ip: info.device_ip.clone(),
        device_port: info.device_port.map(i64::from),
        server_ip: info.server_ip.clone(),
        server_port: info.server_port.map(i64::from),
        software_version: info.software_version.clone(),
        hardware_version: info.hardware_version.clone(),
        transport: transport.as_str().into(),
        remote_addr: addr.map(|a| a.to_string()),
        updated_at: fleet::now_ms(),
    }
}

/// Registers the terminal's settings; queues its community's people when it is new there, else those whose
/// current version was never queued for it (a person committed just before the server stopped).
async fn register(link: &TerminalLink, terminal: Terminal) {
    match link.people.register_terminal(&terminal).await {
        Ok((existed, before)) => {
            let Some(community) = terminal.community_code.as_deref() else {
                return;
            };
            let device = terminal.device_id.as_str();
            let known = existed && before.as_deref() == Some(community);
            let queued = if known {
                link.people.push_missing_to(community, device).await
            } else {
                link.people.push_community_to(community, device).await
            };
            match queued {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(terminal = %terminal.device_id, community, people = n, new_there = !known, "people queued for a terminal")
                }
                Err(e) => {
                    tracing::warn!(terminal = %terminal.device_id, error = %e, "people not queued")
                }
            }
        }
        Err(e) => {
            tracing::warn!(terminal = %terminal.device_id, error = %e, "terminal not registered")
        }
    }
}

async fn on_session_event(
    link: &Arc<TerminalLink>,
    transport: Transport,
    conn: ConnectionId,
    addr: Option<SocketAddr>,
    peer: Option<String>,
    event: SessionEvent,
) {
    match event {
        SessionEvent::Identified(info) => {
            fleet::telemetry::message_in("get_device_info");
            let Some(uuid) = info.uuid.clone() else {
                return;
            };
            link.routes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(uuid.clone(), transport);
            if link.fleet.secret(&uuid).is_none() {
                let name = info.address.clone().unwrap_or_else(|| uuid.clone());
                match link.fleet.add_device(&uuid, &name, "").await {
                    Ok(_) | Err(fleet::StoreError::DeviceExists(_)) => {}
                    Err(e) => {
                        tracing::warn!(terminal = %uuid, error = %e, "terminal not registered")
                    }
                }
            }
            let terminal = terminal_of(&info, transport, addr);
            let facts = serde_json::to_value(&terminal).ok();
            link.fleet
                .device_online(
                    &uuid,
                    transport.conn_key(conn),
                    info.software_version.as_deref(),
                    facts.as_ref(),
                )
                .await;
            let link = link.clone();
            tokio::spawn(async move { register(&link, terminal).await });
        }
        SessionEvent::DeviceInfoChanged(info) => {
            let terminal = terminal_of(&info, transport, addr);
            let link = link.clone();
            tokio::spawn(async move { register(&link, terminal).await });
        }
        SessionEvent::IdentificationFailed(why) => {
            link.fleet
                .event(
                    None,
                    "identification_failed",
                    &serde_json::json!({ "transport": transport.as_str(), "addr": addr.map(|a| a.to_string()), "reason": why.to_string() }),
                )
                .await;
        }
        SessionEvent::Request(request) => {
            let Some(uuid) = peer else { return };
            let link = link.clone();
            // Off the pump: a record waits for its batch to commit.
            tokio::spawn(async move { on_request(&link, transport, &uuid, request).await });
        }
        SessionEvent::Unanswered(key) => {
            link.fleet
                .event(
                    peer.as_deref(),
                    "unanswered",
                    &serde_json::json!({ "mod": key.module.as_str(), "session_id": key.session_id.as_str() }),
                )
                .await;
        }
        SessionEvent::Busy(request) => {
            tracing::debug!(
                terminal = peer.as_deref(),
                r#mod = request.body.name(),
                "terminal request answered busy"
            );
        }
        SessionEvent::Malformed(why) => {
            fleet::telemetry::decode_error();
            link.fleet
                .event(
                    peer.as_deref(),
                    "malformed",
                    &serde_json::json!({ "transport": transport.as_str(), "error": why.to_string() }),
                )
                .await;
        }
        SessionEvent::Disconnected(_) => {}
        other => tracing::debug!(event = ?other, "session event not handled"),
    }
}

async fn on_request(link: &TerminalLink, transport: Transport, uuid: &str, request: Request) {
    fleet::telemetry::message_in(request.body.name());
    match &request.body {
        RequestBody::UploadAccessInfo(upload) => {
            let (code, message) = match link.records.store(uuid, upload.access_info.clone()).await {
                Ok(_) => (Code::Success, String::new()),
                Err(e @ RecordError::Invalid { .. }) => (Code::GeneralError, e.to_string()),
                Err(e @ RecordError::Store(_)) => (Code::DatabaseError, e.to_string()),
            };
            link.answer(transport, uuid, &request, code, &message).await;
        }
        RequestBody::SendDeviceCommand(c) => {
            link.fleet
                .event(
                    Some(uuid),
                    "device_command",
                    &serde_json::json!({ "command_type": c.command_type.0, "command_value": c.command_value }),
                )
                .await;
            // Answered once the event is in the store.
            link.fleet.flush_events().await;
            link.answer(transport, uuid, &request, Code::Success, "")
                .await;
        }
        other => {
            let why = if other.module().is_known() {
                format!("`{}` is a request of the management server", other.name())
            } else {
                format!("unknown mod `{}`", other.name())
            };
            link.fleet
                .event(
                    Some(uuid),
                    "request_refused",
                    &serde_json::json!({ "mod": other.name(), "reason": why }),
                )
                .await;
            link.answer(transport, uuid, &request, Code::GeneralError, &why)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet::CommandCatalog;

    fn device() -> DeviceRecord {
        DeviceRecord {
            id: "T1".into(),
            name: "t".into(),
            created_at: 0,
            last_seen: None,
            version: None,
            info: None,
        }
    }

    #[test]
    fn api_commands_parse_and_bad_ones_name_the_field() {
        let spec = Catalog
            .parse(
                &device(),
                serde_json::json!({"cmd": "set_device_info", "device_info": {"address": "gate"}}),
            )
            .unwrap();
        assert!(spec.idempotent && spec.expects_ack);
        assert_eq!(spec.kind, "set_device_info");
        let spec = Catalog
            .parse(
                &device(),
                serde_json::json!({"cmd": "send_user_command", "command_type": 2, "command_value": "test!"}),
            )
            .unwrap();
        assert!(!spec.idempotent);
        let err = Catalog
            .parse(&device(), serde_json::json!({"cmd": "fly"}))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("cmd"), "{err:?}");
        let err = Catalog
            .parse(
                &device(),
                serde_json::json!({"cmd": "send_user_command", "command_type": "x", "command_value": ""}),
            )
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("command_type"), "{err:?}");
        let err = Catalog
            .parse(
                &device(),
                serde_json::json!({"cmd": "set_device_info", "device_info": {"device_port": 70000}}),
            )
            .unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("device_info.device_port"),
            "{err:?}"
        );
    }

    #[test]
    fn uuids_are_checked() {
        assert!(check_uuid("31231412332").is_ok());
        assert!(check_uuid("").is_err());
        assert!(check_uuid("a/b").is_err());
        assert!(check_uuid(&"x".repeat(65)).is_err());
        assert!(UuidPolicy
            .admit(&DeviceInfo {
                uuid: Some("bad\nid".into()),
                ..DeviceInfo::default()
            })
            .is_err());
    }
}
