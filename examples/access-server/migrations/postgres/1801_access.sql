-- Terminals, people, pushes and access records (access-server, version 1801).
CREATE TABLE IF NOT EXISTS access_terminals (
    device_id TEXT PRIMARY KEY,
    community_code TEXT,
    address TEXT,
    device_ip TEXT,
    device_port BIGINT,
    server_ip TEXT,
    server_port BIGINT,
    software_version TEXT,
    hardware_version TEXT,
    transport TEXT NOT NULL,
    remote_addr TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_terminals_community ON access_terminals (community_code);

CREATE TABLE IF NOT EXISTS access_persons (
    person_id TEXT PRIMARY KEY,
    community_code TEXT NOT NULL,
    person_name TEXT,
    id_number TEXT,
    card_number TEXT,
    key_number TEXT,
    department_number TEXT,
    role BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_persons_community ON access_persons (community_code);

CREATE TABLE IF NOT EXISTS access_person_blobs (
    person_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    format BIGINT,
    data BYTEA NOT NULL,
    PRIMARY KEY (person_id, slot)
);

CREATE TABLE IF NOT EXISTS access_pushes (
    id BIGSERIAL PRIMARY KEY,
    person_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    command_id BIGINT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    code BIGINT,
    message TEXT,
    queued_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX IF NOT EXISTS access_pushes_person ON access_pushes (person_id, id);

CREATE TABLE IF NOT EXISTS access_records (
    id BIGSERIAL PRIMARY KEY,
    record_key TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    person_id TEXT,
    time TEXT NOT NULL,
    id_number TEXT,
    card_number TEXT,
    role BIGINT,
    open_door_type BIGINT,
    in_out_type BIGINT,
    community_code TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_records_time ON access_records (time, id);
CREATE INDEX IF NOT EXISTS access_records_person ON access_records (person_id, time);
CREATE INDEX IF NOT EXISTS access_records_device ON access_records (device_id, time);
