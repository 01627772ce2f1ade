"""Development auto-migration: the first request or cron event of an isolate applies what is pending.

Each file is applied with its ledger row in one ``batch`` (D1's transaction), so a failing file
leaves schema and ledger unchanged, and two isolates racing cannot both apply it: the loser's
ledger INSERT hits UNIQUE(name) and its whole batch rolls back. Once current, an isolate
remembers it and later requests cost no D1 query at all. Never runs in production.
"""

import asyncio
from typing import Any

from edgenotify.db import D1Error, Database, Query
from edgenotify.db.sqlsplit import split_sql
from edgenotify.migrations import ledger
from edgenotify.migrations.files import MigrationFile, ordered


class MigrationFailed(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(f"migration {name} failed: {message}")
        self.name = name
        self.message = message


# Bindings this isolate has brought up to date (kept referenced so ids are never reused).
_current: dict[int, Any] = {}
_locks: dict[int, asyncio.Lock] = {}


def bundled_files() -> list[MigrationFile]:
    from edgenotify.migrations import _bundle  # generated from migrations/ by scripts/build_bundle

    return [MigrationFile(name, sql) for name, sql in _bundle.MIGRATIONS]


def file_queries(file: MigrationFile) -> list[Query]:
    return ledger.record_queries(file.name, file.sha256) + [Query(s.sql) for s in split_sql(file.sql)]


async def apply_file(db: Database, file: MigrationFile) -> bool:
    """Apply one file atomically. False when another applier recorded it first."""
    try:
        await db.batch(file_queries(file))
        return True
    except D1Error as exc:
        applied = {row.name for row in await ledger.read(db)}
        if file.name in applied:
            return False
        raise MigrationFailed(file.name, exc.message) from exc


async def apply_pending(db: Database, files: list[MigrationFile], to: str | None = None) -> list[str]:
    """Apply pending files in wrangler's order (up to and including ``to``); return the names applied."""
    done = {row.name for row in await ledger.read(db)}
    applied: list[str] = []
    for file in ordered(files):
        if file.name not in done and await apply_file(db, file):
            applied.append(file.name)
        if file.name == to:
            break
    return applied


async def ensure_migrated(binding: Any, files: list[MigrationFile] | None = None) -> list[str]:
    """Bring the database behind ``binding`` up to date once per isolate."""
    key = id(binding)
    if key in _current:
        return []
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _current:
            return []
        applied = await apply_pending(Database(binding), bundled_files() if files is None else files)
        _current[key] = binding
        return applied


def forget(binding: Any) -> None:
    """Make the next request check again (tests, and after a restore replaced the schema)."""
    _current.pop(id(binding), None)
