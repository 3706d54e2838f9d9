//! The access deployment's demo steps: an access server and two simulated terminals (one over raw TCP, one
//! over WebSocket) in this process; a person with a face picture pushed to them, three access records, one
//! made while the server was down and delivered after its restart, and the attendance query showing all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use fleet::client::AdminClient;

use crate::access;
use crate::access_sim as sim;
use crate::scenario::{Step, StepResult};

/// How long a step waits for something to happen.
const WAIT: Duration = Duration::from_secs(20);
/// The demo's admin token (the server runs on loopback only).
pub const TOKEN: &str = "demo-access-token";

/// The access demo's state.
#[derive(Default)]
pub struct Access {
    /// Keeps the store and the terminals' record buffers until the end.
    pub data_dir: Option<tempfile::TempDir>,
    /// The server.
    pub server: Option<access::Running>,
    /// The TCP terminal and the WebSocket terminal.
    pub sims: Vec<Arc<sim::Sim>>,
    /// Admin client with the token.
    pub api: Option<AdminClient>,
    /// The ports (tcp, ws, admin) kept across the restart.
    addrs: Option<(SocketAddr, SocketAddr, SocketAddr)>,
}

impl Access {
    fn dir(&self) -> Result<std::path::PathBuf, String> {
        self.data_dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .ok_or_else(|| "server not started".to_owned())
    }

    fn api(&self) -> Result<&AdminClient, String> {
        self.api
            .as_ref()
            .ok_or_else(|| "server not started".to_owned())
    }

    fn terminal(&self, i: usize) -> Result<&Arc<sim::Term>, String> {
        self.sims
            .get(i)
            .and_then(|s| s.terminals.first())
            .ok_or_else(|| "terminals not started".to_owned())
    }

    /// Stops terminals and server.
    pub async fn stop(&mut self) {
        for s in self.sims.drain(..) {
            s.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    async fn start_on(
        &mut self,
        addrs: (SocketAddr, SocketAddr, SocketAddr),
    ) -> Result<(), String> {
        let mut config = access::config::AccessConfig::default();
        config.fleet.data_dir = self.dir()?.join("store");
        config.fleet.admin.token = Some(TOKEN.into());
        config.fleet.flush_interval_secs = 1;
        let bind = |a: SocketAddr| async move {
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("bind {a}: {e}"))
        };
        let server = access::start_on(
            config,
            bind(addrs.0).await?,
            bind(addrs.1).await?,
            bind(addrs.2).await?,
        )
        .await
        .map_err(|e| e.to_string())?;
        self.addrs = Some((server.tcp_addr, server.ws_addr, server.admin_addr));
        self.api = Some(AdminClient::new(server.admin_addr, Some(TOKEN.into())));
        self.server = Some(server);
        Ok(())
    }
}

async fn poll(
    api: &AdminClient,
    path: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = api.get(path).await.map_err(|e| e.to_string())?;
        let body = reply.json();
        if reply.status == 200 && check(&body) {
            return Ok(body);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "GET {path}: not as expected after {WAIT:?}: {}",
                reply.text()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_server(a: &mut Access) -> StepResult {
    a.data_dir = Some(tempfile::tempdir().map_err(|e| format!("temporary store: {e}"))?);
    let any: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    a.start_on((any, any, any)).await?;
    let s = a.server.as_ref().ok_or("no server")?;
    Ok(format!(
        "terminals on tcp {} and ws {}, admin API on {}",
        s.tcp_addr, s.ws_addr, s.admin_addr
    ))
}

async fn identify(a: &mut Access) -> StepResult {
    let s = a.server.as_ref().ok_or("no server")?;
    for (transport, addr, first) in [
        (sim::Transport::Tcp, s.tcp_addr, 1),
        (sim::Transport::Ws, s.ws_addr, 2),
    ] {
        let mut c = sim::SimConfig::new(addr, transport, 1, 7);
        c.first = first;
        c.community = "HQ".into();
        c.data_dir = Some(a.dir()?.join("terminals"));
        a.sims.push(
            sim::Sim::start(c)
                .await
                .map_err(|e| format!("record buffer: {e}"))?,
        );
    }
    let api = a.api()?;
    poll(api, "/api/terminals?community=HQ", |t| {
        t["items"].as_array().is_some_and(|x| x.len() == 2)
    })
    .await?;
    let devices = poll(api, "/api/devices", |d| {
        d["items"]
            .as_array()
            .is_some_and(|x| x.len() == 2 && x.iter().all(|d| d["online"] == true))
    })
    .await?;
    let ids: Vec<&str> = devices["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["id"].as_str())
        .collect();
    Ok(format!(
        "{} identified by get_device_info (tcp and ws), online",
        ids.join(", ")
    ))
}

async fn push_person(a: &mut Access) -> StepResult {
    let face: Vec<u8> = (0..120 * 1024u32)
        .map(|i| i.to_le_bytes()[0] ^ 0x5a)
        .collect();
    let body = serde_json::json!({
        "person_id": "E1001", "community_code": "HQ", "person_name": "Zhang San", "card_number": "123123123",
        "role": 12, "face": {"width": 520, "height": 690, "format": 2, "length": face.len(),
            "data": base64::engine::general_purpose::STANDARD.encode(&face)},
    });
    let api = a.api()?;
    let r = api
        .post("/api/persons", &body)
        .await
        .map_err(|e| e.to_string())?;
    if r.status != 201 {
        return Err(format!("POST /api/persons: {} {}", r.status, r.text()));
    }
    for i in 0..2 {
        let t = a.terminal(i)?;
        if !t
            .wait_for(WAIT, |v| {
                v.people
                    .get("E1001")
                    .is_some_and(|p| p.image_bytes[0] == face.len())
            })
            .await
        {
            return Err(format!("{} never got the person", t.uuid));
        }
    }
    let pushes = poll(api, "/api/persons/E1001/pushes", |p| {
        p["items"].as_array().is_some_and(|x| {
            x.len() == 2 && x.iter().all(|p| p["code"] == 0 && p["state"] == "acked")
        })
    })
    .await?;
    Ok(format!(
        "E1001 with a {} KB face pushed to {} terminals, each answered code 0",
        face.len() / 1024,
        pushes["items"].as_array().map_or(0, Vec::len)
    ))
}

async fn two_records(a: &mut Access) -> StepResult {
    let tcp = a.terminal(0)?;
    tcp.produce(Some("E1001"), sim::Opened::Card, sim::Direction::In)
        .map_err(|e| e.to_string())?;
    let ws = a.terminal(1)?;
    ws.produce(Some("E1001"), sim::Opened::Face, sim::Direction::Out)
        .map_err(|e| e.to_string())?;
    for t in [tcp, ws] {
        if !t
            .wait_for(WAIT, |v| v.uploaded == 1 && v.pending == 0)
            .await
        {
            return Err(format!("{}: record not answered", t.uuid));
        }
    }
    Ok(
        "card-in at the TCP terminal, face-out at the WebSocket terminal: stored and answered 0"
            .into(),
    )
}

async fn offline_record(a: &mut Access) -> StepResult {
    let addrs = a.addrs.ok_or("no server")?;
    if let Some(server) = a.server.take() {
        server.shutdown().await;
    }
    let t = a.terminal(1)?.clone();
    if !t.wait_for(WAIT, |v| !v.connected).await {
        return Err("the terminal did not notice the server going".into());
    }
    t.produce(Some("E1001"), sim::Opened::Face, sim::Direction::In)
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pending = t.view().pending;
    if pending != 1 {
        return Err(format!("{pending} records buffered, expected 1"));
    }
    a.start_on(addrs).await?;
    if !t
        .wait_for(WAIT, |v| v.pending == 0 && v.uploaded == 2)
        .await
    {
        return Err(format!("buffered record not delivered: {:?}", t.view()));
    }
    Ok("face-in while the server was down: buffered, delivered after its restart".into())
}

async fn query(a: &mut Access) -> StepResult {
    let api = a.api()?;
    let all = poll(api, "/api/access?person=E1001", |r| {
        r["items"].as_array().is_some_and(|x| x.len() == 3)
    })
    .await?;
    let rows: Vec<String> = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {} {}",
                r["time"].as_str().unwrap_or("?"),
                r["device_id"].as_str().unwrap_or("?"),
                match (r["open_door_type"].as_i64(), r["in_out_type"].as_i64()) {
                    (Some(1), Some(1)) => "card-in",
                    (Some(2), Some(1)) => "face-in",
                    (Some(2), Some(2)) => "face-out",
                    _ => "other",
                }
            )
        })
        .collect();
    let csv = api
        .get("/api/access?format=csv&person=E1001")
        .await
        .map_err(|e| e.to_string())?;
    let lines = csv.text().lines().count();
    if lines != 4 {
        return Err(format!(
            "CSV has {lines} lines, expected a header and 3 records"
        ));
    }
    Ok(format!(
        "3 records for E1001 ({}); CSV export 3 rows",
        rows.join(", ")
    ))
}

/// The access steps, in order.
pub fn steps() -> Vec<Step<Access>> {
    vec![
        Step {
            name: "start access-server",
            run: |a| Box::pin(start_server(a)),
        },
        Step {
            name: "terminals identify over tcp and ws",
            run: |a| Box::pin(identify(a)),
        },
        Step {
            name: "person with a face pushed",
            run: |a| Box::pin(push_person(a)),
        },
        Step {
            name: "two access records uploaded",
            run: |a| Box::pin(two_records(a)),
        },
        Step {
            name: "record made while the server was down",
            run: |a| Box::pin(offline_record(a)),
        },
        Step {
            name: "attendance query shows all",
            run: |a| Box::pin(query(a)),
        },
    ]
}
