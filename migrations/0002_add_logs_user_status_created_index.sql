-- Migration number: 0002 	 2026-11-22T08:36:43.342Z
-- A status-filtered log page (WHERE user_id = ? AND status = ? ORDER BY created_at DESC, id DESC)
-- walked idx_logs_user_created and filtered on status, reading the user's whole history to fill
-- a page (111 rows read for 8 returned in bench/RESULTS.md section 2). This index serves the
-- filter and the keyset order together, so the page stops after limit + 1 matching rows.
CREATE INDEX IF NOT EXISTS idx_logs_user_status_created ON notification_logs (user_id, status, created_at, id);
