"""``GET /admin/health``: is the database usable, current, backed up, maintained, and not full?

Each check is ``healthy``, ``degraded`` or ``unhealthy`` with a reason; the overall status is
the worst of them. Unhealthy means the service cannot work (D1 unreachable, a restore replacing the data, a required
table missing, the database at its size limit); degraded means it works but an operator should act
(pending or edited migrations, no recent backup, failing maintenance, slow D1, size > 80%).
"""

import time
from datetime import datetime
from typing import Any

from edgenotify.clock import parse_iso, utcnow
from edgenotify.context import Context
from edgenotify.db import D1Error, Query
from edgenotify.migrations import automigrate, ledger, status
from edgenotify.ops import records
from edgenotify.ops.backups.catalog import backup_status, list_backups
from edgenotify.ops.config import OpsConfig, load
from edgenotify.ops.diagnostics.sizing import D1_MAX_BYTES, database_size, usage
from edgenotify.ops.jobs import store
from edgenotify.ops.maintenance import integrity

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
REQUIRED_TABLES = (
    "user_configs",
    "notification_templates_v2",
    "template_contents",
    "notification_logs",
    "idempotency_keys",
    "task_execution_records",
    "system_configs",
    "user_stats",
    "audit_logs",
)
SLOW_MS = 250
SIZE_DEGRADED, SIZE_UNHEALTHY = 80.0, 95.0
MAINTENANCE_MAX_AGE_HOURS = 48
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}


def check(name: str, state: str, reason: str | None = None, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "status": state, **data}
    if reason:
        out["reason"] = reason
    return out


def overall(checks: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max((c["status"] for c in checks), key=_RANK.__getitem__, default=HEALTHY)
    reasons = [f"{c['name']}: {c['reason']}" for c in checks if c["status"] != HEALTHY and c.get("reason")]
    return {"status": worst, "reasons": reasons, "checks": checks}


async def check_d1(context: Context) -> dict[str, Any]:
    clock = time.monotonic()
    await context.db.execute(Query("SELECT 1 AS ok"))
    ms = round((time.monotonic() - clock) * 1000, 2)
    state = DEGRADED if ms > SLOW_MS else HEALTHY
    return check("d1", state, f"SELECT 1 took {ms} ms (> {SLOW_MS} ms)" if state != HEALTHY else None, latency_ms=ms)


async def check_tables(context: Context) -> dict[str, Any]:
    rows = await context.db.all("SELECT name FROM sqlite_master WHERE type = 'table'")
    present = {str(r["name"]) for r in rows}
    missing = [t for t in REQUIRED_TABLES if t not in present]
    reason = f"missing table(s): {', '.join(missing)}" if missing else None
    return check("tables", UNHEALTHY if missing else HEALTHY, reason, required=list(REQUIRED_TABLES), missing=missing)


async def check_migrations(context: Context) -> dict[str, Any]:
    current = status.compare(automigrate.bundled_files(), await ledger.read_if_present(context.db))
    problems = []
    if current.pending:
        problems.append(f"pending: {', '.join(current.pending)}")
    if current.edited:
        problems.append(f"edited after being applied: {', '.join(current.edited)}")
    if current.unknown:
        problems.append(f"applied but unknown to this code: {', '.join(current.unknown)}")
    return check("migrations", DEGRADED if problems else HEALTHY, "; ".join(problems) or None, **current.as_dict())


async def check_size(context: Context) -> dict[str, Any]:
    size, source = await database_size(context.db)
    info = {**usage(size, D1_MAX_BYTES), "source": source}
    if size is None:
        return check("size", HEALTHY, None, **info, note="size not reported by this runtime")
    pct = info["percent"]
    state = UNHEALTHY if pct >= SIZE_UNHEALTHY else DEGRADED if pct >= SIZE_DEGRADED else HEALTHY
    reason = f"{pct:.1f}% of D1's 10 GB limit" if state != HEALTHY else None
    return check("size", state, reason, **info)


async def check_backups(context: Context, config: OpsConfig, now: datetime) -> dict[str, Any]:
    report = backup_status(await list_backups(context.r2), now, config.backup_max_age_hours)
    state = HEALTHY if report["status"] == "healthy" else DEGRADED
    latest = report["latest"]
    return check(
        "backups",
        state,
        "; ".join(report["reasons"]) or None,
        latest_id=latest["id"] if latest else None,
        latest_age_hours=latest["age_hours"] if latest else None,
        complete=report["checks"]["backup_count"],
        incomplete=report["checks"]["incomplete_count"],
    )


async def check_maintenance(context: Context, now: datetime) -> dict[str, Any]:
    last = await records.latest(context.db, "maintenance")
    if last is None:
        return check("maintenance", HEALTHY, None, last_run=None, note="maintenance has not run yet")
    age = (now - parse_iso(str(last["execution_time"]))).total_seconds() / 3600
    data = {"last_run": last["execution_time"], "last_status": last["status"], "age_hours": round(age, 2)}
    if last["status"] != records.SUCCESS:
        tasks = (last.get("details") or {}).get("tasks") if isinstance(last.get("details"), dict) else None
        bad = [k for k, v in (tasks or {}).items() if v not in (records.SUCCESS, records.RUNNING)]
        return check("maintenance", DEGRADED, f"last run {last['status']}: {', '.join(bad) or 'see records'}", **data)
    if age > MAINTENANCE_MAX_AGE_HOURS:
        return check("maintenance", DEGRADED, f"last run {age:.0f} h ago", **data)
    return await _integrity(context, data)


async def _integrity(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The integrity pass reports on its own record when it ends, after the run's summary: its
    findings degrade health until a later pass finds none; a pass in progress is shown as such."""
    last = await records.latest(context.db, integrity.TASK)
    if last is None:
        return check("maintenance", HEALTHY, None, **data)
    details = last.get("details") if isinstance(last.get("details"), dict) else {}
    data = {**data, "integrity": last["status"], "integrity_at": last["execution_time"]}
    if last["status"] in (records.WARNING, records.FAILED):
        problems = details.get("problems") or []
        reason = f"integrity check {last['status']}: {'; '.join(problems[:3]) or last.get('error') or 'see records'}"
        return check("maintenance", DEGRADED, reason, **data)
    if last["status"] == records.RUNNING:
        return check("maintenance", HEALTHY, None, note=f"integrity pass {details.get('job')} in progress", **data)
    return check("maintenance", HEALTHY, None, **data)


async def check_jobs(context: Context) -> dict[str, Any]:
    """A restore replacing the data makes the service unusable until it completes; a failed one degrades it."""
    running = await store.running(context.db, store.RESTORE)
    if running:
        job = running[0]
        reason = (
            f"restore job {job.id} in progress (phase {job.phase}); continue it: POST /admin/jobs/{job.id}/continue"
        )
        if job.last_error:
            reason += f"; last error: {job.last_error}"
        return check("jobs", UNHEALTHY, reason, restore=job.summary())
    latest = await store.recent(context.db, store.RESTORE, 1)
    if latest and latest[0].status == store.FAILED:
        return check("jobs", DEGRADED, f"the last restore failed: {latest[0].last_error}", restore=latest[0].summary())
    backups = await store.running(context.db, store.BACKUP)
    return check("jobs", HEALTHY, None, running_backup=backups[0].summary() if backups else None)


async def health(context: Context, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    try:
        checks = [await check_d1(context)]
    except D1Error as exc:
        return overall([check("d1", UNHEALTHY, f"D1 unreachable: {exc.message}")])
    config, _ = await load(context.db, context.env)
    probes = [
        ("jobs", lambda: check_jobs(context)),
        ("tables", lambda: check_tables(context)),
        ("migrations", lambda: check_migrations(context)),
        ("size", lambda: check_size(context)),
        ("backups", lambda: check_backups(context, config, now)),
        ("maintenance", lambda: check_maintenance(context, now)),
    ]
    for name, probe in probes:
        try:
            checks.append(await probe())
        except Exception as exc:  # one broken probe is itself a finding, not a crash
            checks.append(check(name, DEGRADED, f"check failed: {type(exc).__name__}: {exc}"))
    return overall(checks)
