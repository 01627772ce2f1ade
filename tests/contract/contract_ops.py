"""Backup to R2 and restore from it, and the maintenance cron, through our code (``edgenotify.ops``).

The data holds every value kind the backup must carry exactly (int64 extremes, REAL edge cases,
NULL vs '', BLOBs, unicode, quotes, newlines, a value over 100 KB), written with SQL literals so
that nothing is lost on the way in. After a restore (the restore job, run to its end) into an emptied
database, every value must compare equal to the original IN SQL (``a IS b`` per column, joined
against the values kept aside), and the restore's own verification against the manifest must pass.
"""

import gzip
import hashlib
import json
import random
from datetime import timedelta
from typing import Any

from edgenotify.clock import iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import BackupOptions, run_backup
from edgenotify.ops.backups.catalog import backup_status, list_backups
from edgenotify.ops.backups.source import r2_chunks
from edgenotify.ops.backups.stream import MIN_PART_SIZE, R2ObjectWriter
from edgenotify.ops.diagnostics.capacity import capacity
from edgenotify.ops.diagnostics.health import health
from edgenotify.ops.diagnostics.queryplan import QueryRefused, analyze
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.maintenance.archive import PREFIX as ARCHIVES
from edgenotify.ops.maintenance.run import run_maintenance
from edgenotify.scheduled import CRON_TASKS, handle_scheduled
from tests.contract.contracts import contract
from tests.contract.support import clear_r2, list_all_r2, raises, reset_database

VALUES = [
    "9223372036854775807, 0.30000000000000004, 'plain', X'00FF'",
    "-9223372036854775808, -0.0, '', X''",
    "9007199254740993, 1e308, 'é😀 \"q\" it''s', NULL",
    "0, 5e-324, 'line1' || char(10) || 'line2' || char(13), X'000102'",
    "NULL, NULL, NULL, NULL",
    "-1, 2.5e-7, 'BEGIN TRANSACTION; ' || 'COMMIT;', zeroblob(2)",
    "7, 1.5, 'nul' || char(0) || 'inside', X'00'",
]
STAMP = "2026-11-22T03:00:00.000Z"
BIG_TEXT_BYTES = 150_000  # one value over D1's 100 KB statement limit


async def _fill(db: Database) -> None:
    await db.run("CREATE TABLE c_values (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB)")
    rows = ", ".join(f"({n}, {v})" for n, v in enumerate(VALUES, start=1))
    big = "x" * (BIG_TEXT_BYTES - 10) + "é" * 5
    await db.batch(
        [
            Query(f"INSERT INTO c_values (id, i, r, t, b) VALUES {rows}"),
            Query.of("INSERT INTO c_values (id, t) VALUES (100, ?)", big),
            Query("CREATE TABLE c_parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)"),
            Query(
                "CREATE TABLE c_child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
                "REFERENCES c_parent(id) ON DELETE CASCADE, note TEXT)"
            ),
            Query("CREATE INDEX c_child_parent ON c_child (parent_id)"),
            Query(f"INSERT INTO c_parent (name) VALUES ('a'), ('b'), ('{STAMP}')"),
            Query("INSERT INTO c_child (id, parent_id, note) VALUES (1, 1, 'x'), (2, 3, NULL)"),
            Query("DELETE FROM c_parent WHERE name = 'b'"),  # a gap in ids; the AUTOINCREMENT counter stays 3
        ]
    )
    # Kept aside (a table the backup carries too) to compare every restored value in SQL.
    await db.run("CREATE TABLE c_values_expected AS SELECT * FROM c_values")


async def _compare(db: Database) -> list[dict[str, Any]]:
    return await db.all(
        "SELECT e.id, a.id IS NOT NULL AS present, e.i IS a.i AS i, e.r IS a.r AS r, e.t IS a.t AS t, e.b IS a.b AS b, "
        "typeof(a.i) AS ti, typeof(a.r) AS tr, typeof(a.t) AS tt, typeof(a.b) AS tb, "
        "CAST(a.i AS TEXT) AS i_text, length(a.t) AS t_len, hex(a.b) AS b_hex "
        "FROM c_values_expected e LEFT JOIN c_values a ON a.id = e.id ORDER BY e.id"
    )


@contract
async def ops_backup_and_restore_round_trip(env: Any) -> Any:
    db = Database(env.DB)
    await reset_database(env.DB)
    await clear_r2(env.BACKUPS, mf.PREFIX)
    automigrate.forget(env.DB)
    await _fill(db)
    manifest = await run_backup(
        db, env.BACKUPS, trigger="contract", database="DB", options=BackupOptions(part_size=MIN_PART_SIZE)
    )
    listed = [o.key for o in (await env.BACKUPS.list(prefix=mf.PREFIX))["objects"]]
    assert sorted(listed) == sorted([mf.data_key(manifest["id"]), mf.manifest_key(manifest["id"])]), listed

    await reset_database(env.DB)  # an empty database, migrated (the job's checkpoint table): no force needed
    automigrate.forget(env.DB)
    await automigrate.ensure_migrated(env.DB)
    context = Context.create(env, None)
    dry = await usecases.start_restore(context, manifest["id"], quiesce_seconds=0, trigger="contract")
    started = await usecases.start_restore(
        context, manifest["id"], dry_run=False, quiesce_seconds=0, trigger="contract"
    )
    job = await usecases.run_to_end(context, await store.get(db, started["job"]["id"]))
    verification = job.state["verification"]
    compared = await _compare(db)
    children = await db.all("SELECT c.id, p.name FROM c_child c JOIN c_parent p ON p.id = c.parent_id ORDER BY c.id")
    exact = all(r["present"] and r["i"] and r["r"] and r["t"] and r["b"] for r in compared)
    assert dry["ok"] and job.status == "complete", (dry["refusals"], job.last_error, verification)
    assert exact, [r for r in compared if not (r["present"] and r["i"] and r["r"] and r["t"] and r["b"])]
    return {
        "tables": [[t["name"], t["rows"]] for t in manifest["tables"]],
        # quote(REAL) text depends on the SQLite version (CPython's 3.40 writes 3.00000000000000044408e-01,
        # workerd's 0.30000000000000004); the digests canonicalise REALs, so they must agree across runtimes
        # (a D1 backup verifies when restored locally). See devkit/parity/DIFFERENCES.md #10.
        "digests": {t["name"]: t["sha256"] for t in manifest["tables"]},
        "sequences": manifest["sequences"],
        "migration": manifest["migration"],
        "dry_run": [dry["ok"], dry["would"]["insert_rows"]],
        "verification": [verification["ok"], verification["mismatches"]],
        "restored": compared,
        "children": children,
    }


@contract
async def ops_stream_multipart_to_r2(env: Any) -> Any:
    """Our R2 writer: over one part it switches to a multipart upload (5 MiB parts + tail) that reads back
    byte-exact; an aborted writer leaves no object. (A full backup of that size is too slow for this suite.)"""
    key = "c/ops/multipart.bin"
    data = random.Random(20261122).randbytes(MIN_PART_SIZE + 123_457)
    writer = R2ObjectWriter(env.BACKUPS, key, MIN_PART_SIZE, "application/octet-stream")
    for start in range(0, len(data), 1_000_000):  # uneven writes, as the gzip stream produces them
        await writer.write(data[start : start + 1_000_000])
    stored = await writer.close()
    read = bytearray()
    async for chunk in r2_chunks(env.BACKUPS, key, 2 * 1024 * 1024)():
        read += chunk
    head = await env.BACKUPS.head(key)
    aborted = R2ObjectWriter(env.BACKUPS, key + ".aborted", MIN_PART_SIZE)
    await aborted.write(data)  # one part uploaded, the tail buffered
    await aborted.abort()
    assert bytes(read) == data and stored.sha256 == hashlib.sha256(data).hexdigest()
    await env.BACKUPS.delete(key)
    return {
        "stored": [stored.size, stored.parts],
        "head": [head.size, head.httpMetadata["contentType"]],
        "aborted_head": await env.BACKUPS.head(key + ".aborted"),
    }


def _days_ago(days: int) -> str:
    return iso(utcnow() - timedelta(days=days))


@contract
async def ops_maintenance_run(env: Any) -> Any:
    """The maintenance cron's tasks on a migrated database: expired keys go, old logs are archived to R2
    (read back, then deleted), PRAGMA optimize and the integrity checks run, every task is recorded."""
    db = Database(env.DB)
    await reset_database(env.DB)
    await clear_r2(env.BACKUPS, ARCHIVES)
    automigrate.forget(env.DB)
    await automigrate.apply_pending(db, automigrate.bundled_files())
    old, recent, future = _days_ago(200), _days_ago(1), iso(utcnow() + timedelta(days=1))
    log = (
        "INSERT INTO notification_logs (message_id, user_id, channel_type, status, sent_at, error, created_at) "
        "VALUES (?, 'u1', 'webhook', ?, ?, ?, ?)"
    )
    key = "INSERT INTO idempotency_keys (idempotency_key, user_id, request_hash, message_ids, expires_at) "
    await db.batch(
        [
            Query.of(log, "m-old-ok", "success", old, None, old),
            Query.of(log, "m-old-failed", "failed", None, "HTTP 500", old),
            Query.of(log, "m-old-failed-2", "failed", None, "timeout", old),
            Query.of(log, "m-old-pending", "pending", None, None, old),  # the retry cron owns it: kept
            Query.of(log, "m-recent", "success", recent, None, recent),
            Query.of(key + "VALUES ('k1', 'u1', 'h', '[]', ?)", _days_ago(2)),
            Query.of(key + "VALUES ('k2', 'u1', 'h', '[]', ?)", _days_ago(1)),
            Query.of(key + "VALUES ('k3', 'u1', 'h', '[]', ?)", future),
        ]
    )
    run = await run_maintenance(Context.create(env, None))
    logs_left = [r["message_id"] for r in await db.all("SELECT message_id FROM notification_logs ORDER BY id")]
    keys_left = [r["idempotency_key"] for r in await db.all("SELECT idempotency_key FROM idempotency_keys")]
    archived = []
    for name in await list_all_r2(env.BACKUPS, ARCHIVES):
        body = await env.BACKUPS.get(name)
        lines = gzip.decompress(bytes(await body.arrayBuffer())).decode("utf-8").splitlines()
        archived += sorted(json.loads(line)["message_id"] for line in lines)
    recorded = await db.all("SELECT task_name, status FROM task_execution_records ORDER BY id")
    integrity = next(r for r in run["results"] if r["task"] == "maintenance.integrity")
    assert run["status"] == "success", run
    await clear_r2(env.BACKUPS, ARCHIVES)
    return {
        "status": run["status"],
        "tasks": run["details"]["tasks"],
        "logs_left": logs_left,
        "keys_left": keys_left,
        "archived": archived,
        "recorded": recorded,
        "integrity_problems": integrity["details"]["problems"],
    }


@contract
async def ops_diagnostics(env: Any) -> Any:
    """Admin diagnostics through our code: backup catalog/status, health, capacity, query plan (sqlglot)."""
    db = Database(env.DB)
    await reset_database(env.DB)
    await clear_r2(env.BACKUPS, mf.PREFIX)
    automigrate.forget(env.DB)
    await automigrate.apply_pending(db, automigrate.bundled_files())
    context = Context.create(env, None)
    empty_status = backup_status(await list_backups(env.BACKUPS), utcnow())
    manifest = await run_backup(db, env.BACKUPS, trigger="contract")
    backups = await list_backups(env.BACKUPS)
    status = backup_status(backups, utcnow())
    report = await health(context)
    plan = await analyze(db, "SELECT * FROM notification_logs WHERE user_id = ? AND error = ?", ["u1", "x"])
    refused = await raises(lambda: analyze(db, "DELETE FROM notification_logs"), kind=QueryRefused)
    cap = await capacity(db)
    await clear_r2(env.BACKUPS, mf.PREFIX)
    return {
        "empty_status": empty_status["status"],
        "backups": [[b.id == manifest["id"], b.complete] for b in backups],
        "status": status["status"],
        "health": {c["name"]: c["status"] for c in report["checks"]},
        "plan": {k: plan[k] for k in ("scans", "uses_index")},
        "suggested_columns": sorted(c for s in plan["suggestions"] for c in s.get("columns", [])),
        "refused": refused,
        "capacity_rows": cap["rows"] if "rows" in cap else sorted(cap),
    }


@contract
async def ops_every_cron_runs(env: Any) -> Any:
    """Each cron of wrangler.toml through ``handle_scheduled``, as ``Default.scheduled`` calls it."""
    db = Database(env.DB)
    automigrate.forget(env.DB)
    await automigrate.apply_pending(db, automigrate.bundled_files())
    await clear_r2(env.BACKUPS, mf.PREFIX)
    outcomes = {}
    for cron in sorted(CRON_TASKS):
        done = await handle_scheduled(cron, env, None)
        outcomes[cron] = {path: _status(outcome) for path, outcome in done.items()}
    backups = await list_backups(env.BACKUPS)
    unknown = await handle_scheduled("1 2 3 4 5", env, None)
    await clear_r2(env.BACKUPS, mf.PREFIX)
    failed = [p for o in outcomes.values() for p, status in o.items() if status == "failed"]
    assert not failed, outcomes
    return {"outcomes": outcomes, "backups": [b.complete for b in backups], "unknown_cron": unknown}


def _status(outcome: Any) -> Any:
    return outcome.get("status") if isinstance(outcome, dict) else type(outcome).__name__
