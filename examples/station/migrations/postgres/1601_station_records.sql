-- Scan records of the foot-scanner station (station, version 1601). `record` is the full record as the pads
-- see it (every measurement field); the status columns mirror its upload states for the statistics.
CREATE TABLE IF NOT EXISTS station_records (
    scan_id TEXT PRIMARY KEY,
    request_id TEXT,
    created_ms BIGINT NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,
    user_status TEXT NOT NULL,
    json_status TEXT NOT NULL,
    json_pri_status TEXT NOT NULL,
    cloud_status TEXT NOT NULL,
    mini_status TEXT NOT NULL,
    scan_status TEXT NOT NULL,
    search TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS station_records_created ON station_records (created_ms);
CREATE INDEX IF NOT EXISTS station_records_request ON station_records (request_id);
