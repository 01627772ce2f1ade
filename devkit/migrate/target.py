"""Which database the CLI works on, opened through the embedded D1 binding.

The CLI talks to SQLite only through ``devkit.embedded.d1.D1Database`` wrapped in
``edgenotify.db.Database``: the same binding shape and facade the worker uses, so ``apply``
runs the very code the auto-migrator runs (one ``batch`` per file, ledger row included), and
D1's refusals (BEGIN, ATTACH, disallowed PRAGMAs...) surface here as they would on the edge.

Default target: the embedded runtime's local D1 file, ``<state dir>/d1/DB.sqlite3``
(``--state-dir``, default ``.state``). ``--database PATH`` takes any SQLite file, e.g.
wrangler's ``.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from devkit.embedded.d1 import D1Database
from devkit.migrate.source import ROOT
from edgenotify.db import Database

DEFAULT_STATE_DIR = ROOT / ".state"
MEMORY = ":memory:"


def database_path(state_dir: Path | None, database: Path | None) -> Path:
    if database is not None:
        return database
    return (state_dir or DEFAULT_STATE_DIR) / "d1" / "DB.sqlite3"


@asynccontextmanager
async def opened(path: Path | str) -> AsyncIterator[Database]:
    """A ``Database`` over a fresh binding on ``path`` (``":memory:"`` for a scratch database)."""
    binding = D1Database(path)
    try:
        yield Database(binding)
    finally:
        binding.close()
