"""Cron dispatch: ``controller.cron`` names which scheduled work runs (see wrangler.toml)."""

from collections.abc import Awaitable, Callable
from typing import Any

from edgenotify.context import Context
from edgenotify.migrations.automigrate import ensure_migrated

Task = Callable[[Context], Awaitable[Any]]

RETRY_CRON = "*/5 * * * *"
BACKUP_CRON = "0 3 * * *"
MAINTENANCE_CRON = "0 4 * * *"


def tasks_for(cron: str) -> list[Task]:
    """The tasks a cron expression runs. Imported lazily: a cron never pays for the others."""
    if cron == RETRY_CRON:
        return []
    if cron == BACKUP_CRON:
        return []
    if cron == MAINTENANCE_CRON:
        return []
    return []


async def handle_scheduled(cron: str, env: Any, ctx: Any) -> list[Any]:
    context = Context.create(env, ctx)
    if context.settings.development:
        await ensure_migrated(env.DB)
    results = []
    for task in tasks_for(cron):
        results.append(await task(context))
    if not results:
        print(f"cron {cron!r}: no scheduled work matches")
    return results
