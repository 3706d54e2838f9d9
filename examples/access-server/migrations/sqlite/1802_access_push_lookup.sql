-- A terminal's pushes of one person, looked up when it is queued one and when it identifies (access-server, version 1802).
CREATE INDEX IF NOT EXISTS access_pushes_person_device ON access_pushes (person_id, device_id, version);
