//! The coffee deployment's demo steps: a coffee server and simulated machines in this process.

use std::sync::Arc;
use std::time::Duration;

use fleet::client::AdminClient;

use crate::coffee;
use crate::scenario::{Step, StepResult};
use crate::sim;

/// Machines in the demo.
const MACHINES: u32 = 3;
/// How long a step waits for something to happen.
const WAIT: Duration = Duration::from_secs(20);

/// The coffee demo's state.
pub struct Coffee {
    /// Keeps the store until the end.
    pub data_dir: tempfile::TempDir,
    /// The server.
    pub server: Option<coffee::Running>,
    /// The machines.
    pub sim: Option<Arc<sim::Sim>>,
    /// Admin client with the token.
    pub api: Option<AdminClient>,
    /// The token in clear.
    pub token: String,
    /// Seed of the machines.
    pub seed: u64,
}

impl Coffee {
    /// Fresh state in a temporary directory.
    pub fn new(seed: u64) -> Result<Self, String> {
        Ok(Self {
            data_dir: tempfile::tempdir().map_err(|e| format!("temporary store: {e}"))?,
            server: None,
            sim: None,
            api: None,
            token: String::new(),
            seed,
        })
    }

    fn api(&self) -> Result<&AdminClient, String> {
        self.api
            .as_ref()
            .ok_or_else(|| "server not started".to_owned())
    }

    fn sim(&self) -> Result<&Arc<sim::Sim>, String> {
        self.sim
            .as_ref()
            .ok_or_else(|| "machines not started".to_owned())
    }

    fn vmc(&self, i: u64) -> u64 {
        1001 + i
    }

    /// Stops machines and server.
    pub async fn stop(&mut self) {
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// Polls `GET path` until `check` holds on its JSON.
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

async fn post_command(api: &AdminClient, vmc: u64, body: serde_json::Value) -> Result<i64, String> {
    let reply = api
        .post(&format!("/api/devices/{vmc}/commands"), &body)
        .await
        .map_err(|e| e.to_string())?;
    if reply.status != 202 {
        return Err(format!("POST command: {} {}", reply.status, reply.text()));
    }
    reply.json()["id"]
        .as_i64()
        .ok_or_else(|| "command id missing".to_owned())
}

async fn wait_command(
    api: &AdminClient,
    id: i64,
    state: &str,
) -> Result<serde_json::Value, String> {
    poll(api, &format!("/api/commands/{id}"), |c| c["state"] == state).await
}

async fn start_server(c: &mut Coffee) -> StepResult {
    let mut config = coffee::config::CoffeeConfig::default();
    config.fleet.data_dir = c.data_dir.path().to_path_buf();
    config.payment.confirm_after_ms = 300;
    let machines = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let server = coffee::start_on(config, machines, admin)
        .await
        .map_err(|e| e.to_string())?;
    c.token = server
        .token
        .generated
        .clone()
        .ok_or("a fresh store generates a token")?;
    let api = AdminClient::new(server.admin_addr, Some(c.token.clone()));
    let ready = api.get("/readyz").await.map_err(|e| e.to_string())?;
    if ready.status != 200 {
        return Err(format!("/readyz: {}", ready.status));
    }
    let detail = format!(
        "machines on {}, admin on http://{}/",
        server.machines_addr, server.admin_addr
    );
    c.api = Some(api);
    c.server = Some(server);
    Ok(detail)
}

async fn provision(c: &mut Coffee) -> StepResult {
    let api = c.api()?.clone();
    for i in 0..u64::from(MACHINES) {
        let vmc = c.vmc(i);
        let body = serde_json::json!({ "id": vmc.to_string(), "name": format!("machine {vmc}"), "secret": sim::machine_code(c.seed, vmc) });
        let reply = api
            .post("/api/devices", &body)
            .await
            .map_err(|e| e.to_string())?;
        if reply.status != 201 {
            return Err(format!(
                "POST /api/devices {vmc}: {} {}",
                reply.status,
                reply.text()
            ));
        }
    }
    Ok(format!("{MACHINES} machines registered through the API"))
}

async fn log_in(c: &mut Coffee) -> StepResult {
    let addr = c.server.as_ref().ok_or("server not started")?.machines_addr;
    let sim = sim::Sim::start(sim::SimConfig::new(addr, MACHINES, c.seed)).await;
    c.sim = Some(sim);
    let body = poll(c.api()?, "/api/devices", |d| {
        d["items"].as_array().is_some_and(|a| {
            a.len() == MACHINES as usize
                && a.iter()
                    .all(|m| m["online"] == true && m["version"].is_string())
        })
    })
    .await?;
    let version = body["items"][0]["version"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    Ok(format!("{MACHINES} machines online, version {version}"))
}

async fn sale(c: &mut Coffee) -> StepResult {
    let sim = c.sim()?.clone();
    let m = sim.machine(c.vmc(0)).ok_or("no machine")?;
    let order_no = m.buy(2, &sim.stats).await?;
    let order = poll(c.api()?, &format!("/api/orders/{order_no}"), |o| {
        o["state"] == "dispensed"
    })
    .await?;
    if !m.wait_for(WAIT, |v| v.dispensed == 1).await {
        return Err("the machine did not make the product".into());
    }
    let sales = poll(c.api()?, "/api/sales", |s| s["items"][0]["dispensed"] == 1).await?;
    Ok(format!(
        "order {order_no}: qrcode -> paid -> pay_done -> productdone, {} fen; sales today {} fen",
        order["amount_fen"], sales["items"][0]["revenue_fen"]
    ))
}

async fn price_push(c: &mut Coffee) -> StepResult {
    let vmc = c.vmc(0);
    let api = c.api()?.clone();
    let id = post_command(
        &api,
        vmc,
        serde_json::json!({ "cmd": "priceset", "price": [{ "product_id": 2, "price_fen": 520 }] }),
    )
    .await?;
    wait_command(&api, id, "sent").await?;
    let m = c.sim()?.machine(vmc).ok_or("no machine")?;
    if !m.wait_for(WAIT, |v| v.prices.get(&2) == Some(&520)).await {
        return Err(format!(
            "machine {vmc} still has price {:?}",
            m.view().prices.get(&2)
        ));
    }
    Ok(format!(
        "command {id} sent; machine {vmc} now sells product 2 at 520 fen"
    ))
}

async fn offline_delivery(c: &mut Coffee) -> StepResult {
    let vmc = c.vmc(1);
    let api = c.api()?.clone();
    let sim = c.sim()?.clone();
    sim.stop_machine(vmc).await;
    poll(&api, &format!("/api/devices/{vmc}"), |d| {
        d["online"] == false
    })
    .await?;
    let id = post_command(&api, vmc, serde_json::json!({ "cmd": "rinsing" })).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = api
        .get(&format!("/api/commands/{id}"))
        .await
        .map_err(|e| e.to_string())?
        .json();
    if queued["state"] != "queued" {
        return Err(format!("while offline the command is {}", queued["state"]));
    }
    sim.start_machine(vmc).await;
    wait_command(&api, id, "sent").await?;
    let m = sim.machine(vmc).ok_or("no machine")?;
    if !m
        .wait_for(WAIT, |v| v.commands.iter().any(|n| n == "rinsing"))
        .await
    {
        return Err("the machine did not receive `rinsing`".into());
    }
    Ok(format!(
        "rinsing {id} stayed queued while {vmc} was off, sent after it logged in again"
    ))
}

async fn reports(c: &mut Coffee) -> StepResult {
    let vmc = c.vmc(2);
    let m = c.sim()?.machine(vmc).ok_or("no machine")?;
    m.report_status(true).await?;
    m.report_error("E07", true).await?;
    let api = c.api()?;
    poll(api, &format!("/api/events?device={vmc}&kind=status"), |e| {
        e["items"][0]["data"]["status"] == "dooropen"
    })
    .await?;
    poll(api, &format!("/api/events?device={vmc}&kind=error"), |e| {
        e["items"][0]["data"]["error_code"] == "E07"
    })
    .await?;
    Ok(format!(
        "machine {vmc}: machinestatus and error stored as events"
    ))
}

async fn metrics(c: &mut Coffee) -> StepResult {
    let text = c
        .api()?
        .get("/metrics")
        .await
        .map_err(|e| e.to_string())?
        .text();
    for name in [
        "fleet_devices_connected",
        "fleet_logins_total",
        "fleet_messages_in_total",
        "fleet_commands",
    ] {
        if !text.contains(name) {
            return Err(format!("/metrics lacks {name}"));
        }
    }
    let connected = text
        .lines()
        .find(|l| l.starts_with("fleet_devices_connected"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?")
        .to_owned();
    Ok(format!(
        "/metrics: {connected} devices connected, logins, messages and command states exported"
    ))
}

/// The coffee steps, in order.
pub fn steps() -> Vec<Step<Coffee>> {
    vec![
        Step {
            name: "start coffee-server",
            run: |c| Box::pin(start_server(c)),
        },
        Step {
            name: "provision machines",
            run: |c| Box::pin(provision(c)),
        },
        Step {
            name: "machines log in",
            run: |c| Box::pin(log_in(c)),
        },
        Step {
            name: "one sale end to end",
            run: |c| Box::pin(sale(c)),
        },
        Step {
            name: "price push reaches the machine",
            run: |c| Box::pin(price_push(c)),
        },
        Step {
            name: "offline command delivered on reconnect",
            run: |c| Box::pin(offline_delivery(c)),
        },
        Step {
            name: "status and error reports",
            run: |c| Box::pin(reports(c)),
        },
        Step {
            name: "metrics exported",
            run: |c| Box::pin(metrics(c)),
        },
    ]
}
