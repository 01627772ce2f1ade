"""The daily maintenance cron (04:00 UTC): cleanup, archive, optimize, integrity.

Each task runs isolated (``records.run_recorded``): its own record in
``task_execution_records`` as ``maintenance.<task>``, and an exception in one never stops the
next. A summary record ``maintenance`` gives the run's overall outcome, which
``GET /admin/maintenance/runs`` and ``GET /admin/health`` show. Integrity problems make the
task a ``warning`` with the problems in its details: reported, never hidden. The integrity check
is a pass across invocations: its task is ``running`` until the pass ends, and the run's summary
lists it under ``running`` (its status is that of the tasks that finished).
"""

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from edgenotify.clock import iso, now_iso, utcnow
from edgenotify.context import Context
from edgenotify.limits import Limits
from edgenotify.ops import records
from edgenotify.ops.config import OpsConfig, load
from edgenotify.ops.maintenance import integrity as integrity_pass
from edgenotify.ops.maintenance.archive import archive_logs

TaskFn = Callable[[Context, OpsConfig], Awaitable[records.Outcome]]
SUMMARY = "maintenance"
# Of the invocation's limits, what each batched task (expiry, archive) may use: the integrity
# step, the records and the summary need the rest. The configured batch counts apply below it.
TASK_SHARE = 0.25
ARCHIVE_QUERIES, ARCHIVE_R2_CALLS = 2, 4  # per archive batch: read, delete; two puts, two reads back


def batches_within(context: Context, configured: int, queries: int, r2_calls: int = 0) -> int:
    """``configured`` batches, or fewer when TASK_SHARE of the invocation's D1 queries or
    subrequests (every D1 query and R2 call is one) would not take them; at least one."""
    limits = Limits.from_env(context.env)
    by_queries = int(limits.d1_queries * TASK_SHARE) // queries
    by_subrequests = int(limits.subrequests * TASK_SHARE) // (queries + r2_calls)
    return max(1, min(configured, by_queries, by_subrequests))


async def cleanup_idempotency(context: Context, config: OpsConfig) -> records.Outcome:
    """Delete expired idempotency keys in bounded statements (``idx_idempotency_expires``)."""
    now = now_iso()
    deleted = 0
    more = False
    for _ in range(batches_within(context, config.idempotency_max_batches, 1)):
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
        max_batches=batches_within(context, config.archive_max_batches, ARCHIVE_QUERIES, ARCHIVE_R2_CALLS),
    )
    details = {**result.as_dict(), "retention_days": config.log_retention_days}
    if result.mismatch is not None:
        return records.Outcome(records.FAILED, {**details, "problem": "read-back did not match; nothing deleted"})
    if result.deleted != result.archived or result.attempts_deleted != result.attempts_archived:
        return records.Outcome(records.WARNING, {**details, "problem": "fewer rows deleted than archived"})
    return records.Outcome(records.SUCCESS, details)


async def optimize(context: Context, config: OpsConfig) -> records.Outcome:
    rows = await context.db.all("PRAGMA optimize")
    return records.Outcome(records.SUCCESS, {"result": rows})


async def integrity(context: Context, config: OpsConfig) -> records.Outcome:
    """One step of the integrity pass (``ops.maintenance.integrity``): started here, continued by
    the job tick. Its outcome is ``running`` until the pass ends; the findings are then recorded
    once, as ``maintenance.integrity``."""
    job = await integrity_pass.start_or_continue(context, "cron", config.integrity_range_rows)
    return integrity_pass.outcome(job)


TASKS: list[tuple[str, TaskFn]] = [
    ("idempotency_cleanup", cleanup_idempotency),
    ("archive_logs", archive),
    ("optimize", optimize),
    ("integrity", integrity),
]


def overall(statuses: list[str]) -> str:
    """The worst finished status; a task still ``running`` reports its outcome later, on its own."""
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
    details = {
        "tasks": {r["task"]: r["status"] for r in results},
        "running": [r["task"] for r in results if r["status"] == records.RUNNING],
        "config_problems": problems,
    }
    duration_ms = int((time.monotonic() - clock) * 1000)
    summary: dict[str, Any] = {"task": SUMMARY, "status": status, "execution_time": started, "duration_ms": duration_ms}
    try:
        await records.record(context.db, SUMMARY, status, started, duration_ms, details)
    except Exception as exc:
        summary["record_error"] = f"{type(exc).__name__}: {exc}"
    return {**summary, "details": details, "results": results}
