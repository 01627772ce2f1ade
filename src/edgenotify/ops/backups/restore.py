"""Restore a backup (ours, or a ``wrangler d1 export`` file) into D1, verified afterwards.

Dry run by default: the file is read once (object checksum against the manifest, statements
classified, rows counted) and the report says what would be dropped, created and inserted, and
why it would be refused. A real restore then:

1. refuses a non-empty target unless ``force`` ("empty" = no rows outside the migration ledger:
   a freshly migrated database is empty), a file from a schema newer than this code (a ledger
   migration not among the bundled files), a corrupt object, or a file with statements that are
   not a backup's (DROP, DELETE of rows, ALTER ...);
2. clears the target: with a schema in the file, every table, view and trigger is dropped
   (children before parents, so ON DELETE CASCADE has nothing to do); a data-only file (wrangler
   ``--no-schema``) keeps the target's schema and deletes the rows of the tables it fills;
3. creates tables, replays data in foreign-key order (our files are already in that order; a
   foreign file whose order is not safe is replayed one table per pass), then AUTOINCREMENT
   counters, then indexes, views and triggers;
4. runs everything in D1-sized batches (each an atomic transaction that starts with
   ``PRAGMA defer_foreign_keys = ON``; no BEGIN/COMMIT anywhere);
5. verifies row counts and SHA-256 digests of every table against the manifest (counts against
   the file when there is no manifest) and reports any mismatch as a failure;
6. tells the auto-migrator to look again (``automigrate.forget``): the schema changed under it.

A restore is not atomic as a whole (D1 has no transaction spanning batches): if a batch fails
the database is left partially restored and the error says so; re-run with ``force``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgenotify.db import D1Error, Database, Query
from edgenotify.migrations import automigrate, ledger, status
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.dump import digest_table
from edgenotify.ops.backups.restoreplan import Plan, classify
from edgenotify.ops.backups.schema import TABLE, Schema, fk_order, inspect, quote_ident
from edgenotify.ops.backups.source import Chunks, ReadStats, SourceError, statements
from edgenotify.ops.backups.sqlwriter import text_literal
from edgenotify.ops.jobs.verify import verify_table

LEDGER_TABLES = (ledger.LEDGER, ledger.CHECKSUMS)
Progress = Callable[[dict[str, Any]], None]


class RestoreRefused(Exception):
    """The restore was not attempted; ``code`` is stable for API clients."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class RestoreFailed(Exception):
    """The restore started and did not finish (or did not verify); ``report`` says how far it got."""

    def __init__(self, code: str, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.code = code
        self.message = message
        self.report = report


@dataclass
class RestoreSource:
    label: str  # e.g. "backup 20261122T030000000Z-a1b2c3" or "file export.sql"
    chunks: Chunks  # re-openable: the file is read once per pass
    manifest: dict[str, Any] | None = None


@dataclass
class RestoreOptions:
    dry_run: bool = True
    force: bool = False
    batch_statements: int = 200
    batch_bytes: int = 1_000_000


class _Batches:
    """Statements to D1 in atomic batches bounded by count and bytes."""

    def __init__(self, db: Database, options: RestoreOptions, progress: Progress | None, phase: str):
        self.db = db
        self.options = options
        self.progress = progress
        self.phase = phase
        self.pending: list[str] = []
        self.size = 0
        self.executed = 0
        self.batches = 0
        self.before_sequence: str | None = None  # runs once, just before the first sqlite_sequence write

    async def add(self, sql: str) -> None:
        self.pending.append(sql)
        self.size += len(sql)
        if len(self.pending) >= self.options.batch_statements or self.size >= self.options.batch_bytes:
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        queries = [Query("PRAGMA defer_foreign_keys = ON")] + [Query(s) for s in self.pending]
        try:
            await self.db.batch(queries)
        except D1Error as exc:
            first = self.pending[0][:200]
            raise D1Error(
                f"{self.phase}: batch of statements {self.executed + 1}-{self.executed + len(self.pending)} failed "
                f"({exc.message}); first statement: {first}"
            ) from exc
        self.executed += len(self.pending)
        self.batches += 1
        self.pending, self.size = [], 0
        if self.progress is not None:
            self.progress({"phase": self.phase, "statements": self.executed})


async def scan(source: RestoreSource) -> tuple[Plan, ReadStats]:
    plan = Plan()
    stats = ReadStats()
    async for statement in statements(source.chunks, stats):
        plan.add(statement, count_rows=source.manifest is None)
    return plan, stats


def _object_problem(manifest: dict[str, Any] | None, stats: ReadStats) -> str | None:
    """Does the file read match the object the manifest describes?

    A gunzipped copy of a backup (what ``wrangler d1 execute --file`` needs) is checked by its
    SQL size instead: the manifest's size and SHA-256 are those of the gzip object.
    """
    if manifest is None:
        return None
    expected = manifest.get("object") or {}
    if expected.get("compression") == "gzip" and not stats.gzip:
        sql_bytes = expected.get("sql_bytes")
        if sql_bytes is not None and int(sql_bytes) != stats.text_bytes:
            return f"the SQL is {stats.text_bytes} bytes, the manifest says {sql_bytes}"
        return None
    if expected.get("size") is not None and int(expected["size"]) != stats.size:
        return f"object is {stats.size} bytes, the manifest says {expected['size']}"
    if expected.get("sha256") and expected["sha256"] != stats.sha256:
        return "object SHA-256 differs from the manifest: the backup file is corrupt or was replaced"
    return None


def _migrations_of(source: RestoreSource, plan: Plan) -> list[str]:
    if source.manifest is not None:
        return list((source.manifest.get("migration") or {}).get("applied") or [])
    return plan.ledger


async def target_rows(db: Database, schema: Schema) -> dict[str, bool]:
    """Which data tables of the target hold rows (the migration ledger does not count)."""
    tables = [t for t in schema.tables if t.dumps_rows and t.name not in LEDGER_TABLES]
    if not tables:
        return {}
    results = await db.batch([Query(f"SELECT EXISTS (SELECT 1 FROM {quote_ident(t.name)}) AS x") for t in tables])
    return {t.name: bool(r.rows[0]["x"]) for t, r in zip(tables, results, strict=True)}


def _drop_statements(schema: Schema) -> list[str]:
    drops = [f"DROP TRIGGER IF EXISTS {quote_ident(o.name)}" for o in schema.objects("trigger")]
    drops += [f"DROP VIEW IF EXISTS {quote_ident(o.name)}" for o in schema.objects("view")]
    drops += [f"DROP TABLE IF EXISTS {quote_ident(t.name)}" for t in schema.tables if t.virtual]
    ordinary = [t for t in schema.tables if t.kind == TABLE]
    parents_first = fk_order([t.name for t in ordinary], {t.name: t.references for t in ordinary})
    drops += [f"DROP TABLE IF EXISTS {quote_ident(n)}" for n in reversed(parents_first)]
    return drops


def _delete_statements(schema: Schema, plan: Plan) -> list[str]:
    parents = {t.name: t.references for t in schema.tables}
    order = fk_order([t for t in plan.data_tables if t in parents], parents)
    return [f"DELETE FROM {quote_ident(n)}" for n in reversed(order)]


def _refusals(source: RestoreSource, plan: Plan, stats: ReadStats, known: list[str]) -> list[RestoreRefused]:
    out: list[RestoreRefused] = []
    version = (source.manifest or {}).get("format_version", mf.FORMAT_VERSION)
    if isinstance(version, int) and version not in mf.VERIFIABLE_VERSIONS:
        out.append(
            RestoreRefused(
                "backup_format_old",
                f"backup format {version} digests rows differently than format {mf.FORMAT_VERSION}: "
                "its data cannot be verified by this code (gunzip it and use wrangler d1 execute --file)",
                422,
            )
        )
    problem = _object_problem(source.manifest, stats)
    if problem:
        out.append(RestoreRefused("backup_corrupt", problem, 422))
    if plan.unsupported:
        out.append(
            RestoreRefused(
                "unsupported_statements",
                "the file contains statements a backup never has (a restore only replays schema and rows): "
                + " | ".join(plan.unsupported),
                422,
            )
        )
    unknown = [name for name in _migrations_of(source, plan) if name not in known]
    if unknown:
        newest = known[-1] if known else "none"
        out.append(
            RestoreRefused(
                "backup_schema_newer",
                f"the backup's schema includes migration(s) this code does not know: {', '.join(unknown)} "
                f"(newest known: {newest}); deploy code that has them, then restore",
            )
        )
    if not plan.has_schema and not plan.data_tables:
        out.append(RestoreRefused("empty_backup", "the file contains no tables and no rows", 422))
    return out


async def restore(
    db: Database,
    source: RestoreSource,
    options: RestoreOptions | None = None,
    known_migrations: list[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Dry run (default) or restore; returns the report. Raises RestoreRefused / RestoreFailed."""
    options = options or RestoreOptions()
    clock = time.monotonic()
    known = known_migrations if known_migrations is not None else [f.name for f in automigrate.bundled_files()]
    try:
        plan, stats = await scan(source)
    except SourceError as exc:
        raise RestoreRefused("backup_unreadable", str(exc), 422) from exc
    target = await inspect(db)
    rows = await target_rows(db, target)
    non_empty = sorted(name for name, has in rows.items() if has)
    refusals = _refusals(source, plan, stats, known)
    if non_empty and not options.force:
        refusals.append(
            RestoreRefused("target_not_empty", f"the target database has rows in: {', '.join(non_empty)}; use force")
        )
    if not plan.has_schema:
        missing = [t for t in plan.data_tables if t not in target.names]
        if missing:
            refusals.append(
                RestoreRefused(
                    "target_schema_missing",
                    f"the file has no schema and the target lacks table(s): {', '.join(missing)}; migrate it first",
                )
            )
    clear = _drop_statements(target) if plan.has_schema else _delete_statements(target, plan)
    report: dict[str, Any] = {
        "source": source.label,
        "dry_run": options.dry_run,
        "force": options.force,
        "manifest": _manifest_summary(source.manifest),
        "object": {"size": stats.size, "sha256": stats.sha256, "gzip": stats.gzip, "sql_bytes": stats.text_bytes},
        "file": plan.summary(),
        "target": {"tables": target.names, "tables_with_rows": non_empty},
        "would": {
            "clear": clear,
            "create": [name for name, _ in plan.tables],
            "insert_rows": _expected_rows(source, plan),
            "then": [f"{kind.lower()} {name}" for kind, name, _ in plan.post],
        },
        "refusals": [r.as_dict() for r in refusals],
    }
    if options.dry_run:
        report["ok"] = not refusals
        return report
    if refusals:
        raise refusals[0]
    try:
        await _apply(db, source, plan, clear, options, progress, report)
    except (D1Error, SourceError) as exc:
        report["status"] = "failed"
        raise RestoreFailed(
            "restore_failed", f"restore stopped, the database is partially restored: {exc}", report
        ) from exc
    finally:
        automigrate.forget(db.binding)
    report["verification"] = await verify(db, source.manifest, plan)
    report["migrations"] = await _migration_status(db, known)
    report["duration_ms"] = int((time.monotonic() - clock) * 1000)
    report["ok"] = report["verification"]["ok"]
    report["status"] = "restored" if report["ok"] else "failed"
    if not report["ok"]:
        raise RestoreFailed("restore_verification_failed", "restored data does not match the backup", report)
    return report


def _manifest_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    keys = ("id", "created_at", "database", "migration", "totals", "object", "warnings")
    return {k: manifest.get(k) for k in keys}


def _expected_rows(source: RestoreSource, plan: Plan) -> dict[str, int]:
    if source.manifest is not None:
        return {t["name"]: int(t["rows"]) for t in source.manifest.get("tables", []) if t.get("sha256")}
    return dict(plan.rows)


async def _apply(
    db: Database,
    source: RestoreSource,
    plan: Plan,
    clear: list[str],
    options: RestoreOptions,
    progress: Progress | None,
    report: dict[str, Any],
) -> None:
    steps: dict[str, int] = {}
    for phase, sqls in (("clear", clear), ("schema", [sql for _, sql in plan.tables])):
        batch = _Batches(db, options, progress, phase)
        for sql in sqls:
            await batch.add(sql)
        await batch.flush()
        steps[phase] = batch.executed
    report["steps"] = steps
    parents = None if plan.has_schema else {t.name: t.references for t in (await inspect(db)).tables}
    data = _Batches(db, options, progress, "data")
    data.before_sequence = _sequence_reset(plan) if plan.sequence else None
    if plan.file_order_is_safe(parents):
        await _replay(data, source, lambda c: c.kind in ("data", "sequence"))
        steps["data_passes"] = 1
    else:  # parents first, one table per pass over the file, then the AUTOINCREMENT counters
        order = plan.data_order(parents)
        for table in order:
            await _replay(data, source, lambda c, t=table: c.kind == "data" and c.table == t)
        await _replay(data, source, lambda c: c.kind == "sequence")
        steps["data_passes"] = len(order) + 1
    steps["data"] = data.executed
    post = _Batches(db, options, progress, "indexes, views, triggers")
    for _, _, sql in plan.post:
        await post.add(sql)
    await post.flush()
    steps["post"] = post.executed


async def _replay(batch: _Batches, source: RestoreSource, wanted: Callable[[Any], bool]) -> None:
    async for statement in statements(source.chunks):
        kind = classify(statement)
        if not wanted(kind):
            continue
        if kind.kind == "sequence" and batch.before_sequence:
            await batch.add(batch.before_sequence)
            batch.before_sequence = None
        await batch.add(statement)
    await batch.flush()


def _sequence_reset(plan: Plan) -> str:
    """Counters of the tables the file fills are replaced, not added to: ``wrangler d1 export
    --no-schema`` writes ``INSERT INTO sqlite_sequence`` rows without deleting the old ones."""
    names = ", ".join(text_literal(t) for t in plan.data_tables) or "NULL"
    return f"DELETE FROM sqlite_sequence WHERE name IN ({names})"


async def verify(db: Database, manifest: dict[str, Any] | None, plan: Plan) -> dict[str, Any]:
    """Row counts and digests of the restored tables against the manifest (or the file's counts)."""
    schema = await inspect(db)
    names = set(schema.names)
    checks: list[dict[str, Any]] = []
    if manifest is not None:
        for entry in manifest.get("tables", []):
            if entry.get("sha256") is not None:
                checks.append(await verify_table(db, schema, entry))
        expected = []
    else:  # tables refilled by an FTS5 command have no row count in the file
        expected = [(name, plan.rows.get(name, 0)) for name in plan.data_tables if name not in plan.commands]
    for name, rows in expected:
        if name not in names:
            checks.append({"table": name, "ok": False, "expected_rows": rows, "rows": None, "error": "table missing"})
            continue
        digest = await digest_table(db, schema.table(name), schema.negative_zero)
        checks.append({"table": name, "ok": digest.rows == rows, "expected_rows": rows, "rows": digest.rows})
    result: dict[str, Any] = {"tables": checks, "basis": "manifest" if manifest is not None else "file row counts"}
    if manifest is not None and manifest.get("sequences"):
        rows = await db.all("SELECT name, quote(seq) AS seq FROM sqlite_sequence")
        actual = {str(r["name"]): str(r["seq"]) for r in rows}
        wanted = manifest["sequences"]
        result["sequences_ok"] = all(actual.get(k) == v for k, v in wanted.items())
    result["mismatches"] = [c["table"] for c in checks if not c["ok"]]
    result["ok"] = not result["mismatches"] and result.get("sequences_ok", True)
    return result


async def _migration_status(db: Database, known: list[str]) -> dict[str, Any]:
    applied = await ledger.read_if_present(db)
    files = {f.name: f for f in automigrate.bundled_files()}
    current = status.compare([files[n] for n in known if n in files], applied)
    return {"head": current.head, "pending": current.pending, "edited": current.edited, "unknown": current.unknown}
