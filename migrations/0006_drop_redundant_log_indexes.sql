-- Migration number: 0006 	 2026-12-01T19:16:24.875Z
-- Two indexes on notification_logs are prefixes of longer ones and serve no query the longer ones
-- do not: idx_notification_user (user_id) of idx_logs_user_created (user_id, created_at, id), and
-- idx_logs_user_status (user_id, status) of idx_logs_user_status_created (user_id, status,
-- created_at, id). Each still cost an index write per log row, and idx_logs_user_status two more
-- per status change. Measured on 100,000 rows (bench/RESULTS.md section 6): without them a send
-- and its delivery write 3 fewer D1 rows (18 instead of 21 with an Idempotency-Key), and every read
-- query of the API reads the same D1 rows as before (the stats count moves to idx_logs_user_created).
DROP INDEX IF EXISTS idx_notification_user; -- lint: allow drop-index because idx_logs_user_created serves every query it served at the same rows read (bench/RESULTS.md section 6)
DROP INDEX IF EXISTS idx_logs_user_status; -- lint: allow drop-index because idx_logs_user_status_created serves every query it served at the same rows read (bench/RESULTS.md section 6)
