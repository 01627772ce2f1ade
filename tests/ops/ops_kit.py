"""Helpers for the operations tests: data with every value kind, exact snapshots, fault injection."""

import math
import sqlite3
from pathlib import Path
from typing import Any

from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.ops.backups.schema import INSTANCE_TABLES
from edgenotify.ops.jobs import store, usecases

BIG_TEXT = "Ünïcødé ✓ 'quoted' \"double\"\nnew line\r\n\ttab " * 3000  # ~150 KB: written in pieces
TRAP_TEXT = "Run BEGIN TRANSACTION; then COMMIT; done -- not a comment /* nor this */ ;"

EXTRA_SCHEMA = [
    "CREATE TABLE kinds (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, v, r REAL, b BLOB)",
    "CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, note, PRIMARY KEY (a, b))",  # rowid table, no alias
    "CREATE TABLE words (w TEXT PRIMARY KEY COLLATE NOCASE, n INTEGER) WITHOUT ROWID",
    "CREATE VIRTUAL TABLE docs USING fts5(title, body)",  # own content: rows dumped
    "CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT, body TEXT)",
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='articles', content_rowid='id')",
    "CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE VIEW recent_kinds AS SELECT id, label FROM kinds WHERE id > 2",
    "CREATE INDEX idx_kinds_label ON kinds (label)",
]

# (label, v literal, r literal, b literal): every value kind the backup must carry exactly
KINDS = [
    ("int64 max", "9223372036854775807", "NULL", "NULL"),
    ("int64 min", "-9223372036854775808", "NULL", "NULL"),
    ("beyond 2^53", "9007199254740993", "NULL", "NULL"),
    ("negative zero", "-0.0", "-0.0", "NULL"),
    ("1e308", "1e308", "1e308", "NULL"),
    ("subnormal", "5e-324", "4.9406564584124654e-324", "NULL"),
    ("pi", "3.141592653589793", "0.1", "NULL"),
    ("null vs empty", "NULL", "NULL", "X''"),
    ("empty string", "''", "NULL", "NULL"),
    ("blob", "X'00FF10'", "NULL", "randomblob(2000)"),
    ("unicode", "'日本語 🎉 é'", "NULL", "NULL"),
    ("quotes and newlines", "'it''s\n\"quoted\"\r\n'", "NULL", "NULL"),
    ("wrangler traps", "'" + TRAP_TEXT.replace("'", "''") + "'", "NULL", "NULL"),
    ("integer in REAL", "NULL", "3", "NULL"),
    ("text number", "'00123'", "NULL", "NULL"),
    ("text with NUL", "char(97, 0, 98)", "NULL", "NULL"),  # quote() alone would stop at the NUL
    ("long text with NUL", "printf('%.*c', 120000, 'n') || char(0) || 'end'", "NULL", "NULL"),
]


async def seed(db: Database, binding: Any) -> None:
    """Migrated schema + app rows + every value kind, a >100 KB value, FTS5, AUTOINCREMENT gaps."""
    await ensure_migrated(binding)
    queries = [Query(sql) for sql in EXTRA_SCHEMA]
    queries += [Query(f"INSERT INTO kinds (label, v, r, b) VALUES ('{k[0]}', {k[1]}, {k[2]}, {k[3]})") for k in KINDS]
    queries += [
        Query.of("INSERT INTO kinds (label, v) VALUES ('big text', ?)", BIG_TEXT),
        Query("INSERT INTO kinds (label, b) VALUES ('big blob', randomblob(180000))"),
        Query("INSERT INTO kinds (label) VALUES ('deleted top row')"),
        Query("DELETE FROM kinds WHERE label = 'deleted top row'"),  # sqlite_sequence > max(id)
        Query("INSERT INTO pairs (a, b, note) VALUES ('x', 1, 'one'), ('x', 2, NULL), ('y', -1, X'01')"),
        Query("INSERT INTO words (w, n) VALUES ('Apple', 1), ('banana', 2), ('Cherry', 3)"),
        Query("INSERT INTO docs (rowid, title, body) VALUES (3, 'hello', 'world'), (70, 'full text', 'search me')"),
        Query("INSERT INTO articles (id, title, body) VALUES (1, 'first', 'alpha beta'), (5, 'second', 'gamma')"),
        Query.of(
            "INSERT INTO notification_templates_v2 (template_key, template_name, variables) VALUES (?, ?, ?)",
            "welcome",
            "Welcome",
            '["name"]',
        ),
        Query.of(
            "INSERT INTO template_contents (template_key, channel_type, content_template) VALUES (?, ?, ?)",
            "welcome",
            "webhook",
            TRAP_TEXT,
        ),
        Query.of(
            "INSERT INTO notification_logs (message_id, user_id, channel_type, status, content, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            "m1",
            "u1",
            "webhook",
            "success",
            "hi",
            "2026-01-01T00:00:00.000Z",
        ),
    ]
    await db.batch(queries)


def _value(v: Any) -> Any:
    if isinstance(v, float):
        return ("float", v.hex() if math.isfinite(v) else repr(v), math.copysign(1.0, v))
    return (type(v).__name__, v)


def snapshot(path: Path) -> dict[str, Any]:
    """Every user table's rows (typed, -0.0 kept apart), the counters and the schema, read by plain sqlite3.

    The job tables (``INSTANCE_TABLES``) describe the database instance and are never backed up or restored."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        shadow = {r[1] for r in conn.execute("PRAGMA table_list") if r[2] == "shadow"}
        schema = sorted(
            (t, n, s)
            for t, n, s, tbl in conn.execute(
                "SELECT type, name, sql, tbl_name FROM sqlite_master WHERE sql IS NOT NULL"
            )
            if not n.startswith(("sqlite_", "_cf_")) and n not in shadow and tbl not in INSTANCE_TABLES
        )
        out: dict[str, Any] = {"schema": schema}
        for kind, name, _ in schema:
            if kind != "table":
                continue
            without_rowid = (
                "WITHOUT ROWID"
                in conn.execute("SELECT upper(sql) FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            )
            key = "1" if without_rowid else "rowid"
            select = f'SELECT {"" if without_rowid else "rowid, "}* FROM "{name}" ORDER BY {key}'
            out[name] = [tuple(_value(v) for v in row) for row in conn.execute(select)]
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
            out["sqlite_sequence"] = sorted(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        return out
    finally:
        conn.close()


def data_of(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the audit trail (a restore job adds its own rows, and their counter)."""
    out = {k: v for k, v in snap.items() if k != "audit_logs"}
    if "sqlite_sequence" in out:
        out["sqlite_sequence"] = [row for row in out["sqlite_sequence"] if row[0] != "audit_logs"]
    return out


async def restore_job(env: Any, backup_id: str, *, force: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """What ``scripts/restore ID`` does on ``env`` (a brand-new database is migrated first, for the
    job's checkpoint table): the dry run, or the restore job started and continued to its end."""
    if not await Database(env.DB).all("SELECT name FROM sqlite_master WHERE name = 'ops_jobs'"):
        await ensure_migrated(env.DB)
    context = Context.create(env, None)
    started = await usecases.start_restore(
        context, backup_id, force=force, dry_run=dry_run, quiesce_seconds=0, trigger="test"
    )
    if dry_run:
        return started
    job = await store.get(context.db, started["job"]["id"])
    assert job is not None
    return {**started, "job": usecases.describe(await usecases.run_to_end(context, job))}


class FaultInjectingR2:
    """A FAULT-INJECTION wrapper around the REAL embedded R2 binding (devkit.embedded.r2.R2Bucket).

    Every call goes to the real bucket; the one operation named by ``fail_on`` raises instead
    (``put_data``/``put_manifest``: the single-object put of that file; ``upload_part``: the
    multipart part numbered ``part``; ``complete``: completing the upload), as a network or R2
    failure would mid-backup.
    """

    def __init__(self, real: Any, fail_on: str, part: int = 2):
        self.real = real
        self.fail_on = fail_on
        self.part = part
        self.uploads: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def put(self, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if (self.fail_on == "put_manifest" and key.endswith("manifest.json")) or (
            self.fail_on == "put_data" and key.endswith(".sql.gz")
        ):
            raise RuntimeError(f"injected failure: put {key}")
        return await self.real.put(key, value, *args, **kwargs)

    async def createMultipartUpload(self, key: str, *args: Any, **kwargs: Any) -> Any:
        upload = await self.real.createMultipartUpload(key, *args, **kwargs)
        self.uploads.append(upload)
        return _FaultyUpload(upload, self)

    def resumeMultipartUpload(self, key: str, upload_id: str) -> Any:
        return _FaultyUpload(self.real.resumeMultipartUpload(key, upload_id), self)


class _FaultyUpload:
    def __init__(self, real: Any, owner: FaultInjectingR2):
        self.real = real
        self.owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def uploadPart(self, number: int, value: Any) -> Any:
        if self.owner.fail_on == "upload_part" and number == self.owner.part:
            raise RuntimeError(f"injected failure: uploadPart {number}")
        return await self.real.uploadPart(number, value)

    async def complete(self, parts: list[Any]) -> Any:
        if self.owner.fail_on == "complete":
            raise RuntimeError("injected failure: complete")
        return await self.real.complete(parts)

    async def abort(self) -> None:
        await self.real.abort()


async def object_keys(r2: Any, prefix: str = "") -> list[str]:
    page = await r2.list(prefix=prefix)
    return sorted(str(o.key) for o in page["objects"])
