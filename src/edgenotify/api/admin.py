"""Operator routes under ``/admin`` (bearer ADMIN_TOKEN): backups, restore, jobs, health, diagnostics.

The work lives in ``edgenotify.ops`` (pure Python, runs in the parity runtime too); backups and
restores are jobs driven through ``ops.jobs.usecases``, exactly as the crons and the CLIs drive
them. This module only validates requests (pydantic) and maps outcomes to HTTP: a job finished
within this request answers 201/200 with its result, one that needs more invocations answers 202
with the job (``Location: /admin/jobs/<id>``), continued by the cron tick or by
``POST /admin/jobs/<id>/continue``.
"""

from typing import Any

from pydantic import Field

from edgenotify import errors
from edgenotify.clock import utcnow
from edgenotify.context import Context
from edgenotify.errors import DomainError
from edgenotify.http.errors import error_body
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import QueryModel, StrictModel, parse_body, parse_query
from edgenotify.migrations import automigrate, ledger, status
from edgenotify.models.common import path_param
from edgenotify.ops import records
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.config import load
from edgenotify.ops.jobs import marker, store, usecases
from edgenotify.ops.jobs.usecases import JobError
from edgenotify.ops.maintenance import retention


class BackupCreate(StrictModel):
    wait: bool = Field(
        True, description="Kept for compatibility: the job starts either way and answers 201 when done, else 202"
    )


class RestoreRequest(StrictModel):
    dry_run: bool = Field(True, description="Only report what would happen (the default)")
    force: bool = Field(False, description="Replace a target database that has rows (or supersede a stuck restore)")
    quiesce_seconds: int = Field(
        int(marker.QUIESCE_SECONDS),
        ge=0,
        le=3600,
        description="Seconds between marking the database and replacing its data (0 only with no client traffic)",
    )


class JobsQuery(QueryModel):
    kind: str | None = Field(None, pattern="^(backup|restore|import|integrity)$", description="Only jobs of this kind")
    limit: int = Field(50, ge=1, le=1000, description="Jobs to show, newest first")


class RetentionRequest(StrictModel):
    dry_run: bool = Field(True, description="Only report what the policy would delete (the default)")


class QueryPlanRequest(StrictModel):
    sql: str = Field(
        min_length=1,
        max_length=100_000,
        description="One read-only SELECT",
        examples=["SELECT * FROM notification_logs WHERE user_id = ? ORDER BY created_at DESC LIMIT 10"],
    )
    params: list[str | int | float | bool | None] = Field(
        default_factory=list, max_length=100, description="Values bound to the query's ? placeholders"
    )


class BackupListQuery(QueryModel):
    limit: int = Field(50, ge=1, le=1000, description="Backups to show, newest first")


class RunsQuery(QueryModel):
    limit: int = Field(50, ge=1, le=1000, description="Runs to show, newest first")
    task: str = Field("maintenance", min_length=1, max_length=100, description="task family, e.g. maintenance")


class CapacityQuery(QueryModel):
    days: int = Field(30, ge=1, le=365, description="growth window in days")


def _optional_body(context: Context, model: type) -> Any:
    return parse_body(context.req, model) if context.req.body.strip() else model()


def _backup_id(context: Context) -> str:
    return path_param(context.req, "backup_id")


async def list_backups(context: Context) -> HttpResponse:
    query = parse_query(context.req, BackupListQuery)
    now = utcnow()
    backups = await catalog.list_backups(context.r2)
    shown = backups[: query.limit]
    return json_response({"items": [b.as_dict(now) for b in shown], "total": len(backups)})


async def backups_status(context: Context) -> HttpResponse:
    config, _ = await load(context.db, context.env)
    now = utcnow()
    backups = await catalog.list_backups(context.r2)
    report = catalog.backup_status(backups, now, config.backup_max_age_hours)
    shown = backups[:10]
    return json_response({"health": report, "backups": [b.as_dict(now) for b in shown], "total": len(backups)})


def _job_error(exc: JobError, field: str | None = None) -> DomainError:
    """The registered code a job refusal names (its status follows the code's kind, see errors.py)."""
    return DomainError(errors.by_name(exc.code), exc.message, field if exc.reason == usecases.NOT_FOUND else None)


def _accepted(body: dict[str, Any], job_id: str) -> HttpResponse:
    return json_response(body, 202, {"location": f"/admin/jobs/{job_id}"})


async def create_backup(context: Context) -> HttpResponse:
    _optional_body(context, BackupCreate)
    try:
        job = await usecases.start_backup(context, "api")
    except JobError as exc:
        raise _job_error(exc) from exc
    if job.status == "complete":
        manifest = await catalog.load_manifest(context.r2, job.id)
        return json_response(manifest, 201)
    if job.status == "failed":
        raise DomainError(errors.BACKUP_FAILED, job.last_error or "backup failed")
    return _accepted(usecases.describe(job), job.id)


async def get_backup(context: Context) -> HttpResponse:
    backup_id = _backup_id(context)
    info = await catalog.find(context.r2, backup_id)
    if info is None:
        raise DomainError(errors.BACKUP_NOT_FOUND, f"no backup {backup_id}", "backup_id")
    out = info.as_dict(utcnow())
    try:
        out["manifest"] = await catalog.load_manifest(context.r2, backup_id)
    except mf.ManifestError as exc:
        out["manifest_error"] = str(exc)
    return json_response(out)


async def restore_backup(context: Context) -> HttpResponse:
    backup_id = _backup_id(context)
    body = _optional_body(context, RestoreRequest)
    try:
        result = await usecases.start_restore(
            context, backup_id, force=body.force, dry_run=body.dry_run, quiesce_seconds=body.quiesce_seconds
        )
    except JobError as exc:
        raise _job_error(exc, "backup_id") from exc
    job = result.get("job")
    if job is None or job["status"] == "complete":
        return json_response(result)
    if job["status"] == "failed":
        return json_response(
            {**error_body(errors.RESTORE_FAILED, job["last_error"] or "restore failed"), "job": job}, 503
        )
    return _accepted(result, job["id"])


def _job_id(context: Context) -> str:
    return path_param(context.req, "job_id")


async def list_jobs(context: Context) -> HttpResponse:
    query = parse_query(context.req, JobsQuery)
    return json_response({"items": await usecases.list_jobs(context, query.kind, query.limit)})


async def get_job(context: Context) -> HttpResponse:
    try:
        return json_response(await usecases.show_job(context, _job_id(context)))
    except JobError as exc:
        raise _job_error(exc, "job_id") from exc


async def continue_job(context: Context) -> HttpResponse:
    try:
        job = await usecases.continue_job(context, _job_id(context))
    except JobError as exc:
        raise _job_error(exc, "job_id") from exc
    described = usecases.describe(job)
    return _accepted(described, job.id) if job.running else json_response(described)


async def run_retention(context: Context) -> HttpResponse:
    body = _optional_body(context, RetentionRequest)
    policy = await retention.policy_for(context)
    running = await store.backups_in_progress(context.db)
    reads = retention.read_budget(context)
    return json_response(
        await retention.enforce(context.r2, policy, dry_run=body.dry_run, running=running, reads=reads)
    )


async def health(context: Context) -> HttpResponse:
    from edgenotify.ops.diagnostics.health import UNHEALTHY
    from edgenotify.ops.diagnostics.health import health as check_health

    report = await check_health(context)
    return json_response(report, 503 if report["status"] == UNHEALTHY else 200)


async def migrations(context: Context) -> HttpResponse:
    files = automigrate.bundled_files()
    applied = await ledger.read_if_present(context.db)
    current = status.compare(files, applied)
    return json_response(
        {
            **current.as_dict(),
            "ledger": [{"id": m.id, "name": m.name, "applied_at": m.applied_at, "sha256": m.sha256} for m in applied],
            "files": [{"name": f.name, "sha256": f.sha256} for f in files],
        }
    )


async def query_plan(context: Context) -> HttpResponse:
    from edgenotify.ops.diagnostics.queryplan import (  # sqlglot only on this route, only when called
        QueryRefused,
        analyze,
    )

    body = parse_body(context.req, QueryPlanRequest)
    try:
        return json_response(await analyze(context.db, body.sql, body.params))
    except QueryRefused as exc:
        raise DomainError(errors.by_name(exc.code), exc.message, exc.field) from exc


async def capacity(context: Context) -> HttpResponse:
    from edgenotify.ops.diagnostics.capacity import capacity as project

    query = parse_query(context.req, CapacityQuery)
    config, _ = await load(context.db, context.env)
    report = await project(context.db, window_days=query.days, log_retention_days=config.log_retention_days)
    return json_response(report)


async def maintenance_runs(context: Context) -> HttpResponse:
    query = parse_query(context.req, RunsQuery)
    items = await records.recent(context.db, query.task, query.limit)
    latest = next((r for r in items if r["task_name"] == query.task), None)
    return json_response({"latest": latest, "items": items})


async def run_maintenance_now(context: Context) -> HttpResponse:
    from edgenotify.ops.maintenance.run import run_maintenance

    return json_response(await run_maintenance(context))


def _admin(method: str, pattern: str, handler: Any, summary: str, **kw: Any) -> Route:
    return Route(method, pattern, handler, role="admin", summary=summary, **kw)


_RESTORE_ERRORS = (
    errors.INVALID_BACKUP_ID,
    errors.BACKUP_NOT_FOUND,
    errors.BACKUP_INCOMPLETE,
    errors.MANIFEST_INVALID,
    errors.BACKUP_RUNNING,
    errors.RESTORE_RUNNING,
    *errors.RESTORE_REFUSALS,
    errors.RESTORE_FAILED,
    errors.MIGRATIONS_PENDING,
)

ROUTES = [
    _admin("GET", "/admin/backups", list_backups, "List backups in R2, newest first", query_model=BackupListQuery),
    _admin(
        "POST",
        "/admin/backups",
        create_backup,
        "Start a backup job (201 with the manifest when it finished in this request, else 202 with the job)",
        request_model=BackupCreate,
        status=201,
        other_responses=((202, None),),
        errors=(errors.BACKUP_FAILED, errors.BACKUP_RUNNING, errors.RESTORE_RUNNING, errors.MIGRATIONS_PENDING),
    ),
    _admin("GET", "/admin/backups/status", backups_status, "Backup health: a complete backup within 24 h"),
    _admin("POST", "/admin/backups/retention", run_retention, "Apply backup retention", request_model=RetentionRequest),
    _admin(
        "GET",
        "/admin/backups/{backup_id}",
        get_backup,
        "One backup and its manifest",
        errors=(errors.BACKUP_NOT_FOUND,),
    ),
    _admin(
        "POST",
        "/admin/backups/{backup_id}/restore",
        restore_backup,
        "Restore a backup (dry run by default; force replaces a non-empty database)",
        request_model=RestoreRequest,
        other_responses=((202, None), (503, None)),
        errors=_RESTORE_ERRORS,
    ),
    _admin(
        "GET",
        "/admin/jobs",
        list_jobs,
        "Backup, restore, import and integrity jobs, newest first",
        query_model=JobsQuery,
    ),
    _admin("GET", "/admin/jobs/{job_id}", get_job, "One job: phase, position, outcome", errors=(errors.JOB_NOT_FOUND,)),
    _admin(
        "POST",
        "/admin/jobs/{job_id}/continue",
        continue_job,
        "Run the next step of a job now (200 when it ended, 202 while it runs)",
        other_responses=((202, None),),
        errors=(errors.JOB_NOT_FOUND,),
    ),
    _admin(
        "GET",
        "/admin/health",
        health,
        "Database health: latency, tables, migrations, backups, size",
        other_responses=((503, None),),
    ),
    _admin("GET", "/admin/migrations", migrations, "Migration ledger, pending and edited files"),
    _admin(
        "POST",
        "/admin/query-plan",
        query_plan,
        "EXPLAIN QUERY PLAN of one SELECT",
        request_model=QueryPlanRequest,
        errors=errors.QUERY_REFUSALS,
    ),
    _admin("GET", "/admin/capacity", capacity, "Rows, growth and size projections", query_model=CapacityQuery),
    _admin("GET", "/admin/maintenance/runs", maintenance_runs, "Recent maintenance task runs", query_model=RunsQuery),
    _admin("POST", "/admin/maintenance/run", run_maintenance_now, "Run the maintenance tasks now"),
]
