-- Vehicle deployment (vehicle-server and vehicle-instance share these tables; version 1101).
-- Users, bindings, shares and sessions are written by the vehicle server; status, positions, events and trips
-- by the vehicle instance that holds the vehicle.
CREATE TABLE IF NOT EXISTS vehicle_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL UNIQUE,
    openid TEXT UNIQUE,
    nickname TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    session_id TEXT,
    session_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS vehicle_bindings (
    dev_id BIGINT NOT NULL,
    usr_id BIGINT NOT NULL,
    owner_flag BIGINT NOT NULL,
    share_tracks BIGINT NOT NULL DEFAULT 1,
    share_trips BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (dev_id, usr_id)
);
CREATE INDEX IF NOT EXISTS vehicle_bindings_usr ON vehicle_bindings (usr_id, dev_id);
CREATE UNIQUE INDEX IF NOT EXISTS vehicle_bindings_owner ON vehicle_bindings (dev_id) WHERE owner_flag = 1;

CREATE TABLE IF NOT EXISTS vehicle_seen_hashes (
    hash TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_seen_hashes_at ON vehicle_seen_hashes (at);

CREATE TABLE IF NOT EXISTS vehicle_status (
    dev_id BIGINT PRIMARY KEY NOT NULL,
    dev_type BIGINT NOT NULL,
    instance TEXT NOT NULL,
    online BIGINT NOT NULL,
    lng REAL NOT NULL,
    lat REAL NOT NULL,
    soc REAL NOT NULL,
    mileage REAL NOT NULL,
    speed REAL NOT NULL,
    driving BIGINT NOT NULL,
    status BIGINT NOT NULL,
    battery_id TEXT NOT NULL,
    trip_start BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_status_instance ON vehicle_status (instance);

CREATE TABLE IF NOT EXISTS vehicle_status_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_status_history_dev ON vehicle_status_history (dev_id, at);

CREATE TABLE IF NOT EXISTS vehicle_positions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    lng REAL NOT NULL,
    lat REAL NOT NULL,
    speed REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_positions_dev ON vehicle_positions (dev_id, at);

CREATE TABLE IF NOT EXISTS vehicle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    event_type BIGINT NOT NULL,
    event_desc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_events_dev ON vehicle_events (dev_id, at);

CREATE TABLE IF NOT EXISTS vehicle_trips (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_id BIGINT NOT NULL,
    usr_id BIGINT NOT NULL,
    time_start BIGINT NOT NULL,
    time_end BIGINT NOT NULL,
    st_lng REAL NOT NULL,
    st_lat REAL NOT NULL,
    end_lng REAL NOT NULL,
    end_lat REAL NOT NULL,
    distance_m REAL NOT NULL,
    max_speed REAL NOT NULL,
    max_current REAL NOT NULL,
    battery_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vehicle_trips_dev ON vehicle_trips (dev_id, time_end);
