-- Migration number: 0005 	 2026-12-01T18:59:37.243Z
-- Scheduled sends: send_at is the time a client asked the message to go out (NULL: at once). Such a row
-- is inserted pending with next_attempt_at = send_at, so the retry cron's due pickup (the partial index
-- idx_pending_notifications) delivers it within one cron period; until that pickup changes
-- next_attempt_at, the message can be cancelled (status 'cancelled').
ALTER TABLE notification_logs ADD COLUMN send_at TEXT;

-- The operator's view across users ("all failed messages since 09:00"): a status filter and the keyset
-- order (created_at DESC, id DESC) served by one index, so a page stops after limit + 1 rows.
CREATE INDEX IF NOT EXISTS idx_logs_status_created ON notification_logs (status, created_at, id);
