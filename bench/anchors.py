"""The tools a D1 user would reach for instead of ours: ``sqlite3`` and wrangler.

Each function runs one tool on files prepared outside the timed region (copies into a
wrangler project are not billed to wrangler) and returns a ``measure.Run``. ``verify``
counts the rows a restore produced, so a "fast" restore that lost data cannot pass.
"""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bench import measure, miniflare


@dataclass(frozen=True)
class Limits:
    timeout: float
    rss_cap_mib: int


def sqlite_dump(db: Path, out: Path, work: Path, limits: Limits) -> measure.Run:
    """``sqlite3 .dump`` of the file, to ``out``."""
    argv = ["sqlite3", "-readonly", str(db), ".dump"]
    return measure.run(
        "sqlite3 .dump", argv, timeout=limits.timeout, rss_cap_mib=limits.rss_cap_mib, work=work, stdout=out
    )


def sqlite_restore(dump: Path, target: Path, work: Path, limits: Limits) -> measure.Run:
    """``sqlite3 new.db < dump.sql``: sqlite3 restoring its own dump (one transaction, as .dump writes it)."""
    target.unlink(missing_ok=True)
    argv = ["sqlite3", "-bail", str(target)]
    return measure.run(
        "sqlite3 restore",
        argv,
        timeout=limits.timeout,
        rss_cap_mib=limits.rss_cap_mib,
        work=work,
        stdin=dump,
        output=target,
    )


def wrangler_export(db: Path, project_dir: Path, out: Path, work: Path, limits: Limits) -> measure.Run:
    """``wrangler d1 export --local`` of a copy of ``db`` placed in a wrangler project."""
    proj = miniflare.install(db, project_dir)
    argv = miniflare.wrangler(
        proj, "d1", "export", miniflare.database()["database_name"], "--local", "--output", str(out), "-y"
    )
    return measure.run(
        "wrangler d1 export",
        argv,
        timeout=limits.timeout,
        rss_cap_mib=limits.rss_cap_mib,
        work=work,
        cwd=proj,
        output=out,
    )


def wrangler_execute(sql: Path, project_dir: Path, work: Path, limits: Limits) -> measure.Run:
    """``wrangler d1 execute --local --file`` into an empty local database."""
    proj = miniflare.install(None, project_dir)
    argv = miniflare.wrangler(
        proj, "d1", "execute", miniflare.database()["database_name"], "--local", "--file", str(sql), "-y"
    )
    return measure.run(
        "wrangler d1 execute --file",
        argv,
        timeout=limits.timeout,
        rss_cap_mib=limits.rss_cap_mib,
        work=work,
        cwd=proj,
        output=miniflare.database_file(proj),
    )


def count_rows(db: Path, table: str = "notification_logs") -> int | None:
    """Rows in ``table`` of the SQLite file ``db``; None when the file or table is missing."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    except sqlite3.Error:
        return None


def verify(run: measure.Run, db: Path, expected: int) -> measure.Run:
    """Mark a restore failed when it did not bring back every row."""
    if not run.ok:
        return run
    got = count_rows(db)
    if got != expected:
        run.ok = False
        run.reason = f"restored {got} of {expected} rows"
    return run
