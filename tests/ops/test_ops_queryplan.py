"""POST /admin/query-plan: one read-only SELECT only; plans read, scans found, indexes suggested."""

import asyncio

import pytest

from edgenotify.db import Database
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.ops.diagnostics.queryplan import QueryRefused, analyze, validate


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("", "empty_query"),
        ("  -- only a comment\n", "empty_query"),
        ("INSERT INTO user_stats (user_id) VALUES ('x')", "not_a_select"),
        ("UPDATE user_stats SET success_count = 0", "not_a_select"),
        ("DELETE FROM notification_logs", "not_a_select"),
        ("SELECT 1; SELECT 2", "multiple_statements"),
        ("SELECT 1; DROP TABLE notification_logs", "multiple_statements"),
        ("PRAGMA table_info(notification_logs)", "not_a_select"),
        ("ATTACH DATABASE 'x.db' AS x", "not_a_select"),
        ("DETACH x", "not_a_select"),
        ("VACUUM", "not_a_select"),
        ("EXPLAIN SELECT 1", "not_a_select"),
        ("BEGIN", "not_a_select"),
        ("CREATE TABLE t (a)", "not_a_select"),
        ("WITH x AS (SELECT 1) INSERT INTO user_stats (user_id) SELECT * FROM x", "not_a_select"),
        ("WITH x AS (SELECT 1) DELETE FROM user_stats", "not_a_select"),
        ("WITH d AS (DELETE FROM user_stats RETURNING *) SELECT * FROM d", "not_read_only"),  # writable CTE
        ("SELECT * FROM (", "invalid_sql"),
    ],
)
def test_anything_but_a_single_select_is_refused(sql: str, code: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        validate(sql)
    assert refused.value.code == code, refused.value.message


def test_selects_with_ctes_and_compounds_are_accepted() -> None:
    assert validate("WITH x AS (SELECT 1 AS a) SELECT a FROM x;").sql == "WITH x AS (SELECT 1 AS a) SELECT a FROM x"
    validate("SELECT 1 UNION ALL SELECT 2")


def test_plan_scan_detection_and_index_suggestions(embedded_env) -> None:
    async def run():
        await ensure_migrated(embedded_env.DB)
        db = Database(embedded_env.DB)
        scan = await analyze(
            db, "SELECT * FROM user_stats WHERE failed_count = ? AND last_notification_at > ?", [3, "x"]
        )
        indexed = await analyze(db, "SELECT * FROM notification_logs WHERE user_id = ? ORDER BY created_at", ["u"])
        like = await analyze(db, "SELECT id FROM audit_logs a WHERE a.actor LIKE '%admin' ORDER BY a.created_at")
        with pytest.raises(QueryRefused) as wrong:
            await analyze(db, "SELECT * FROM no_such_table")
        with pytest.raises(QueryRefused) as params:
            await analyze(db, "SELECT ?", [[1, 2]])
        return scan, indexed, like, wrong.value, params.value

    scan, indexed, like, wrong, params = asyncio.run(run())
    assert scan["scans"] and scan["full_scans"] == ["user_stats"]
    assert scan["suggestions"][0]["create_index"] == (
        'CREATE INDEX IF NOT EXISTS "idx_user_stats_failed_count_last_notification_at" '
        'ON "user_stats" ("failed_count", "last_notification_at")'
    )
    assert not indexed["scans"] and indexed["uses_index"] and indexed["suggestions"] == []
    assert any("leading wildcard" in s["reason"] for s in like["suggestions"])
    assert wrong.code == "invalid_query" and "no such table" in wrong.message
    assert params.code == "invalid_param"
