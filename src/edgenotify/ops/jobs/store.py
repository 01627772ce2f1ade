"""The ``ops_jobs`` table: one row per backup or restore job, its checkpoint in ``state``.

A job's row is written once when it starts and then only by ``save_query``, which the job puts
into the SAME D1 batch as the work it records where that work is D1 writes (a restore's replay):
the checkpoint then moves if and only if the work committed, so a kill anywhere leaves a row that
says exactly what is done.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edgenotify.clock import now_iso
from edgenotify.db import Database, Query

RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
BACKUP, RESTORE, IMPORT = "backup", "restore", "import"
_COLUMNS = (
    "id, kind, status, trigger, subject, phase, state, steps, failures, last_error, created_at, updated_at, finished_at"
)


@dataclass
class Job:
    id: str
    kind: str
    trigger: str
    subject: str | None = None
    status: str = RUNNING
    phase: str = "start"
    state: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    failures: int = 0
    last_error: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = ""
    finished_at: str | None = None

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def summary(self) -> dict[str, Any]:
        """The row without the checkpoint's bulk (chunk and part lists), for listings."""
        out = self.as_dict()
        out.pop("state")
        out["progress"] = self.state.get("progress", {})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "trigger": self.trigger,
            "subject": self.subject,
            "phase": self.phase,
            "steps": self.steps,
            "failures": self.failures,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "state": self.state,
        }


def _job(row: dict[str, Any]) -> Job:
    return Job(
        id=str(row["id"]),
        kind=str(row["kind"]),
        trigger=str(row["trigger"]),
        subject=row["subject"],
        status=str(row["status"]),
        phase=str(row["phase"]),
        state=json.loads(row["state"]),
        steps=int(row["steps"]),
        failures=int(row["failures"]),
        last_error=row["last_error"],
        created_at=str(row["created_at"]),
        updated_at=str(row["updated_at"]),
        finished_at=row["finished_at"],
    )


def _state(job: Job) -> str:
    return json.dumps(job.state, separators=(",", ":"), ensure_ascii=False)


def insert_query(job: Job) -> Query:
    job.updated_at = job.created_at
    return Query(
        f"INSERT INTO ops_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            job.id,
            job.kind,
            job.status,
            job.trigger,
            job.subject,
            job.phase,
            _state(job),
            job.steps,
            job.failures,
            job.last_error,
            job.created_at,
            job.updated_at,
            job.finished_at,
        ),
    )


def save_query(job: Job) -> Query:
    job.updated_at = now_iso()
    return Query(
        "UPDATE ops_jobs SET status = ?, phase = ?, state = ?, steps = ?, failures = ?, last_error = ?, "
        "updated_at = ?, finished_at = ? WHERE id = ?",
        (
            job.status,
            job.phase,
            _state(job),
            job.steps,
            job.failures,
            job.last_error,
            job.updated_at,
            job.finished_at,
            job.id,
        ),
    )


async def save(db: Database, job: Job) -> None:
    await db.execute(save_query(job))


def saver(db: Database) -> Callable[[Job], Awaitable[None]]:
    """``save`` bound to ``db``, for engines that checkpoint with a separate query."""

    async def save_job(job: Job) -> None:
        await save(db, job)

    return save_job


async def table_exists(db: Database) -> bool:
    """Whether ``ops_jobs`` exists: a database its migration (0003_ops_jobs) never reached has no jobs."""
    return await db.first("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'ops_jobs'") is not None


async def get(db: Database, job_id: str) -> Job | None:
    row = await db.first(f"SELECT {_COLUMNS} FROM ops_jobs WHERE id = ?", job_id)
    return _job(row) if row else None


async def running(db: Database, kind: str | None = None) -> list[Job]:
    """Running jobs, oldest first (``idx_ops_jobs_status``)."""
    if kind is None:
        rows = await db.all(f"SELECT {_COLUMNS} FROM ops_jobs WHERE status = ? ORDER BY created_at", RUNNING)
    else:
        rows = await db.all(
            f"SELECT {_COLUMNS} FROM ops_jobs WHERE status = ? AND kind = ? ORDER BY created_at", RUNNING, kind
        )
    return [_job(r) for r in rows]


async def backups_in_progress(db: Database) -> frozenset[str]:
    """Ids of the backups a running job is still writing (a backup job's own, an import's new one):
    retention must not delete them, however long they wait for their next step."""
    jobs = await running(db)
    return frozenset(str(j.subject) for j in jobs if j.kind in (BACKUP, IMPORT) and j.subject)


async def recent(db: Database, kind: str | None = None, limit: int = 50) -> list[Job]:
    if kind is None:
        rows = await db.all(f"SELECT {_COLUMNS} FROM ops_jobs ORDER BY created_at DESC, id DESC LIMIT ?", limit)
    else:
        rows = await db.all(
            f"SELECT {_COLUMNS} FROM ops_jobs WHERE kind = ? ORDER BY created_at DESC, id DESC LIMIT ?", kind, limit
        )
    return [_job(r) for r in rows]
