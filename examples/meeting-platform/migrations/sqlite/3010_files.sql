-- Meeting platform (version 3010): chunked uploads of the terminals (dev.file.upload.*). The bytes are files
-- under the data directory; a row per upload says whose, how large, and how it ended.
CREATE TABLE IF NOT EXISTS meeting_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sn TEXT NOT NULL,
    file_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    checksum TEXT,
    state TEXT NOT NULL,
    md5 TEXT,
    error TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX IF NOT EXISTS meeting_files_receiving ON meeting_files (sn, file_id, state);
