-- Meeting platform (meeting-platform, version 3002): people's photos and biometric photos, base64 JPEG, pushed
-- to terminals as `cmd.data.update.bioPhoto` URLs. Key: (pin, bio type position, individual, template).
CREATE TABLE IF NOT EXISTS meeting_photos (
    pin TEXT NOT NULL,
    bio_type BIGINT NOT NULL,
    no BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    jpeg TEXT NOT NULL,
    len BIGINT NOT NULL,
    md5 TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (pin, bio_type, no, idx)
);
