"""The daily backup cron task (03:00 UTC), recorded in ``task_execution_records``.

It starts a backup job (or continues the one still running) and runs its first step; the job tick
of the 5-minute cron continues it until the manifest is written.
"""

from typing import Any

from edgenotify.context import Context
from edgenotify.ops import records
from edgenotify.ops.jobs import store, usecases


async def scheduled_backup(context: Context) -> dict[str, Any]:
    async def work() -> records.Outcome:
        await usecases.require_jobs(context.db)
        running = await store.running(context.db, store.BACKUP)
        if running:
            job = await usecases.continue_job(context, running[0].id)
        else:
            job = await usecases.start_backup(context, "cron")
        details = usecases.describe(job)
        if job.status == store.FAILED:
            return records.Outcome(records.FAILED, details)
        manifest = job.state.get("manifest") or {}
        return records.Outcome(records.WARNING if manifest.get("warnings") else records.SUCCESS, details)

    return await records.run_recorded(context.db, "backup", work)
