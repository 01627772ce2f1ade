"""Cron and maintenance runs in ``task_execution_records``: one row per task run, never hidden.

``run_recorded`` is how every scheduled task runs: the work is timed, an exception becomes a
``failed`` record with its message instead of propagating (one failing task must not stop the
others), and a failure to write the record itself is reported in the returned outcome.
Statuses: ``success``, ``warning`` (ran, found problems, see details), ``failed``, and ``running``: a
task that continues in later invocations (a resumable pass), whose finished outcome is recorded
under the same name when it ends.
"""

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edgenotify.clock import now_iso
from edgenotify.db import Database, Query

SUCCESS = "success"
WARNING = "warning"
FAILED = "failed"
RUNNING = "running"


@dataclass
class Outcome:
    status: str = SUCCESS
    details: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False  # the work wrote its own record, in the batch that committed its result


def record_query(
    task_name: str,
    status: str,
    execution_time: str,
    duration_ms: int,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> Query:
    """The one INSERT of a task record, as a query: a task may write it in the batch that commits its work."""
    return Query.of(
        "INSERT INTO task_execution_records (task_name, execution_time, status, error, duration_ms, details) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        task_name,
        execution_time,
        status,
        error,
        duration_ms,
        json.dumps(details, ensure_ascii=False, default=str) if details is not None else None,
    )


async def record(
    db: Database,
    task_name: str,
    status: str,
    execution_time: str,
    duration_ms: int,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    await db.execute(record_query(task_name, status, execution_time, duration_ms, details, error))


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if out.get("details"):
        try:
            out["details"] = json.loads(out["details"])
        except ValueError:
            pass
    return out


_COLUMNS = "id, task_name, execution_time, status, error, duration_ms, details"


async def latest(db: Database, task_name: str) -> dict[str, Any] | None:
    row = await db.first(
        f"SELECT {_COLUMNS} FROM task_execution_records WHERE task_name = ? ORDER BY execution_time DESC, id DESC "
        "LIMIT 1",
        task_name,
    )
    return _decode(row) if row else None


async def recent(db: Database, prefix: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first; ``prefix`` selects a family of tasks (e.g. ``maintenance``)."""
    if prefix:
        rows = await db.all(
            f"SELECT {_COLUMNS} FROM task_execution_records WHERE task_name = ? OR substr(task_name, 1, ?) = ? "
            "ORDER BY execution_time DESC, id DESC LIMIT ?",
            prefix,
            len(prefix) + 1,
            prefix + ".",
            limit,
        )
    else:
        rows = await db.all(
            f"SELECT {_COLUMNS} FROM task_execution_records ORDER BY execution_time DESC, id DESC LIMIT ?", limit
        )
    return [_decode(r) for r in rows]


async def run_recorded(db: Database, task_name: str, work: Callable[[], Awaitable[Outcome]]) -> dict[str, Any]:
    """Run ``work``, record its outcome, return it as a dict (never raises for the work's errors)."""
    started = now_iso()
    clock = time.monotonic()
    error: str | None = None
    try:
        outcome = await work()
    except Exception as exc:
        outcome = Outcome(FAILED, {})
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - clock) * 1000)
    result: dict[str, Any] = {
        "task": task_name,
        "status": outcome.status,
        "execution_time": started,
        "duration_ms": duration_ms,
        "details": outcome.details,
    }
    if error:
        result["error"] = error
    try:
        if not outcome.recorded:
            await record(db, task_name, outcome.status, started, duration_ms, outcome.details, error)
    except Exception as exc:  # the database may be the very thing that is broken: say so, keep going
        result["record_error"] = f"{type(exc).__name__}: {exc}"
    return result
