"""A backup as a resumable job: each step reads keyset pages within its budget and checkpoints.

Phases (``Job.phase``): ``schema`` (first step: ledger, schema fingerprint, D1 bookmark, header and
CREATE TABLE statements as chunk 0), ``data`` (tables in foreign-key order, page by page; a step
stops when its budget is spent and records where: table, keyset position), ``tail`` (AUTOINCREMENT
counters, indexes, views, triggers), ``finish`` (complete the upload, write the manifest LAST).

File layout and statement rules are those of ``ops.backups.sqlwriter`` / ``ops.backups.dump``: one plain gzip SQL
object that ``gunzip`` + ``wrangler d1 execute --file`` accept. What a checkpoint cannot carry
(a SHA-256 in progress, a zlib stream) never spans steps: each step's rows of a table form a
"segment" with its own digest and key range, and each step's output ends its gzip member.
A step killed anywhere is simply redone from the last checkpoint (its parts are re-uploaded under
the same numbers, its carry was written under a new key), so nothing is lost or doubled.

Consistency: each page is one query (consistent in itself); rows written while the job runs may or
may not be in it, and the manifest describes exactly the rows in the file. The schema must not
change while the job runs: a step that finds another schema fails the job.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from edgenotify.clock import iso, now_iso, parse_iso, utcnow
from edgenotify.db import Database
from edgenotify.migrations import ledger
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.dump import (
    MAX_PAGE_BYTES,
    MAX_PAGE_ROWS,
    Block,
    Page,
    TableDigest,
    TableReader,
    page_key,
    page_rows,
)
from edgenotify.ops.backups.schema import FTS5_CONTENTLESS, FTS5_EXTERNAL, Schema, TableSpec, inspect, quote_ident
from edgenotify.ops.backups.sqlwriter import (
    STATEMENT_BUDGET,
    WRANGLER_TRAPS,
    TableWriter,
    ddl_statement,
    has_forbidden_bytes,
)
from edgenotify.ops.backups.stream import DEFAULT_PART_SIZE, MIN_PART_SIZE
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.jobs.budget import Budget
from edgenotify.ops.jobs.chunks import CHUNK_SQL_BYTES, GZIP_LEVEL, ChunkWriter
from edgenotify.ops.jobs.store import COMPLETE, FAILED, Job
from edgenotify.ops.jobs.upload import ResumableUpload, new_state

Progress = Callable[[dict[str, Any]], None]
Save = Callable[[Job], Awaitable[None]]


@dataclass
class BackupOptions:
    part_size: int = DEFAULT_PART_SIZE
    page_rows: int = MAX_PAGE_ROWS
    page_bytes: int = MAX_PAGE_BYTES
    gzip_level: int = GZIP_LEVEL
    chunk_sql_bytes: int = CHUNK_SQL_BYTES

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (R2's minimum)")


class BackupFailed(Exception):
    def __init__(self, backup_id: str, message: str):
        super().__init__(f"backup {backup_id} failed: {message}")
        self.backup_id = backup_id
        self.message = message


def new_job(backup_id: str, trigger: str, database: str, options: BackupOptions | None = None) -> Job:
    state = {
        "format": mf.FORMAT_VERSION,
        "database": database,
        "options": asdict(options or BackupOptions()),
        "bookmark": None,
        "migrations": [],
        "schema_sha": None,
        "order": [],
        "table": 0,
        "after": None,
        "table_started": False,
        "tables": [],
        "chunks": [],
        "sequences": {},
        "warnings": [],
        "object": new_state(),
        "progress": {"rows_done": 0},
    }
    return Job(backup_id, "backup", trigger, subject=backup_id, phase="schema", state=state)


def fingerprint(schema: Schema) -> str:
    text = "\n".join([t.sql for t in schema.tables] + [o.sql for o in schema.others])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def take_bookmark(binding: Any) -> str | None:
    """A D1 Time Travel bookmark for "now" (``withSession().getBookmark()``), where the binding has sessions."""
    with_session = getattr(binding, "withSession", None)
    if with_session is None:
        return None
    try:
        session = with_session("first-primary")
        await session.prepare("SELECT 1").all()
        bookmark = session.getBookmark()
    except Exception:  # a binding without sessions support: the manifest says null
        return None
    return str(bookmark) if bookmark else None


def header(backup_id: str, created_at: str) -> str:
    return (
        f"-- edgenotify D1 backup {backup_id} (format {mf.FORMAT_VERSION}), created {created_at}\n"
        "-- Restore: POST /admin/backups/<id>/restore, scripts/restore, or gunzip and\n"
        "-- `wrangler d1 execute <DB> --file <file>` on an empty database.\n"
        "PRAGMA defer_foreign_keys = TRUE;\n"
    )


def table_digest(segments: list[dict[str, Any]]) -> str:
    """A table's digest: SHA-256 over its segments' digests, one per line, in key order."""
    return hashlib.sha256("".join(f"{s['sha256']}\n" for s in segments).encode("ascii")).hexdigest()


class BackupStep:
    """One invocation's share of a backup job."""

    def __init__(
        self, db: Database, bucket: Bucket, job: Job, budget: Budget, save: Save, progress: Progress | None = None
    ):
        self.db = db
        self.bucket = bucket
        self.job = job
        self.state = job.state
        self.budget = budget
        self.save = save
        self.progress = progress
        self.options = BackupOptions(**self.state["options"])
        self.upload = ResumableUpload(
            bucket, mf.data_key(job.id), self.state["object"], self.options.part_size, lambda: save(job)
        )
        self.out = ChunkWriter(self.state["chunks"], self.upload, self.options.gzip_level, self.options.chunk_sql_bytes)

    async def run(self) -> None:
        """Advance the job as far as the budget allows; ends with a saved checkpoint."""
        if self.job.phase != "finish":
            await self._produce()
        if self.job.phase == "finish" and self.budget.allows(queries=1, subrequests=6):
            await self._finish()

    async def _produce(self) -> None:
        schema = await inspect(self.db)
        if self.job.phase == "schema":
            await self._begin(schema)
        elif fingerprint(schema) != self.state["schema_sha"]:
            raise BackupFailed(self.job.id, "the schema changed while the backup ran; start a new backup")
        else:
            await self.upload.open()
        while self.job.phase == "data" and await self._table(schema):
            pass
        if self.job.phase == "tail" and self.budget.allows(queries=2, subrequests=4):
            await self._tail(schema)
        await self.out.end("data")
        await self.upload.keep_tail(f"{mf.PREFIX}{self.job.id}/carry-{self.job.steps:06d}.bin")
        self.job.steps += 1
        await self.save(self.job)
        await self.upload.drop_replaced_carry()

    async def _begin(self, schema: Schema) -> None:
        self.state["migrations"] = [m.name for m in await ledger.read_if_present(self.db)]
        self.state["schema_sha"] = fingerprint(schema)
        self.state["bookmark"] = await take_bookmark(self.db.binding)
        self.state["order"] = [t.name for t in schema.data_order()]
        await self.out.write(header(self.job.id, self.job.created_at))
        for spec in [t for t in schema.tables if not t.virtual] + [t for t in schema.tables if t.virtual]:
            await self._ddl(spec.sql, f"table {spec.name}")
        await self.out.end("schema")
        self.job.phase = "data"

    async def _ddl(self, sql: str, what: str) -> None:
        if WRANGLER_TRAPS.search(sql):
            self.state["warnings"].append(f"{what} contains BEGIN TRANSACTION or COMMIT; (wrangler would alter it)")
        await self.out.write(ddl_statement(sql))

    def _enter(self, spec: TableSpec) -> dict[str, Any]:
        entry = {"name": spec.name, "kind": spec.kind, "rows": 0, "sha256": None, "segments": []}
        self.state["tables"].append(entry)
        self.state["table_started"] = True
        return entry

    def _next_table(self) -> None:
        self.state["table"] += 1
        self.state["after"] = None
        self.state["table_started"] = False
        if self.state["table"] >= len(self.state["order"]):
            self.job.phase = "tail"

    async def _table(self, schema: Schema) -> bool:
        """Pages of the current table within the budget; True when it is done (go on with the next)."""
        if self.state["table"] >= len(self.state["order"]):
            self.job.phase = "tail"
            return False
        spec = schema.table(self.state["order"][self.state["table"]])
        if not self.state["table_started"]:
            self._enter(spec)
            if spec.kind == FTS5_EXTERNAL:
                name = quote_ident(spec.name)
                await self.out.write(f"INSERT INTO {name}({name}) VALUES('rebuild');\n")
            elif not spec.dumps_rows:
                if spec.kind == FTS5_CONTENTLESS:
                    self.state["warnings"].append(f"{spec.name}: contentless FTS5 keeps no text; restored empty")
                self._next_table()
                return True
        entry = self.state["tables"][-1]
        return await self._pages(schema, spec, entry)

    async def _pages(self, schema: Schema, spec: TableSpec, entry: dict[str, Any]) -> bool:
        opts = self.options
        reader = TableReader(self.db, spec, schema.negative_zero, opts.page_rows, opts.page_bytes)
        writer = TableWriter(spec) if spec.dumps_rows else None
        digest = TableDigest()
        after = last = self.state["after"]
        done = False
        while self.budget.allows(queries=1, subrequests=3, rows=opts.page_rows):
            started = time.monotonic()
            page = await reader.next(last)
            rows = page_rows(page)
            if rows:
                await digest.add(page)
                self.budget.rows_done += rows
                last = page_key(page)
                if writer is not None:
                    await self._write(writer, page)
                await self.out.maybe_end("data")
                self._report(spec.name, rows)
            self.budget.measure(time.monotonic() - started)
            if reader.is_last(page):
                done = True
                break
        if digest.rows:
            sha256 = await digest.finish()
            entry["segments"].append({"after": after, "until": last, "rows": digest.rows, "sha256": sha256})
            entry["rows"] += digest.rows
        self.state["after"] = last
        if done:
            entry["sha256"] = table_digest(entry["segments"])
            self._next_table()
        return done

    async def _write(self, writer: TableWriter, page: Page) -> None:
        """A block goes out as bytes, sliced; a page of rows (or a block holding the words wrangler
        would alter, rare) statement by statement."""
        if isinstance(page, Block) and not has_forbidden_bytes(page.data):
            groups = page.groups(writer.head_bytes, STATEMENT_BUDGET)
            for statement in writer.block_statements(page.data, page.spans(), groups):
                await self.out.write_bytes(statement)
            return
        for text in writer.statements(page.as_rows() if isinstance(page, Block) else page):
            await self.out.write(text)

    def _report(self, table: str, rows: int) -> None:
        progress = self.state["progress"]
        progress["rows_done"] = progress.get("rows_done", 0) + rows
        progress["table"] = table
        if self.progress is not None:
            self.progress({"table": table, **progress, "bytes": self.out.offset})

    async def _tail(self, schema: Schema) -> None:
        if schema.has_sequence:
            rows = await self.db.all("SELECT quote(name) AS name, quote(seq) AS seq, name AS raw FROM sqlite_sequence")
            dumped = {e["name"] for e in self.state["tables"]}
            kept = sorted((r for r in rows if r["raw"] in dumped), key=lambda r: str(r["raw"]))
            if kept:
                await self.out.write("DELETE FROM sqlite_sequence;\n")
                values = ",\n".join(f"({r['name']},{r['seq']})" for r in kept)
                await self.out.write(f"INSERT INTO sqlite_sequence (name, seq) VALUES\n{values};\n")
            self.state["sequences"] = {str(r["raw"]): str(r["seq"]) for r in kept}
        for kind in ("index", "view", "trigger"):
            for obj in schema.objects(kind):
                await self._ddl(obj.sql, f"{kind} {obj.name}")
        await self.out.end("tail")
        self.job.phase = "finish"

    async def _finish(self) -> None:
        """Complete the object, write the manifest (last), mark the job complete. Idempotent."""
        key = mf.data_key(self.job.id)
        expected = self.state["object"]["size"] + self.state["object"]["carry_size"]
        stored = await self.bucket.head(key)
        if stored is None or stored.size != expected:
            if self.upload.pending == 0 and self.state["object"]["carry"]:
                await self.upload.open()
            stored = await self.upload.complete()
        if stored.size != expected:
            raise BackupFailed(self.job.id, f"the stored object is {stored.size} bytes, {expected} were written")
        carries = [o.key for o in await self.bucket.list_objects(f"{mf.PREFIX}{self.job.id}/carry-")]
        await self.bucket.delete(carries)  # the current one, and any a killed step wrote before its checkpoint
        manifest = build_manifest(self.job, stored.size, stored.etag)
        await self.bucket.put(mf.manifest_key(self.job.id), mf.encode(manifest), "application/json")
        self.job.status = COMPLETE
        self.job.phase = "done"
        self.job.finished_at = now_iso()
        self.state["manifest"] = summary(manifest)
        await self.save(self.job)


def build_manifest(job: Job, size: int, etag: str) -> dict[str, Any]:
    state = job.state
    chunks = state["chunks"]
    started = parse_iso(job.created_at)
    return mf.build(
        backup_id=job.id,
        created_at=job.created_at,
        completed_at=iso(utcnow()),
        duration_ms=int((utcnow() - started).total_seconds() * 1000),
        database=state["database"],
        trigger=job.trigger,
        migrations=state["migrations"],
        tables=[mf.TableEntry(t["name"], t["kind"], t["rows"], t["sha256"], t["segments"]) for t in state["tables"]],
        sequences=state["sequences"],
        object_info={
            "key": mf.data_key(job.id),
            "size": size,
            "etag": etag,
            "compression": "gzip",
            "sql_bytes": sum(c["sql_bytes"] for c in chunks),
            "statements": sum(c["statements"] for c in chunks),
            "parts": _parts(state["object"]),
            "chunks": chunks,
        },
        warnings=state["warnings"],
        bookmark=state["bookmark"],
        steps=job.steps,
    )


def _parts(upload: dict[str, Any]) -> int:
    """Parts of the completed object (0 for a single put): the full ones plus the tail, if any."""
    if upload["upload_id"] is None:
        return 0
    return len(upload["parts"]) + (1 if upload["carry_size"] else 0)


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    obj = manifest["object"]
    return {
        "id": manifest["id"],
        "rows": manifest["totals"]["rows"],
        "tables": manifest["totals"]["tables"],
        "size": obj["size"],
        "sql_bytes": obj["sql_bytes"],
        "parts": obj["parts"],
        "chunks": len(obj["chunks"]),
        "steps": manifest.get("steps"),
        "duration_ms": manifest["duration_ms"],
        "migration": manifest["migration"]["last_applied"],
        "warnings": manifest["warnings"],
    }


async def abandon(bucket: Bucket, job: Job, reason: str) -> None:
    """Fail the job and leave nothing of it in R2 (upload aborted, carry and any stored object deleted)."""
    upload = ResumableUpload(bucket, mf.data_key(job.id), job.state["object"], MIN_PART_SIZE)
    await upload.abort()
    keys = [o.key for o in await bucket.list_objects(f"{mf.PREFIX}{job.id}/")]
    if keys:
        await bucket.delete(keys)
    job.status = FAILED
    job.last_error = reason
    job.finished_at = now_iso()
