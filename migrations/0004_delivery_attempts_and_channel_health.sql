-- Migration number: 0004 	 2026-12-01T18:57:35.108Z
-- Attempt history: one row per delivery attempt, written as the attempt ends (GET /v1/notifications/{id}
-- shows them). attempt is 1-based and counts every attempt the message ever had, across recoveries.
CREATE TABLE IF NOT EXISTS delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  outcome TEXT NOT NULL,
  error_class TEXT,
  error TEXT,
  response_excerpt TEXT,
  UNIQUE (message_id, attempt)
);

-- Every attempt a message ever had (retry_count restarts at 0 when a failed message is recovered).
ALTER TABLE notification_logs ADD COLUMN attempt_count INTEGER NOT NULL DEFAULT 0;

-- Channel health: failing_since is the first permanent failure of an unbroken run of them; a config
-- failing longer than the configured period is disabled (disabled_at, disabled_reason) until a PUT.
ALTER TABLE user_configs ADD COLUMN failing_since TEXT;
ALTER TABLE user_configs ADD COLUMN disabled_at TEXT;
ALTER TABLE user_configs ADD COLUMN disabled_reason TEXT;
