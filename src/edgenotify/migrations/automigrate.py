"""Development auto-migration: the first request or cron event of an isolate applies what is pending.

Each file is applied with its ledger row in one ``batch`` (D1's transaction), so a failing file
leaves schema and ledger unchanged, and two isolates racing cannot both apply it: the loser's
ledger INSERT hits UNIQUE(name) and its whole batch rolls back. Once current, an isolate
remembers it and later requests cost no D1 query at all. Never runs in production.

"Remembers" is keyed on the identity of the database behind the binding. By default that is the
binding object itself, right where the runtime hands every request the same object. The Workers
SDK wraps ``env`` afresh for every request, so on the edge ``id(env.DB)`` changes per request (and
a dict keyed on it would grow without bound): ``src/entry.py``, the one module that knows the SDK,
installs the SDK's notion of identity with :func:`identify_databases_by`.
"""

import asyncio
from collections.abc import Callable, Hashable
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


Identity = Callable[[Any], tuple[Hashable, Any]]
"""binding -> (a key that stays the same for the same database across requests, the object it names)."""

# Databases this isolate has brought up to date (objects kept referenced so ids are never reused).
_current: dict[Hashable, Any] = {}
_locks: dict[Hashable, asyncio.Lock] = {}


def object_identity(binding: Any) -> tuple[Hashable, Any]:
    return ("py", id(binding)), binding


_identity: Identity = object_identity


def database_key(binding: Any) -> Hashable:
    """The key naming ``binding``'s database across requests (per-isolate caches key on it)."""
    return _identity(binding)[0]


def identify_databases_by(identity: Identity) -> None:
    """Set how a binding names its database across requests (called once, by ``src/entry.py``)."""
    global _identity
    _identity = identity


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
    """Apply pending files in wrangler's order (up to and including ``to``); return the names applied.

    Raises ValueError when ``to`` names no file: silently applying everything would be the
    opposite of what was asked.
    """
    if to is not None and to not in {f.name for f in files}:
        raise ValueError(f"no migration file named {to!r}")
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
    key, target = _identity(binding)
    if key in _current:
        return []
    lock = _locks.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _current:
            return []
        applied = await apply_pending(Database(binding), bundled_files() if files is None else files)
        _current[key] = target
        return applied


def forget(binding: Any) -> None:
    """Make the next request check again (tests, and after a restore replaced the schema).

    The lock goes too: an ``asyncio.Lock`` must not outlive its event loop, and once the
    binding is gone its id may be reused by a binding living on another loop.
    """
    key = database_key(binding)
    _current.pop(key, None)
    _locks.pop(key, None)
