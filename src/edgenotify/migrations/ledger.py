"""wrangler's ``d1_migrations`` ledger, plus our side table of SHA-256 sums keyed by its names.

The ledger DDL is wrangler's own, byte for byte in meaning, so that wrangler and the
auto-migrator can each finish what the other started. wrangler records no checksum; the side
table lets ``status`` report a file edited after it was applied.
"""

from dataclasses import dataclass

from edgenotify.db import Database, Query

LEDGER = "d1_migrations"
CHECKSUMS = "d1_migrations_checksums"

CREATE_LEDGER = (
    f'CREATE TABLE IF NOT EXISTS "{LEDGER}"(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, '
    "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
)
CREATE_CHECKSUMS = (
    f'CREATE TABLE IF NOT EXISTS "{CHECKSUMS}"(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, '
    "recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
)


@dataclass(frozen=True)
class AppliedMigration:
    id: int
    name: str
    applied_at: str
    sha256: str | None  # None when applied by wrangler (or before checksums were kept)


def read_queries() -> list[Query]:
    """Create both tables if missing and read them: one batch, one round trip."""
    return [
        Query(CREATE_LEDGER),
        Query(CREATE_CHECKSUMS),
        Query(
            f'SELECT l.id, l.name, l.applied_at, c.sha256 FROM "{LEDGER}" l '
            f'LEFT JOIN "{CHECKSUMS}" c ON c.name = l.name ORDER BY l.id'
        ),
    ]


async def read(db: Database) -> list[AppliedMigration]:
    results = await db.batch(read_queries())
    return _rows(results[-1].rows)


async def read_if_present(db: Database) -> list[AppliedMigration]:
    """The ledger without creating anything: for read-only tools (status, verify) on any database."""
    present = {
        r["name"]
        for r in await db.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)", LEDGER, CHECKSUMS
        )
    }
    if LEDGER not in present:
        return []
    if CHECKSUMS in present:
        return _rows((await db.execute(read_queries()[-1])).rows)
    return _rows(await db.all(f'SELECT id, name, applied_at, NULL AS sha256 FROM "{LEDGER}" ORDER BY id'))


def _rows(rows: list[dict]) -> list[AppliedMigration]:
    return [AppliedMigration(int(r["id"]), str(r["name"]), str(r["applied_at"]), r["sha256"]) for r in rows]


def record_queries(name: str, sha256: str) -> list[Query]:
    """Ledger row first: a concurrent applier then fails fast on UNIQUE(name) and rolls back."""
    return [
        Query.of(f'INSERT INTO "{LEDGER}" (name) VALUES (?)', name),
        Query.of(f'INSERT OR REPLACE INTO "{CHECKSUMS}" (name, sha256) VALUES (?, ?)', name, sha256),
    ]


def checksum_queries(name: str, sha256: str) -> list[Query]:
    return [Query.of(f'INSERT OR REPLACE INTO "{CHECKSUMS}" (name, sha256) VALUES (?, ?)', name, sha256)]
