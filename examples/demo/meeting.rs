//! The meeting deployment's demo steps: a meeting platform (embedded MQTT broker) and simulated terminals over
//! WebSocket and MQTT in this process.

use std::sync::Arc;
use std::time::Duration;

use best_proto::Code;
use fleet::client::AdminClient;

use crate::meeting;
use crate::meeting_sim as sim;
use crate::scenario::{Step, StepResult};

/// How long a step waits for something to happen.
const WAIT: Duration = Duration::from_secs(20);
/// The WebSocket terminal and the MQTT terminal.
const WS_SN: &str = "MW000001";
const MQTT_SN: &str = "MQ000001";

/// The meeting demo's state.
pub struct Meeting {
    /// Keeps the store until the end.
    pub data_dir: tempfile::TempDir,
    /// The platform.
    pub platform: Option<meeting::Running>,
    /// Terminals over WebSocket and over MQTT.
    pub terminals: Vec<Arc<sim::Sim>>,
    /// Admin client with the token.
    pub api: Option<AdminClient>,
    /// Seed of the terminals.
    pub seed: u64,
}

impl Meeting {
    /// Fresh state in a temporary directory.
    pub fn new(seed: u64) -> Result<Self, String> {
        Ok(Self {
            data_dir: tempfile::tempdir().map_err(|e| format!("temporary store: {e}"))?,
            platform: None,
            terminals: Vec::new(),
            api: None,
            seed,
        })
    }

    fn api(&self) -> Result<&AdminClient, String> {
        self.api
            .as_ref()
            .ok_or_else(|| "platform not started".to_owned())
    }

    fn terminal(&self, sn: &str) -> Result<&sim::Terminal, String> {
        self.terminals
            .iter()
            .find_map(|s| s.terminal(sn))
            .ok_or_else(|| format!("terminal {sn} not started"))
    }

    /// Stops terminals and platform.
    pub async fn stop(&mut self) {
        for s in self.terminals.drain(..) {
            s.stop();
        }
        if let Some(p) = self.platform.take() {
            p.shutdown().await;
        }
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

async fn post(
    api: &AdminClient,
    path: &str,
    body: serde_json::Value,
    want: u16,
) -> Result<serde_json::Value, String> {
    let reply = api.post(path, &body).await.map_err(|e| e.to_string())?;
    if reply.status != want {
        return Err(format!("POST {path}: {} {}", reply.status, reply.text()));
    }
    Ok(reply.json())
}

async fn start_platform(c: &mut Meeting) -> StepResult {
    let mut config = meeting::config::MeetingConfig::default();
    config.fleet.data_dir = c.data_dir.path().to_path_buf();
    config.mqtt.embedded_listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let listeners = (bind().await, bind().await, bind().await);
    let (Ok(ws), Ok(lookup), Ok(admin)) = listeners else {
        return Err("no loopback port".into());
    };
    let platform = meeting::start_on(config, ws, lookup, admin)
        .await
        .map_err(|e| e.to_string())?;
    let token = platform
        .token
        .generated
        .clone()
        .ok_or("a fresh store generates a token")?;
    let detail = format!(
        "best-w ws://{}/best, best-m {} (embedded), lookup http://{}",
        platform.ws_addr,
        platform.broker.url(),
        platform.lookup_addr
    );
    c.api = Some(AdminClient::new(platform.admin_addr, Some(token)));
    c.platform = Some(platform);
    Ok(detail)
}

async fn provision(c: &mut Meeting) -> StepResult {
    let api = c.api()?.clone();
    post(
        &api,
        "/api/products",
        serde_json::json!({ "id": sim::PRODUCT, "name": "meeting terminal" }),
        201,
    )
    .await?;
    for sn in [WS_SN, MQTT_SN] {
        let body = serde_json::json!({ "sn": sn, "product_id": sim::PRODUCT, "secret_key": sim::secret_key(c.seed, sn) });
        post(&api, "/api/terminals", body, 201).await?;
    }
    for (pin, name) in [("1001", "Ada"), ("1002", "Grace"), ("1003", "Linus")] {
        post(
            &api,
            "/api/people",
            serde_json::json!({ "pin": pin, "name": name, "card": null }),
            200,
        )
        .await?;
    }
    Ok("1 product, 2 terminals, 3 people".into())
}

async fn log_in(c: &mut Meeting) -> StepResult {
    let lookup = format!(
        "http://{}",
        c.platform
            .as_ref()
            .ok_or("platform not started")?
            .lookup_addr
    );
    for (prefix, transport) in [("MW", sim::Transport::Ws), ("MQ", sim::Transport::Mqtt)] {
        let mut config = sim::SimConfig::new(lookup.clone(), 1, transport, c.seed);
        config.prefix = prefix.into();
        let s = sim::Sim::start(config);
        if !s.wait_online(1, WAIT).await {
            return Err(format!("{prefix} terminal never logged in"));
        }
        c.terminals.push(s);
    }
    let api = c.api()?.clone();
    let t = poll(&api, "/api/terminals", |t| {
        t["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|t| t["max_pending"].is_i64()))
    })
    .await?;
    let transports: Vec<String> = t["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{} over {}",
                t["sn"].as_str().unwrap_or("?"),
                t["transport"].as_str().unwrap_or("?")
            )
        })
        .collect();
    Ok(format!(
        "lookup, register, accredit, login, report: {}",
        transports.join(", ")
    ))
}

async fn push_meeting(c: &mut Meeting, sn: &str, id: &str) -> StepResult {
    let api = c.api()?.clone();
    let body = serde_json::json!({
        "id": id, "sn": sn, "name": format!("design review {id}"),
        "start": "2026-01-05T09:00:00+08:00", "end": "2026-01-05T10:00:00+08:00", "members": ["1001", "1002", "1003"],
    });
    let created = post(&api, "/api/meetings", body, 201).await?;
    let ids: Vec<i64> = created["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    for id in &ids {
        poll(&api, &format!("/api/commands/{id}"), |c| {
            c["state"] == "acked"
        })
        .await?;
    }
    let local = c.terminal(sn)?.local();
    if local.members.get(id).map_or(0, |m| m.len()) != 3 {
        return Err(format!("{sn} does not hold the members of {id}: {local:?}"));
    }
    Ok(format!(
        "{} commands acked; {sn} holds {} users and meeting {id}",
        ids.len(),
        local.users.len()
    ))
}

async fn push_ws(c: &mut Meeting) -> StepResult {
    push_meeting(c, WS_SN, "review-ws").await
}

async fn push_mqtt(c: &mut Meeting) -> StepResult {
    push_meeting(c, MQTT_SN, "review-mqtt").await
}

async fn check_ins(c: &mut Meeting) -> StepResult {
    for (sn, meeting, pin) in [
        (MQTT_SN, "review-mqtt", "1001"),
        (MQTT_SN, "review-mqtt", "1003"),
    ] {
        match c.terminal(sn)?.check_in(meeting, pin).await {
            Ok(Code::Success) => {}
            other => return Err(format!("check-in of {pin} on {sn}: {other:?}")),
        }
    }
    Ok("1001 and 1003 checked in on MQ000001 (dev.data.upload.verifyLog)".into())
}

async fn attendance(c: &mut Meeting) -> StepResult {
    let api = c.api()?.clone();
    let report = poll(&api, "/api/meetings/review-mqtt/attendance", |a| {
        a["present"] == 2
    })
    .await?;
    let line: Vec<String> = report["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {}",
                a["name"].as_str().unwrap_or("?"),
                if a["present"] == true {
                    "present"
                } else {
                    "absent"
                }
            )
        })
        .collect();
    Ok(format!("review-mqtt: {}", line.join(", ")))
}

/// A 1 MiB photo over MQTT, its connection cut after 256 KiB; the terminal connects again and the upload
/// resumes where the platform's file stands; the platform's copy matches.
async fn upload_resumed(c: &mut Meeting) -> StepResult {
    let api = c.api()?.clone();
    let data: bytes::Bytes = (0..1024 * 1024u32)
        .map(|i| u8::try_from(i.wrapping_mul(31) % 251).unwrap_or(0))
        .collect::<Vec<u8>>()
        .into();
    let report = c
        .terminal(MQTT_SN)?
        .upload("roomphoto", data.clone(), Some(256 * 1024), WAIT)
        .await?;
    if report.code != Code::Success || report.attempts < 2 {
        return Err(format!("upload not resumed after the cut: {report:?}"));
    }
    let list = poll(&api, "/api/files", |l| {
        l["items"].as_array().is_some_and(|i| {
            i.iter()
                .any(|f| f["file_id"] == "roomphoto" && f["state"] == "complete")
        })
    })
    .await?;
    let md5 = hex::encode(best_proto::Checksum::of(&data).0);
    let file = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["file_id"] == "roomphoto")
        .cloned()
        .unwrap_or_default();
    if file["md5"] != md5.as_str() {
        return Err(format!("the platform's file differs: {file}"));
    }
    let id = file["id"].as_i64().unwrap_or(0);
    let download = api
        .get(&format!("/api/files/{id}/content"))
        .await
        .map_err(|e| format!("download: {e}"))?;
    if download.body != data {
        return Err(format!(
            "download of file {id}: {} bytes, not the photo",
            download.body.len()
        ));
    }
    Ok(format!(
        "1 MiB over MQTT cut after 256 KiB, resumed at byte {} on a new connection; md5 {md5} at /api/files/{id}/content",
        report.resumed_at
    ))
}

/// The meeting steps, in order.
pub fn steps() -> Vec<Step<Meeting>> {
    vec![
        Step {
            name: "start meeting-platform (embedded MQTT broker)",
            run: |c| Box::pin(start_platform(c)),
        },
        Step {
            name: "provision product, terminals, people",
            run: |c| Box::pin(provision(c)),
        },
        Step {
            name: "terminals onboard over WebSocket and MQTT",
            run: |c| Box::pin(log_in(c)),
        },
        Step {
            name: "meeting pushed over WebSocket",
            run: |c| Box::pin(push_ws(c)),
        },
        Step {
            name: "meeting pushed over MQTT",
            run: |c| Box::pin(push_mqtt(c)),
        },
        Step {
            name: "photo upload cut midway, resumed",
            run: |c| Box::pin(upload_resumed(c)),
        },
        Step {
            name: "two check-ins",
            run: |c| Box::pin(check_ins(c)),
        },
        Step {
            name: "attendance report",
            run: |c| Box::pin(attendance(c)),
        },
    ]
}
