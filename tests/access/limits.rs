//! Bad input over raw sockets, on both transports: a blob whose `length` disagrees is answered -1 naming the
//! field and the connection goes on; a repeated record is stored once; an over-long message closes only its
//! own connection, with its error recorded; a simulated terminal on the same listener is not affected.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::sim::{Direction, Opened, Transport};
use crate::{Harness, WAIT};

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A hand-written terminal: JSON text in and out, nothing checked on our side.
enum Raw {
    Tcp {
        read: BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: tokio::net::tcp::OwnedWriteHalf,
    },
    Ws(Box<WsStream>),
}

impl Raw {
    async fn connect(h: &Harness, transport: Transport) -> Self {
        match transport {
            Transport::Tcp => {
                let (read, write) = tokio::net::TcpStream::connect(h.server.tcp_addr)
                    .await
                    .unwrap()
                    .into_split();
                Self::Tcp {
                    read: BufReader::new(read),
                    write,
                }
            }
            Transport::Ws => {
                let (ws, _) =
                    tokio_tungstenite::connect_async(format!("ws://{}/", h.server.ws_addr))
                        .await
                        .unwrap();
                Self::Ws(Box::new(ws))
            }
        }
    }

    async fn send(&mut self, text: String) -> bool {
        match self {
            Self::Tcp { write, .. } => write
                .write_all(format!("{text}\n").as_bytes())
                .await
                .is_ok(),
            Self::Ws(ws) => ws.send(Message::text(text)).await.is_ok(),
        }
    }

    /// The next message, `None` once the server closed the connection.
    async fn recv(&mut self) -> Option<serde_json::Value> {
        let next = async {
            match self {
                Self::Tcp { read, .. } => {
                    let mut line = String::new();
                    match read.read_line(&mut line).await {
                        Ok(0) | Err(_) => None,
                        Ok(_) => Some(serde_json::from_str(&line).unwrap()),
                    }
                }
                Self::Ws(ws) => loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => {
                            break Some(serde_json::from_str(t.as_str()).unwrap())
                        }
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
                        Some(Ok(_)) => {}
                    }
                },
            }
        };
        tokio::time::timeout(WAIT, next)
            .await
            .expect("no message from the server in time")
    }

    /// The next response to `session_id`, skipping the server's probes.
    async fn answer_to(&mut self, session_id: &str) -> Option<serde_json::Value> {
        loop {
            let m = self.recv().await?;
            if m["session_id"] == session_id && m["type"] == 2 {
                return Some(m);
            }
        }
    }
}

fn upload(session_id: &str, time: &str, card: &str) -> String {
    serde_json::json!({"mod": "upload_access_info", "session_id": session_id, "type": 1,
        "access_info": {"time": time, "card_number": card, "open_door_type": 1, "in_out_type": 1}})
    .to_string()
}

async fn bad_input_stays_on_its_connection(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Harness::config(dir.path());
    // A small limit keeps the over-long message small; the default is 16 MiB (DECISIONS.md).
    config.terminals.max_message_bytes = 64 * 1024;
    let h = Harness::start_with(config, None).await;
    let good = h.terminals(transport, 1, 1, "C1").await;
    h.online(&good).await;

    let uuid = format!("RAW-{transport:?}");
    let mut raw = Raw::connect(&h, transport).await;
    let ask = raw.recv().await.unwrap();
    assert_eq!(ask["mod"], "get_device_info");
    let reply = serde_json::json!({"mod": "get_device_info", "session_id": ask["session_id"], "type": 2, "code": 0,
        "message": "", "device_info": {"uuid": uuid, "community_code": "C9", "software_version": "raw-1"}});
    assert!(raw.send(reply.to_string()).await);
    h.poll(&format!("/api/devices/{uuid}"), |d| d["online"] == true)
        .await;

    // A blob whose `length` disagrees with its data: answered -1 naming the field.
    let bad = serde_json::json!({"mod": "download_person", "session_id": "s-1", "type": 1,
        "person_info": {"person_id": "x", "face": {"width": 1, "height": 1, "format": 2, "length": 10, "data": "AQID"}}});
    assert!(raw.send(bad.to_string()).await);
    let a = raw.answer_to("s-1").await.expect("the connection closed");
    assert_eq!(a["code"], -1, "{a}");
    let msg = a["message"].as_str().unwrap();
    assert!(
        msg.contains("person_info.face") && msg.contains("`length` is 10"),
        "{msg}"
    );

    // The connection goes on: a record, then the same record again (its answer lost, say): stored once.
    for sid in ["s-2", "s-3"] {
        assert!(raw.send(upload(sid, "20240101080000", "777")).await);
        let a = raw.answer_to(sid).await.expect("the connection closed");
        assert_eq!(a["code"], 0, "{a}");
    }
    let mine = h
        .api
        .get(&format!("/api/access?terminal={uuid}"))
        .await
        .unwrap()
        .json();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");

    // An over-long message: this connection closes, with its error recorded.
    let long = upload("s-4", "20240101080001", &"9".repeat(70 * 1024));
    raw.send(long).await;
    let closed = loop {
        match raw.recv().await {
            None => break true,
            Some(m) if m["session_id"] == "s-4" => break false,
            Some(_) => {}
        }
    };
    assert!(closed, "an over-long message was answered");
    let events = h
        .poll(
            &format!("/api/events?kind=connection_error&device={uuid}"),
            |e| e["items"].as_array().is_some_and(|a| !a.is_empty()),
        )
        .await;
    let error = events["items"][0]["data"]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("65536") || error.contains("too"), "{error}");
    h.poll(&format!("/api/devices/{uuid}"), |d| d["online"] == false)
        .await;

    // Nothing else was affected: the simulated terminal on the same listener still uploads.
    let t = &good.terminals[0];
    t.produce(None, Opened::Card, Direction::In).unwrap();
    assert!(t.wait_for(WAIT, |v| v.uploaded == 1).await);
    assert!(t.view().connected);
    assert_eq!(t.view().connects, 1, "the good terminal was disconnected");
    tokio::time::sleep(Duration::from_millis(50)).await;
    good.shutdown().await;
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_tcp_is_refused_with_the_connections_own_error() {
    bad_input_stays_on_its_connection(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_websocket_is_refused_with_the_connections_own_error() {
    bad_input_stays_on_its_connection(Transport::Ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_without_a_usable_uuid_is_not_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(dir.path()).await;
    let mut raw = Raw::connect(&h, Transport::Tcp).await;
    let ask = raw.recv().await.unwrap();
    let reply = serde_json::json!({"mod": "get_device_info", "session_id": ask["session_id"], "type": 2, "code": 0,
        "message": "", "device_info": {"uuid": "a/b"}});
    raw.send(reply.to_string()).await;
    assert!(raw.recv().await.is_none(), "the connection stayed open");
    let events = h
        .poll("/api/events?kind=identification_failed", |e| {
            e["items"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert!(
        events["items"][0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("uuid"),
        "{events}"
    );
    assert_eq!(h.api.get("/api/devices/a%2Fb").await.unwrap().status, 404);
    h.server.shutdown().await;
}
