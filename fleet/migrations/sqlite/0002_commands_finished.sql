-- Retention deletes finished commands by age: find them without scanning the queue.
CREATE INDEX IF NOT EXISTS commands_finished ON commands (finished_at);
