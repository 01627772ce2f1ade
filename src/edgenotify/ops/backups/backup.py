"""A whole backup in one go: the backup job (``ops.jobs.backup``) run to the end without a budget.

For callers that are not bounded by a Worker invocation (benchmarks, a local CLI on a file) and for
tests of the file format. Nothing is checkpointed in D1; a failure leaves nothing in R2 (the upload
is aborted, any stored object deleted). Inside the Worker, backups run as jobs (``ops.jobs.usecases``).
"""

from typing import Any

from edgenotify.clock import utcnow
from edgenotify.db import Database
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.jobs.backup import BackupFailed, BackupOptions, BackupStep, Progress, abandon, new_job
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.store import Job

__all__ = ["BackupFailed", "BackupOptions", "run_backup"]


async def _no_checkpoint(job: Job) -> None:
    return None


async def run_backup(
    db: Database,
    r2: Any,
    *,
    trigger: str = "api",
    database: str = "DB",
    options: BackupOptions | None = None,
    progress: Progress | None = None,
    backup_id: str | None = None,
) -> dict[str, Any]:
    """Back up the whole database; return the manifest. Raises BackupFailed (nothing left in R2)."""
    bucket = Bucket(r2)
    job = new_job(backup_id or mf.new_backup_id(utcnow()), trigger, database, options)
    try:
        while job.running:
            await BackupStep(db, bucket, job, Budget.unlimited(db, bucket), _no_checkpoint, progress).run()
        manifest = await bucket.read(mf.manifest_key(job.id))
        return mf.parse(manifest or b"")
    except Exception as exc:
        try:
            await abandon(bucket, job, str(exc))
        except Exception as cleanup:  # report the original failure; say the cleanup failed too
            raise BackupFailed(job.id, f"{exc}; cleanup also failed: {cleanup}") from exc
        if isinstance(exc, BackupFailed):
            raise
        raise BackupFailed(job.id, str(exc)) from exc
