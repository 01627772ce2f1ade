"""Cron dispatch: ``controller.cron`` names which scheduled work runs.

When work runs is declared once, in ``wrangler.toml`` ``[triggers] crons``; the build step
(``scripts/build_bundle``) hands that list to the worker as ``edgenotify._crons``. What runs is
this module's :data:`CRON_TASKS`. A cron with no work (or work whose cron wrangler.toml no longer
declares) fails tests/test_schedule.py, and at run time it is recorded as a failed task, so a
schedule edit can never silently stop the backup.

Tasks are named by import path and imported when their cron fires, so a retry run never
pays the import cost of the backup code and vice versa. Each task is
``async def task(context: Context) -> Any`` and records its own outcome.

Every 5 minutes the job tick continues a backup or restore job that needs more invocations. While a
restore is replacing the data, that tick is the only work a cron does: the other tasks would act on
half-restored tables (and their records would collide with the restored rows), so they are skipped.
"""

import importlib
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from edgenotify import usage
from edgenotify._crons import DECLARED_CRONS
from edgenotify.clock import now_iso
from edgenotify.context import Context
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.observability import log_invocation
from edgenotify.ops.jobs import marker
from edgenotify.ops.records import FAILED, record

Task = Callable[[Context], Awaitable[Any]]

RETRY_CRON = "* * * * *"
BACKUP_CRON = "0 3 * * *"
MAINTENANCE_CRON = "0 4 * * *"
UNMATCHED_TASK = "scheduled"  # the task record of a cron that has no work

JOB_TICK = "edgenotify.ops.jobs.usecases:tick"
CRON_TASKS: dict[str, list[str]] = {
    RETRY_CRON: [JOB_TICK, "edgenotify.notify.retry:retry_due"],
    BACKUP_CRON: [
        "edgenotify.ops.backups.backup_task:scheduled_backup",
        "edgenotify.ops.maintenance.retention:apply_retention",
    ],
    MAINTENANCE_CRON: ["edgenotify.ops.maintenance.run:run_maintenance"],
}


def schedule_drift(declared: tuple[str, ...] = DECLARED_CRONS) -> dict[str, list[str]]:
    """Where wrangler.toml's crons and :data:`CRON_TASKS` disagree; both lists are empty when they match."""
    return {
        "declared_without_work": [c for c in declared if c not in CRON_TASKS],
        "work_without_cron": [c for c in CRON_TASKS if c not in declared],
    }


def load_task(path: str) -> Task:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


async def _record_unmatched(context: Context, cron: str) -> dict[str, Any]:
    error = f"cron {cron!r}: no scheduled work matches; wrangler.toml and CRON_TASKS disagree: {schedule_drift()}"
    print(error)
    try:
        await record(context.db, UNMATCHED_TASK, FAILED, now_iso(), 0, {"cron": cron}, error)
    except Exception:
        print(f"cron {cron!r}: could not record it:\n{traceback.format_exc()}")
    return {"status": FAILED, "error": error}


async def handle_scheduled(cron: str, env: Any, ctx: Any) -> dict[str, Any]:
    """Run every task of ``cron`` (one failing task never stops the others), then log the event's line."""
    started = time.perf_counter()
    used, token = usage.start()
    try:
        outcomes = await _run_tasks(cron, env, ctx)
    finally:
        usage.stop(token)
    failed = [
        path for path, outcome in outcomes.items() if isinstance(outcome, dict) and outcome.get("status") == FAILED
    ]
    status = "failed" if failed else "ok"
    log_invocation("cron", used, started, cron=cron, status=status, failed_tasks=failed or None)
    return outcomes


async def _run_tasks(cron: str, env: Any, ctx: Any) -> dict[str, Any]:
    context = Context.create(env, ctx)
    if context.settings.development:
        await ensure_migrated(env.DB)
    paths = CRON_TASKS.get(cron, [])
    if not paths:
        return {UNMATCHED_TASK: await _record_unmatched(context, cron)}
    outcomes: dict[str, Any] = {}
    restoring = await marker.current(context.db)
    if restoring:
        outcomes = {p: {"status": "skipped", "reason": f"restore job {restoring} in progress"} for p in paths}
        paths = [JOB_TICK]
    for path in paths:
        try:
            outcomes[path] = await load_task(path)(context)
        except Exception as exc:
            print(f"cron {cron!r}: task {path} failed:\n{traceback.format_exc()}")
            outcomes[path] = {"status": FAILED, "error": str(exc)}
    return outcomes
