"""A restore as a resumable, safe job: the data is replaced only once it is known to be restorable.

Phases (``Job.phase``), each resumable from the checkpoint in ``ops_jobs``:

``check``    every chunk of the object is read (ranged GETs) and its SHA-256 compared with the
             manifest, before anything is touched: a corrupt or replaced object fails the job
             here and the database keeps its data. The first read's etag is kept (``etag``)
             and every later read is conditional on it (R2's ``onlyIf``): all checked chunks
             come from one version of the object.
``quiesce``  the job row itself is the marker (``marker``): client routes answer 503 and crons
             skip their work once an isolate has seen it; the replacement waits ``quiesce_until``
             so that every isolate's cached view has expired and requests in flight have ended.
``replace``  ONE atomic D1 batch drops the views, triggers and the tables the backup recreates
             (tables the backup does not have are kept, never dropped), creates the backup's
             tables from chunk 0 and moves the checkpoint to the first data chunk.
``data``     chunk by chunk, statements in D1 batches; each batch carries the checkpoint UPDATE
             (chunk, statement reached), so the rows and the position commit together: a kill at
             any point replays nothing twice and skips nothing. The last chunk holds the
             AUTOINCREMENT counters, then indexes, views and triggers. Chunks (and chunk 0 in
             ``replace``) are read conditional on the checked etag and not hashed again: R2
             proves they are the checked object's bytes, gzip's CRC32 catches damage in transit
             (a job checked without an etag, by an older version, hashes them again).
``verify``   every table's segments (key ranges with row counts and digests) against the manifest.
``finish``   counters checked, the outcome and the audit rows written, the marker lifted.

Audit rows go to ``audit_logs`` only at the end (``audit.flush``): written earlier they would be
dropped by the replacement, or collide with the restored ids.
"""

import time
import zlib
from collections.abc import Callable
from typing import Any

from edgenotify.clock import iso, now_iso, parse_iso, utcnow
from edgenotify.db import Database, Query
from edgenotify.db.sqlsplit import StatementSplitter
from edgenotify.hashing import sha256_hex
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.restoreplan import classify
from edgenotify.ops.backups.schema import TABLE, Schema, fk_order, inspect, quote_ident
from edgenotify.ops.bucket import Body, Bucket, ObjectChanged
from edgenotify.ops.jobs import audit
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.chunks import split_by_lengths
from edgenotify.ops.jobs.store import COMPLETE, FAILED, Job, save_query
from edgenotify.ops.jobs.verify import check, row_count, segment_digest, segments_of

BATCH_STATEMENTS = 200
BATCH_BYTES = 1_000_000
SQL_BYTES_PER_ROW = 512  # a restore's CPU follows the SQL it runs; ~509 bytes per generated log row
PHASES = ("check", "quiesce", "replace", "data", "verify", "finish")


class RestoreCorrupt(Exception):
    """A chunk whose bytes do not match the manifest: nothing was replaced."""


def new_job(backup_id: str, trigger: str, force: bool, quiesce_seconds: float, job_id: str) -> Job:
    state = {
        "backup": backup_id,
        "force": force,
        "quiesce_until": iso(utcnow()) if quiesce_seconds <= 0 else _after(quiesce_seconds),
        "check": 0,
        "chunk": 1,
        "statement": 0,
        "verify": {"table": 0, "segment": 0, "bad": [], "checks": []},
        "kept": [],
        "audit": [],
        "progress": {"statements": 0, "sql_bytes": 0},
    }
    return Job(job_id, "restore", trigger, subject=backup_id, phase="check", state=state)


def _after(seconds: float) -> str:
    from datetime import timedelta

    return iso(utcnow() + timedelta(seconds=seconds))


def chunk_statements(data: bytes, chunk: dict[str, Any]) -> list[str]:
    """The statements of one chunk known to hold the checked bytes (its SHA-256 compared, or read
    on the checked etag): its size and exactly one gzip member, whose CRC32 and length zlib checks
    at its end (damage in transit)."""
    if len(data) != chunk["size"]:
        raise RestoreCorrupt(f"chunk at offset {chunk['offset']} does not have the manifest's size")
    inflater = zlib.decompressobj(31)
    try:
        text = inflater.decompress(data)
    except zlib.error as exc:
        raise RestoreCorrupt(f"chunk at offset {chunk['offset']} is not valid gzip: {exc}") from exc
    if not inflater.eof or inflater.unused_data:
        raise RestoreCorrupt(f"chunk at offset {chunk['offset']} is not exactly one gzip member")
    pieces = split_by_lengths(text)
    if pieces is not None:
        return [p.decode("utf-8") for p in pieces]
    splitter = StatementSplitter()
    return splitter.feed(text.decode("utf-8")) + splitter.close()


class RestoreStep:
    """One invocation's share of a restore job."""

    def __init__(
        self,
        db: Database,
        bucket: Bucket,
        job: Job,
        manifest: dict[str, Any],
        budget: Budget,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.db = db
        self.bucket = bucket
        self.job = job
        self.state = job.state
        self.manifest = manifest
        self.chunks: list[dict[str, Any]] = manifest["object"]["chunks"]
        self.key = manifest["object"]["key"]
        self.budget = budget
        self.progress = progress

    async def run(self) -> None:
        """Advance as far as the budget allows; every phase saves its own checkpoint."""
        while self.job.running:
            phase = self.job.phase
            if phase == "check" and not await self._check():
                return
            if phase == "quiesce" and not self._quiesced():
                return
            if phase == "replace" and not await self._replace():
                return
            if phase == "data" and not await self._data():
                return
            if phase == "verify" and not await self._verify():
                return
            if phase == "finish":
                await self._finish()
                return

    async def _read(self, chunk: dict[str, Any]) -> list[str]:
        """A chunk's statements after the check: read on the checked etag, hashed only without one."""
        etag = self.state.get("etag")
        try:
            data = await self.bucket.read(self.key, chunk["offset"], chunk["size"], etag)
        except ObjectChanged as exc:
            raise RestoreCorrupt(
                f"the backup object {self.key} changed since it was checked (etag {exc.actual}, checked "
                f"{exc.expected}): put the checked object back to continue"
            ) from exc
        if data is None:
            raise RestoreCorrupt(f"the backup object {self.key} is gone")
        if etag is None:  # nothing proves these are the checked bytes: hash them again
            progress = self.state["progress"]
            progress["rehashed"] = progress.get("rehashed", 0) + 1
            if await sha256_hex(data) != chunk["sha256"]:
                raise RestoreCorrupt(f"chunk at offset {chunk['offset']} does not match the manifest's digest")
        return chunk_statements(data, chunk)

    async def _check(self) -> bool:
        saved = self.state["check"]
        while self.state["check"] < len(self.chunks):
            if not self.budget.allows(queries=0, subrequests=2):
                break
            chunk = self.chunks[self.state["check"]]
            started = time.monotonic()
            body = await self._checked_read(chunk)
            self.budget.measure(time.monotonic() - started)
            if body is None or len(body.data) != chunk["size"] or await sha256_hex(body.data) != chunk["sha256"]:
                raise RestoreCorrupt(
                    f"chunk {self.state['check']} (offset {chunk['offset']}) differs from the manifest"
                )
            if self.state["check"] == 0:
                self.state["etag"] = body.etag  # every later read is conditional on it
            self.state["check"] += 1
        done = self.state["check"] >= len(self.chunks)
        if done:
            self.job.phase = "quiesce"
        if done or self.state["check"] != saved:
            await self._save()
        return done

    async def _checked_read(self, chunk: dict[str, Any]) -> Body | None:
        """One check read, conditional on the etag of the first (a job whose check began without
        recording one, under an older version, records none: its data phase hashes again)."""
        etag = self.state.get("etag")
        try:
            return await self.bucket.get(self.key, chunk["offset"], chunk["size"], etag)
        except ObjectChanged as exc:
            raise RestoreCorrupt(
                f"the backup object {self.key} changed during the check (etag {exc.actual}, the first "
                f"chunks were read with {exc.expected}): nothing was replaced"
            ) from exc

    def _quiesced(self) -> bool:
        if utcnow() < parse_iso(self.state["quiesce_until"]):
            return False
        self.job.phase = "replace"
        return True

    async def _replace(self) -> bool:
        if not self.budget.allows(queries=3, subrequests=1):
            return False
        creates = [s for s in await self._read(self.chunks[0]) if classify(s).kind == "table"]
        created = [str(classify(s).table) for s in creates]
        target = await inspect(self.db)
        drops, kept = drop_statements(target, set(created))
        self.state["kept"] = kept
        self.job.phase = "data"
        self.state["chunk"], self.state["statement"] = 1, 0
        self.job.steps += 1
        queries = [Query("PRAGMA defer_foreign_keys = ON"), *map(Query, drops), *map(Query, creates)]
        await self.db.batch([*queries, save_query(self.job)])
        return True

    async def _data(self) -> bool:
        while self.state["chunk"] < len(self.chunks):
            if not self.budget.allows(queries=1, subrequests=1):
                return False
            statements = await self._read(self.chunks[self.state["chunk"]])
            if not await self._replay(statements):
                return False
        self.job.phase = "verify"
        await self._save()
        return True

    async def _replay(self, statements: list[str]) -> bool:
        """Run the rest of one chunk in checkpointed batches; False when the budget ran out inside it."""
        at = self.state["statement"]
        while at < len(statements):
            batch, size = [], 0
            end = at
            while end < len(statements) and len(batch) < BATCH_STATEMENTS and size < BATCH_BYTES:
                kind = classify(statements[end]).kind
                if kind == "unsupported" or kind == "table":
                    raise RestoreCorrupt(f"a data chunk holds a statement a backup never has: {statements[end][:120]}")
                if kind != "skip":
                    batch.append(statements[end])
                    size += len(statements[end])
                end += 1
            rows = size // SQL_BYTES_PER_ROW
            if not self.budget.allows(queries=1, rows=rows):
                return False
            started = time.monotonic()
            if end >= len(statements):
                self.state["chunk"] += 1
                self.state["statement"] = 0
            else:
                self.state["statement"] = end
            progress = self.state["progress"]
            progress["statements"] += len(batch)
            progress["sql_bytes"] += size
            progress["chunk"] = self.state["chunk"]
            self.job.steps += 1
            queries = [Query("PRAGMA defer_foreign_keys = ON"), *map(Query, batch), save_query(self.job)]
            await self.db.write(queries)
            self.budget.rows_done += rows
            self.budget.measure(time.monotonic() - started)
            if self.progress is not None:
                self.progress({"phase": "data", **progress, "chunks": len(self.chunks)})
            at = end
        return True

    async def _verify(self) -> bool:
        v = self.state["verify"]
        tables = [t for t in self.manifest["tables"] if mf.verified(t)]
        schema: Schema | None = None
        first = True
        while v["table"] < len(tables):
            entry = tables[v["table"]]
            segments = segments_of(entry)
            schema = schema or await inspect(self.db)
            if entry["name"] not in schema.names:
                v["checks"].append(check(entry, None, [], "table missing"))
                v["table"], v["segment"], v["bad"] = v["table"] + 1, 0, []
                continue
            while v["segment"] < len(segments):
                segment = segments[v["segment"]]
                rows = int(segment["rows"])
                queries = rows // 2000 + 2
                if not (self.budget.allows(queries=queries, rows=rows) or (first and self.budget.allows_one(queries))):
                    await self._save()
                    return False
                first = False
                started = time.monotonic()
                digest = await segment_digest(self.db, schema, entry["name"], segment)
                self.budget.rows_done += digest.rows
                self.budget.measure(time.monotonic() - started)
                if digest.rows != rows or digest.sha256 != segment["sha256"]:
                    v["bad"].append(v["segment"])
                v["segment"] += 1
            if not self.budget.allows(queries=1):
                await self._save()
                return False
            v["checks"].append(check(entry, await row_count(self.db, entry["name"]), v["bad"]))
            v["table"], v["segment"], v["bad"] = v["table"] + 1, 0, []
        self.job.phase = "finish"
        await self._save()
        return True

    async def _finish(self) -> None:
        v = self.state["verify"]
        sequences = self.manifest.get("sequences") or {}
        sequences_ok = True
        if sequences:
            rows = await self.db.all("SELECT name, quote(seq) AS seq FROM sqlite_sequence")
            actual = {str(r["name"]): str(r["seq"]) for r in rows}
            sequences_ok = all(actual.get(k) == val for k, val in sequences.items())
        mismatches = [c["table"] for c in v["checks"] if not c["ok"]]
        ok = not mismatches and sequences_ok
        self.state["verification"] = {"ok": ok, "mismatches": mismatches, "sequences_ok": sequences_ok}
        self.job.status = COMPLETE if ok else FAILED
        self.job.phase = "done"
        self.job.finished_at = now_iso()
        if not ok:
            self.job.last_error = "restored data does not match the backup: " + (", ".join(mismatches) or "counters")
        event = "complete" if ok else "failed"
        audit.defer(self.job, event, {"verification": self.state["verification"], "steps": self.job.steps})
        await self.db.batch([*audit.flush(self.job), save_query(self.job)])
        automigrate.forget(self.db.binding)  # the schema changed under the auto-migrator

    async def _save(self) -> None:
        self.job.steps += 1
        await self.db.execute(save_query(self.job))


def drop_statements(target: Schema, recreated: set[str]) -> tuple[list[str], list[str]]:
    """Views and triggers, then the tables the backup recreates (children first); and the kept tables."""
    drops = [f"DROP TRIGGER IF EXISTS {quote_ident(o.name)}" for o in target.objects("trigger")]
    drops += [f"DROP VIEW IF EXISTS {quote_ident(o.name)}" for o in target.objects("view")]
    drops += [f"DROP TABLE IF EXISTS {quote_ident(t.name)}" for t in target.tables if t.virtual and t.name in recreated]
    ordinary = [t for t in target.tables if t.kind == TABLE and t.name in recreated]
    parents_first = fk_order([t.name for t in ordinary], {t.name: t.references for t in ordinary})
    drops += [f"DROP TABLE IF EXISTS {quote_ident(n)}" for n in reversed(parents_first)]
    kept = [t.name for t in target.tables if t.name not in recreated]
    return drops, kept


def report(job: Job) -> dict[str, Any]:
    """What an operator needs to see about a restore job."""
    out = job.summary()
    out["verification"] = job.state.get("verification")
    out["checks"] = job.state["verify"]["checks"]
    out["kept_tables"] = job.state.get("kept", [])
    return out
