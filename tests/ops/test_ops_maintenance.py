"""The maintenance cron: each task, its record in task_execution_records, isolation, archiving."""

import asyncio
import gzip
import json
import sqlite3
from datetime import timedelta

from edgenotify.clock import iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.ops import records
from edgenotify.ops.maintenance.archive import ATTEMPTS_PREFIX, PREFIX, archive_logs
from edgenotify.ops.maintenance.run import TASKS, run_maintenance

LOG = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, status, sent_at, error, created_at) "
    "VALUES (?, ?, 'webhook', ?, ?, ?, ?)"
)


def _days_ago(days: float) -> str:
    return iso(utcnow() - timedelta(days=days))


async def _seed(env) -> Database:
    await ensure_migrated(env.DB)
    db = Database(env.DB)
    queries = [
        Query.of(
            "INSERT INTO idempotency_keys (idempotency_key, user_id, request_hash, message_ids, expires_at) "
            "VALUES (?, 'u', 'h', '[]', ?)",
            f"k{i}",
            _days_ago(1) if i < 3 else iso(utcnow() + timedelta(hours=1)),
        )
        for i in range(4)
    ]
    old = [(f"old{i}", "success" if i % 2 else "failed", _days_ago(100 + i)) for i in range(5)]
    queries += [
        Query.of(LOG, m, "u1", s, c if s == "success" else None, "boom" if s == "failed" else None, c)
        for m, s, c in old
    ]
    queries += [
        Query.of(LOG, "old-pending", "u1", "pending", None, None, _days_ago(120)),  # the retry cron owns it
        Query.of(LOG, "recent", "u1", "success", _days_ago(1), None, _days_ago(1)),
        Query.of(LOG, "weird", "u1", "weird", None, None, _days_ago(2)),
        Query.of(LOG, "no-sent-at", "u1", "success", None, None, _days_ago(2)),
    ]
    await db.batch(queries)
    return db


def _orphan(env) -> None:
    """A template content whose template is gone, written the way only a foreign tool could (FKs off)."""
    conn = sqlite3.connect(env.DB.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO template_contents (template_key, channel_type, content_template) VALUES ('ghost', 'lark', 'x')"
    )
    conn.commit()
    conn.close()


def test_each_task_runs_is_recorded_and_the_run_is_summarised(embedded_env) -> None:
    async def run():
        db = await _seed(embedded_env)
        _orphan(embedded_env)
        outcome = await run_maintenance(Context.create(embedded_env, None))
        rows = await db.all("SELECT task_name, status, duration_ms, details, error FROM task_execution_records")
        logs = [r["message_id"] for r in await db.all("SELECT message_id FROM notification_logs ORDER BY id")]
        keys = [r["idempotency_key"] for r in await db.all("SELECT idempotency_key FROM idempotency_keys")]
        page = await embedded_env.BACKUPS.list(prefix=PREFIX)
        archived = []
        for obj in page["objects"]:
            body = await embedded_env.BACKUPS.get(obj.key)
            archived += [json.loads(line) for line in gzip.decompress(await body.bytes()).splitlines()]
        return outcome, rows, logs, keys, archived

    outcome, rows, logs, keys, archived = asyncio.run(run())
    results = {r["task"]: r for r in outcome["results"]}
    assert list(results) == [f"maintenance.{name}" for name, _ in TASKS]
    assert results["maintenance.idempotency_cleanup"]["details"]["deleted"] == 3 and keys == ["k3"]
    archive = results["maintenance.archive_logs"]
    assert archive["status"] == "success" and archive["details"]["archived"] == 5 == archive["details"]["deleted"]
    assert sorted(r["message_id"] for r in archived) == [f"old{i}" for i in range(5)]
    assert logs == ["old-pending", "recent", "weird", "no-sent-at"]
    assert results["maintenance.optimize"]["status"] == "success"
    integrity = results["maintenance.integrity"]
    assert integrity["status"] == "warning"
    problems = " | ".join(integrity["details"]["problems"])
    assert "1 template content(s) without their template" in problems
    assert "1 notification log(s): bad status" in problems and "success without sent at" in problems
    assert integrity["details"]["quick_check"] == ["ok"] and integrity["details"]["expired_idempotency_keys"] == 0
    assert outcome["status"] == "warning" and outcome["details"]["tasks"]["maintenance.integrity"] == "warning"
    recorded = {r["task_name"]: r for r in rows}
    assert set(recorded) == {"maintenance", *results}
    assert recorded["maintenance"]["status"] == "warning"
    assert all(isinstance(r["duration_ms"], int) and r["duration_ms"] >= 0 for r in rows)
    assert json.loads(recorded["maintenance.archive_logs"]["details"])["deleted"] == 5


def test_a_failing_task_does_not_stop_the_others(embedded_env) -> None:
    async def broken(context, config):
        raise RuntimeError("disk on fire")

    async def run():
        db = await _seed(embedded_env)
        tasks = [TASKS[0], ("broken", broken), TASKS[2]]
        outcome = await run_maintenance(Context.create(embedded_env, None), tasks)
        return outcome, await records.recent(db, "maintenance")

    outcome, recent = asyncio.run(run())
    assert [r["status"] for r in outcome["results"]] == ["success", "failed", "success"]
    assert outcome["results"][1]["error"] == "RuntimeError: disk on fire"
    assert outcome["status"] == "failed"
    by_name = {r["task_name"]: r for r in recent}
    assert by_name["maintenance.broken"]["error"] == "RuntimeError: disk on fire"
    assert by_name["maintenance"]["details"]["tasks"]["maintenance.broken"] == "failed"


def test_archive_works_in_bounded_batches_and_resumes(embedded_env) -> None:
    async def run():
        db = await _seed(embedded_env)
        cutoff = _days_ago(90)
        first = await archive_logs(
            db, embedded_env.BACKUPS, cutoff=cutoff, run_id="20261122T040000Z-a", batch_rows=2, max_batches=2
        )
        second = await archive_logs(
            db, embedded_env.BACKUPS, cutoff=cutoff, run_id="20261122T040001Z-b", batch_rows=2, max_batches=2
        )
        left = await db.first("SELECT count(*) AS n FROM notification_logs WHERE created_at < ?", cutoff)
        return first, second, left["n"]

    first, second, left = asyncio.run(run())
    assert (first.archived, first.deleted, first.batches, first.more) == (4, 4, 2, True)
    assert (second.archived, second.deleted, second.more) == (1, 1, False)
    assert left == 1  # the old pending row


class TruncatingR2:
    """A FAULT-INJECTION wrapper around the REAL embedded R2 binding: archives (those under ``prefix``)
    read back one line short."""

    def __init__(self, real, prefix: str = "archives/"):
        self.real = real
        self.prefix = prefix

    def __getattr__(self, name):
        return getattr(self.real, name)

    async def get(self, key, *args, **kwargs):
        body = await self.real.get(key, *args, **kwargs)
        if not key.startswith(self.prefix):
            return body
        lines = gzip.decompress(await body.bytes()).splitlines(keepends=True)
        await self.real.put("tmp/short", gzip.compress(b"".join(lines[:-1])))
        return await self.real.get("tmp/short")


def test_a_read_back_mismatch_deletes_nothing(embedded_env) -> None:
    async def run():
        db = await _seed(embedded_env)
        before = await db.first("SELECT count(*) AS n FROM notification_logs")
        cutoff = _days_ago(90)
        result = await archive_logs(db, TruncatingR2(embedded_env.BACKUPS), cutoff=cutoff, run_id="20261122T040000Z-c")
        after = await db.first("SELECT count(*) AS n FROM notification_logs")
        page = await embedded_env.BACKUPS.list(prefix=PREFIX)
        return result, before["n"], after["n"], page["objects"]

    result, before, after, objects = asyncio.run(run())
    assert result.mismatch == {"key": result.mismatch["key"], "rows": 5, "lines": 4, "ids_match": False}
    assert result.deleted == 0 and before == after
    assert objects == []  # the unverified archive object was removed


ATTEMPT = (
    "INSERT INTO delivery_attempts (message_id, attempt, started_at, duration_ms, outcome) "
    "VALUES (?, ?, '2026-01-01T00:00:00.000Z', 5, ?)"
)


async def _with_attempts(env) -> Database:
    """The seed, with two attempts for each old message, one for the old pending one and the recent one."""
    db = await _seed(env)
    queries = [Query.of(ATTEMPT, f"old{i}", n, "failed" if n == 1 else "delivered") for i in range(5) for n in (1, 2)]
    queries += [Query.of(ATTEMPT, m, 1, "failed") for m in ("old-pending", "recent")]
    await db.batch(queries)
    return db


async def _objects(env, prefix: str) -> dict[str, list[dict]]:
    page = await env.BACKUPS.list(prefix=prefix)
    out = {}
    for obj in page["objects"]:
        body = await (await env.BACKUPS.get(obj.key)).bytes()
        out[obj.key] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return out


def test_archived_logs_take_their_delivery_attempts_with_them(embedded_env) -> None:
    """The attempts go to an object beside their logs' (read back, verified) and are deleted with them."""

    async def run():
        db = await _with_attempts(embedded_env)
        result = await archive_logs(
            db, embedded_env.BACKUPS, cutoff=_days_ago(90), run_id="20261122T040000Z-d", batch_rows=3, max_batches=5
        )
        left = await db.all("SELECT message_id, attempt FROM delivery_attempts ORDER BY message_id, attempt")
        orphans = await db.first(
            "SELECT count(*) AS n FROM delivery_attempts a WHERE NOT EXISTS "
            "(SELECT 1 FROM notification_logs l WHERE l.message_id = a.message_id)"
        )
        return (
            result,
            left,
            orphans["n"],
            await _objects(embedded_env, PREFIX),
            await _objects(embedded_env, ATTEMPTS_PREFIX),
        )

    result, left, orphans, logs, attempts = asyncio.run(run())
    assert (result.archived, result.deleted, result.attempts_archived, result.attempts_deleted) == (5, 5, 10, 10)
    assert result.batches == 2 and len(logs) == 2 and len(attempts) == 2  # an attempts object beside each
    assert [k.replace(ATTEMPTS_PREFIX, "") for k in attempts] == [k.replace(PREFIX, "") for k in logs]
    assert sorted((a["message_id"], a["attempt"]) for rows in attempts.values() for a in rows) == [
        (f"old{i}", n) for i in range(5) for n in (1, 2)
    ]
    for key, rows in attempts.items():  # each object holds the attempts of exactly its logs
        assert {a["message_id"] for a in rows} == {r["message_id"] for r in logs[key.replace(ATTEMPTS_PREFIX, PREFIX)]}
    assert [(r["message_id"], r["attempt"]) for r in left] == [("old-pending", 1), ("recent", 1)]
    assert orphans == 0


def test_an_attempts_read_back_mismatch_deletes_nothing(embedded_env) -> None:
    async def run():
        db = await _with_attempts(embedded_env)
        before = await db.first(
            "SELECT (SELECT count(*) FROM notification_logs) + (SELECT count(*) FROM delivery_attempts) AS n"
        )
        bucket = TruncatingR2(embedded_env.BACKUPS, ATTEMPTS_PREFIX)
        result = await archive_logs(db, bucket, cutoff=_days_ago(90), run_id="20261122T040000Z-e")
        after = await db.first(
            "SELECT (SELECT count(*) FROM notification_logs) + (SELECT count(*) FROM delivery_attempts) AS n"
        )
        page = await embedded_env.BACKUPS.list(prefix="archives/")
        return result, before["n"], after["n"], page["objects"]

    result, before, after, objects = asyncio.run(run())
    assert result.mismatch["key"].startswith(ATTEMPTS_PREFIX) and result.mismatch["lines"] == 9
    assert result.deleted == 0 == result.attempts_deleted and before == after
    assert objects == []  # the logs' object, verified, went with the attempts' that was not


def test_the_batched_tasks_take_fewer_batches_under_lower_limits(limited_envs) -> None:
    """LIMIT_D1_QUERIES=20: a quarter (5 queries) per batched task, so 2 archive batches of 2 queries."""
    from edgenotify.ops.config import OpsConfig
    from edgenotify.ops.maintenance.run import archive

    env, _ = limited_envs

    async def run():
        await _seed(env)
        config = OpsConfig(archive_batch_rows=1, archive_max_batches=10)
        return await archive(Context.create(env, None), config)

    outcome = asyncio.run(run())
    assert outcome.status == "success"
    assert (outcome.details["batches"], outcome.details["archived"], outcome.details["more"]) == (2, 2, True)
