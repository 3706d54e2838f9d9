//! Simulated e-bikes: what a vehicle does with 4001-4005, 4020, 4040 and 4041, and how it moves.
//!
//! Each bike rides a closed route (a rectangle of a few hundred metres around its parking spot) while it is
//! unlocked, at the configured speed; its state of charge falls with the distance ridden. The rules a real
//! vehicle enforces, here answered RespCode 1 (refused):
//! - 4001 unlock: refused when already unlocked, or when the charge is at or below `lowestSocP`; an unlock
//!   lifts the anti-theft guard. The ride then ends by itself (locks, event [`EVENT_LIMIT_LOCK`]) when it
//!   exceeds `allowTime` minutes or `farthestDist` metres or falls to `lowestSocP` (a 0 limit is no limit).
//! - 4002 lock: refused when already locked; ends the ride and records the trip.
//! - 4003 guard: refused while unlocked (only a parked, locked bike is guarded).
//! - 4004 electric locks: refused while guarded or being ridden; flags other than seat/glove box/helmet or
//!   none at all are an error (0xFF).
//! - 4005 lights: refused while locked (the bike is off); unknown light bits are an error (0xFF).
//! - 4020 file: the session already answered 0xFF to a file whose MD5 does not match; a firmware file
//!   (`FileType` 1) must carry one of the spec's firmware names, otherwise refused.
//! - 4040/4041: stored per bike; a bike with packet logging on has every command logged at info.
//!
//! A command for a devId this instance does not hold, or with another devType, is an error (0xFF).
//! Events: low battery (below 20 %), guard alarm (a guarded bike is jolted, seeded chance per tick), ride
//! ended by a limit, file delivered, electric lock opened.

use std::collections::{BTreeMap, BTreeSet};

use device_core::{RandomSource, SplitMix64};
use kingxun_proto::{
    file_names, ElecLockFlags, FileType, LightFlags, LogLevel, LogSwitch, Request, RespCode,
};

use super::tables::{
    EventRow, PositionRow, StatusRow, TripRow, Write, EVENT_ELEC_LOCK, EVENT_FILE,
    EVENT_GUARD_ALARM, EVENT_LIMIT_LOCK, EVENT_LOW_BATTERY, STATUS_GUARD, STATUS_LIGHTS,
    STATUS_LIMIT_REACHED, STATUS_LOCKED,
};

/// Below this state of charge a bike reports low battery (once per discharge).
pub const LOW_BATTERY_SOC: f64 = 20.0;

/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_320.0;

/// How the simulated bikes behave.
#[derive(Debug, Clone)]
pub struct BikesConfig {
    /// The instance's name, written with each status (the server routes commands by it).
    pub instance: String,
    /// Number of bikes.
    pub vehicles: u32,
    /// devId of the first bike; the others follow.
    pub first_id: u32,
    /// devType of every bike.
    pub dev_type: u8,
    /// Seed of the bikes' placement, batteries and alarms.
    pub seed: u64,
    /// Centre of the area the bikes park in (lng, lat).
    pub center: (f64, f64),
    /// Riding speed, m/s.
    pub speed_mps: f64,
    /// Range on a full battery, metres.
    pub range_m: f64,
    /// Chance per tick that a guarded bike is jolted (guard alarm).
    pub alarm_chance: f64,
}

impl Default for BikesConfig {
    fn default() -> Self {
        Self {
            instance: "instance-1".into(),
            vehicles: 10,
            first_id: 1001,
            dev_type: 1,
            seed: 1,
            center: (113.93, 22.53),
            speed_mps: 5.0,
            range_m: 60_000.0,
            alarm_chance: 0.0005,
        }
    }
}

#[derive(Debug, Clone)]
struct Ride {
    usr_id: u32,
    started_at: i64,
    start: (f64, f64),
    distance_m: f64,
    max_speed: f64,
    allow_ms: i64,
    lowest_soc: f64,
    farthest_m: f64,
}

#[derive(Debug, Clone)]
struct Bike {
    dev_id: u32,
    dev_type: u8,
    /// Route corners (lng, lat), ridden in order and round again.
    route: [(f64, f64); 4],
    leg: usize,
    along_m: f64,
    pos: (f64, f64),
    soc: f64,
    mileage_m: f64,
    locked: bool,
    guard: bool,
    lights: LightFlags,
    limit_reached: bool,
    ride: Option<Ride>,
    low_reported: bool,
    battery_id: String,
    packet_log: (bool, bool),
    log_level: LogLevel,
    files: Vec<(String, [u8; 16])>,
}

fn leg_len_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dx = (b.0 - a.0) * M_PER_DEG * a.1.to_radians().cos();
    let dy = (b.1 - a.1) * M_PER_DEG;
    dx.hypot(dy)
}

/// Great-circle distance in metres between two (lng, lat) points (haversine).
#[must_use]
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let dla = la2 - la1;
    let dlo = (b.0 - a.0).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}

fn unit(rng: &mut SplitMix64) -> f64 {
    // 53 random bits as a fraction in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let f = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    f
}

impl Bike {
    fn status(&self, instance: &str, now: i64) -> StatusRow {
        let mut status = 0;
        if self.locked {
            status |= STATUS_LOCKED;
        }
        if self.guard {
            status |= STATUS_GUARD;
        }
        if !self.lights.is_empty() {
            status |= STATUS_LIGHTS;
        }
        if self.limit_reached {
            status |= STATUS_LIMIT_REACHED;
        }
        StatusRow {
            dev_id: self.dev_id,
            dev_type: self.dev_type,
            instance: instance.to_owned(),
            online: true,
            lng: self.pos.0,
            lat: self.pos.1,
            soc: self.soc,
            mileage: self.mileage_m,
            speed: 0.0,
            driving: self.ride.is_some(),
            status,
            battery_id: self.battery_id.clone(),
            trip_start: self.ride.as_ref().map(|r| r.started_at),
            updated_at: now,
        }
    }

    fn position(&self, now: i64, speed: f64) -> Write {
        Write::Position {
            dev_id: self.dev_id,
            position: PositionRow {
                at: now,
                lng: self.pos.0,
                lat: self.pos.1,
                speed,
            },
        }
    }

    /// Moves `metres` along the route.
    fn advance(&mut self, metres: f64) {
        let mut left = metres;
        while left > 0.0 {
            let a = self.route[self.leg];
            let b = self.route[(self.leg + 1) % 4];
            let len = leg_len_m(a, b).max(1.0);
            let room = len - self.along_m;
            if left < room {
                self.along_m += left;
                left = 0.0;
            } else {
                left -= room;
                self.along_m = 0.0;
                self.leg = (self.leg + 1) % 4;
            }
            let a = self.route[self.leg];
            let b = self.route[(self.leg + 1) % 4];
            let f = self.along_m / leg_len_m(a, b).max(1.0);
            self.pos = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
        }
    }
}

/// Why a ride ended by itself.
fn limit_hit(ride: &Ride, soc: f64, now: i64) -> Option<&'static str> {
    if ride.allow_ms > 0 && now - ride.started_at >= ride.allow_ms {
        Some("allowTime reached")
    } else if ride.farthest_m > 0.0 && ride.distance_m >= ride.farthest_m {
        Some("farthestDist reached")
    } else if soc <= ride.lowest_soc {
        Some("lowestSocP reached")
    } else {
        None
    }
}

/// Every bike of one instance, and the writes they owe the store.
#[derive(Debug)]
pub struct Bikes {
    config: BikesConfig,
    bikes: BTreeMap<u32, Bike>,
    riding: BTreeSet<u32>,
    guarded: BTreeSet<u32>,
    rng: SplitMix64,
    pending: Vec<Write>,
}

impl Bikes {
    /// `config.vehicles` bikes, locked, parked around `config.center`, their first status pending.
    #[must_use]
    pub fn new(config: BikesConfig, now: i64) -> Self {
        let mut rng = SplitMix64::seeded(config.seed);
        let mut bikes = BTreeMap::new();
        let mut pending = Vec::new();
        let cos = config.center.1.to_radians().cos().max(0.01);
        for i in 0..config.vehicles {
            let dev_id = config.first_id.saturating_add(i);
            // Parked within ~2 km of the centre, on a route of 200..600 m sides.
            let east = (unit(&mut rng) - 0.5) * 4000.0;
            let north = (unit(&mut rng) - 0.5) * 4000.0;
            let w = 200.0 + unit(&mut rng) * 400.0;
            let h = 200.0 + unit(&mut rng) * 400.0;
            let lng = config.center.0 + east / (M_PER_DEG * cos);
            let lat = config.center.1 + north / M_PER_DEG;
            let dlng = w / (M_PER_DEG * cos);
            let dlat = h / M_PER_DEG;
            let route = [
                (lng, lat),
                (lng + dlng, lat),
                (lng + dlng, lat + dlat),
                (lng, lat + dlat),
            ];
            let soc = 60.0 + (unit(&mut rng) * 40.0).round();
            let bike = Bike {
                dev_id,
                dev_type: config.dev_type,
                route,
                leg: 0,
                along_m: 0.0,
                pos: (lng, lat),
                soc,
                mileage_m: 0.0,
                locked: true,
                guard: false,
                lights: LightFlags::empty(),
                limit_reached: false,
                ride: None,
                low_reported: false,
                battery_id: format!("BAT{dev_id:08}"),
                packet_log: (false, false),
                log_level: LogLevel::empty(),
                files: Vec::new(),
            };
            pending.push(Write::Status(bike.status(&config.instance, now)));
            bikes.insert(dev_id, bike);
        }
        Self {
            config,
            bikes,
            riding: BTreeSet::new(),
            guarded: BTreeSet::new(),
            rng,
            pending,
        }
    }

    /// Number of bikes (9002 `totalDevCount`).
    #[must_use]
    pub fn count(&self) -> u32 {
        u32::try_from(self.bikes.len()).unwrap_or(u32::MAX)
    }

    /// Number of bikes being ridden.
    #[must_use]
    pub fn riding(&self) -> usize {
        self.riding.len()
    }

    /// The config.
    #[must_use]
    pub fn config(&self) -> &BikesConfig {
        &self.config
    }

    /// Takes the writes owed to the store, in order.
    pub fn take_writes(&mut self) -> Vec<Write> {
        std::mem::take(&mut self.pending)
    }

    /// Whether `dev_id` has packet logging (4040/4041 `logSendFlag`/`logRecvFlag`) on, and its log level.
    #[must_use]
    pub fn log_settings(&self, dev_id: u32) -> Option<((bool, bool), LogLevel)> {
        self.bikes.get(&dev_id).map(|b| (b.packet_log, b.log_level))
    }

    /// The files delivered to `dev_id` (name, MD5).
    #[must_use]
    pub fn files(&self, dev_id: u32) -> Vec<(String, [u8; 16])> {
        self.bikes
            .get(&dev_id)
            .map(|b| b.files.clone())
            .unwrap_or_default()
    }

    fn event(&mut self, dev_id: u32, now: i64, event_type: i64, desc: impl Into<String>) {
        self.pending.push(Write::Event(EventRow {
            dev_id,
            at: now,
            event_type,
            event_desc: desc.into(),
        }));
    }

    fn snapshot(&mut self, dev_id: u32, now: i64) {
        if let Some(b) = self.bikes.get(&dev_id) {
            let s = b.status(&self.config.instance, now);
            self.pending.push(Write::StatusHistory(s.clone()));
            self.pending.push(Write::Status(s));
        }
    }

    /// Ends the ride of `dev_id` (locks it) and records the trip.
    fn end_ride(&mut self, dev_id: u32, now: i64) {
        let Some(b) = self.bikes.get_mut(&dev_id) else {
            return;
        };
        b.locked = true;
        b.lights = LightFlags::empty();
        self.riding.remove(&dev_id);
        if let Some(ride) = b.ride.take() {
            let trip = TripRow {
                dev_id,
                usr_id: ride.usr_id,
                time_start: ride.started_at,
                time_end: now,
                st_lng: ride.start.0,
                st_lat: ride.start.1,
                end_lng: b.pos.0,
                end_lat: b.pos.1,
                distance_m: ride.distance_m,
                max_speed: ride.max_speed,
                // A simulated draw: 12 A at full speed on a 48 V pack.
                max_current: if ride.max_speed > 0.0 { 12.0 } else { 0.0 },
                battery_id: b.battery_id.clone(),
            };
            let end = b.position(now, 0.0);
            self.pending.push(end);
            self.pending.push(Write::Trip(trip));
        }
        self.snapshot(dev_id, now);
    }

    /// Applies one device command; the answer is the vehicle's RespCode.
    pub fn command(&mut self, now: i64, request: &Request) -> RespCode {
        let (dev_id, dev_type) = match request {
            Request::Unlock(c) => (c.dev_id, c.dev_type),
            Request::Lock(c) => (c.dev_id, c.dev_type),
            Request::Guard(c) => (c.dev_id, c.dev_type),
            Request::OpenElecLock(c) => (c.dev_id, c.dev_type),
            Request::LightCtrl(c) => (c.dev_id, c.dev_type),
            Request::FileDeliver(c) => (c.dev_id, c.dev_type),
            Request::SetPacketLog(c) => (c.dev_id, c.dev_type),
            Request::SetLogLevel(c) => (c.dev_id, c.dev_type),
            _ => return RespCode::Error,
        };
        let Some(bike) = self.bikes.get_mut(&dev_id) else {
            return RespCode::Error;
        };
        if bike.dev_type != dev_type {
            return RespCode::Error;
        }
        if bike.packet_log.0 || bike.packet_log.1 {
            tracing::info!(dev_id, ?request, "packet log: command");
        }
        let code = match request {
            Request::Unlock(c) => {
                if !bike.locked || bike.soc <= f64::from(c.lowest_soc_p) || bike.soc <= 0.0 {
                    RespCode::Refused
                } else {
                    bike.locked = false;
                    bike.guard = false;
                    bike.limit_reached = false;
                    bike.ride = Some(Ride {
                        usr_id: c.usr_id,
                        started_at: now,
                        start: bike.pos,
                        distance_m: 0.0,
                        max_speed: 0.0,
                        allow_ms: i64::from(c.allow_time) * 60_000,
                        lowest_soc: f64::from(c.lowest_soc_p),
                        farthest_m: f64::from(c.farthest_dist),
                    });
                    let start = bike.position(now, 0.0);
                    self.pending.push(start);
                    self.riding.insert(dev_id);
                    self.guarded.remove(&dev_id);
                    self.snapshot(dev_id, now);
                    RespCode::Ok
                }
            }
            Request::Lock(_) => {
                if bike.locked {
                    RespCode::Refused
                } else {
                    self.end_ride(dev_id, now);
                    RespCode::Ok
                }
            }
            Request::Guard(_) => {
                if bike.locked {
                    bike.guard = true;
                    self.guarded.insert(dev_id);
                    self.snapshot(dev_id, now);
                    RespCode::Ok
                } else {
                    RespCode::Refused
                }
            }
            Request::OpenElecLock(c) => {
                let known = ElecLockFlags::SEAT | ElecLockFlags::GLOVE_BOX | ElecLockFlags::HELMET;
                if c.lock_flag.is_empty() || !known.contains(c.lock_flag) {
                    RespCode::Error
                } else if bike.guard || bike.ride.is_some() {
                    RespCode::Refused
                } else {
                    let bits = c.lock_flag.bits();
                    self.event(
                        dev_id,
                        now,
                        EVENT_ELEC_LOCK,
                        format!("electric locks 0x{bits:02x} opened"),
                    );
                    RespCode::Ok
                }
            }
            Request::LightCtrl(c) => {
                if LightFlags::from_bits(c.light_flag.bits()).is_none() {
                    RespCode::Error
                } else if bike.locked {
                    RespCode::Refused
                } else {
                    bike.lights = c.light_flag;
                    self.snapshot(dev_id, now);
                    RespCode::Ok
                }
            }
            Request::FileDeliver(c) => {
                let firmware = [
                    file_names::BMS,
                    file_names::MOTOR_CONTROL,
                    file_names::MAIN_CONTROL,
                    file_names::DASHBOARD,
                ];
                if c.file_type == FileType::System && !firmware.contains(&c.file_name.as_str()) {
                    RespCode::Refused
                } else if !c.md5_matches() {
                    RespCode::Error
                } else {
                    bike.files.retain(|(n, _)| *n != c.file_name);
                    bike.files.push((c.file_name.clone(), c.file_md5));
                    let desc = format!("file `{}` ({} bytes)", c.file_name, c.file_data.len());
                    self.event(dev_id, now, EVENT_FILE, desc);
                    RespCode::Ok
                }
            }
            Request::SetPacketLog(c) => {
                bike.packet_log = (c.log_send == LogSwitch::On, c.log_recv == LogSwitch::On);
                RespCode::Ok
            }
            Request::SetLogLevel(c) => {
                bike.packet_log = (c.log_send == LogSwitch::On, c.log_recv == LogSwitch::On);
                bike.log_level = c.log_level;
                RespCode::Ok
            }
            _ => RespCode::Error,
        };
        code
    }

    /// Advances time by `dt_s` seconds: ridden bikes move and discharge, write their position and status,
    /// end their rides at their limits; guarded bikes may raise an alarm.
    pub fn tick(&mut self, now: i64, dt_s: f64) {
        let step = self.config.speed_mps * dt_s;
        let per_m = 100.0 / self.config.range_m.max(1.0);
        let mut ended = Vec::new();
        let riding: Vec<u32> = self.riding.iter().copied().collect();
        for dev_id in riding {
            let Some(b) = self.bikes.get_mut(&dev_id) else {
                continue;
            };
            let metres = step.min(b.soc / per_m).max(0.0);
            b.advance(metres);
            b.soc = (b.soc - metres * per_m).max(0.0);
            b.mileage_m += metres;
            let speed = if dt_s > 0.0 { metres / dt_s } else { 0.0 };
            let mut low = false;
            if let Some(r) = b.ride.as_mut() {
                r.distance_m += metres;
                r.max_speed = r.max_speed.max(speed);
            }
            if b.soc < LOW_BATTERY_SOC && !b.low_reported {
                b.low_reported = true;
                low = true;
            }
            let mut s = b.status(&self.config.instance, now);
            s.speed = speed;
            let hit = b.ride.as_ref().and_then(|r| limit_hit(r, b.soc, now));
            let soc = b.soc;
            self.pending.push(b.position(now, speed));
            self.pending.push(Write::Status(s));
            if low {
                self.event(
                    dev_id,
                    now,
                    EVENT_LOW_BATTERY,
                    format!("battery at {soc:.1} %"),
                );
            }
            if let Some(why) = hit {
                ended.push((dev_id, why));
            }
        }
        for (dev_id, why) in ended {
            if let Some(b) = self.bikes.get_mut(&dev_id) {
                b.limit_reached = true;
            }
            self.event(dev_id, now, EVENT_LIMIT_LOCK, format!("ride ended: {why}"));
            self.end_ride(dev_id, now);
        }
        if self.config.alarm_chance > 0.0 {
            let guarded: Vec<u32> = self.guarded.iter().copied().collect();
            for dev_id in guarded {
                if unit(&mut self.rng) < self.config.alarm_chance {
                    self.event(dev_id, now, EVENT_GUARD_ALARM, "moved while guarded");
                }
            }
        }
    }

    /// Status writes marking every bike online or offline (the instance starts or stops).
    pub fn all_status(&mut self, now: i64, online: bool) {
        let instance = self.config.instance.clone();
        for b in self.bikes.values() {
            let mut s = b.status(&instance, now);
            s.online = online;
            self.pending.push(Write::Status(s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kingxun_proto::{Guard, LightCtrl, Lock, MotorPowerFlag, OpenElecLock, Unlock};

    fn unlock(dev_id: u32, lowest: u8, allow: u16, far: u32) -> Request {
        Request::Unlock(Unlock {
            dev_id,
            dev_type: 1,
            timestamp: 0,
            usr_id: 42,
            allow_time: allow,
            lowest_soc_p: lowest,
            farthest_dist: far,
        })
    }

    fn lock(dev_id: u32) -> Request {
        Request::Lock(Lock {
            dev_id,
            dev_type: 1,
            timestamp: 0,
            usr_id: 42,
            voice: 0,
        })
    }

    fn bikes(n: u32) -> Bikes {
        Bikes::new(
            BikesConfig {
                vehicles: n,
                alarm_chance: 0.0,
                ..BikesConfig::default()
            },
            0,
        )
    }

    #[test]
    fn unlock_ride_lock_records_a_trip_and_refuses_repeats() {
        let mut b = bikes(2);
        assert_eq!(b.take_writes().len(), 2);
        assert_eq!(b.command(1000, &unlock(1001, 10, 0, 0)), RespCode::Ok);
        assert_eq!(b.command(1000, &unlock(1001, 10, 0, 0)), RespCode::Refused);
        for i in 1..=10 {
            b.tick(1000 + i * 1000, 1.0);
        }
        assert_eq!(b.command(12_000, &lock(1001)), RespCode::Ok);
        assert_eq!(b.command(12_000, &lock(1001)), RespCode::Refused);
        let writes = b.take_writes();
        let trip = writes
            .iter()
            .find_map(|w| match w {
                Write::Trip(t) => Some(t.clone()),
                _ => None,
            })
            .expect("a trip");
        assert_eq!(
            (trip.time_start, trip.time_end, trip.usr_id),
            (1000, 12_000, 42)
        );
        assert!((trip.distance_m - 50.0).abs() < 1e-6, "{}", trip.distance_m);
        let moved = distance_m((trip.st_lng, trip.st_lat), (trip.end_lng, trip.end_lat));
        assert!(moved > 10.0, "{moved}");
        let positions = writes
            .iter()
            .filter(|w| matches!(w, Write::Position { .. }))
            .count();
        assert_eq!(positions, 12, "start, 10 ticks, end");
        assert_eq!(b.riding(), 0);
    }

    #[test]
    fn battery_falls_with_distance_and_limits_end_the_ride() {
        let mut b = Bikes::new(
            BikesConfig {
                vehicles: 1,
                range_m: 1000.0,
                alarm_chance: 0.0,
                ..BikesConfig::default()
            },
            0,
        );
        let soc0 = b.bikes[&1001].soc;
        assert_eq!(b.command(0, &unlock(1001, 0, 0, 20)), RespCode::Ok);
        b.tick(1000, 1.0);
        assert!((b.bikes[&1001].soc - (soc0 - 0.5)).abs() < 1e-9);
        b.tick(2000, 1.0);
        b.tick(3000, 1.0);
        b.tick(4000, 1.0);
        // 20 m reached after 4 ticks of 5 m.
        assert!(b.bikes[&1001].locked);
        let writes = b.take_writes();
        assert!(writes
            .iter()
            .any(|w| matches!(w, Write::Event(e) if e.event_type == EVENT_LIMIT_LOCK)));
        // Charge at or below lowestSocP refuses an unlock.
        let soc = b.bikes[&1001].soc;
        let lowest = (0..=100u8).find(|p| f64::from(*p) >= soc).unwrap_or(100);
        assert_eq!(
            b.command(5000, &unlock(1001, lowest, 0, 0)),
            RespCode::Refused
        );
    }

    #[test]
    fn guard_elec_lock_and_lights_follow_the_state() {
        let mut b = bikes(1);
        let guard = Request::Guard(Guard {
            dev_id: 1001,
            dev_type: 1,
            timestamp: 0,
            usr_id: 42,
            motor_power: MotorPowerFlag::Off,
            max_speed: 0,
            warning_voice: 1,
        });
        let elock = |flag: u8| {
            Request::OpenElecLock(OpenElecLock {
                dev_id: 1001,
                dev_type: 1,
                timestamp: 0,
                usr_id: 42,
                lock_flag: ElecLockFlags::from_bits_retain(flag),
                warning_voice: 0,
            })
        };
        let light = |flag: u16| {
            Request::LightCtrl(LightCtrl {
                dev_id: 1001,
                dev_type: 1,
                timestamp: 0,
                usr_id: 42,
                light_flag: LightFlags::from_bits_retain(flag),
            })
        };
        assert_eq!(b.command(0, &light(0x01)), RespCode::Refused, "locked: off");
        assert_eq!(b.command(0, &elock(0x02)), RespCode::Ok);
        assert_eq!(b.command(0, &elock(0x01)), RespCode::Error);
        assert_eq!(b.command(0, &guard), RespCode::Ok);
        assert_eq!(b.command(0, &elock(0x02)), RespCode::Refused, "guarded");
        assert_eq!(b.command(0, &unlock(1001, 0, 0, 0)), RespCode::Ok);
        assert_eq!(b.command(0, &guard), RespCode::Refused, "riding");
        assert_eq!(b.command(0, &elock(0x08)), RespCode::Refused, "riding");
        assert_eq!(b.command(0, &light(0x0101)), RespCode::Ok);
        assert_eq!(b.command(0, &light(0x0002)), RespCode::Error);
        assert_eq!(b.command(0, &unlock(9999, 0, 0, 0)), RespCode::Error);
    }

    fn events(writes: &[Write], event_type: i64) -> Vec<EventRow> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Event(e) if e.event_type == event_type => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ride_that_drains_the_battery_reports_low_battery_once() {
        // 100 m of range at 5 m/s: 5 % per one-second tick.
        let mut b = Bikes::new(
            BikesConfig {
                vehicles: 1,
                range_m: 100.0,
                alarm_chance: 0.0,
                ..BikesConfig::default()
            },
            0,
        );
        b.take_writes();
        assert!(b.bikes[&1001].soc > LOW_BATTERY_SOC);
        assert_eq!(b.command(0, &unlock(1001, 0, 0, 0)), RespCode::Ok);
        let mut crossed = None;
        for i in 1..=40 {
            b.tick(i * 1000, 1.0);
            if crossed.is_none() && b.bikes[&1001].soc < LOW_BATTERY_SOC {
                crossed = Some(i * 1000);
            }
        }
        let writes = b.take_writes();
        let low = events(&writes, EVENT_LOW_BATTERY);
        assert_eq!(low.len(), 1, "reported once per discharge: {low:?}");
        assert_eq!(Some(low[0].at), crossed, "on the tick it fell below 20 %");
        assert!(low[0].event_desc.contains('%'), "{}", low[0].event_desc);
        // Drained to 0 with lowestSocP 0: the ride ends by itself and an unlock is refused.
        assert!(b.bikes[&1001].locked);
        assert!(b.bikes[&1001].soc.abs() < 1e-9);
        let ended = events(&writes, EVENT_LIMIT_LOCK);
        assert_eq!(ended.len(), 1);
        assert!(ended[0].event_desc.contains("lowestSocP"), "{ended:?}");
        assert_eq!(b.command(41_000, &unlock(1001, 0, 0, 0)), RespCode::Refused);
    }

    #[test]
    fn a_guarded_bike_raises_the_guard_alarm_and_others_do_not() {
        let mut b = Bikes::new(
            BikesConfig {
                vehicles: 2,
                alarm_chance: 1.0,
                ..BikesConfig::default()
            },
            0,
        );
        let guard = Request::Guard(Guard {
            dev_id: 1001,
            dev_type: 1,
            timestamp: 0,
            usr_id: 42,
            motor_power: MotorPowerFlag::Off,
            max_speed: 0,
            warning_voice: 1,
        });
        b.tick(500, 0.5);
        assert!(
            events(&b.take_writes(), EVENT_GUARD_ALARM).is_empty(),
            "nothing guarded yet"
        );
        assert_eq!(b.command(1000, &guard), RespCode::Ok);
        b.tick(2000, 1.0);
        b.tick(3000, 1.0);
        let alarms = events(&b.take_writes(), EVENT_GUARD_ALARM);
        assert_eq!(
            alarms.iter().map(|e| (e.dev_id, e.at)).collect::<Vec<_>>(),
            [(1001, 2000), (1001, 3000)],
            "one alarm per tick, the guarded bike only"
        );
        // An unlock lifts the guard: no more alarms.
        assert_eq!(b.command(4000, &unlock(1001, 0, 0, 0)), RespCode::Ok);
        b.tick(5000, 1.0);
        assert!(events(&b.take_writes(), EVENT_GUARD_ALARM).is_empty());
    }
}
