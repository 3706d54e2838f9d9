//! Sessions over MQTT 3.1.1 (feature `mqtt`, rumqttc): one session message per publish, QoS 1 both ways.
//!
//! The topic layout is best-m's (DECISIONS.md, best): a device publishes on `{prefix}/{id}/up` and subscribes to
//! `{prefix}/{id}/down`; a platform consumes `$share/{group}/{prefix}/+/up` and publishes to
//! `{prefix}/{id}/down` ([`Topics::best`]: prefix `best`, group `best-platform`).
//!
//! - Device side: [`connect_device`] opens one MQTT connection (clean session), subscribes to the device's down
//!   topic and waits for the broker's acknowledgement; the [`MqttTransport`] it returns is a [`Transport`] like
//!   a WebSocket, so [`client`] runs a session over it with [`Client`]'s reconnect backoff: a broker
//!   disconnect ends the connection, the next attempt connects and subscribes again, and the session logs in
//!   again as after any reconnect.
//! - Platform side: [`MqttListener`] is a [`Listen`]er for [`Server`](super::server::Server): one MQTT
//!   connection with the shared subscription, and one *virtual connection* per device id, made when a device's
//!   first message arrives (or when a message that starts a link arrives, see [`MqttListener::connect`]), so
//!   every session runs, establishes and is routed by its peer id as over TCP or WebSocket. A broker disconnect
//!   of the platform's own connection is retried with device-core's [`Backoff`] and the subscription is made
//!   again after every `CONNACK`; the virtual connections stay up meanwhile.
//!
//! Limits: a payload over the session's [`Wire::max_message`] (or [`MqttConfig::max_payload`]) is refused,
//! never truncated: a send fails with [`TransportError::PayloadTooLarge`]; a received one ends its (virtual)
//! connection with the same error, as an over-long WebSocket message does. MQTT packets are bounded too (twice
//! the payload limit plus the topic), so the client never buffers more than that.
//!
//! A send has completed when rumqttc's event loop took the publish; rumqttc retransmits unacknowledged QoS 1
//! publishes after its own reconnect. Requests of the protocol carry their own answers (`dev.cmd.response`),
//! which are what a platform records as acknowledged.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeReasonCode};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::client::{Client, ClientConfig, ClientEvent, ConnectError};
use super::server::{Listen, OpenSetup};
use super::{Received, Transport, TransportError};
use crate::backoff::{Backoff, BackoffConfig};
use crate::rng::OsRandom;
use crate::session::{Framing, Session, Wire};

/// Where a broker is: `mqtt://host:port` (or `tcp://`; port 1883 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddr {
    /// A broker at `host:port`.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// Parses `mqtt://host[:port]` or `tcp://host[:port]` (TLS, `mqtts://`, is not spoken here).
    ///
    /// # Errors
    /// A message naming what is wrong with the URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| format!("broker URL `{url}`: expected mqtt://HOST[:PORT]"))?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("broker URL `{url}`: expected mqtt://HOST[:PORT]"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                let port = p.parse::<u16>().map_err(|_| {
                    format!("broker URL `{url}`: port `{p}` is not a number 0..=65535")
                })?;
                (h, port)
            }
            _ => (rest, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("broker URL `{url}`: no host"));
        }
        Ok(Self::new(host, port))
    }

    /// The URL form, `mqtt://host:port`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("mqtt://{}:{}", self.host, self.port)
    }
}

impl fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The topic layout: `{prefix}/{id}/up`, `{prefix}/{id}/down`, and the platforms' share group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// First topic level. best-m: `best`.
    pub prefix: String,
    /// Shared-subscription group of the platforms. best-m: `best-platform`.
    pub group: String,
}

impl Topics {
    /// best-m (DECISIONS.md): `best/{sn}/up`, `best/{sn}/down`, `$share/best-platform/best/+/up`.
    #[must_use]
    pub fn best() -> Self {
        Self {
            prefix: "best".into(),
            group: "best-platform".into(),
        }
    }

    /// The topic device `id` publishes on.
    #[must_use]
    pub fn up(&self, id: &str) -> String {
        format!("{}/{id}/up", self.prefix)
    }

    /// The topic device `id` subscribes to.
    #[must_use]
    pub fn down(&self, id: &str) -> String {
        format!("{}/{id}/down", self.prefix)
    }

    /// The platforms' shared subscription.
    #[must_use]
    pub fn shared_up(&self) -> String {
        format!("$share/{}/{}/+/up", self.group, self.prefix)
    }

    /// The device id of an up topic, `None` for any other topic.
    #[must_use]
    pub fn id_of_up<'a>(&self, topic: &'a str) -> Option<&'a str> {
        let id = topic
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')?
            .strip_suffix("/up")?;
        valid_id(id).then_some(id)
    }
}

/// Writes each packet at once (`TCP_NODELAY`): a request and its answer are small packets, and with Nagle's
/// algorithm a PUBLISH waiting behind the peer's delayed ACK of the one before costs about 40 ms.
fn no_delay(eventloop: &mut EventLoop) {
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
}

/// A device id fits one topic level: not empty, no `/`, no wildcard, no NUL.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#', '\0'])
}

/// MQTT settings of both sides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MqttConfig {
    /// Topic layout. Default [`Topics::best`].
    pub topics: Topics,
    /// MQTT keep-alive. Default 30 s.
    pub keep_alive: Duration,
    /// Largest payload, in bytes. Default `None`: the session codec's limit ([`Wire::max_message`]).
    pub max_payload: Option<usize>,
    /// User name and password for the broker. Default none.
    pub credentials: Option<(String, String)>,
    /// Capacity of rumqttc's request channel (publishes waiting for the event loop). Default 256.
    pub request_capacity: usize,
    /// Messages queued for one virtual connection of a platform before the broker connection waits for it.
    /// Default 64.
    pub inbox_capacity: usize,
    /// Reconnect backoff of a platform's broker connection. Default [`BackoffConfig::default`].
    pub backoff: BackoffConfig,
    /// How long connecting and subscribing may take. Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            topics: Topics::best(),
            keep_alive: Duration::from_secs(30),
            max_payload: None,
            credentials: None,
            request_capacity: 256,
            inbox_capacity: 64,
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl MqttConfig {
    /// Sets [`MqttConfig::topics`].
    #[must_use]
    pub fn topics(mut self, topics: Topics) -> Self {
        self.topics = topics;
        self
    }

    /// Sets [`MqttConfig::keep_alive`] (at least 1 s).
    #[must_use]
    pub fn keep_alive(mut self, d: Duration) -> Self {
        self.keep_alive = d.max(Duration::from_secs(1));
        self
    }

    /// Sets [`MqttConfig::max_payload`].
    #[must_use]
    pub fn max_payload(mut self, n: usize) -> Self {
        self.max_payload = Some(n.max(1));
        self
    }

    /// Sets [`MqttConfig::credentials`].
    #[must_use]
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Sets [`MqttConfig::backoff`].
    #[must_use]
    pub fn backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`MqttConfig::inbox_capacity`] (at least 1).
    #[must_use]
    pub fn inbox_capacity(mut self, n: usize) -> Self {
        self.inbox_capacity = n.max(1);
        self
    }

    /// Sets [`MqttConfig::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The payload limit for sessions with these transport facts.
    #[must_use]
    pub fn payload_limit(&self, wire: &Wire) -> usize {
        self.max_payload.unwrap_or(wire.max_message).max(1)
    }

    fn options(&self, client_id: &str, broker: &BrokerAddr, max_payload: usize) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        options.set_keep_alive(self.keep_alive);
        options.set_clean_session(true);
        // Packets a little over the payload limit still parse, so the limit is ours to report; anything larger
        // fails the MQTT connection before it is buffered.
        let packet = max_payload.saturating_mul(2).saturating_add(1024);
        options.set_max_packet_size(packet, packet);
        options.set_request_channel_capacity(self.request_capacity.max(1));
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        options
    }
}

fn mqtt_error(e: impl fmt::Display) -> TransportError {
    TransportError::Mqtt(e.to_string())
}

/// What an MQTT pump hands a transport.
#[derive(Debug)]
enum Inbound {
    Data(Bytes),
    Failed(TransportError),
}

/// A device's MQTT connection, or one device's virtual connection on a platform: one message per publish.
pub struct MqttTransport {
    client: AsyncClient,
    inbox: mpsc::Receiver<Inbound>,
    topic: String,
    max_payload: usize,
    message: Bytes,
    /// The device side's event loop task (the platform's belongs to its listener).
    pump: Option<JoinHandle<()>>,
}

impl fmt::Debug for MqttTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttTransport")
            .field("topic", &self.topic)
            .field("max_payload", &self.max_payload)
            .finish_non_exhaustive()
    }
}

impl Drop for MqttTransport {
    fn drop(&mut self) {
        if let Some(pump) = self.pump.take() {
            let _ = self.client.try_disconnect();
            pump.abort();
        }
    }
}

impl Transport for MqttTransport {
    fn framing(&self) -> Framing {
        Framing::Message
    }

    async fn recv(&mut self) -> Received<'_> {
        match self.inbox.recv().await {
            Some(Inbound::Data(bytes)) => {
                self.message = bytes;
                Received::Data(&self.message)
            }
            Some(Inbound::Failed(e)) => Received::Failed(e),
            None => Received::Closed,
        }
    }

    async fn send(&mut self, bytes: Bytes) -> Result<(), TransportError> {
        if bytes.len() > self.max_payload {
            return Err(TransportError::PayloadTooLarge {
                len: bytes.len(),
                max: self.max_payload,
            });
        }
        self.client
            .publish_bytes(self.topic.clone(), QoS::AtLeastOnce, false, bytes)
            .await
            .map_err(mqtt_error)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    async fn close(&mut self) {
        if self.pump.is_some() {
            let _ = self.client.try_disconnect();
        }
    }
}

/// Polls `eventloop` until the broker acknowledged the connection, then subscribes to `filter` and polls until
/// the subscription is acknowledged; publishes that arrive meanwhile are handed to `early`.
async fn connect_and_subscribe(
    eventloop: &mut EventLoop,
    client: &AsyncClient,
    filter: &str,
    mut early: impl FnMut(rumqttc::Publish),
) -> Result<(), TransportError> {
    loop {
        match eventloop.poll().await.map_err(mqtt_error)? {
            Event::Incoming(Packet::ConnAck(_)) => break,
            Event::Incoming(Packet::Publish(p)) => early(p),
            _ => {}
        }
    }
    client
        .subscribe(filter, QoS::AtLeastOnce)
        .await
        .map_err(mqtt_error)?;
    loop {
        match eventloop.poll().await.map_err(mqtt_error)? {
            Event::Incoming(Packet::SubAck(ack)) => {
                return if ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
                {
                    Ok(())
                } else {
                    Err(TransportError::Mqtt(format!(
                        "the broker refused the subscription to `{filter}`"
                    )))
                };
            }
            Event::Incoming(Packet::Publish(p)) => early(p),
            _ => {}
        }
    }
}

/// Connects device `id` to `broker`: MQTT client id `id`, clean session, subscribed to its down topic (QoS 1).
/// The transport publishes on its up topic; payloads are bounded by [`MqttConfig::payload_limit`] of `wire`.
///
/// # Errors
/// A bad id, the broker refused or is unreachable, the subscription was refused, or it all took longer than
/// [`MqttConfig::connect_timeout`].
pub async fn connect_device(
    broker: &BrokerAddr,
    id: &str,
    wire: &Wire,
    config: &MqttConfig,
) -> Result<MqttTransport, TransportError> {
    if !valid_id(id) {
        return Err(TransportError::Mqtt(format!(
            "device id `{id}` cannot be a topic level"
        )));
    }
    let max_payload = config.payload_limit(wire);
    let (client, mut eventloop) = AsyncClient::new(
        config.options(id, broker, max_payload),
        config.request_capacity.max(1),
    );
    no_delay(&mut eventloop);
    let down = config.topics.down(id);
    let (tx, inbox) = mpsc::channel(config.inbox_capacity.max(1));
    let setup = connect_and_subscribe(&mut eventloop, &client, &down, |_| {});
    match tokio::time::timeout(config.connect_timeout, setup).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(TransportError::Mqtt(format!(
                "no CONNACK and SUBACK from {broker} within {:?}",
                config.connect_timeout
            )))
        }
    }
    let pump = tokio::spawn(device_pump(eventloop, down, max_payload, tx));
    Ok(MqttTransport {
        client,
        inbox,
        topic: config.topics.up(id),
        max_payload,
        message: Bytes::new(),
        pump: Some(pump),
    })
}

/// Runs a device's event loop: publishes on its down topic go to the transport; the first error ends it (the
/// client driver reconnects with its backoff).
async fn device_pump(
    mut eventloop: EventLoop,
    down: String,
    max_payload: usize,
    tx: mpsc::Sender<Inbound>,
) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == down => {
                let inbound = if p.payload.len() > max_payload {
                    Inbound::Failed(TransportError::PayloadTooLarge {
                        len: p.payload.len(),
                        max: max_payload,
                    })
                } else {
                    Inbound::Data(p.payload)
                };
                let failed = matches!(inbound, Inbound::Failed(_));
                if tx.send(inbound).await.is_err() || failed {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Inbound::Failed(mqtt_error(e))).await;
                return;
            }
        }
    }
}

/// Starts a client that runs `session` as device `id` over MQTT at `broker`, reconnecting (and subscribing
/// again) with `config`'s backoff after a broker disconnect.
pub fn client<S>(
    session: S,
    broker: BrokerAddr,
    id: String,
    mqtt: MqttConfig,
    config: ClientConfig,
) -> (Client<S>, mpsc::Receiver<ClientEvent<S::Event>>)
where
    S: Session + Send + 'static,
    S::Command: Send,
    S::Reply: Send,
    S::Event: Send,
{
    let wire = session.wire();
    let connect = move || {
        let (broker, id, mqtt) = (broker.clone(), id.clone(), mqtt.clone());
        async move {
            connect_device(&broker, &id, &wire, &mqtt)
                .await
                .map_err(ConnectError::from)
        }
    };
    Client::spawn_transport(session, connect, config)
}

/// Says whether a payload starts a new link of its device (an onboarding message): the platform then ends the
/// device's current virtual connection and gives the message a new one, as a reconnect would over TCP.
pub type StartsLink = fn(&[u8]) -> bool;

/// One device's virtual connection before its transport is set up.
#[derive(Debug)]
pub struct MqttConn {
    transport: MqttTransport,
}

/// A platform's broker connection as a [`Listen`]er: one virtual connection per device id.
pub struct MqttListener {
    conns: mpsc::Receiver<MqttConn>,
    broker_addr: SocketAddr,
    client: AsyncClient,
    pump: JoinHandle<()>,
}

impl fmt::Debug for MqttListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttListener")
            .field("broker", &self.broker_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MqttListener {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
        self.pump.abort();
    }
}

impl MqttListener {
    /// Connects to `broker` as `client_id` (unique per platform instance), subscribes to
    /// [`Topics::shared_up`] and serves one virtual connection per device, for sessions with these transport
    /// facts (`wire`: the payload limit). `starts_link` names the messages that begin a new link (for best,
    /// [`crate::best::starts_link`]); `None`: a device's virtual connection lasts until its session ends.
    ///
    /// # Errors
    /// The broker address does not resolve, the first connection or subscription failed, or it took longer
    /// than [`MqttConfig::connect_timeout`]. Later disconnects are retried with [`MqttConfig::backoff`].
    pub async fn connect(
        broker: &BrokerAddr,
        client_id: &str,
        wire: &Wire,
        config: &MqttConfig,
        starts_link: Option<StartsLink>,
    ) -> Result<Self, TransportError> {
        let broker_addr = tokio::net::lookup_host((broker.host.as_str(), broker.port))
            .await?
            .next()
            .ok_or_else(|| {
                TransportError::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("broker host `{}` does not resolve", broker.host),
                ))
            })?;
        let max_payload = config.payload_limit(wire);
        let (client, mut eventloop) = AsyncClient::new(
            config.options(client_id, broker, max_payload),
            config.request_capacity.max(1),
        );
        no_delay(&mut eventloop);
        let filter = config.topics.shared_up();
        let mut early = Vec::new();
        let setup = connect_and_subscribe(&mut eventloop, &client, &filter, |p| early.push(p));
        match tokio::time::timeout(config.connect_timeout, setup).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(TransportError::Mqtt(format!(
                    "no CONNACK and SUBACK from {broker} within {:?}",
                    config.connect_timeout
                )))
            }
        }
        tracing::info!(%broker, %filter, "MQTT platform subscribed");
        let (conns_tx, conns) = mpsc::channel(256);
        let demux = Demux {
            client: client.clone(),
            topics: config.topics.clone(),
            max_payload,
            inbox_capacity: config.inbox_capacity.max(1),
            starts_link,
            routes: HashMap::new(),
            made: 0,
            conns: conns_tx,
        };
        let pump = tokio::spawn(platform_pump(
            eventloop,
            demux,
            early,
            filter,
            config.backoff,
        ));
        Ok(Self {
            conns,
            broker_addr,
            client,
            pump,
        })
    }
}

/// Routes each device's publishes to its virtual connection.
struct Demux {
    client: AsyncClient,
    topics: Topics,
    max_payload: usize,
    inbox_capacity: usize,
    starts_link: Option<StartsLink>,
    routes: HashMap<String, mpsc::Sender<Inbound>>,
    made: u64,
    conns: mpsc::Sender<MqttConn>,
}

impl Demux {
    /// Returns `false` when the listener is gone.
    async fn route(&mut self, publish: rumqttc::Publish) -> bool {
        let Some(id) = self.topics.id_of_up(&publish.topic) else {
            tracing::debug!(topic = %publish.topic, "publish on an unexpected topic ignored");
            return true;
        };
        let payload = publish.payload;
        if payload.len() > self.max_payload {
            tracing::warn!(
                device = id,
                len = payload.len(),
                max = self.max_payload,
                "payload over the limit refused"
            );
            if let Some(tx) = self.routes.remove(id) {
                let _ = tx
                    .send(Inbound::Failed(TransportError::PayloadTooLarge {
                        len: payload.len(),
                        max: self.max_payload,
                    }))
                    .await;
            }
            return true;
        }
        let new_link = self.starts_link.is_some_and(|starts| starts(&payload));
        let mut inbound = Inbound::Data(payload);
        if !new_link {
            if let Some(tx) = self.routes.get(id) {
                match tx.send(inbound).await {
                    Ok(()) => return true,
                    Err(mpsc::error::SendError(back)) => inbound = back,
                }
            }
        }
        // A new link: the previous virtual connection (if any) sees its transport close.
        self.routes.remove(id);
        let (tx, inbox) = mpsc::channel(self.inbox_capacity);
        let _ = tx.try_send(inbound);
        self.routes.insert(id.to_owned(), tx);
        self.made += 1;
        if self.made.is_multiple_of(1024) {
            self.routes.retain(|_, tx| !tx.is_closed());
        }
        let transport = MqttTransport {
            client: self.client.clone(),
            inbox,
            topic: self.topics.down(id),
            max_payload: self.max_payload,
            message: Bytes::new(),
            pump: None,
        };
        self.conns.send(MqttConn { transport }).await.is_ok()
    }
}

/// Runs a platform's event loop: routes publishes, reconnects with backoff, subscribes again after each
/// `CONNACK`.
async fn platform_pump(
    mut eventloop: EventLoop,
    mut demux: Demux,
    early: Vec<rumqttc::Publish>,
    filter: String,
    backoff: BackoffConfig,
) {
    for p in early {
        if !demux.route(p).await {
            return;
        }
    }
    let mut backoff = Backoff::new(backoff);
    let mut rng = OsRandom;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if !demux.route(p).await {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                tracing::info!(%filter, "MQTT broker reconnected; subscribing again");
                if let Err(e) = demux.client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                    tracing::warn!(error = %e, "MQTT subscribe could not be queued");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    tracing::error!(%filter, "the broker refused the subscription");
                }
            }
            Ok(_) => {}
            Err(e) => {
                let delay = backoff.next_delay(&mut rng);
                tracing::warn!(error = %e, ?delay, "MQTT broker connection lost; reconnecting");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

impl Listen for MqttListener {
    type Conn = MqttConn;
    type Transport = MqttTransport;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.broker_addr)
    }

    async fn accept(&mut self) -> io::Result<(MqttConn, SocketAddr)> {
        match self.conns.recv().await {
            Some(conn) => Ok((conn, self.broker_addr)),
            // The pump is gone (aborted): nothing more will arrive.
            None => std::future::pending().await,
        }
    }

    async fn open(conn: MqttConn, _setup: &OpenSetup) -> Result<MqttTransport, TransportError> {
        Ok(conn.transport)
    }

    fn addresses_are_peers(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_or_name_the_fault() {
        assert_eq!(
            BrokerAddr::parse("mqtt://127.0.0.1:1883"),
            Ok(BrokerAddr::new("127.0.0.1", 1883))
        );
        assert_eq!(
            BrokerAddr::parse("tcp://broker.local"),
            Ok(BrokerAddr::new("broker.local", 1883))
        );
        assert_eq!(
            BrokerAddr::parse("mqtt://[::1]:1884"),
            Ok(BrokerAddr::new("::1", 1884))
        );
        assert!(BrokerAddr::parse("http://x:1")
            .unwrap_err()
            .contains("expected mqtt://"));
        assert!(BrokerAddr::parse("mqtt://x:99999")
            .unwrap_err()
            .contains("port `99999`"));
        assert!(BrokerAddr::parse("mqtt://").is_err());
        assert_eq!(BrokerAddr::new("h", 7).url(), "mqtt://h:7");
    }

    #[test]
    fn best_topics() {
        let t = Topics::best();
        assert_eq!(t.up("SN1"), "best/SN1/up");
        assert_eq!(t.down("SN1"), "best/SN1/down");
        assert_eq!(t.shared_up(), "$share/best-platform/best/+/up");
        assert_eq!(t.id_of_up("best/SN1/up"), Some("SN1"));
        for other in [
            "best/SN1/down",
            "best//up",
            "best/a/b/up",
            "other/SN1/up",
            "best/SN1/up/x",
        ] {
            assert_eq!(t.id_of_up(other), None, "{other}");
        }
        assert!(!valid_id("a+b") && !valid_id("#") && valid_id("SN-1"));
    }
}
