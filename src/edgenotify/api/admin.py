"""Operator routes under ``/admin`` (bearer ADMIN_TOKEN): backups, restore, health, diagnostics.

The work lives in ``edgenotify.ops`` (pure Python, runs in the parity runtime too); this module
only validates requests (pydantic) and maps outcomes to HTTP. Backups and restores are
synchronous by default, so the response carries the manifest or the verification report;
``{"wait": false}`` on POST /admin/backups runs it after the response (``waitUntil``) instead.
"""

from typing import Any

from pydantic import Field

from edgenotify import errors
from edgenotify.audit import audit_query
from edgenotify.clock import utcnow
from edgenotify.context import Context
from edgenotify.errors import DomainError
from edgenotify.http.errors import error_body
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import QueryModel, StrictModel, parse_body, parse_query
from edgenotify.migrations import automigrate, ledger, status
from edgenotify.models.common import path_param
from edgenotify.ops import catalog, records, retention
from edgenotify.ops import manifest as mf
from edgenotify.ops.backup import BackupFailed, run_backup
from edgenotify.ops.backup_task import database_name, summary
from edgenotify.ops.config import load
from edgenotify.ops.restore import RestoreFailed, RestoreOptions, RestoreRefused, RestoreSource, restore
from edgenotify.ops.source import r2_chunks


class BackupCreate(StrictModel):
    wait: bool = Field(True, description="Answer when the backup is complete (false: run it after the response)")


class RestoreRequest(StrictModel):
    dry_run: bool = Field(True, description="Only report what would happen (the default)")
    force: bool = Field(False, description="Replace a target database that has rows")


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
    shown = await catalog.with_manifests(context.r2, backups[: query.limit])
    return json_response({"items": [b.as_dict(now) for b in shown], "total": len(backups)})


async def backups_status(context: Context) -> HttpResponse:
    config, _ = await load(context.db, context.env)
    now = utcnow()
    backups = await catalog.list_backups(context.r2)
    report = catalog.backup_status(backups, now, config.backup_max_age_hours)
    shown = await catalog.with_manifests(context.r2, backups[:10])
    return json_response({"health": report, "backups": [b.as_dict(now) for b in shown], "total": len(backups)})


async def _backup_now(context: Context, backup_id: str | None = None) -> dict[str, Any]:
    manifest = await run_backup(
        context.db, context.r2, trigger="api", database=database_name(context.env), backup_id=backup_id
    )
    await context.db.execute(audit_query(context, "backup.create", "backup", manifest["id"], summary(manifest)))
    return manifest


async def create_backup(context: Context) -> HttpResponse:
    body = _optional_body(context, BackupCreate)
    if not body.wait:
        backup_id = mf.new_backup_id(utcnow())

        async def later() -> None:
            try:
                await _backup_now(context, backup_id)
            except BackupFailed as exc:
                print(f"background backup failed: {exc}")

        context.wait_until(later())
        return json_response({"id": backup_id, "status": "started"}, 202)
    try:
        manifest = await _backup_now(context)
    except BackupFailed as exc:
        raise DomainError(errors.BACKUP_FAILED, exc.message) from exc
    return json_response(manifest, 201)


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


def _refused(exc: RestoreRefused) -> DomainError:
    return DomainError(errors.by_name(exc.code), exc.message)


async def restore_backup(context: Context) -> HttpResponse:
    backup_id = _backup_id(context)
    body = _optional_body(context, RestoreRequest)
    try:
        manifest = await catalog.load_manifest(context.r2, backup_id)
    except mf.ManifestError as exc:
        raise DomainError(errors.MANIFEST_INVALID, str(exc), "backup_id") from exc
    if manifest is None:
        exists = await catalog.find(context.r2, backup_id)
        if exists is None:
            raise DomainError(errors.BACKUP_NOT_FOUND, f"no backup {backup_id}", "backup_id")
        message = f"backup {backup_id} has no manifest: it failed or is still running"
        raise DomainError(errors.BACKUP_INCOMPLETE, message)
    source = RestoreSource(f"backup {backup_id}", r2_chunks(context.r2, mf.data_key(backup_id)), manifest)
    options = RestoreOptions(dry_run=body.dry_run, force=body.force)
    try:
        report = await restore(context.db, source, options)
    except RestoreRefused as exc:
        raise _refused(exc) from exc
    except RestoreFailed as exc:
        return json_response({**error_body(errors.by_name(exc.code), exc.message), "report": exc.report}, 503)
    if not body.dry_run:
        details = {"force": body.force, "rows": (manifest.get("totals") or {}).get("rows")}
        await context.db.execute(audit_query(context, "backup.restore", "backup", backup_id, details))
    return json_response(report)


async def run_retention(context: Context) -> HttpResponse:
    body = _optional_body(context, RetentionRequest)
    policy = await retention.policy_for(context)
    return json_response(await retention.enforce(context.r2, policy, dry_run=body.dry_run))


async def health(context: Context) -> HttpResponse:
    from edgenotify.ops.health import UNHEALTHY
    from edgenotify.ops.health import health as check_health

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
    from edgenotify.ops.queryplan import QueryRefused, analyze  # sqlglot only on this route, only when called

    body = parse_body(context.req, QueryPlanRequest)
    try:
        return json_response(await analyze(context.db, body.sql, body.params))
    except QueryRefused as exc:
        raise DomainError(errors.by_name(exc.code), exc.message, exc.field) from exc


async def capacity(context: Context) -> HttpResponse:
    from edgenotify.ops.capacity import capacity as project

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
    from edgenotify.ops.maintenance import run_maintenance

    return json_response(await run_maintenance(context))


def _admin(method: str, pattern: str, handler: Any, summary: str, **kw: Any) -> Route:
    return Route(method, pattern, handler, role="admin", summary=summary, **kw)


_RESTORE_ERRORS = (
    errors.BACKUP_NOT_FOUND,
    errors.BACKUP_INCOMPLETE,
    errors.MANIFEST_INVALID,
    *errors.RESTORE_REFUSALS,
    errors.RESTORE_FAILED,
    errors.RESTORE_VERIFICATION_FAILED,
)

ROUTES = [
    _admin("GET", "/admin/backups", list_backups, "List backups in R2, newest first", query_model=BackupListQuery),
    _admin(
        "POST",
        "/admin/backups",
        create_backup,
        "Back up the database to R2 now",
        request_model=BackupCreate,
        status=201,
        other_responses=((202, None),),
        errors=(errors.BACKUP_FAILED,),
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
        errors=_RESTORE_ERRORS,
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
