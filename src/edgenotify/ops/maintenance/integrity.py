"""The integrity check as a resumable pass: bounded queries, a checkpoint in D1, one report at the end.

One ``PRAGMA quick_check`` of the whole database, or one aggregate over every log row, can outlast
D1's 30 s per-query limit on a 10 GB database (about 11.7M log rows), and one invocation's budget.
So a pass is a job (kind ``integrity`` in ``ops_jobs``, like backups and restores: its checkpoint is
never backed up or restored, ``/admin/jobs`` lists it, the every-minute job tick continues it) made
of units of one query each:

* ``PRAGMA quick_check("<table>")`` per table (its b-tree and its indexes) and
  ``PRAGMA foreign_key_check("<table>")`` per table that declares foreign keys (both accepted by
  D1's authorizer with a table argument, checked on Miniflare; SQLite has both since 3.33);
* the data checks, each over keyset ranges of at most ``range_rows`` rows (``rowid > ? ORDER BY
  rowid LIMIT ?``), so a query reads a bounded number of rows whatever the table's size.

A step runs units while its budget (``ops.jobs.budget``) allows, then saves the checkpoint once:
the unit reached, the range position and the findings so far move together, so a step killed
anywhere is redone from the last checkpoint and nothing is counted twice or skipped. The outcome is
reported once, when the last unit is done: the ``maintenance.integrity`` task record is written in
the batch that marks the job complete. Until then the pass is ``running``, never a success, and the
report names exactly the tables and the rows that were checked.

A unit whose query fails (a table gone, a query past D1's time limit) is retried by the next
steps; after ``MAX_FAILURES`` it is reported as "not checked" with its error (a problem, so the
outcome is a warning) and the pass goes on. Still unbounded: ``quick_check`` of one table reads
that whole table and its indexes in one query (SQLite has no ranged form), so the largest table
bounds that unit; should it outlast the per-query limit, it is the one reported "not checked".
"""

import time
from dataclasses import dataclass
from typing import Any

from edgenotify.clock import now_iso, parse_iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.db.catalog import Catalog, quote_ident, read_catalog
from edgenotify.limits import Limits
from edgenotify.notify.stats import STATUSES
from edgenotify.ops import records
from edgenotify.ops.backups.manifest import new_backup_id
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.jobs import store
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.store import COMPLETE, Job

KIND = "integrity"
TASK = "maintenance.integrity"
MAX_FAILURES = 3
MAX_RANGES = 5  # per finding: where it was seen (the first ranges), enough to find the rows
ISO_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z"
_STATUSES = ", ".join(f"'{s}'" for s in STATUSES)


class UnitFailed(Exception):
    """A unit's query failed (a table gone, D1's per-query time limit): counted against that unit."""


@dataclass(frozen=True)
class DataCheck:
    """Counts of ``conditions`` (SQL over the range's rows ``r``) in ``table``, range by range."""

    name: str
    table: str
    columns: tuple[str, ...]  # what the conditions read: only these are read (no overflow pages of others)
    conditions: dict[str, str]
    problem: str = "{count} row(s) of {table}: {what}"  # how a non-zero count is reported
    params: tuple[str, ...] = ()  # state values bound, in order, to the conditions' ``?``
    informative: tuple[str, ...] = ()  # counts reported as figures, not problems


DATA_CHECKS = (
    DataCheck(
        "template_contents",
        "template_contents",
        ("template_key",),
        {
            "without_template": "NOT EXISTS (SELECT 1 FROM notification_templates_v2 t "
            "WHERE t.template_key = r.template_key)"
        },
        "{count} template content(s) without their template",
    ),
    DataCheck(
        "notification_logs",
        "notification_logs",
        ("status", "sent_at", "error", "user_id", "channel_type", "retry_count", "created_at"),
        {
            "bad_status": f"r.status NOT IN ({_STATUSES})",
            "success_without_sent_at": "r.status = 'success' AND r.sent_at IS NULL",
            "failed_without_error": "r.status = 'failed' AND (r.error IS NULL OR r.error = '')",
            "missing_user_or_channel": "r.user_id = '' OR r.channel_type = ''",
            "negative_retry_count": "r.retry_count < 0",
            "bad_created_at": f"r.created_at NOT GLOB '{ISO_GLOB}'",
        },
        "{count} notification log(s): {what}",
    ),
    DataCheck(
        "delivery_attempts",
        "delivery_attempts",
        ("message_id",),
        {"without_log": "NOT EXISTS (SELECT 1 FROM notification_logs l WHERE l.message_id = r.message_id)"},
        "{count} delivery attempt(s) without their log",
    ),
    DataCheck(
        "idempotency_keys",
        "idempotency_keys",
        ("expires_at",),
        {"expired": "r.expires_at <= ?"},
        params=("now",),
        informative=("expired",),
    ),
)
CHECKS = {c.name: c for c in DATA_CHECKS}


def range_query(check: DataCheck, after: int | None, rows: int, state: dict[str, Any]) -> Query:
    """One bounded range of ``check``: the rows scanned, the last rowid, each condition's count."""
    sums = ", ".join(f"coalesce(sum({cond}), 0) AS {name}" for name, cond in check.conditions.items())
    where, position = ("", ()) if after is None else ("WHERE rowid > ? ", (after,))
    sql = (
        f"SELECT count(*) AS scanned, max(r.k) AS last, {sums} FROM "
        f"(SELECT rowid AS k, {', '.join(check.columns)} FROM {quote_ident(check.table)} {where}"
        "ORDER BY rowid LIMIT ?) r"
    )
    return Query(sql, (*(state[p] for p in check.params), *position, rows))


def plan(catalog: Catalog) -> list[dict[str, str]]:
    """Every unit of a pass over this schema: quick_check per stored table, foreign_key_check per
    table with foreign keys, then the data checks whose table exists."""
    tables = [t for t in catalog.tables.values() if t.kind in ("table", "shadow")]
    units = [{"check": "quick_check", "table": t.name} for t in tables]
    units += [{"check": "foreign_key_check", "table": t.name} for t in tables if t.foreign_keys]
    units += [{"check": "data", "name": c.name} for c in DATA_CHECKS if catalog.has(c.table)]
    return units


def fresh_state(range_rows: int, units: list[dict[str, str]]) -> dict[str, Any]:
    """A pass's checkpoint before its first unit; ``now`` is when it was planned."""
    return {
        "now": now_iso(),
        "range_rows": range_rows,
        "units": units,
        "unit": 0,
        "after": None,
        "unit_failures": 0,  # of the current unit, in a row
        "not_checked": [],  # units given up after MAX_FAILURES, with their error
        "quick_check": {},  # table -> the messages quick_check returned ("ok" alone when sound)
        "foreign_keys": {},  # table -> violations found
        "data": {},  # check -> {"scanned": rows, "counts": {...}, "where": {finding: [[after, last]]}}
        "progress": {"units_done": 0, "units": len(units), "rows_scanned": 0},
    }


def new_job(trigger: str, range_rows: int, units: list[dict[str, str]]) -> Job:
    state = fresh_state(range_rows, units)
    return Job(f"{KIND}-{new_backup_id(utcnow())}", KIND, trigger, phase="check", state=state)


def next_unit(state: dict[str, Any]) -> None:
    state["unit"] += 1
    state["after"] = None
    state["unit_failures"] = 0
    state["progress"]["units_done"] = state["unit"]


class IntegrityStep:
    """One invocation's share of a pass: units while the budget allows, then one checkpoint."""

    def __init__(self, db: Database, job: Job, budget: Budget):
        self.db = db
        self.job = job
        self.state = job.state
        self.budget = budget

    @property
    def done(self) -> bool:
        return self.state["unit"] >= len(self.state["units"])

    def _fits(self) -> bool:
        rows = self.state["range_rows"]
        return self.budget.allows(queries=1, rows=rows) or (self.budget.units == 0 and self.budget.allows_one(1))

    async def run(self) -> None:
        while not self.done and self._fits():
            started = time.monotonic()
            try:
                await self._unit(self.state["units"][self.state["unit"]])
            except Exception as exc:
                raise UnitFailed(f"{type(exc).__name__}: {exc}") from exc
            self.budget.measure(time.monotonic() - started)
        self.job.steps += 1
        if not self.done:
            await store.save(self.db, self.job)
            return
        outcome = summarise(self.state)
        self.job.status, self.job.phase, self.job.finished_at = COMPLETE, "done", now_iso()
        self.state["outcome"] = {"status": outcome.status, "problems": outcome.details["problems"]}
        await self.db.batch([store.save_query(self.job), final_record(self.job, outcome)])

    async def _unit(self, unit: dict[str, str]) -> None:
        if unit["check"] == "data":
            finished = await self._range(CHECKS[unit["name"]])
        else:
            rows = await self.db.all(f"PRAGMA {unit['check']}({quote_ident(unit['table'])})")
            if unit["check"] == "quick_check":
                self.state["quick_check"][unit["table"]] = [str(next(iter(r.values()))) for r in rows][:10]
            else:
                self.state["foreign_keys"][unit["table"]] = len(rows)
            finished = True
        if finished:
            next_unit(self.state)

    async def _range(self, check: DataCheck) -> bool:
        """The next range of ``check``; True when the table has no rows left."""
        rows = self.state["range_rows"]
        result = (await self.db.execute(range_query(check, self.state["after"], rows, self.state))).rows[0]
        scanned = int(result["scanned"])
        entry = self.state["data"].setdefault(check.name, {"scanned": 0, "counts": {}, "where": {}})
        entry["scanned"] += scanned
        self.budget.rows_done += scanned
        self.state["progress"]["rows_scanned"] += scanned
        for name in check.conditions:
            count = int(result[name])
            entry["counts"][name] = entry["counts"].get(name, 0) + count
            where = entry["where"].setdefault(name, [])
            if count and len(where) < MAX_RANGES:
                where.append([self.state["after"], result["last"]])
        if scanned < rows:
            return True
        self.state["after"] = int(result["last"])
        return False


def problems_of(state: dict[str, Any]) -> list[str]:
    problems = [
        f"quick_check({table}): {'; '.join(messages)}"
        for table, messages in state["quick_check"].items()
        if messages != ["ok"]
    ]
    problems += [f"{n} foreign key violation(s) in {table}" for table, n in state["foreign_keys"].items() if n]
    for unit in state["not_checked"]:
        what = unit.get("table") or f"{unit.get('name')} rows after rowid {unit['after']}"
        problems.append(f"{unit['check']}({what}) not checked: {unit['error']}")
    for name, entry in state["data"].items():
        check = CHECKS[name]
        for what, count in entry["counts"].items():
            if count and what not in check.informative:
                problems.append(check.problem.format(count=count, table=check.table, what=what.replace("_", " ")))
    return problems


def summarise(state: dict[str, Any]) -> records.Outcome:
    """The finished pass as a task outcome: a warning with every problem, else a success."""
    problems = problems_of(state)
    details = {**report_of(state), "problems": problems}
    return records.Outcome(records.WARNING if problems else records.SUCCESS, details)


def report_of(state: dict[str, Any]) -> dict[str, Any]:
    """What was checked (exactly: tables, rows per data check) and what was found so far."""
    data = state["data"]
    logs = data.get("notification_logs", {"counts": {}})
    expired = data.get("idempotency_keys", {"counts": {}})["counts"].get("expired")
    return {
        "quick_check": sorted({m for messages in state["quick_check"].values() for m in messages}),
        "checked": {
            "quick_check": sorted(state["quick_check"]),
            "foreign_key_check": sorted(state["foreign_keys"]),
            "rows": {name: entry["scanned"] for name, entry in data.items()},
        },
        "not_checked": state["not_checked"],
        "foreign_key_violations": sum(state["foreign_keys"].values()),
        "invalid_logs": {k: v for k, v in logs["counts"].items() if v},
        "expired_idempotency_keys": expired,
        "where": {f"{n}.{what}": ranges for n, e in data.items() for what, ranges in e["where"].items() if ranges},
        "range_rows": state["range_rows"],
        "progress": state["progress"],
    }


def final_record(job: Job, outcome: records.Outcome, error: str | None = None) -> Query:
    """The pass's one task record, stamped when it ends (so it is the newest ``maintenance.integrity``)."""
    duration_ms = int((utcnow() - parse_iso(job.created_at)).total_seconds() * 1000)
    details = {"job": job.id, "started_at": job.created_at, "steps": job.steps, **outcome.details}
    return records.record_query(TASK, outcome.status, now_iso(), duration_ms, details, error)


def report(job: Job) -> dict[str, Any]:
    """A pass for people (``/admin/jobs/<id>``, the task outcome while it runs)."""
    out = job.summary()
    out["report"] = report_of(job.state)
    out["outcome"] = job.state.get("outcome")
    return out


async def _failed(db: Database, job: Job, exc: Exception) -> Job:
    """Count a failed step. The units before the failing one keep their results (each is updated
    only once its query returned), so the step's progress up to it is saved; a unit that fails
    MAX_FAILURES times is left "not checked" (reported as a problem, never as checked) and the
    pass goes on, so one table that D1 cannot check in one query does not stop every other check."""
    if await store.get(db, job.id) is None:  # the row itself is gone: nothing to record against
        raise exc
    job.status, job.phase, job.finished_at = store.RUNNING, "check", None  # a failed final batch did not end it
    job.state.pop("outcome", None)
    job.failures += 1
    job.last_error = f"{type(exc).__name__}: {exc}"
    state = job.state
    if isinstance(exc, UnitFailed):
        state["unit_failures"] += 1
        if state["unit_failures"] >= MAX_FAILURES:
            unit = state["units"][state["unit"]]
            state["not_checked"].append({**unit, "after": state["after"], "error": str(exc)})
            next_unit(state)
    await store.save(db, job)
    return job


async def _restore_since(db: Database, job: Job) -> Job | None:
    """The latest restore job, when it is running or ended after the pass was planned."""
    latest = await store.recent(db, store.RESTORE, 1)
    if latest and (latest[0].running or (latest[0].finished_at or "") > job.state["now"]):
        return latest[0]
    return None


async def advance(context: Context, job: Job) -> Job:
    """Run the pass's next step within this invocation's budget; a failure is counted, not raised.

    While a restore replaces the data the pass waits; after one, it starts over (planned anew, its
    findings so far dropped): what it had checked is no longer the data."""
    db = context.db
    budget = Budget.for_invocation(Limits.from_env(context.env), KIND, db, Bucket(context.r2))
    try:
        restore = await _restore_since(db, job)
        if restore is not None and restore.running:
            return job
        if restore is not None:
            replanned = fresh_state(job.state["range_rows"], plan(await read_catalog(db)))
            job.state = {**replanned, "restarted": f"restore job {restore.id} replaced the data"}
        await IntegrityStep(db, job, budget).run()
    except Exception as exc:
        return await _failed(db, job, exc)
    return job


async def start_or_continue(context: Context, trigger: str, range_rows: int) -> Job:
    """Continue the running pass, or start one (planned from the schema now) and run its first step."""
    running = await store.running(context.db, KIND)
    if running:
        return await advance(context, running[0])
    job = new_job(trigger, range_rows, plan(await read_catalog(context.db)))
    await context.db.execute(store.insert_query(job))
    return await advance(context, job)


def outcome(job: Job) -> records.Outcome:
    """The task outcome of a step: ``running`` while the pass goes on; once it ended, its outcome,
    whose record the step already wrote with the job's final checkpoint."""
    details = {"job": job.id, "steps": job.steps, "last_error": job.last_error, **report_of(job.state)}
    if job.running:
        return records.Outcome(records.RUNNING, details)
    ended = job.state.get("outcome") or {"status": records.FAILED, "problems": []}
    return records.Outcome(ended["status"], {**details, "problems": ended["problems"]}, recorded=True)
