"""What a restore source holds and whether it may be restored: the scan, the refusals, the dry run.

A source is anything ``scripts/restore --file`` or an old backup gives: our backup (gzip or not,
with or without its manifest), a ``wrangler d1 export`` file (with or without schema), or a
format-2 object. One streaming pass (``scan``) classifies every statement (``restoreplan``) into a
``Plan``; an import job's scan stops after any statement and goes on later from its text offset
(``source.located``), so it fits in job steps.
The plan then decides what the import (``ops.jobs.imports``) writes, and the refusals say why the
source must not replace the data: a corrupt object, statements a backup never has (DROP, DELETE of
rows, ALTER ...), a schema newer than this code, a non-empty target without force.
"""

from dataclasses import asdict, dataclass
from typing import Any

from edgenotify.db import Database, Query
from edgenotify.migrations import automigrate, ledger
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.restoreplan import Plan, classify
from edgenotify.ops.backups.schema import Schema, inspect, quote_ident
from edgenotify.ops.backups.source import Chunks, ReadStats, statements
from edgenotify.ops.backups.sqlwriter import text_literal
from edgenotify.ops.jobs.restore import drop_statements

LEDGER_TABLES = (ledger.LEDGER, ledger.CHECKSUMS)
# Whom a refusal concerns: the source (422) or the target's state (409); ``usecases`` maps them.
SOURCE, TARGET = "invalid", "conflict"


@dataclass
class Refusal:
    code: str
    message: str
    reason: str = SOURCE

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def plan_state(plan: Plan) -> dict[str, Any]:
    """The plan as JSON for a job's checkpoint (sets as sorted lists)."""
    out = asdict(plan)
    out["updated"], out["commands"] = sorted(plan.updated), sorted(plan.commands)
    return out


def plan_of(state: dict[str, Any]) -> Plan:
    plan = Plan(**{**state, "updated": set(state["updated"]), "commands": set(state["commands"])})
    plan.tables = [(name, sql) for name, sql in plan.tables]
    plan.post = [(kind, name, sql) for kind, name, sql in plan.post]
    return plan


async def scan(chunks: Chunks, count_rows: bool, stats: ReadStats | None = None) -> Plan:
    """The whole source in one pass (a dry run, or a job's scan that fits in one step)."""
    plan = Plan()
    async for statement in statements(chunks, stats):
        plan.add(statement, count_rows=count_rows)
    return plan


async def target_rows(db: Database, schema: Schema) -> dict[str, bool]:
    """Which data tables of the target hold rows (the migration ledger does not count)."""
    tables = [t for t in schema.tables if t.dumps_rows and t.name not in LEDGER_TABLES]
    if not tables:
        return {}
    results = await db.batch([Query(f"SELECT EXISTS (SELECT 1 FROM {quote_ident(t.name)}) AS x") for t in tables])
    return {t.name: bool(r.rows[0]["x"]) for t, r in zip(tables, results, strict=True)}


def object_problem(manifest: dict[str, Any] | None, stats: ReadStats) -> str | None:
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


def migrations_of(manifest: dict[str, Any] | None, plan: Plan) -> list[str]:
    if manifest is not None:
        return list((manifest.get("migration") or {}).get("applied") or [])
    return plan.ledger


def format_refusal(manifest: dict[str, Any] | None) -> Refusal | None:
    version = (manifest or {}).get("format_version", mf.FORMAT_VERSION)
    if not isinstance(version, int) or version in mf.VERIFIABLE_VERSIONS:
        return None
    return Refusal(
        "backup_format_old",
        f"backup format {version} digests rows differently than format {mf.FORMAT_VERSION}: "
        "its data cannot be verified by this code (gunzip it and use wrangler d1 execute --file)",
    )


def source_refusals(plan: Plan, manifest: dict[str, Any] | None, problem: str | None) -> list[Refusal]:
    """What makes the source itself unrestorable, whatever the target."""
    old = format_refusal(manifest)
    out = [old] if old else []
    if problem:
        out.append(Refusal("backup_corrupt", problem))
    if plan.unsupported:
        out.append(
            Refusal(
                "unsupported_statements",
                "the file contains statements a backup never has (a restore only replays schema and rows): "
                + " | ".join(plan.unsupported),
            )
        )
    known = [f.name for f in automigrate.bundled_files()]
    unknown = [name for name in migrations_of(manifest, plan) if name not in known]
    if unknown:
        newest = known[-1] if known else "none"
        out.append(
            Refusal(
                "backup_schema_newer",
                f"the backup's schema includes migration(s) this code does not know: {', '.join(unknown)} "
                f"(newest known: {newest}); deploy code that has them, then restore",
                TARGET,
            )
        )
    if not plan.has_schema and not plan.data_tables:
        out.append(Refusal("empty_backup", "the file contains no tables and no rows"))
    return out


def target_refusals(plan: Plan, target: Schema, non_empty: list[str], force: bool) -> list[Refusal]:
    out: list[Refusal] = []
    if non_empty and not force:
        message = f"the target database has rows in: {', '.join(non_empty)}; use force"
        out.append(Refusal("target_not_empty", message, TARGET))
    if not plan.has_schema:
        missing = [t for t in plan.data_tables if t not in target.names]
        if missing:
            message = f"the file has no schema and the target lacks table(s): {', '.join(missing)}; migrate it first"
            out.append(Refusal("target_schema_missing", message, TARGET))
    return out


def recreated_tables(plan: Plan, target: Schema) -> list[str]:
    """The tables a restore of this source replaces: the file's, or (a data-only file) the target's it fills."""
    if plan.has_schema:
        return [name for name, _ in plan.tables]
    return [t.name for t in target.tables if t.name in plan.data_tables]


def sequence_reset(plan: Plan) -> str:
    """Counters of the tables the file fills are replaced, not added to: ``wrangler d1 export``
    writes ``INSERT INTO sqlite_sequence`` rows without deleting the old ones (and creating a table
    and inserting rows with explicit ids already sets a counter)."""
    names = ", ".join(text_literal(t) for t in plan.data_tables) or "NULL"
    return f"DELETE FROM sqlite_sequence WHERE name IN ({names})"


def expected_rows(manifest: dict[str, Any] | None, plan: Plan) -> dict[str, int]:
    if manifest is not None:
        return {t["name"]: int(t["rows"]) for t in manifest.get("tables", []) if mf.verified(t)}
    return {name: rows for name, rows in plan.rows.items() if name not in plan.commands}


async def report(
    db: Database, label: str, plan: Plan, stats: ReadStats, manifest: dict[str, Any] | None, force: bool
) -> tuple[dict[str, Any], list[Refusal]]:
    """The dry run of a restore from this source: what would be dropped, created, inserted, and the refusals."""
    target = await inspect(db)
    non_empty = sorted(name for name, has in (await target_rows(db, target)).items() if has)
    refusals = source_refusals(plan, manifest, object_problem(manifest, stats))
    refusals += target_refusals(plan, target, non_empty, force)
    drops, kept = drop_statements(target, set(recreated_tables(plan, target)))
    out = {
        "source": label,
        "force": force,
        "manifest": _manifest_summary(manifest),
        "object": {"size": stats.size, "sha256": stats.sha256, "gzip": stats.gzip, "sql_bytes": stats.text_bytes},
        "file": plan.summary(),
        "target": {"tables": target.names, "tables_with_rows": non_empty},
        "would": {
            "clear": drops,
            "keep": kept,
            "create": [name for name, _ in plan.tables],
            "insert_rows": expected_rows(manifest, plan),
            "then": [f"{kind.lower()} {name}" for kind, name, _ in plan.post],
            "verify": "digests" if manifest is not None else "row counts",
        },
        "refusals": [r.as_dict() for r in refusals],
        "ok": not refusals,
    }
    return out, refusals


def _manifest_summary(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    keys = ("id", "created_at", "database", "format_version", "migration", "totals", "object", "warnings")
    return {k: manifest.get(k) for k in keys}


def wanted(spec: dict[str, Any], statement: str) -> tuple[bool, bool]:
    """(write it, it is a counter write) for one statement in a data pass ``spec``."""
    c = classify(statement)
    if "table" in spec:
        return c.kind == "data" and c.table == spec["table"], False
    return c.kind in spec["kinds"], c.kind == "sequence"
