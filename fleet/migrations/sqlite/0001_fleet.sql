-- Device registry, events log, persistent command queue, settings (fleet, version 1).
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT,
    version TEXT,
    info TEXT
);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    device_id TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_device ON events (device_id, id);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id);
CREATE INDEX IF NOT EXISTS events_at ON events (at);

CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotent BIGINT NOT NULL,
    expects_ack BIGINT NOT NULL,
    state TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    sent_at BIGINT,
    finished_at BIGINT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS commands_device_state ON commands (device_id, state, id);
CREATE INDEX IF NOT EXISTS commands_state ON commands (state, id);
CREATE UNIQUE INDEX IF NOT EXISTS commands_idempotency ON commands (device_id, idempotency_key);

CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
