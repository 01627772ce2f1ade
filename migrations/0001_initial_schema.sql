-- edgenotify initial schema (seed 000), the single source of truth for the database.
-- Applied by `wrangler d1 migrations apply` and by the development auto-migrator into the
-- same d1_migrations ledger. Timestamps are ISO-8601 UTC text ending in "Z".

-- Per-user channel configurations (webhook, telegram, lark). config_data is JSON,
-- possibly encrypted at rest (then it starts with "enc:v1:").
CREATE TABLE IF NOT EXISTS user_configs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  channel_type TEXT NOT NULL,
  config_data TEXT NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (user_id, channel_type)
);

CREATE TABLE IF NOT EXISTS notification_templates_v2 (
  template_key TEXT PRIMARY KEY,
  template_name TEXT NOT NULL,
  description TEXT,
  variables TEXT NOT NULL DEFAULT '[]',
  is_active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS template_contents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  template_key TEXT NOT NULL REFERENCES notification_templates_v2 (template_key) ON DELETE CASCADE,
  channel_type TEXT NOT NULL,
  content_type TEXT NOT NULL DEFAULT 'text',
  subject_template TEXT,
  content_template TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (template_key, channel_type)
);

-- One row per (message, channel) delivery. next_attempt_at is set while a failed
-- delivery waits for its retry; status is pending / success / failed.
CREATE TABLE IF NOT EXISTS notification_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  channel_type TEXT NOT NULL,
  template_key TEXT,
  subject TEXT,
  content TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  sent_at TEXT,
  error TEXT,
  retry_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  request_id TEXT,
  variables TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS idx_notification_user ON notification_logs (user_id);
CREATE INDEX IF NOT EXISTS idx_notification_status ON notification_logs (status);
CREATE INDEX IF NOT EXISTS idx_notification_created ON notification_logs (created_at);
CREATE INDEX IF NOT EXISTS idx_notification_request_id ON notification_logs (request_id);
CREATE INDEX IF NOT EXISTS idx_logs_user_status ON notification_logs (user_id, status);
-- Keyset pagination walks (created_at, id) newest first; the trailing id makes ties stable.
CREATE INDEX IF NOT EXISTS idx_logs_user_created ON notification_logs (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS idx_logs_created_id ON notification_logs (created_at, id);
-- Retry pickup by the cron: only rows still pending are indexed.
CREATE INDEX IF NOT EXISTS idx_pending_notifications
  ON notification_logs (next_attempt_at) WHERE status = 'pending';

-- Idempotency keys live 24 h. request_hash is the fingerprint of the request body, so
-- the same key with a different body is detected as a conflict.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  idempotency_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  message_ids TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (idempotency_key, user_id)
);

CREATE INDEX IF NOT EXISTS idx_idempotency_expires ON idempotency_keys (expires_at);

CREATE TABLE IF NOT EXISTS task_execution_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_name TEXT NOT NULL,
  execution_time TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'completed',
  error TEXT,
  duration_ms INTEGER,
  details TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS idx_task_name ON task_execution_records (task_name, execution_time);
CREATE INDEX IF NOT EXISTS idx_execution_time ON task_execution_records (execution_time);

CREATE TABLE IF NOT EXISTS system_configs (
  config_key TEXT PRIMARY KEY,
  config_value TEXT NOT NULL,
  description TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS user_stats (
  user_id TEXT PRIMARY KEY,
  notification_count INTEGER NOT NULL DEFAULT 0,
  success_count INTEGER NOT NULL DEFAULT 0,
  failed_count INTEGER NOT NULL DEFAULT 0,
  last_notification_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS audit_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  details TEXT,
  request_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS idx_audit_resource ON audit_logs (resource_type, resource_id, created_at);
CREATE INDEX IF NOT EXISTS idx_audit_created ON audit_logs (created_at);
