"""Realistic ``notification_logs`` data in a SQLite file built from ``migrations/``.

Why one file: the same bytes serve our embedded runtime (its D1 is a SQLite file), the
``sqlite3`` CLI and wrangler (copied into a ``--persist-to`` layout), so every tool in a
comparison reads identical data. The schema comes from the migration files themselves and
the ledger is written with the project's own ledger queries, so the auto-migrator sees the
database as current. Rows are deterministic (seeded), about 200-byte contents with JSON
variables, 1,000 users and 90 days of timestamps; generated files are cached under
``bench/out/data`` keyed by row count, generator version and migration content.

Speed (a 5M-row chain needs a 4 GB file): the log table's indexes are dropped while rows go in and
created afterwards (one sort each instead of a random B-tree insert per row), without a journal or
fsync; beyond ``BASE_ROWS`` the Python-generated rows are copied in SQL with unique message ids
(``<id>_<copy>``), which SQLite does ~20x faster than Python builds them.
"""

import hashlib
import json
import os
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgenotify.clock import iso
from edgenotify.db.sqlsplit import split_sql
from edgenotify.migrations import ledger
from edgenotify.migrations.files import MigrationFile, ordered

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"
OUT = ROOT / "bench" / "out"
GENERATOR_VERSION = 2
BASE_ROWS = 500_000
USERS = 1_000
DAYS = 90
END = datetime(2026, 11, 20, tzinfo=UTC)
CHANNELS = ("webhook", "telegram", "lark")
CARRIERS = ("DHL", "UPS", "La Poste", "Yamato", "Correos")
NAMES = ("Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Günter", "Hiro", "Inès", "José")
TEMPLATES = {
    "order_shipped": (
        "Order {order_id} shipped",
        "Hi {name}, good news: your order #{order_id} with {items} items left our warehouse and is on its way "
        "with {carrier}. Track it at https://track.example.com/{tracking} — questions? Just reply, we are here 24/7.",
    ),
    "payment_failed": (
        "Payment for {order_id} failed",
        "Hi {name}, we could not charge your card for order #{order_id} ({amount} EUR). Please update "
        "your payment details in your account at https://pay.example.com/{tracking}; we'll retry in 24 h. Thanks!",
    ),
    "weekly_digest": (
        "Your week: {items} updates",
        "Hi {name}, here is your weekly digest: {items} updates, 3 new followers, 2 comments and 1 mention.\n"
        'Top post: "Shipping with {carrier}" — see https://app.example.com/d/{tracking} for more.',
    ),
}
ERRORS = ("HTTP 500 from receiver", "timeout after 10 s", "Telegram 429: retry after 30 s", "HTTP 404 from receiver")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[MigrationFile]:
    return ordered([MigrationFile(p.name, p.read_text(encoding="utf-8")) for p in directory.glob("*.sql")])


def migrations_digest(files: list[MigrationFile]) -> str:
    return hashlib.sha256("".join(f.name + f.sha256 for f in files).encode()).hexdigest()[:12]


def apply_migrations(conn: sqlite3.Connection, files: list[MigrationFile]) -> None:
    """Run every migration and its ledger rows, as the auto-migrator would, so the DB is current."""
    conn.execute(ledger.CREATE_LEDGER)
    conn.execute(ledger.CREATE_CHECKSUMS)
    for file in files:
        for query in ledger.record_queries(file.name, file.sha256):
            conn.execute(query.sql, query.params)
        for statement in split_sql(file.sql):
            conn.execute(statement.sql)
    conn.commit()


def _timestamps(rng: random.Random, rows: int) -> list[datetime]:
    start = END - timedelta(days=DAYS)
    span = DAYS * 86_400.0
    return sorted(start + timedelta(seconds=rng.random() * span) for _ in range(rows))


def log_rows(rows: int, seed: int = 6) -> Iterator[tuple]:
    """Rows in insertion (= time) order, like a table filled by real sends."""
    rng = random.Random(seed)
    keys = list(TEMPLATES)
    for n, created in enumerate(_timestamps(rng, rows)):
        key = keys[n % len(keys)]
        variables = {
            "name": rng.choice(NAMES),
            "order_id": f"A{rng.randrange(10**7):07d}",
            "items": rng.randrange(1, 12),
            "carrier": rng.choice(CARRIERS),
            "amount": f"{rng.randrange(100, 99_999) / 100:.2f}",
            "tracking": f"{rng.getrandbits(64):016x}",
        }
        subject, content = (t.format(**variables) for t in TEMPLATES[key])
        roll = rng.random()
        status = "success" if roll < 0.90 else "failed" if roll < 0.97 else "pending"
        sent_at = iso(created + timedelta(milliseconds=rng.randrange(40, 900))) if status == "success" else None
        error = rng.choice(ERRORS) if status != "success" else None
        retries = rng.randrange(1, 4) if status != "success" else 0
        next_attempt = iso(created + timedelta(minutes=5 * retries)) if status == "pending" else None
        yield (
            f"msg_{rng.getrandbits(96):024x}",
            f"user_{rng.randrange(USERS):04d}",
            CHANNELS[rng.randrange(len(CHANNELS))],
            key,
            subject,
            content,
            status,
            sent_at,
            error,
            retries,
            next_attempt,
            f"req_{rng.getrandbits(64):016x}",
            json.dumps(variables, ensure_ascii=False),
            iso(created),
        )


INSERT = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, template_key, subject, content, status, "
    "sent_at, error, retry_count, next_attempt_at, request_id, variables, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _copies(conn: sqlite3.Connection, base: int, rows: int) -> None:
    """Fill up to ``rows`` with copies of the first ``base`` rows, in SQL."""
    columns = INSERT[INSERT.index("(") + 1 : INSERT.index(")")]
    copied = columns.replace("message_id", "message_id || '_' || :copy", 1)
    done, copy = base, 1
    while done < rows:
        n = min(base, rows - done)
        conn.execute(
            f"INSERT INTO notification_logs ({columns}) "
            f"SELECT {copied} FROM notification_logs WHERE id <= :n ORDER BY id",
            {"copy": copy, "n": n},
        )
        done, copy = done + n, copy + 1


def build(path: Path, rows: int, seed: int = 6) -> Path:
    """Create ``path`` (replacing it) with the migrated schema and ``rows`` log rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        apply_migrations(conn, migration_files())
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")  # 1 GB
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'notification_logs' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        base = min(rows, BASE_ROWS)
        conn.executemany(INSERT, log_rows(base, seed))
        _copies(conn, base, rows)
        for _, sql in indexes:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def cached(rows: int, out: Path = OUT) -> Path:
    """The generated database for ``rows``, built once and reused. Callers must copy it before writing."""
    path = out / "data" / f"logs-{rows}-g{GENERATOR_VERSION}-m{migrations_digest(migration_files())}.sqlite"
    if not path.exists():
        build(path, rows)
    return path
