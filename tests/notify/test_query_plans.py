"""The indexes the log and stats docstrings name are the ones SQLite's planner picks.

On a database migrated from ``migrations/`` (no ANALYZE, as a fresh D1): log pages walk
``idx_logs_user_created``, or ``idx_logs_user_status_created`` when filtered on status; the stats
count walks ``idx_logs_user_created``. Migration 0006 dropped the two prefix indexes
(``idx_logs_user_status``, ``idx_notification_user``); bench/RESULTS.md section 6 has the figures.
"""

import sqlite3

import pytest

from edgenotify.db import Query
from edgenotify.db.sqlsplit import split_sql
from edgenotify.migrations.automigrate import bundled_files
from edgenotify.notify import logs, stats


@pytest.fixture(scope="module")
def conn():
    db = sqlite3.connect(":memory:")
    for file in bundled_files():
        for statement in split_sql(file.sql):
            db.execute(statement.sql)
    yield db
    db.close()


def plan(conn: sqlite3.Connection, query: Query) -> str:
    return "; ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params))


def test_the_prefix_indexes_are_gone(conn):
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'notification_logs'")}
    assert {"idx_logs_user_created", "idx_logs_user_status_created"} <= names
    assert not names & {"idx_logs_user_status", "idx_notification_user"}


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (logs.list_query(logs.LogFilter("u1"), None, 50), "idx_logs_user_created"),
        (logs.list_query(logs.LogFilter("u1"), ("2026-01-01T00:00:00.000Z", 7), 50), "idx_logs_user_created"),
        (logs.list_query(logs.LogFilter("u1", channel="lark"), None, 50), "idx_logs_user_created"),
        (logs.list_query(logs.LogFilter("u1", status="failed"), None, 50), "idx_logs_user_status_created"),
        (stats.counts_query("u1", None, None), "idx_logs_user_created"),
        (stats.counts_query("u1", "2026-01-01T00:00:00.000Z", None), "idx_logs_user_created"),
    ],
)
def test_each_read_walks_the_index_its_docstring_names(conn, query, index):
    assert f"USING INDEX {index} (user_id=?" in plan(conn, query)
