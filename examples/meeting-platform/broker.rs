//! The embedded MQTT broker (rumqttd): best-m with nothing installed. It runs on threads of its own for the
//! life of the process (rumqttd has no stop).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Most MQTT connections the embedded broker accepts.
pub const MAX_CONNECTIONS: usize = 20_010;

/// The broker's settings: MQTT 3.1.1 on `listen`, payloads up to `max_payload` (a little over the platform's
/// message limit, so the platform reports an oversized message rather than the broker dropping the client).
pub fn config(listen: SocketAddr, max_payload: usize) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: max_payload.saturating_mul(2).saturating_add(1024),
        max_inflight_count: 256,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "best-m".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    Config {
        router: RouterConfig {
            max_connections: MAX_CONNECTIONS,
            max_outgoing_packet_count: 256,
            max_segment_size: 1024 * 1024,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}

/// Starts the broker on `listen` (port 0: a free port) on a thread of its own; returns the address to connect
/// to (it accepts connections a moment later).
///
/// # Errors
/// The address cannot be bound.
pub fn start(listen: SocketAddr, max_payload: usize) -> Result<SocketAddr, String> {
    // rumqttd binds the address itself and does not report the port it got: pick a free one first.
    let listen = if listen.port() == 0 {
        let probe =
            TcpListener::bind(listen).map_err(|e| format!("mqtt.embedded_listen {listen}: {e}"))?;
        probe.local_addr().map_err(|e| e.to_string())?
    } else {
        TcpListener::bind(listen)
            .map_err(|e| format!("mqtt.embedded_listen {listen}: {e}"))?
            .local_addr()
            .map_err(|e| e.to_string())?
    };
    let mut broker = Broker::new(config(listen, max_payload));
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| format!("embedded MQTT broker thread: {e}"))?;
    // The platform's own first connection waits for it (a probe connection would log an error in the broker).
    tracing::info!(%listen, "embedded MQTT broker starting");
    Ok(if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    })
}

/// Whether an MQTT 3.1.1 broker answers at `addr`: CONNECT, a CONNACK accepting it, DISCONNECT.
pub fn answers(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    // CONNECT: protocol `MQTT` level 4, clean session, keep-alive 10 s, client id `probe`.
    const CONNECT: [u8; 19] = [
        0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10, 0, 5, b'p', b'r', b'o', b'b', b'e',
    ];
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut ack = [0u8; 4];
    let ok =
        s.write_all(&CONNECT).is_ok() && s.read_exact(&mut ack).is_ok() && ack == [0x20, 2, 0, 0];
    let _ = s.write_all(&[0xe0, 0]);
    ok
}
