-- Migration number: 0003 	 2026-12-01T19:20:00.000Z
-- Long operations (backup, restore) run as resumable jobs: each invocation does bounded work and
-- saves its checkpoint here (state: JSON with the table and keyset position, the multipart upload
-- id and parts, per-chunk digests; for a restore the chunk and statement reached). A running
-- restore job is also the marker that makes client routes answer 503 and crons skip their work.
-- Backups and restores never include this table: it describes the database instance, not its data.
CREATE TABLE IF NOT EXISTS ops_jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  trigger TEXT NOT NULL,
  subject TEXT,
  phase TEXT NOT NULL,
  state TEXT NOT NULL,
  steps INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);

-- The marker check and the cron tick look up running jobs by kind.
CREATE INDEX IF NOT EXISTS idx_ops_jobs_status ON ops_jobs (status, kind, created_at);
