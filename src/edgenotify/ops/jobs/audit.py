"""Audit rows of jobs (start, outcome, failure): the one code path the API, crons and CLIs share.

Every event becomes an ``audit_logs`` row (action ``<kind>.<event>``, resource ``job``). While a
restore is replacing the data, ``audit_logs`` itself is being replaced: a row written then would be
dropped, or take an id the restore is about to insert. So a restore's events are kept in its
checkpoint (``defer``) and written by its final batch (``flush``), each with the time it happened.
"""

import json
from typing import Any

from edgenotify.clock import now_iso
from edgenotify.db import Database, Query
from edgenotify.ops.jobs.store import Job

_INSERT = (
    "INSERT INTO audit_logs (actor, action, resource_type, resource_id, details, request_id, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
REPLACING = ("replace", "data", "verify", "finish")


def _event(job: Job, event: str, details: dict[str, Any], actor: str, request_id: str | None) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": f"{job.kind}.{event}",
        "details": {"job": job.id, "subject": job.subject, "trigger": job.trigger, **details},
        "request_id": request_id or None,
        "at": now_iso(),
    }


def _query(job: Job, e: dict[str, Any]) -> Query:
    text = json.dumps(e["details"], separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str)
    return Query(_INSERT, (e["actor"], e["action"], "job", job.id, text, e["request_id"], e["at"]))


def defer(job: Job, event: str, details: dict[str, Any], actor: str = "system", request_id: str | None = None) -> None:
    job.state.setdefault("audit", []).append(_event(job, event, details, actor, request_id))


def flush(job: Job) -> list[Query]:
    """The deferred events as INSERTs (for the job's final batch); the checkpoint forgets them."""
    queries = [_query(job, e) for e in job.state.get("audit", [])]
    job.state["audit"] = []
    return queries


def deferred(job: Job) -> bool:
    return job.kind == "restore" and job.running and job.phase in REPLACING


async def record(
    db: Database, job: Job, event: str, details: dict[str, Any], actor: str = "system", request_id: str | None = None
) -> None:
    """Write the event now, or keep it in the checkpoint while a restore is replacing the data."""
    if deferred(job):
        defer(job, event, details, actor, request_id)
        return
    await db.execute(_query(job, _event(job, event, details, actor, request_id)))
