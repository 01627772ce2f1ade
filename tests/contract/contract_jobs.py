"""Backup and restore jobs across many invocations, with kills, through the use cases (``ops.jobs``).

The worker's limits are lowered for these contracts (``LIMIT_D1_QUERIES=20``) by wrapping ``env``,
so a backup and a restore each take many steps, and every other step is first killed inside at its N-th
D1 call (before or after the call) by a FAULT-INJECTION subclass of the D1 facade that raises a
BaseException, as a runtime limit ends an isolate: no handler runs, only the checkpoint survives.
The R2 facade's multipart path (create, upload by resumed upload id, complete, ranged read) is
checked on its own with a real 5 MiB part. Observations hold outcomes only: step counts depend on
each runtime's speed.
"""

import gzip
import hashlib
import random
from typing import Any

from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.env import Settings
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import run_backup
from edgenotify.ops.backups.dump import digest_table
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.bucket import MIN_PART_SIZE, Bucket
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.jobs.backup import BackupOptions
from tests.contract.contracts import contract
from tests.contract.support import clear_r2, reset_database

LIMITS = {"LIMIT_D1_QUERIES": "20", "LIMIT_CPU_MS": "5000"}
ROWS = 160


class Killed(BaseException):
    """The isolate died mid-step."""


class _LimitedEnv:
    """The worker's env with lowered limits (vars a deployment would set)."""

    def __init__(self, env: Any):
        self._env = env
        self.__dict__.update(LIMITS)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


class _KillingDatabase(Database):
    """FAULT INJECTION: the D1 call numbered ``at`` dies before (or after) it reaches D1."""

    def __init__(self, binding: Any, at: int | None, after: bool):
        super().__init__(binding)
        self.at, self.after, self.count = at, after, 0

    async def _call(self, work: Any) -> Any:
        self.count += 1
        if self.count == self.at and not self.after:
            work.close()
            raise Killed()
        result = await work
        if self.count == self.at:
            raise Killed()
        return result

    async def execute(self, query: Any) -> Any:
        return await self._call(super().execute(query))

    async def values(self, sql: str, *params: Any) -> Any:
        return await self._call(super().values(sql, *params))

    async def batch(self, queries: Any) -> Any:
        return await self._call(super().batch(queries))


def _context(env: Any, at: int | None = None, after: bool = False) -> tuple[Context, _KillingDatabase]:
    limited = _LimitedEnv(env)
    db = _KillingDatabase(env.DB, at, after)
    return Context(limited, None, Settings.from_env(limited), db), db


async def _drive(env: Any, job_id: str) -> dict[str, Any]:
    kills, most, n = 0, 0, 0
    while True:
        job = await store.get(Database(env.DB), job_id)
        assert job is not None and job.failures == 0, job and job.last_error
        if not job.running:
            return {"job": job, "kills": kills, "most_d1_calls": most}
        n += 1
        if n % 2:  # every other step is killed inside, at a different call each time
            context, _ = _context(env, at=1 + n % 7, after=n % 4 == 1)
            try:
                await usecases.continue_job(context, job_id)
            except Killed:
                kills += 1
        context, db = _context(env)
        await usecases.continue_job(context, job_id)
        most = max(most, db.round_trips)


async def _digest(db: Database) -> list[Any]:
    schema = await inspect(db)
    d = await digest_table(db, schema.table("c_jobs_rows"), schema.negative_zero)
    return [d.rows, d.sha256]


@contract
async def jobs_backup_and_restore_across_invocations_with_kills(env: Any) -> Any:
    await clear_r2(env.BACKUPS, mf.PREFIX)
    await reset_database(env.DB)
    automigrate.forget(env.DB)
    await automigrate.ensure_migrated(env.DB)
    db = Database(env.DB)
    await db.run("CREATE TABLE c_jobs_rows (id INTEGER PRIMARY KEY, t TEXT, r REAL, b BLOB)")
    rows = [
        Query.of("INSERT INTO c_jobs_rows (t, r, b) VALUES (?, ?, ?)", f"row {i} é", i / 7, bytes([i % 256]) * (i % 50))
        for i in range(ROWS)
    ]
    for start in range(0, ROWS, 100):
        await db.batch(rows[start : start + 100])
    before = await _digest(db)

    context, _ = _context(env)
    job = await usecases.start_backup(context, "contract", options=BackupOptions(page_rows=20))
    backup = await _drive(env, job.id)
    manifest = await catalog.load_manifest(env.BACKUPS, job.id)
    table = next(t for t in manifest["tables"] if t["name"] == "c_jobs_rows")

    await reset_database(env.DB)  # an empty database, migrated: the restore needs no force
    automigrate.forget(env.DB)
    await automigrate.ensure_migrated(env.DB)
    context, _ = _context(env)
    started = await usecases.start_restore(context, job.id, dry_run=False, quiesce_seconds=0, trigger="contract")
    restore = await _drive(env, started["job"]["id"])
    restored = restore["job"]
    after = await _digest(db)
    assert after == before, (after, before)
    return {
        "backup": backup["job"].status,
        "restore": restored.status,
        "verification": restored.state["verification"],
        "rows": table["rows"],
        "segments_many": len(table["segments"]) > 1,
        "chunks_many": len(manifest["object"]["chunks"]) > 2,
        "kills": backup["kills"] >= 2 and restore["kills"] >= 2,
        "within_limit": backup["most_d1_calls"] <= 20 and restore["most_d1_calls"] <= 20,
        "bookmark_taken": manifest["bookmark"] is not None,
        "digest_equal": after == before,
        # the restore read every chunk after the check on the checked etag, hashing none again
        "rehashed": restored.state["progress"].get("rehashed", 0),
        "etag_checked": restored.state.get("etag") == (await Bucket(env.BACKUPS).head(manifest["object"]["key"])).etag,
    }


@contract
async def jobs_bucket_facade_multipart_by_upload_id(env: Any) -> Any:
    """An upload created in one "invocation" and continued, completed and read in others by its id."""
    bucket = Bucket(env.BACKUPS)
    key = "c-jobs/multipart.bin"
    first = random.Random(7).randbytes(MIN_PART_SIZE)
    upload_id = await bucket.create_upload(key, "application/octet-stream")
    part1 = await Bucket(env.BACKUPS).upload_part(key, upload_id, 1, first)
    part2 = await Bucket(env.BACKUPS).upload_part(key, upload_id, 2, b"tail")
    done = await Bucket(env.BACKUPS).complete(key, upload_id, [part1, part2])
    head = await bucket.head(key)
    ranged = await bucket.read(key, MIN_PART_SIZE - 2, 6)
    aborted_id = await bucket.create_upload("c-jobs/aborted.bin")
    await Bucket(env.BACKUPS).abort("c-jobs/aborted.bin", aborted_id)
    whole = await bucket.read(key)
    await bucket.delete([key])
    return {
        "size": done.size,
        "head_size": head.size if head else None,
        "etag_is_multipart": done.etag.endswith("-2"),
        "ranged": ranged,
        "sha256": hashlib.sha256(whole or b"").hexdigest() == hashlib.sha256(first + b"tail").hexdigest(),
        "aborted_absent": await bucket.head("c-jobs/aborted.bin") is None,
        "calls": bucket.calls,
    }


PLAIN_EXPORT = """PRAGMA defer_foreign_keys=TRUE;
CREATE TABLE c_imp_child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES c_imp_parent(id), t TEXT);
INSERT INTO c_imp_child VALUES(1,2,'it''s; é');
CREATE TABLE c_imp_parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, b BLOB);
INSERT INTO c_imp_parent VALUES(1,'a',X'00ff'),(2,'b',NULL);
INSERT INTO sqlite_sequence VALUES('c_imp_parent',9);
CREATE INDEX c_imp_child_parent ON c_imp_child (parent_id);
"""


async def _format_2(env: Any, db: Database) -> str:
    """A format-2 backup, as older code wrote it: one gzip member, one digest per table, no chunk list."""
    current = await run_backup(db, env.BACKUPS, trigger="contract")  # not audited: the digests below see its rows
    sql = gzip.decompress(bytes(await (await env.BACKUPS.get(mf.data_key(current["id"]))).arrayBuffer()))
    backup_id = current["id"][:-6] + "f2f2f2"
    data = gzip.compress(sql)
    stored = await Bucket(env.BACKUPS).put(mf.data_key(backup_id), data)
    schema = await inspect(db)
    tables = []
    for t in current["tables"]:
        digest = await digest_table(db, schema.table(t["name"]), schema.negative_zero) if t["sha256"] else None
        tables.append({"name": t["name"], "kind": t["kind"], "rows": t["rows"], "sha256": digest and digest.sha256})
    obj = {"key": mf.data_key(backup_id), "size": len(data), "etag": stored.etag, "compression": "gzip"}
    obj.update(sha256=hashlib.sha256(data).hexdigest(), sql_bytes=len(sql))
    old = {**current, "id": backup_id, "format_version": 2, "tables": tables, "object": obj}
    await Bucket(env.BACKUPS).put(mf.manifest_key(backup_id), mf.encode(old))
    return backup_id


@contract
async def jobs_imports_of_a_plain_export_and_a_format_2_backup(env: Any) -> Any:
    """Sources the restore job cannot read in steps go through an import job first, steps killed inside:
    a plain SQL export in R2 (children before their parents, a counter; no manifest: row counts) and a
    format-2 backup (digests); each import hands over to the restore job, which restores exactly."""
    await reset_database(env.DB)
    automigrate.forget(env.DB)
    await automigrate.ensure_migrated(env.DB)
    await clear_r2(env.BACKUPS, mf.PREFIX)
    db = Database(env.DB)
    key = "imports/contract/source"
    await Bucket(env.BACKUPS).put(key, PLAIN_EXPORT.encode("utf-8"))
    source = {"key": key, "label": "contract export", "manifest": None, "owned": True}
    job = await usecases.start_import(_context(env)[0], source, quiesce_seconds=0, trigger="contract")
    imported = (await _drive(env, job.id))["job"]
    plain = (await _drive(env, imported.state["restore_job"]))["job"]
    rows = await db.all(
        "SELECT c.id, c.t, p.name, hex(p.b) AS b FROM c_imp_child c JOIN c_imp_parent p ON p.id = c.parent_id"
    )
    sequence = await db.all("SELECT seq FROM sqlite_sequence WHERE name = 'c_imp_parent'")

    await db.run("CREATE TABLE c_imp_rows (id INTEGER PRIMARY KEY, t TEXT, r REAL)")
    await db.batch([Query.of("INSERT INTO c_imp_rows (t, r) VALUES (?, ?)", f"r{i} é", i / 3) for i in range(60)])
    before = (await digest_table(db, (await inspect(db)).table("c_imp_rows"))).sha256
    old_id = await _format_2(env, db)
    await db.run("DELETE FROM c_imp_rows")  # the data the restore must bring back (force: other tables have rows)
    started = await usecases.start_restore(
        _context(env)[0], old_id, force=True, dry_run=False, quiesce_seconds=0, trigger="contract"
    )
    imported_2 = (await _drive(env, started["job"]["id"]))["job"]
    old = (await _drive(env, imported_2.state["restore_job"]))["job"]
    after = (await digest_table(db, (await inspect(db)).table("c_imp_rows"))).sha256
    left = sorted(o.key for o in await Bucket(env.BACKUPS).list_objects("imports/"))
    await clear_r2(env.BACKUPS, mf.PREFIX)
    assert plain.status == "complete" and old.status == "complete", (plain.last_error, old.last_error)
    return {
        "plain": [imported.status, plain.state["verification"], [c["rows"] for c in plain.state["verify"]["checks"]]],
        "rows": rows,
        "sequence": sequence,
        "format_2": [started["job"]["kind"], imported_2.status, old.state["verification"]["ok"]],
        "format_2_exact": after == before,
        "source_copy_left": left,
    }
