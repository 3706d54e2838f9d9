-- Meeting platform (meeting-platform, version 3001): terminal registry, people, meetings, check-ins, command results.
CREATE TABLE IF NOT EXISTS meeting_products (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meeting_terminals (
    sn TEXT PRIMARY KEY,
    product_id TEXT NOT NULL,
    auth_code TEXT,
    secret TEXT,
    transport TEXT,
    max_pending BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meeting_people (
    pin TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    card TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meeting_meetings (
    id TEXT PRIMARY KEY,
    sn TEXT NOT NULL,
    name TEXT NOT NULL,
    applicant TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS meeting_meetings_sn ON meeting_meetings (sn, start_ms);
CREATE TABLE IF NOT EXISTS meeting_members (
    meeting_id TEXT NOT NULL,
    pin TEXT NOT NULL,
    PRIMARY KEY (meeting_id, pin)
);
CREATE TABLE IF NOT EXISTS meeting_checkins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id TEXT NOT NULL,
    sn TEXT NOT NULL,
    pin TEXT NOT NULL,
    log_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    verify_time TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (sn, log_id, kind)
);
CREATE INDEX IF NOT EXISTS meeting_checkins_meeting ON meeting_checkins (meeting_id, pin);
CREATE TABLE IF NOT EXISTS meeting_command_results (
    command_id BIGINT PRIMARY KEY,
    sn TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT,
    received_at BIGINT NOT NULL
);
