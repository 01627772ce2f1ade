"""Cron dispatch: ``controller.cron`` names which scheduled work runs (see wrangler.toml).

Tasks are named by import path and imported when their cron fires, so a retry run never
pays the import cost of the backup code and vice versa. Each task is
``async def task(context: Context) -> Any`` and records its own outcome.
"""

import importlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from edgenotify.context import Context
from edgenotify.migrations.automigrate import ensure_migrated

Task = Callable[[Context], Awaitable[Any]]

RETRY_CRON = "* * * * *"
BACKUP_CRON = "0 3 * * *"
MAINTENANCE_CRON = "0 4 * * *"

CRON_TASKS: dict[str, list[str]] = {
    RETRY_CRON: ["edgenotify.notify.retry:retry_due"],
    BACKUP_CRON: ["edgenotify.ops.backup_task:scheduled_backup", "edgenotify.ops.retention:apply_retention"],
    MAINTENANCE_CRON: ["edgenotify.ops.maintenance:run_maintenance"],
}


def load_task(path: str) -> Task:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


async def handle_scheduled(cron: str, env: Any, ctx: Any) -> dict[str, Any]:
    """Run every task of ``cron``; one failing task never stops the others."""
    context = Context.create(env, ctx)
    if context.settings.development:
        await ensure_migrated(env.DB)
    outcomes: dict[str, Any] = {}
    paths = CRON_TASKS.get(cron, [])
    if not paths:
        print(f"cron {cron!r}: no scheduled work matches")
    for path in paths:
        try:
            outcomes[path] = await load_task(path)(context)
        except Exception as exc:
            print(f"cron {cron!r}: task {path} failed:\n{traceback.format_exc()}")
            outcomes[path] = {"status": "failed", "error": str(exc)}
    return outcomes
