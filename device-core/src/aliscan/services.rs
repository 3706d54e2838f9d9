//! Optional services the station answers pad requests with: Wi-Fi, the store directory of the back end, and
//! the USB drive and logs; plus simulators of each for tests and demos.
//!
//! A station without a service passes that service's requests on to the deployment as
//! [`StationEvent::Message`](super::StationEvent::Message), to be answered with
//! [`StationCommand::Send`](super::StationCommand::Send). With the service plugged in
//! ([`Station::wifi`](super::Station::wifi), [`Station::stores`](super::Station::stores),
//! [`Station::maintenance`](super::Station::maintenance)) the station answers itself. The calls are synchronous
//! and made while the station is locked: an implementation answers from local state or a cache; a deployment
//! whose answers need a network round trip leaves the service out and answers the events instead.

use std::sync::{Arc, Mutex, PoisonError};

use aliscan_proto::{
    BrandInfo, ErrorCode, ErrorInfo, Outcome, OutcomeStatus, Rssi, Store, StoreBind, StoreGet,
    StoreInfo, StoreList, StoreListQuery, UDiskInfo, WifiConnect, WifiList, WifiNetwork, WifiState,
    WifiStatus,
};

/// A failed [`Outcome`] with `code`.
fn failed(code: ErrorCode) -> Outcome {
    Outcome {
        status: OutcomeStatus::Fail,
        error: ErrorInfo::from_code(code),
    }
}

/// The station's Wi-Fi: `equipment/wifi/list`, `qst`, `connect` and `disconnect`.
pub trait Wifi: Send {
    /// The networks in range (`equipment/wifi/result`); on failure `count` 0 and an empty list, as the spec
    /// says.
    fn networks(&mut self) -> WifiList;

    /// The Wi-Fi state now (`equipment/wifi/status`).
    fn state(&mut self) -> WifiState;

    /// Joins a network, replacing any current connection; returns the state after the attempt.
    fn connect(&mut self, request: &WifiConnect) -> WifiState;

    /// Leaves the current network (if any); returns the state after.
    fn disconnect(&mut self) -> WifiState;
}

/// The back end's store directory and the station's binding: `equipment/store/*` and `equipment/info/update`.
pub trait StoreDirectory: Send {
    /// The brand and store the station is bound to (`equipment/store/brandresult`).
    fn brand(&mut self) -> BrandInfo;

    /// Refetches brand, artwork and QR prefix from the back end (`equipment/info/update`), then answers like
    /// [`StoreDirectory::brand`].
    fn refresh(&mut self) -> BrandInfo;

    /// One page of the brand's stores in a region (`equipment/store/listresult`).
    fn list(&mut self, query: &StoreListQuery) -> StoreList;

    /// One store by number (`equipment/store/getresult`).
    fn get(&mut self, query: &StoreGet) -> StoreInfo;

    /// Binds the station to a store (`equipment/store/result`).
    fn bind(&mut self, request: &StoreBind) -> Outcome;

    /// Unbinds the station (`equipment/store/result`).
    fn unbind(&mut self) -> Outcome;
}

/// The USB drive and the logs: `equipment/checkUDisk`, `copyLog` and `uploadLog`.
pub trait Maintenance: Send {
    /// The USB drive (`equipment/checkUDiskResult`).
    fn check_udisk(&mut self) -> UDiskInfo;

    /// Copies the logs to the USB drive (`equipment/copyLogResult`).
    fn copy_log(&mut self) -> Outcome;

    /// Uploads the logs to the back end (`equipment/uploadLogResult`).
    fn upload_log(&mut self) -> Outcome;
}

/// One network a [`SimulatedWifi`] can join.
#[derive(Clone)]
struct SimNetwork {
    ssid: String,
    pwd: String,
    rssi: i32,
    internet: bool,
}

#[derive(Clone, Default)]
struct WifiSim {
    networks: Vec<SimNetwork>,
    current: Option<usize>,
    last_error: ErrorInfo,
}

/// A Wi-Fi adapter with networks set up by the test. Joining needs the network's password
/// (`600004` otherwise) and a network in range (`600002` otherwise); a network without internet access reads
/// `noInternet` once joined. Clones share state.
#[derive(Clone, Default)]
pub struct SimulatedWifi(Arc<Mutex<WifiSim>>);

impl std::fmt::Debug for SimulatedWifi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sim = self.sim();
        f.debug_struct("SimulatedWifi")
            .field("networks", &sim.networks.len())
            .field(
                "current",
                &sim.current.map(|i| sim.networks[i].ssid.clone()),
            )
            .finish()
    }
}

impl SimulatedWifi {
    /// An adapter with no network in range.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a network in range (`internet`: whether it reaches the internet once joined).
    #[must_use]
    pub fn network(self, ssid: &str, pwd: &str, rssi: i32, internet: bool) -> Self {
        self.sim().networks.push(SimNetwork {
            ssid: ssid.to_owned(),
            pwd: pwd.to_owned(),
            rssi,
            internet,
        });
        self
    }

    /// The network joined now.
    #[must_use]
    pub fn current(&self) -> Option<String> {
        let sim = self.sim();
        sim.current.map(|i| sim.networks[i].ssid.clone())
    }

    fn sim(&self) -> std::sync::MutexGuard<'_, WifiSim> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WifiSim {
    fn state(&self) -> WifiState {
        let status = match self.current.map(|i| self.networks[i].internet) {
            None => WifiStatus::Unconnected,
            Some(true) => WifiStatus::Connected,
            Some(false) => WifiStatus::NoInternet,
        };
        WifiState {
            status,
            error: self.last_error.clone(),
        }
    }
}

impl Wifi for SimulatedWifi {
    fn networks(&mut self) -> WifiList {
        let sim = self.sim();
        let list: Vec<WifiNetwork> = sim
            .networks
            .iter()
            .enumerate()
            .map(|(i, n)| WifiNetwork {
                ssid: n.ssid.clone(),
                rssi: Rssi(n.rssi),
                is_current: sim.current == Some(i),
                is_our_ap: false,
            })
            .collect();
        WifiList {
            count: u32::try_from(list.len()).unwrap_or(u32::MAX),
            list,
        }
    }

    fn state(&mut self) -> WifiState {
        self.sim().state()
    }

    fn connect(&mut self, request: &WifiConnect) -> WifiState {
        let mut sim = self.sim();
        // The spec: "不管原来是否有连接，都替换" - the old connection goes whatever the outcome.
        sim.current = None;
        let found = sim.networks.iter().position(|n| n.ssid == request.ssid);
        sim.last_error = match found {
            None => ErrorInfo::from_code(ErrorCode::WIFI_TIMEOUT),
            Some(i) if sim.networks[i].pwd != request.pwd => {
                ErrorInfo::from_code(ErrorCode::WIFI_WRONG_PASSWORD)
            }
            Some(i) => {
                sim.current = Some(i);
                ErrorInfo::ok()
            }
        };
        sim.state()
    }

    fn disconnect(&mut self) -> WifiState {
        let mut sim = self.sim();
        sim.current = None;
        sim.last_error = ErrorInfo::ok();
        sim.state()
    }
}

#[derive(Debug, Clone)]
struct DirectorySim {
    brand: String,
    stores: Vec<Store>,
    bound: Option<Store>,
    online: bool,
    logo: Option<String>,
}

/// A back end with one brand and a fixed list of stores, reachable or not. Unreachable, every answer fails
/// with `600104` as the spec's 1.0.9 notes say; the brand of an unbound station is unknown (also `600104`).
/// Clones share state.
#[derive(Debug, Clone)]
pub struct SimulatedDirectory(Arc<Mutex<DirectorySim>>);

impl SimulatedDirectory {
    /// A reachable back end of `brand`, with no store, the station bound to none.
    #[must_use]
    pub fn new(brand: &str) -> Self {
        Self(Arc::new(Mutex::new(DirectorySim {
            brand: brand.to_owned(),
            stores: Vec::new(),
            bound: None,
            online: true,
            logo: None,
        })))
    }

    /// Adds a store to the brand.
    #[must_use]
    pub fn store(self, name: &str, number: &str) -> Self {
        self.sim().stores.push(Store {
            name: name.to_owned(),
            number: number.to_owned(),
        });
        self
    }

    /// Sets the logo path the next [`StoreDirectory::refresh`] fetches.
    pub fn set_logo(&self, path: &str) {
        self.sim().logo = Some(path.to_owned());
    }

    /// Makes the back end reachable or not.
    pub fn set_online(&self, online: bool) {
        self.sim().online = online;
    }

    /// The store the station is bound to.
    #[must_use]
    pub fn bound(&self) -> Option<Store> {
        self.sim().bound.clone()
    }

    fn sim(&self) -> std::sync::MutexGuard<'_, DirectorySim> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DirectorySim {
    fn brand_info(&self, logo: Option<String>) -> BrandInfo {
        let (status, error, store_name) = match &self.bound {
            Some(store) if self.online => {
                (OutcomeStatus::Success, ErrorInfo::ok(), store.name.clone())
            }
            _ => (
                OutcomeStatus::Fail,
                ErrorInfo::from_code(ErrorCode::REPORT_NETWORK_DOWN),
                String::new(),
            ),
        };
        let ok = status == OutcomeStatus::Success;
        BrandInfo {
            status,
            error,
            logo: logo.filter(|_| ok),
            source_logo: None,
            big_logo: None,
            small_logo: None,
            report_title: None,
            report_sub_title: None,
            footer_content: None,
            store_name,
            brand_name: if ok {
                self.brand.clone()
            } else {
                String::new()
            },
        }
    }
}

impl StoreDirectory for SimulatedDirectory {
    fn brand(&mut self) -> BrandInfo {
        let sim = self.sim();
        // The brand as last fetched: the logo only once `refresh` fetched it.
        sim.brand_info(None)
    }

    fn refresh(&mut self) -> BrandInfo {
        let sim = self.sim();
        sim.brand_info(sim.logo.clone())
    }

    fn list(&mut self, query: &StoreListQuery) -> StoreList {
        let sim = self.sim();
        if !sim.online {
            return StoreList {
                status: OutcomeStatus::Fail,
                error: ErrorInfo::from_code(ErrorCode::REPORT_NETWORK_DOWN),
                count: None,
                page_size: None,
                page: None,
                list: Vec::new(),
            };
        }
        let page = query.page.unwrap_or(1).max(1);
        let size = query.page_size.unwrap_or(10);
        let skip = usize::try_from(page - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(usize::try_from(size).unwrap_or(usize::MAX));
        StoreList {
            status: OutcomeStatus::Success,
            error: ErrorInfo::ok(),
            count: Some(u64::try_from(sim.stores.len()).unwrap_or(u64::MAX)),
            page_size: Some(size),
            page: Some(page),
            list: sim
                .stores
                .iter()
                .skip(skip)
                .take(usize::try_from(size).unwrap_or(usize::MAX))
                .cloned()
                .collect(),
        }
    }

    fn get(&mut self, query: &StoreGet) -> StoreInfo {
        let sim = self.sim();
        let found = sim.stores.iter().find(|s| s.number == query.number);
        let error = if !sim.online {
            Some(ErrorCode::REPORT_NETWORK_DOWN)
        } else if found.is_none() {
            Some(ErrorCode::BAD_PARAMETER)
        } else {
            None
        };
        match (error, found) {
            (None, Some(store)) => StoreInfo {
                status: OutcomeStatus::Success,
                error: ErrorInfo::ok(),
                name: Some(store.name.clone()),
                number: Some(store.number.clone()),
            },
            (code, _) => StoreInfo {
                status: OutcomeStatus::Fail,
                error: ErrorInfo::from_code(code.unwrap_or(ErrorCode::UNKNOWN)),
                name: None,
                number: None,
            },
        }
    }

    fn bind(&mut self, request: &StoreBind) -> Outcome {
        let mut sim = self.sim();
        if !sim.online {
            return failed(ErrorCode::REPORT_NETWORK_DOWN);
        }
        let Some(store) = sim
            .stores
            .iter()
            .find(|s| s.number == request.store_id)
            .cloned()
        else {
            return failed(ErrorCode::BAD_PARAMETER);
        };
        sim.bound = Some(store);
        Outcome::success()
    }

    fn unbind(&mut self) -> Outcome {
        let mut sim = self.sim();
        if !sim.online {
            return failed(ErrorCode::REPORT_NETWORK_DOWN);
        }
        sim.bound = None;
        Outcome::success()
    }
}

/// A USB drive the simulator holds.
#[derive(Debug, Clone)]
struct SimDrive {
    name: String,
    size: u64,
    free: u64,
}

#[derive(Debug, Clone, Default)]
struct MaintenanceSim {
    drive: Option<SimDrive>,
    log_size: u64,
    online: bool,
    copies: u32,
    uploads: u32,
}

/// A station's USB port and log folder: a drive may be plugged in, the logs have a size, the back end is
/// reachable or not. Copying needs a drive (`700103` otherwise), logs (`700104`) and room (`700101`);
/// uploading needs logs and the back end (`300010`). Clones share state.
#[derive(Debug, Clone, Default)]
pub struct SimulatedMaintenance(Arc<Mutex<MaintenanceSim>>);

impl SimulatedMaintenance {
    /// No drive, no logs, back end reachable.
    #[must_use]
    pub fn new() -> Self {
        let sim = Self::default();
        sim.sim().online = true;
        sim
    }

    /// Plugs a drive in (`size` and `free` in bytes).
    pub fn plug(&self, name: &str, size: u64, free: u64) {
        self.sim().drive = Some(SimDrive {
            name: name.to_owned(),
            size,
            free,
        });
    }

    /// Pulls the drive out.
    pub fn unplug(&self) {
        self.sim().drive = None;
    }

    /// Sets the size of the logs, in bytes (0 = no logs).
    pub fn set_log_size(&self, bytes: u64) {
        self.sim().log_size = bytes;
    }

    /// Makes the back end reachable or not.
    pub fn set_online(&self, online: bool) {
        self.sim().online = online;
    }

    /// How many copies and uploads succeeded.
    #[must_use]
    pub fn done(&self) -> (u32, u32) {
        let sim = self.sim();
        (sim.copies, sim.uploads)
    }

    fn sim(&self) -> std::sync::MutexGuard<'_, MaintenanceSim> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Maintenance for SimulatedMaintenance {
    fn check_udisk(&mut self) -> UDiskInfo {
        let sim = self.sim();
        match &sim.drive {
            Some(d) => UDiskInfo {
                status: OutcomeStatus::Success,
                error: ErrorInfo::ok(),
                name: Some(d.name.clone()),
                size: Some(d.size),
                free: Some(d.free),
                log_size: Some(sim.log_size),
            },
            None => UDiskInfo {
                status: OutcomeStatus::Fail,
                error: ErrorInfo::from_code(ErrorCode::UDISK_ERROR),
                name: None,
                size: None,
                free: None,
                log_size: Some(sim.log_size),
            },
        }
    }

    fn copy_log(&mut self) -> Outcome {
        let mut sim = self.sim();
        let log_size = sim.log_size;
        let Some(drive) = sim.drive.as_mut() else {
            return failed(ErrorCode::UDISK_ERROR);
        };
        if log_size == 0 {
            return failed(ErrorCode::NO_LOGS);
        }
        if drive.free < log_size {
            return failed(ErrorCode::UDISK_FULL);
        }
        drive.free -= log_size;
        sim.copies += 1;
        Outcome::success()
    }

    fn upload_log(&mut self) -> Outcome {
        let mut sim = self.sim();
        if sim.log_size == 0 {
            return failed(ErrorCode::NO_LOGS);
        }
        if !sim.online {
            return failed(ErrorCode::UPLOAD_NETWORK_DOWN);
        }
        sim.uploads += 1;
        Outcome::success()
    }
}
