"""The daily maintenance cron (04:00 UTC): cleanup, archive, optimize, integrity.

Each task runs isolated (``records.run_recorded``): its own record in
``task_execution_records`` as ``maintenance.<task>``, and an exception in one never stops the
next. A summary record ``maintenance`` gives the run's overall outcome, which
``GET /admin/maintenance/runs`` and ``GET /admin/health`` show. Integrity problems make the
task a ``warning`` with the problems in its details: reported, never hidden.
"""

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from edgenotify.clock import iso, now_iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.notify.stats import STATUSES
from edgenotify.ops import records
from edgenotify.ops.config import OpsConfig, load
from edgenotify.ops.maintenance.archive import archive_logs

TaskFn = Callable[[Context, OpsConfig], Awaitable[records.Outcome]]
SUMMARY = "maintenance"
ISO_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z"


async def cleanup_idempotency(context: Context, config: OpsConfig) -> records.Outcome:
    """Delete expired idempotency keys in bounded statements (``idx_idempotency_expires``)."""
    now = now_iso()
    deleted = 0
    more = False
    for _ in range(config.idempotency_max_batches):
        result = await context.db.run(
            "DELETE FROM idempotency_keys WHERE rowid IN "
            "(SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)",
            now,
            config.idempotency_delete_batch,
        )
        deleted += result.changes
        more = result.changes >= config.idempotency_delete_batch
        if not more:
            break
    return records.Outcome(records.SUCCESS, {"deleted": deleted, "before": now, "more": more})


async def archive(context: Context, config: OpsConfig) -> records.Outcome:
    now = utcnow()
    run_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    result = await archive_logs(
        context.db,
        context.r2,
        cutoff=iso(now - timedelta(days=config.log_retention_days)),
        run_id=run_id,
        batch_rows=config.archive_batch_rows,
        max_batches=config.archive_max_batches,
    )
    details = {**result.as_dict(), "retention_days": config.log_retention_days}
    if result.mismatch is not None:
        return records.Outcome(records.FAILED, {**details, "problem": "read-back did not match; nothing deleted"})
    if result.deleted != result.archived:
        return records.Outcome(records.WARNING, {**details, "problem": "fewer rows deleted than archived"})
    return records.Outcome(records.SUCCESS, details)


async def optimize(context: Context, config: OpsConfig) -> records.Outcome:
    rows = await context.db.all("PRAGMA optimize")
    return records.Outcome(records.SUCCESS, {"result": rows})


def data_check_queries(now: str) -> list[Query]:
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    return [
        Query(
            "SELECT count(*) AS n FROM template_contents tc LEFT JOIN notification_templates_v2 t "
            "ON t.template_key = tc.template_key WHERE t.template_key IS NULL"
        ),
        Query(
            "SELECT count(*) AS total, "
            f"coalesce(sum(status NOT IN ({statuses})), 0) AS bad_status, "
            "coalesce(sum(status = 'success' AND sent_at IS NULL), 0) AS success_without_sent_at, "
            "coalesce(sum(status = 'failed' AND (error IS NULL OR error = '')), 0) AS failed_without_error, "
            "coalesce(sum(user_id = '' OR channel_type = ''), 0) AS missing_user_or_channel, "
            "coalesce(sum(retry_count < 0), 0) AS negative_retry_count, "
            f"coalesce(sum(created_at NOT GLOB '{ISO_GLOB}'), 0) AS bad_created_at "
            "FROM notification_logs"
        ),
        Query.of("SELECT count(*) AS n FROM idempotency_keys WHERE expires_at <= ?", now),
    ]


async def integrity(context: Context, config: OpsConfig) -> records.Outcome:
    """quick_check, foreign_key_check and seed 000's data checks; any finding is a warning."""
    db: Database = context.db
    quick, fks = await db.batch([Query("PRAGMA quick_check"), Query("PRAGMA foreign_key_check")])
    orphans, logs, expired = await db.batch(data_check_queries(now_iso()))
    quick_result = [str(next(iter(r.values()))) for r in quick.rows]
    invalid = {k: int(v) for k, v in logs.rows[0].items() if k != "total" and int(v)}
    problems: list[str] = []
    if quick_result != ["ok"]:
        problems.append(f"quick_check: {'; '.join(quick_result[:10])}")
    if fks.rows:
        problems.append(f"{len(fks.rows)} foreign key violation(s)")
    if int(orphans.rows[0]["n"]):
        problems.append(f"{orphans.rows[0]['n']} template content(s) without their template")
    for name, count in invalid.items():
        problems.append(f"{count} notification log(s): {name.replace('_', ' ')}")
    if int(expired.rows[0]["n"]):
        problems.append(f"{expired.rows[0]['n']} expired idempotency key(s) still present")
    details: dict[str, Any] = {
        "quick_check": quick_result[:10],
        "foreign_key_violations": fks.rows[:20],
        "orphaned_template_contents": int(orphans.rows[0]["n"]),
        "invalid_logs": invalid,
        "logs_checked": int(logs.rows[0]["total"]),
        "expired_idempotency_keys": int(expired.rows[0]["n"]),
        "problems": problems,
    }
    return records.Outcome(records.WARNING if problems else records.SUCCESS, details)


TASKS: list[tuple[str, TaskFn]] = [
    ("idempotency_cleanup", cleanup_idempotency),
    ("archive_logs", archive),
    ("optimize", optimize),
    ("integrity", integrity),
]


def overall(statuses: list[str]) -> str:
    if records.FAILED in statuses:
        return records.FAILED
    return records.WARNING if records.WARNING in statuses else records.SUCCESS


async def run_maintenance(context: Context, tasks: list[tuple[str, TaskFn]] | None = None) -> dict[str, Any]:
    """Run every task, each recorded on its own, then one summary record for the run."""
    started = now_iso()
    clock = time.monotonic()
    try:
        config, problems = await load(context.db, context.env)
    except Exception as exc:  # settings unreadable: run with defaults and say so
        config, problems = OpsConfig(), [f"settings unreadable: {exc}"]
    results = []
    for name, fn in tasks if tasks is not None else TASKS:
        results.append(await records.run_recorded(context.db, f"{SUMMARY}.{name}", lambda fn=fn: fn(context, config)))
    status = overall([r["status"] for r in results])
    details = {"tasks": {r["task"]: r["status"] for r in results}, "config_problems": problems}
    duration_ms = int((time.monotonic() - clock) * 1000)
    summary: dict[str, Any] = {"task": SUMMARY, "status": status, "execution_time": started, "duration_ms": duration_ms}
    try:
        await records.record(context.db, SUMMARY, status, started, duration_ms, details)
    except Exception as exc:
        summary["record_error"] = f"{type(exc).__name__}: {exc}"
    return {**summary, "details": details, "results": results}
