"""Shared helpers for the migration lifecycle tests (imported by conftest.py and the tests)."""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.embedded.d1 import D1Database

ROOT = Path(__file__).resolve().parents[2]
REPO_MIGRATIONS = ROOT / "migrations"
FIRST = "0001_initial_schema.sql"  # the tests' fixed starting point

# Later migrations used across the tests: each adds something verify can see.
ADD_LOCALE = "ALTER TABLE user_configs ADD COLUMN locale TEXT;\n"
ADD_NOTES = (
    "CREATE TABLE IF NOT EXISTS notes (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  body TEXT NOT NULL DEFAULT ''\n);\n"
    "CREATE INDEX IF NOT EXISTS idx_notes_body ON notes (body);\n"
)
BROKEN = "CREATE TABLE IF NOT EXISTS half_done (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def add_migration(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_bytes(sql.encode("utf-8"))
    return path


def query(path: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Read a database through a fresh embedded binding (as another isolate would)."""

    async def go() -> list[dict[str, Any]]:
        binding = D1Database(path)
        try:
            return list((await binding.prepare(sql).bind(*params).all())["results"])
        finally:
            binding.close()

    return asyncio.run(go())


def ledger_names(path: Path) -> list[str]:
    return [r["name"] for r in query(path, "SELECT name FROM d1_migrations ORDER BY id")]


def table_names(path: Path) -> set[str]:
    return {r["name"] for r in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
