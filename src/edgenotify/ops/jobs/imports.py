"""An import as a resumable job: any restore source becomes a format-3 backup in R2 first.

Why: the restore job (``ops.jobs.restore``) is the one safe way to replace the data (chunks checked
before anything is touched, one atomic replace batch, checkpointed data batches, verification, the
marker, audit). It needs a format-3 object: statement-aligned gzip members with their digests, the
schema in chunk 0, data in foreign-key order, counters, indexes, views and triggers last. A local
file (our backup, a ``wrangler d1 export`` file) or a format-2 object has none of that, so the
import rewrites it into a new backup ``backups/<id>/`` and the restore job then runs on it. While
the import runs the database is not touched at all: a kill leaves the old data as it was and a
running import job that the next step continues.

Phases (``Job.phase``), each resumable from the checkpoint in ``ops_jobs``:

``scan``     (when the caller did not scan already) one pass over the source: the plan of what it
             holds (``sourceplan``); a source that must not be restored fails the job here. The
             object's SHA-256 is checked against a source manifest when the pass fits in one step
             (a hash cannot be checkpointed); the caller has already compared its size and etag.
``schema``   chunk 0: the CREATE TABLE statements (a data-only file: the target's own, for the
             tables the file fills), and the passes the data needs (one in file order when that
             puts parents first, else one per table, parents first, then the counters).
``data``     the passes, statement after statement; a step stops within its budget and records
             the pass and the text offset reached (the next step inflates and decodes the source
             up to there again, but splits only what follows).
``tail``     indexes, views and triggers (a data-only file: those of the target that the restore
             drops), as the last chunk.
``finish``   the object completed, the manifest written LAST (tables with the source manifest's
             digests, or with their row counts and ``"verify": "rows"`` where the source has no
             digest), the source copy deleted; then ``usecases`` starts the restore job.

A step's output always ends its gzip member and keeps its unfinished part in a carry object
(``upload``), exactly like a backup step, so a kill anywhere loses and doubles nothing; a long
step (a local CLI runs imports without a Worker's limits) also checkpoints so every
``CHECKPOINT_SQL_BYTES``. A step resumed inside a pass re-reads the source up to its offset: the
price of sources (one gzip stream, a plain file) that cannot be entered in the middle.
"""

import copy
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from edgenotify.clock import iso, now_iso, parse_iso, utcnow
from edgenotify.db import Database
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.restoreplan import Plan
from edgenotify.ops.backups.schema import Schema, inspect, references
from edgenotify.ops.backups.source import Chunks, ReadStats, located
from edgenotify.ops.backups.sqlwriter import ddl_statement
from edgenotify.ops.backups.stream import DEFAULT_PART_SIZE
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.jobs import sourceplan
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.chunks import CHUNK_SQL_BYTES, GZIP_LEVEL, ChunkWriter
from edgenotify.ops.jobs.store import FAILED, IMPORT, Job, save
from edgenotify.ops.jobs.upload import ResumableUpload, new_state

UNIT_SQL_BYTES = 256 * 1024  # statements read between two budget checks
CHECKPOINT_SQL_BYTES = 64 * 1024 * 1024  # at most this much read between two checkpoints of one step
SQL_BYTES_PER_ROW = 512
Progress = Callable[[dict[str, Any]], None]
ALL_DATA = {"kinds": ["data", "sequence"]}


class ImportRefused(Exception):
    """The source must not be restored (``refusals``); nothing was written to the database."""

    def __init__(self, refusals: list[sourceplan.Refusal]):
        super().__init__("; ".join(r.message for r in refusals))
        self.refusals = refusals


def source_key(name: str) -> str:
    """Where a local file is copied before its import job reads it (deleted when the import finishes)."""
    return f"imports/{name}/source"


def new_job(
    *,
    key: str,
    label: str,
    trigger: str,
    manifest: dict[str, Any] | None,
    restore: dict[str, Any],
    plan: Plan | None = None,
    owned: bool = False,
    part_size: int = DEFAULT_PART_SIZE,
) -> Job:
    """An import of the R2 object ``key``; ``plan`` (the caller's scan) skips the scan phase; ``owned``:
    the object is a copy made for this import and goes when it is done; ``restore``: the restore
    job's options (force, quiesce_seconds); ``part_size``: of the multipart upload (tests lower it)."""
    backup_id = mf.new_backup_id(utcnow())
    if manifest is not None:  # its chunk list describes the source object, not the new one
        manifest = {**manifest, "object": {k: v for k, v in manifest["object"].items() if k != "chunks"}}
    state = {
        "source": {"key": key, "label": label, "manifest": manifest, "owned": owned},
        "plan": sourceplan.plan_state(plan or Plan()),
        "offset": 0,  # text offset reached in the current pass
        "passes": [],
        "pass": 0,
        "counters_reset": False,
        "post": [],
        "chunks": [],
        "object": new_state(),
        "part_size": part_size,
        "restore": restore,
        "restore_job": None,
        "audit": [],
        "progress": {"statements": 0, "sql_bytes": 0},
    }
    return Job(
        f"import-{backup_id}",
        IMPORT,
        trigger,
        subject=backup_id,
        phase="scan" if plan is None else "schema",
        state=state,
    )


class ImportStep:
    """One invocation's share of an import job."""

    def __init__(
        self, db: Database, bucket: Bucket, job: Job, chunks: Chunks, budget: Budget, progress: Progress | None = None
    ):
        self.db = db
        self.bucket = bucket
        self.job = job
        self.state = job.state
        self.chunks = chunks
        self.budget = budget
        self.progress = progress
        self._checkpoint = (job.phase, copy.deepcopy(job.state))
        part_size = int(self.state.get("part_size") or DEFAULT_PART_SIZE)
        self.upload = ResumableUpload(
            bucket, mf.data_key(job.subject or ""), self.state["object"], part_size, self._keep
        )
        self.out = ChunkWriter(self.state["chunks"], self.upload, GZIP_LEVEL, CHUNK_SQL_BYTES)
        self.manifest: dict[str, Any] | None = self.state["source"]["manifest"]
        self._unit_started: float | None = None  # None: the pass is still reading up to its offset
        self._uncommitted = 0  # SQL bytes read since the last checkpoint

    async def _keep(self) -> None:
        """A multipart upload was just created: record its id at once (so a dead import's upload can be
        aborted), in the LAST checkpoint, not in this step's half-done state (its chunks and position
        describe bytes still in memory, which a kill would lose)."""
        phase, state = self._checkpoint
        state = {**copy.deepcopy(state), "object": {**state["object"], "upload_id": self.state["object"]["upload_id"]}}
        await save(self.db, replace(self.job, phase=phase, state=state))

    @property
    def plan(self) -> Plan:
        return sourceplan.plan_of(self.state["plan"])

    async def run(self) -> None:
        """Advance as far as the budget allows; ends with a saved checkpoint."""
        if self.job.phase == "scan":
            await self._scan()
            await self._save()
            return
        if self.job.phase in ("schema", "data", "tail"):
            await self.upload.open()
            if self.job.phase == "schema":
                await self._schema()
            if self.job.phase == "data":
                await self._data()
            if self.job.phase == "tail":
                await self._tail()
            await self._commit()
        if self.job.phase == "finish" and self.budget.allows(queries=1, subrequests=6):
            await self._finish()

    async def _commit(self) -> None:
        """A checkpoint: the current member ended, the unfinished part kept as a carry, the state saved."""
        await self.out.end("data")
        await self.upload.keep_tail(f"{mf.PREFIX}{self.job.subject}/carry-{self.job.steps:06d}.bin")
        await self._save()
        await self.upload.drop_replaced_carry()
        self._checkpoint = (self.job.phase, copy.deepcopy(self.state))
        self._uncommitted = 0

    async def _save(self) -> None:
        self.job.steps += 1
        await save(self.db, self.job)

    async def _scan(self) -> None:
        plan, offset = self.plan, self.state["offset"]
        count = self.manifest is None
        stats = ReadStats() if offset == 0 else None
        done, size = True, 0
        async for statement, end in located(self.chunks, offset, stats):
            self._started()
            plan.add(statement, count_rows=count)
            offset = end
            size += len(statement)
            if size >= UNIT_SQL_BYTES:
                if not self._unit(size):
                    done = False
                    break
                size = 0
        self.state["plan"], self.state["offset"] = sourceplan.plan_state(plan), offset
        if not done:
            return
        problem = sourceplan.object_problem(self.manifest, stats) if stats is not None else None
        refusals = sourceplan.source_refusals(plan, self.manifest, problem)
        if refusals:
            raise ImportRefused(refusals)
        self.job.phase, self.state["offset"] = "schema", 0

    def _started(self) -> None:
        """The first statement past the offset: units are timed from here, the re-reading before it
        counts in the step's elapsed time only (else one long re-read would look like every unit's cost)."""
        if self._unit_started is None:
            self._unit_started = time.monotonic()

    def _unit(self, size: int) -> bool:
        """Account one unit of ``size`` SQL bytes; whether the next one still fits in this step."""
        rows = size // SQL_BYTES_PER_ROW
        self.budget.rows_done += rows
        now = time.monotonic()
        self.budget.measure(now - (self._unit_started or now))
        self._unit_started = now
        return self.budget.allows(queries=0, subrequests=2, rows=rows)

    async def _schema(self) -> None:
        plan = self.plan
        target = await inspect(self.db)
        if plan.has_schema:
            creates = [sql for _, sql in plan.tables]
            parents = None
        else:  # a data-only file refills the target's own tables: their DDL, and what the restore drops
            recreated = set(sourceplan.recreated_tables(plan, target))
            creates = [t.sql for t in target.tables if t.name in recreated]
            parents = {t.name: references(t.sql) for t in target.tables}
            self.state["post"] = _post_of(target, recreated)
        self.state["passes"] = _passes(plan, parents)
        await self.out.write(_header(self.job))
        for sql in creates:
            await self.out.write(ddl_statement(sql))
        await self.out.end("schema")
        self.job.phase, self.state["pass"], self.state["offset"] = "data", 0, 0

    async def _data(self) -> None:
        passes = self.state["passes"]
        while self.state["pass"] < len(passes):
            if not await self._pass(passes[self.state["pass"]]):
                return
            self.state["pass"] += 1
            self.state["offset"] = 0
        self.job.phase = "tail"

    async def _pass(self, spec: dict[str, Any]) -> bool:
        """The rest of one pass within the budget; True when the pass is done."""
        offset, size = self.state["offset"], 0
        self._unit_started = None
        progress = self.state["progress"]
        async for statement, end in located(self.chunks, offset):
            self._started()
            offset = end
            write, counter = sourceplan.wanted(spec, statement)
            size += len(statement)  # reading costs too: a per-table pass skips most of the file
            if write:
                if counter and not self.state["counters_reset"]:
                    await self.out.write(ddl_statement(sourceplan.sequence_reset(self.plan)))
                    self.state["counters_reset"] = True
                await self.out.write(ddl_statement(statement))
                await self.out.maybe_end("data")
                progress["statements"] += 1
                progress["sql_bytes"] += len(statement)
            if size >= UNIT_SQL_BYTES:
                self.state["offset"] = offset
                self._report()
                self._uncommitted += size
                if self._uncommitted >= CHECKPOINT_SQL_BYTES:  # a long step (a local CLI) checkpoints as it goes
                    await self._commit()
                if not self._unit(size):
                    return False
                size = 0
        self.state["offset"] = offset
        return True

    def _report(self) -> None:
        if self.progress is not None:
            self.progress({"phase": "import", **self.state["progress"], "passes": len(self.state["passes"])})

    async def _tail(self) -> None:
        post = self.state["post"] or [sql for _, _, sql in self.plan.post]
        for sql in post:
            await self.out.write(ddl_statement(sql))
        await self.out.end("tail")
        self.job.phase = "finish"

    async def _finish(self) -> None:
        """Complete the object, write the manifest (last), drop the source copy. Idempotent."""
        key = mf.data_key(self.job.subject or "")
        expected = self.state["object"]["size"] + self.state["object"]["carry_size"]
        stored = await self.bucket.head(key)
        if stored is None or stored.size != expected:
            if self.upload.pending == 0 and self.state["object"]["carry"]:
                await self.upload.open()
            stored = await self.upload.complete()
        carries = [o.key for o in await self.bucket.list_objects(f"{mf.PREFIX}{self.job.subject}/carry-")]
        await self.bucket.delete(carries)
        manifest = build_manifest(self.job, self.plan, stored.size, stored.etag)
        await self.bucket.put(mf.manifest_key(self.job.subject or ""), mf.encode(manifest), "application/json")
        if self.state["source"]["owned"]:
            await self.bucket.delete([self.state["source"]["key"]])
        self.job.phase = "restore"
        self.state["manifest"] = {"id": manifest["id"], "rows": manifest["totals"]["rows"], "size": stored.size}
        await self._save()


def _header(job: Job) -> str:
    return (
        f"-- edgenotify D1 backup {job.subject} (format {mf.FORMAT_VERSION}), imported {job.created_at}\n"
        f"-- from {job.state['source']['label']}\n"
        "PRAGMA defer_foreign_keys = TRUE;\n"
    )


def _passes(plan: Plan, parents: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """One pass in file order when it already puts every parent first, else one per table and the counters."""
    if plan.file_order_is_safe(parents):
        return [ALL_DATA]
    return [{"table": t} for t in plan.data_order(parents)] + [{"kinds": ["sequence"]}]


def _post_of(target: Schema, recreated: set[str]) -> list[str]:
    """The target's indexes on the tables a data-only restore recreates, and every view and trigger
    (the restore job drops them all): recreated after the data, as a full backup would."""
    indexes = [o.sql for o in target.objects("index") if o.table in recreated and o.sql]
    return indexes + [o.sql for o in target.objects("view")] + [o.sql for o in target.objects("trigger")]


def build_manifest(job: Job, plan: Plan, size: int, etag: str) -> dict[str, Any]:
    state = job.state
    source = state["source"]["manifest"]
    chunks = state["chunks"]
    if source is not None:
        tables = [_entry(t) for t in source["tables"]]
        migrations = list((source.get("migration") or {}).get("applied") or [])
    else:
        tables = [
            mf.TableEntry(name, "table", rows, None, []) for name, rows in sourceplan.expected_rows(None, plan).items()
        ]
        migrations = list(plan.ledger)
    manifest = mf.build(
        backup_id=job.subject or "",
        created_at=job.created_at,
        completed_at=iso(utcnow()),
        duration_ms=int((utcnow() - parse_iso(job.created_at)).total_seconds() * 1000),
        database=(source or {}).get("database") or "DB",
        trigger="import",
        migrations=migrations,
        tables=tables,
        sequences=(source or {}).get("sequences") or {},
        object_info={
            "key": mf.data_key(job.subject or ""),
            "size": size,
            "etag": etag,
            "compression": "gzip",
            "sql_bytes": sum(c["sql_bytes"] for c in chunks),
            "statements": sum(c["statements"] for c in chunks),
            "parts": len(state["object"]["parts"]) + (1 if state["object"]["carry_size"] else 0)
            if state["object"]["upload_id"]
            else 0,
            "chunks": chunks,
        },
        warnings=list((source or {}).get("warnings") or []),
        bookmark=None,
        steps=job.steps,
    )
    if source is None:
        for entry in manifest["tables"]:
            entry["verify"] = mf.ROWS_ONLY
    manifest["imported_from"] = {
        "label": state["source"]["label"],
        "backup": (source or {}).get("id"),
        "format_version": (source or {}).get("format_version"),
        "verify": "digests" if source is not None else "row counts: the source has no digests",
    }
    return manifest


def _entry(table: dict[str, Any]) -> mf.TableEntry:
    return mf.TableEntry(table["name"], table["kind"], int(table["rows"]), table["sha256"], table.get("segments"))


def report(job: Job) -> dict[str, Any]:
    """What an operator needs to see about an import job."""
    state = job.state
    out = job.summary()
    out["source"] = state["source"]["label"]
    out["backup"] = job.subject
    out["position"] = {"pass": state["pass"], "passes": len(state["passes"]), "offset": state["offset"]}
    out["manifest"] = state.get("manifest")
    out["restore_job"] = state.get("restore_job")
    return out


async def abandon(bucket: Bucket, job: Job, reason: str) -> None:
    """Fail the import and leave nothing of it in R2: upload aborted, its objects and the source copy deleted."""
    upload = ResumableUpload(bucket, mf.data_key(job.subject or ""), job.state["object"], DEFAULT_PART_SIZE)
    await upload.abort()
    keys = [o.key for o in await bucket.list_objects(f"{mf.PREFIX}{job.subject}/")]
    if job.state["source"]["owned"]:
        keys.append(job.state["source"]["key"])
    if keys:
        await bucket.delete(keys)
    job.status = FAILED
    job.last_error = reason
    job.finished_at = now_iso()
