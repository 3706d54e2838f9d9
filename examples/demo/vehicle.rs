//! The vehicle deployment's demo steps: a vehicle instance with simulated e-bikes and the vehicle server
//! (WebSvr) in this process, sharing one store; the mini-program stand-in drives them with signed requests.

use std::time::Duration;

use crate::scenario::{Step, StepResult};
use crate::{vehicle_app, vehicle_instance, vehicle_server};

/// Bikes in the demo.
const BIKES: u32 = 5;
/// The bike the rider binds.
const BIKE: u32 = 1002;
/// How long a step waits for something to happen.
const WAIT: Duration = Duration::from_secs(20);

/// The vehicle demo's state.
pub struct Vehicle {
    /// Keeps the store until the end.
    pub data_dir: tempfile::TempDir,
    /// The instance.
    pub instance: Option<vehicle_instance::Running>,
    /// The server.
    pub server: Option<vehicle_server::Running>,
    /// The rider.
    pub rider: Option<vehicle_app::AppClient>,
    /// When the ride started, Unix ms.
    pub ride_start: u64,
}

impl Vehicle {
    /// Fresh state in a temporary directory.
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            data_dir: tempfile::tempdir().map_err(|e| format!("temporary store: {e}"))?,
            instance: None,
            server: None,
            rider: None,
            ride_start: 0,
        })
    }

    fn rider(&self) -> Result<&vehicle_app::AppClient, String> {
        self.rider.as_ref().ok_or_else(|| "no rider yet".to_owned())
    }

    /// Stops server and instance.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some(i) = self.instance.take() {
            i.shutdown().await;
        }
    }
}

async fn start(c: &mut Vehicle) -> StepResult {
    let dir = c.data_dir.path();
    let store = vehicle_instance::open_store(None, dir)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let mut settings = vehicle_instance::InstanceSettings {
        tick: Duration::from_millis(100),
        ..Default::default()
    };
    settings.bikes.vehicles = BIKES;
    settings.bikes.speed_mps = 15.0;
    let instance = vehicle_instance::start(store, listener, settings)
        .await
        .map_err(|e| e.to_string())?;
    let mut config = vehicle_server::config::VehicleConfig::default();
    config.fleet.data_dir = dir.to_path_buf();
    config.instances = vec![vehicle_server::config::InstanceEntry {
        name: "instance-1".into(),
        addr: instance.addr,
    }];
    // A demo-sized password hash cost; the default is 19 MiB.
    config.http.argon2_memory_kib = 1024;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let server = vehicle_server::start_on(config, http, admin)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !server.links.is_up("instance-1") {
        if tokio::time::Instant::now() > deadline {
            return Err("the link to the instance never came up".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let detail = format!(
        "{BIKES} bikes on {}, API on {}, link verified (9001, newIV)",
        instance.addr, server.http_addr
    );
    c.rider = Some(vehicle_app::AppClient::new(server.http_addr));
    c.instance = Some(instance);
    c.server = Some(server);
    Ok(detail)
}

async fn register_and_bind(c: &mut Vehicle) -> StepResult {
    let rider = c.rider.as_mut().ok_or("no rider")?;
    rider
        .register("13800138000", "demo-secret", "Demo rider")
        .await
        .map_err(|e| e.to_string())?;
    rider.bind(BIKE, 1).await.map_err(|e| e.to_string())?;
    let devs = rider.devs().await.map_err(|e| e.to_string())?;
    Ok(format!("usrId {} owns {}", rider.usr_id(), devs["devList"]))
}

async fn unlock_and_ride(c: &mut Vehicle) -> StepResult {
    c.ride_start = vehicle_app::now_ms();
    let rider = c.rider()?;
    rider
        .unlock(BIKE, 1, (30, 10, 0))
        .await
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = rider.position(BIKE, 1).await.map_err(|e| e.to_string())?;
        let points = v["devPosInfo"]["Points"].as_array().map_or(0, Vec::len);
        if points >= 12 {
            return Ok(format!(
                "riding at {:.1} m/s, {points} track points since the unlock",
                v["devPosInfo"]["speed"].as_f64().unwrap_or(-1.0)
            ));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the track never grew: {v}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn lock_and_read_trip(c: &mut Vehicle) -> StepResult {
    let rider = c.rider()?;
    rider.lock(BIKE, 1).await.map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let trip = loop {
        let v = rider.last_trip(BIKE, 1).await.map_err(|e| e.to_string())?;
        if v.get("TimeStart").is_some() {
            break v;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("no trip recorded".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = rider.status(BIKE, 1).await.map_err(|e| e.to_string())?;
    Ok(format!(
        "trip of {} x 10 m, max {:.1} m/s; battery now {:.1} %",
        trip["ltinerary"],
        trip["maxSpeed"].as_f64().unwrap_or(-1.0),
        status["devStatus"]["batteryStatus"]["socpercent"]
            .as_f64()
            .unwrap_or(-1.0)
    ))
}

async fn bad_hash_refused(c: &mut Vehicle) -> StepResult {
    let rider = c.rider()?;
    let mut request = rider.unlock_request(BIKE, 1, (30, 10, 0));
    kingxun_proto::HashedRequest::sign(&mut request, "0123456789abcdef0123456789abcdef");
    match rider.post(&request).await {
        Err(vehicle_app::CallError::Refused { code: 401, message }) => {
            Ok(format!("errCode 401: {message}"))
        }
        other => Err(format!(
            "a wrongly signed unlock was not refused: {other:?}"
        )),
    }
}

/// The steps.
pub fn steps() -> Vec<Step<Vehicle>> {
    vec![
        Step {
            name: "start vehicle-instance and vehicle-server",
            run: |c| Box::pin(start(c)),
        },
        Step {
            name: "register a rider and bind a bike",
            run: |c| Box::pin(register_and_bind(c)),
        },
        Step {
            name: "unlock and ride (track grows)",
            run: |c| Box::pin(unlock_and_ride(c)),
        },
        Step {
            name: "lock, read the trip and the battery",
            run: |c| Box::pin(lock_and_read_trip(c)),
        },
        Step {
            name: "a request with a bad hash is refused",
            run: |c| Box::pin(bad_hash_refused(c)),
        },
    ]
}
