"""Backup and restore jobs as use cases: start, list, show, continue, tick. The admin API, the crons
and the CLIs call these and nothing below them, so a job behaves (and is audited) the same whoever
drives it.

Each call is one invocation's worth of work: it runs the job's next step within a budget taken
from the invocation's limits (``budget``) and returns the job. A job that is not finished is
continued by the next cron tick (every 5 minutes), by ``POST /admin/jobs/{id}/continue``, or by
the CLI, which simply calls ``continue_job`` until the job ends.

Restores of sources the restore job cannot read directly (a local file, a format-2 backup without
chunk digests) first run an import job (``ops.jobs.imports``): it rewrites the source into a new
format-3 backup without touching the database, then hands over to a restore job of that backup
(``run_to_end`` and the cron tick follow it). So every restore replaces the data the same safe way.

Failures: the checkpoint in D1 is authoritative, so after an exception the job is re-read from
D1 (whatever the failed step did in memory is discarded) and its failure counted. A backup that
fails ``MAX_FAILURES`` times, or fails for good (schema changed), is abandoned: upload aborted,
objects deleted. A restore that has begun replacing the data is never abandoned: it stays marked
and resumable until it completes or another restore supersedes it.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from edgenotify.clock import now_iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database
from edgenotify.limits import Limits
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.restoreplan import Plan
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.backups.source import SourceError, r2_chunks
from edgenotify.ops.backups.stream import DEFAULT_PART_SIZE
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.jobs import audit, imports, marker, sourceplan, store
from edgenotify.ops.jobs import backup as backup_job
from edgenotify.ops.jobs import restore as restore_job
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.store import BACKUP, COMPLETE, FAILED, IMPORT, RESTORE, Job
from edgenotify.ops.maintenance import integrity

MAX_FAILURES = 3
Progress = Callable[[dict[str, Any]], None]
NOT_FOUND, CONFLICT, INVALID = "not_found", "conflict", "invalid"


class JobError(Exception):
    """A request the jobs cannot honour. ``reason``: not_found, conflict or invalid; ``code`` is stable."""

    def __init__(self, reason: str, code: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def database_name(env: Any) -> str:
    """The database's name for manifests: the ``DATABASE_NAME`` var, else the binding's name."""
    return str(getattr(env, "DATABASE_NAME", None) or "DB")


def _bucket(context: Context) -> Bucket:
    return Bucket(context.r2)


def _request_id(context: Context) -> str | None:
    return context.request_id or None


async def require_jobs(db: Database) -> None:
    """Jobs live in ``ops_jobs``: on a database without it, say which migrations to apply (not a 500)."""
    if not await store.table_exists(db):
        message = "this database has no ops_jobs table: apply the pending migrations (wrangler d1 migrations apply)"
        raise JobError(CONFLICT, "migrations_pending", message)


async def _refuse_during_restore(db: Database) -> None:
    running = await marker.current(db)
    if running:
        raise JobError(CONFLICT, "restore_running", f"restore job {running} is replacing the data")


# -- backups ---------------------------------------------------------------------------------


async def start_backup(
    context: Context,
    trigger: str = "api",
    progress: Progress | None = None,
    options: backup_job.BackupOptions | None = None,
) -> Job:
    """Start a backup job and run its first step in this invocation."""
    db = context.db
    await require_jobs(db)
    await _refuse_during_restore(db)
    running = await store.running(db, BACKUP)
    if running:
        raise JobError(CONFLICT, "backup_running", f"backup job {running[0].id} is running; continue it instead")
    job = backup_job.new_job(mf.new_backup_id(utcnow()), trigger, database_name(context.env), options)
    await db.execute(store.insert_query(job))
    await audit.record(db, job, "start", {}, context.actor, _request_id(context))
    return await _advance(context, job, progress)


# -- restores --------------------------------------------------------------------------------


async def _manifest(bucket: Bucket, backup_id: str) -> dict[str, Any]:
    if not mf.is_backup_id(backup_id):
        raise JobError(INVALID, "invalid_backup_id", "backup_id must look like 20261122T030000000Z-a1b2c3")
    try:
        manifest = await catalog.load_manifest(bucket.binding, backup_id)
    except mf.ManifestError as exc:
        raise JobError(INVALID, "manifest_invalid", str(exc)) from exc
    if manifest is None:
        if await bucket.head(mf.data_key(backup_id)) is None:
            raise JobError(NOT_FOUND, "backup_not_found", f"no backup {backup_id}")
        raise JobError(CONFLICT, "backup_incomplete", f"backup {backup_id} has no manifest: it failed or is running")
    return manifest


def refused(refusal: sourceplan.Refusal) -> JobError:
    return JobError(INVALID if refusal.reason == sourceplan.SOURCE else CONFLICT, refusal.code, refusal.message)


def needs_import(manifest: dict[str, Any]) -> bool:
    """A backup without chunk digests (format 2) is imported into a format-3 backup first."""
    return "chunks" not in manifest["object"]


async def _restore_refusals(
    context: Context, bucket: Bucket, manifest: dict[str, Any], force: bool, target_rows: list[str]
) -> list[JobError]:
    old = sourceplan.format_refusal(manifest)
    out = [refused(old)] if old else []
    known = [f.name for f in automigrate.bundled_files()]
    unknown = [n for n in (manifest.get("migration") or {}).get("applied") or [] if n not in known]
    if unknown:
        out.append(
            JobError(
                CONFLICT,
                "backup_schema_newer",
                f"the backup's schema includes migration(s) this code does not know: {', '.join(unknown)}; "
                "deploy code that has them, then restore",
            )
        )
    stored = await bucket.head(manifest["object"]["key"])
    expected = manifest["object"]
    if stored is None or stored.size != expected["size"] or (expected.get("etag") and stored.etag != expected["etag"]):
        out.append(JobError(INVALID, "backup_corrupt", "the data object is missing or differs from the manifest"))
    if target_rows and not force:
        out.append(
            JobError(CONFLICT, "target_not_empty", f"the database has rows in: {', '.join(target_rows)}; use force")
        )
    if await store.running(context.db, BACKUP) and not force:
        out.append(JobError(CONFLICT, "backup_running", "a backup job is running; wait for it, or force abandons it"))
    running = await marker.current(context.db)
    if running and not force:
        out.append(JobError(CONFLICT, "restore_running", f"restore job {running} is running; force supersedes it"))
    return out


async def _rows_in(db: Database) -> list[str]:
    return sorted(name for name, has in (await sourceplan.target_rows(db, await inspect(db))).items() if has)


async def start_restore(
    context: Context,
    backup_id: str,
    *,
    force: bool = False,
    dry_run: bool = True,
    quiesce_seconds: float = marker.QUIESCE_SECONDS,
    trigger: str = "api",
    progress: Progress | None = None,
    job_id: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Dry run (the default): what a restore would do, and why it would be refused. Otherwise start
    the restore job (the database is marked from now on) and run its first step; a format-2 backup
    starts an import job instead, which hands over to the restore job when it is done.

    ``job_id`` and ``events`` are an import's hand-over: the restore job's id (so a repeated
    hand-over finds it) and the import's audit events, written with the restore's at its end."""
    db, bucket = context.db, _bucket(context)
    await require_jobs(db)
    manifest = await _manifest(bucket, backup_id)
    non_empty = await _rows_in(db)
    refusals = await _restore_refusals(context, bucket, manifest, force, non_empty)
    recreated = {t["name"] for t in manifest["tables"]}
    drops, kept = restore_job.drop_statements(await inspect(db), recreated)
    plan = {
        "backup": backup_id,
        "dry_run": dry_run,
        "force": force,
        "manifest": {k: manifest.get(k) for k in ("id", "created_at", "database", "migration", "totals", "bookmark")},
        "target": {"tables_with_rows": non_empty},
        "would": {
            "clear": drops,
            "keep": kept,
            "create": [t["name"] for t in manifest["tables"]],
            "insert_rows": {t["name"]: t["rows"] for t in manifest["tables"] if mf.verified(t)},
            "chunks": len(manifest["object"].get("chunks") or []),
            "import": needs_import(manifest),
        },
        "refusals": [r.as_dict() for r in refusals],
        "ok": not refusals,
    }
    if dry_run:
        return plan
    if refusals:
        raise refusals[0]
    if needs_import(manifest):
        source = {"key": manifest["object"]["key"], "label": f"backup {backup_id}", "manifest": manifest}
        started = await start_import(context, source, force=force, quiesce_seconds=quiesce_seconds, trigger=trigger)
        return {**plan, "job": describe(started)}
    job_id = job_id or "restore-" + mf.new_backup_id(utcnow())
    job = restore_job.new_job(backup_id, trigger, force, quiesce_seconds, job_id)
    job.state["audit"].extend(events or [])
    for running_backup in await store.running(db, BACKUP):  # force: it would read half-replaced tables
        await backup_job.abandon(bucket, running_backup, f"abandoned for restore job {job.id}")
        await store.save(db, running_backup)
        await audit.record(db, running_backup, "failed", {"reason": running_backup.last_error}, context.actor)
    for old in await store.running(db, RESTORE):  # force: a stuck restore is superseded, its events carried over
        old.status, old.last_error = FAILED, f"superseded by {job.id}"
        audit.defer(old, "failed", {"reason": old.last_error}, context.actor, _request_id(context))
        job.state["audit"].extend(old.state["audit"])
        old.state["audit"] = []
        await store.save(db, old)
    audit.defer(job, "start", {"force": force, "rows": (manifest.get("totals") or {}).get("rows")}, context.actor)
    await db.execute(store.insert_query(job))
    marker.remember(db, job.id)
    await _advance(context, job, progress, manifest)
    return {**plan, "job": restore_job.report(job)}


# -- imports (a local file, a format-2 backup) ------------------------------------------------


async def start_import(
    context: Context,
    source: dict[str, Any],
    *,
    plan: Plan | None = None,
    force: bool = False,
    quiesce_seconds: float = marker.QUIESCE_SECONDS,
    trigger: str = "api",
    progress: Progress | None = None,
    part_size: int = DEFAULT_PART_SIZE,
) -> Job:
    """Start an import of the R2 object ``source["key"]`` (``label``, the source's ``manifest`` or
    None, ``owned``: a copy made for the import) and run its first step; ``plan``: the caller's scan
    of the same bytes, already checked (``sourceplan``), so the job skips its own scan."""
    db = context.db
    await _refuse_during_restore(db)
    job = imports.new_job(
        key=source["key"],
        label=source["label"],
        trigger=trigger,
        manifest=source.get("manifest"),
        restore={"force": force, "quiesce_seconds": quiesce_seconds},
        plan=plan,
        owned=bool(source.get("owned")),
        part_size=part_size,
    )
    audit.defer(job, "start", {"source": source["label"], "force": force}, context.actor, _request_id(context))
    await db.execute(store.insert_query(job))
    return await _advance(context, job, progress)


async def _hand_over(context: Context, job: Job, progress: Progress | None) -> None:
    """The imported backup is complete: start its restore job (once), then the import is done."""
    db = context.db
    restore_id = f"restore-{job.subject}"
    if await store.get(db, restore_id) is None:
        options = job.state["restore"]
        audit.defer(job, "complete", job.state.get("manifest", {}), context.actor, _request_id(context))
        try:
            await start_restore(
                context,
                str(job.subject),
                force=options["force"],
                dry_run=False,
                quiesce_seconds=options["quiesce_seconds"],
                trigger=job.trigger,
                progress=progress,
                job_id=restore_id,
                events=job.state["audit"],
            )
        except JobError as exc:
            reason = f"restore refused ({exc.code}): {exc.message}; backup {job.subject} holds the import"
            job.status, job.last_error, job.finished_at = FAILED, reason, now_iso()
            audit.defer(job, "failed", {"reason": job.last_error}, context.actor, _request_id(context))
            await db.batch([*audit.flush(job), store.save_query(job)])
            return
    job.state["audit"] = []  # carried over to the restore job
    job.state["restore_job"] = restore_id
    job.status, job.phase, job.finished_at = COMPLETE, "done", now_iso()
    await store.save(db, job)


# -- any job ---------------------------------------------------------------------------------


async def _advance(
    context: Context,
    job: Job,
    progress: Progress | None = None,
    manifest: dict[str, Any] | None = None,
    unbounded_import: bool = False,
) -> Job:
    """Run the job's next step within this invocation's budget; count a failure instead of raising."""
    if job.kind == integrity.KIND:  # a maintenance pass: its own steps and failure rules
        return await integrity.advance(context, job)
    db, bucket = context.db, _bucket(context)
    cost = RESTORE if job.kind == IMPORT else job.kind  # an import splits and classifies SQL as a restore does
    budget = Budget.for_invocation(Limits.from_env(context.env), cost, db, bucket)
    if unbounded_import and job.kind == IMPORT:
        budget = Budget.unlimited(db, bucket)
    try:
        if job.kind == BACKUP:
            await backup_job.BackupStep(db, bucket, job, budget, store.saver(db), progress).run()
        elif job.kind == IMPORT and job.phase == "restore":
            await _hand_over(context, job, progress)
        elif job.kind == IMPORT:
            chunks = r2_chunks(bucket.binding, job.state["source"]["key"])
            await imports.ImportStep(db, bucket, job, chunks, budget, progress).run()
        else:
            manifest = manifest or await _manifest(bucket, str(job.subject))
            await restore_job.RestoreStep(db, bucket, job, manifest, budget, progress).run()
    except Exception as exc:
        return await _failed(context, bucket, job.id, exc)
    if job.kind == BACKUP and not job.running:
        await audit.record(db, job, "complete", job.state.get("manifest", {}), context.actor, _request_id(context))
    if job.kind == RESTORE and not job.running:
        marker.remember(db, None)
    return job


async def _failed(context: Context, bucket: Bucket, job_id: str, exc: Exception) -> Job:
    db = context.db
    job = await store.get(db, job_id)
    if job is None:  # the row itself is gone: nothing to record against
        raise exc
    job.failures += 1
    job.last_error = f"{type(exc).__name__}: {exc}"
    permanent = isinstance(
        exc, (backup_job.BackupFailed, restore_job.RestoreCorrupt, imports.ImportRefused, SourceError)
    )
    details = {"error": job.last_error, "failures": job.failures, "phase": job.phase}
    if isinstance(exc, imports.ImportRefused):
        details["refusals"] = [r.as_dict() for r in exc.refusals]
    if job.kind == IMPORT and (permanent or job.failures >= MAX_FAILURES):
        await imports.abandon(bucket, job, job.last_error)
        audit.defer(job, "failed", details, context.actor, _request_id(context))
        await db.batch([*audit.flush(job), store.save_query(job)])  # nothing was replaced: write its events now
        return job
    if job.kind == BACKUP and (permanent or job.failures >= MAX_FAILURES):
        await backup_job.abandon(bucket, job, job.last_error)
        await store.save(db, job)
        await audit.record(db, job, "failed", details, context.actor, _request_id(context))
        return job
    if job.kind == RESTORE and job.phase in ("check", "quiesce") and (permanent or job.failures >= MAX_FAILURES):
        job.status = FAILED
        audit.defer(job, "failed", details, context.actor, _request_id(context))
        await db.batch([*audit.flush(job), store.save_query(job)])  # nothing was replaced: write its events now
        marker.remember(db, None)
        return job
    await audit.record(db, job, "step_failed", details, context.actor, _request_id(context))
    await store.save(db, job)
    return job


async def continue_job(
    context: Context, job_id: str, progress: Progress | None = None, unbounded_import: bool = False
) -> Job:
    """Run the next step of a running job (a finished job is returned as it is). ``unbounded_import``:
    the caller is no Worker invocation (a local CLI), so an import runs to its end in this step,
    checkpointing as it goes, instead of re-reading its source once per bounded step."""
    job = await store.get(context.db, job_id)
    if job is None:
        raise JobError(NOT_FOUND, "job_not_found", f"no job {job_id}")
    if not job.running:
        return job
    return await _advance(context, job, progress, unbounded_import=unbounded_import)


async def tick(context: Context) -> dict[str, Any]:
    """Cron: continue the running job, a restore before an import before any backup, a backup before
    an integrity pass (one job per tick)."""
    running = await store.running(context.db)
    kinds = (RESTORE, IMPORT, BACKUP, integrity.KIND)
    first = next((j for kind in kinds for j in running if j.kind == kind), None)
    if first is None:
        return {"status": "idle"}
    job = await _advance(context, first)
    return {"status": job.status, "job": job.summary()}


async def list_jobs(context: Context, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return [j.summary() for j in await store.recent(context.db, kind, limit)]


async def show_job(context: Context, job_id: str) -> dict[str, Any]:
    job = await store.get(context.db, job_id)
    if job is None:
        raise JobError(NOT_FOUND, "job_not_found", f"no job {job_id}")
    return describe(job)


def describe(job: Job) -> dict[str, Any]:
    """A job for people: the summary plus what its phase has reached, without bulk lists."""
    if job.kind == RESTORE:
        return restore_job.report(job)
    if job.kind == IMPORT:
        return imports.report(job)
    if job.kind == integrity.KIND:
        return integrity.report(job)
    out = job.summary()
    state = job.state
    out["position"] = {
        "table": state["order"][state["table"]] if state["table"] < len(state["order"]) else None,
        "tables_done": state["table"],
        "tables": len(state["order"]),
        "chunks": len(state["chunks"]),
        "parts": len(state["object"]["parts"]),
        "bytes": sum(c["size"] for c in state["chunks"]),
    }
    out["manifest"] = state.get("manifest")
    return out


async def run_to_end(
    context: Context, job: Job, progress: Progress | None = None, unbounded_import: bool = False
) -> Job:
    """Continue ``job`` step after step (a CLI: every step a fresh budget and D1 facade, as a new
    invocation would have) until it ends or fails; a finished import goes on with its restore job."""
    while True:
        while job.running:
            failures = job.failures
            fresh = replace(context, db=Database(context.db.binding))
            job = await continue_job(fresh, job.id, progress, unbounded_import)
            if job.failures > failures:
                return job
        follow = job.state.get("restore_job") if job.kind == IMPORT else None
        if not follow:
            return job
        found = await store.get(context.db, follow)
        if found is None:
            return job
        job = found
