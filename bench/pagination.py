"""Benchmark 3: a log page deep in a large table, keyset cursor vs OFFSET.

Two scopes. ``table``: the whole table newest first on ``idx_logs_created_id`` (the issue's
1M-row walk; what any table-wide reader such as a backup scan pays). ``api``: the query the
log-list route actually runs (``edgenotify.notify.logs.list_query``, anchored on one user,
walking ``idx_logs_user_created``), for the user with the most rows. A keyset page seeks to
the cursor and reads ``limit + 1`` entries wherever it is; OFFSET steps over every skipped
row, so its cost grows with depth. Time is measured on the SQLite file directly (rounds
interleave all variants so machine noise hits them alike); rows read are D1's own
``meta.rows_read`` from Miniflare, i.e. what D1 would bill.
"""

import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import datagen, miniflare
from bench.options import Options, say
from bench.report import Target, fmt, ratio, table
from edgenotify.notify.logs import COLUMNS, LogFilter, list_query

NAME = "pagination"
TITLE = "3. Pagination depth: keyset vs OFFSET"
LIMIT = 50
DEPTHS = (0.0, 0.5, 0.9)
ORDER = "ORDER BY created_at DESC, id DESC"
FIRST = f"SELECT {COLUMNS} FROM notification_logs {ORDER} LIMIT ?"
KEYSET = f"SELECT {COLUMNS} FROM notification_logs WHERE (created_at, id) <= (?, ?) {ORDER} LIMIT ?"
OFFSET = f"SELECT {COLUMNS} FROM notification_logs {ORDER} LIMIT ? OFFSET ?"


@dataclass(frozen=True)
class Page:
    scope: str  # "table" or "api"
    variant: str  # "keyset" or "offset"
    depth: float  # requested fraction
    skip: int  # rows before the page (actual depth)
    total: int  # rows in scope
    sql: str
    params: tuple

    @property
    def key(self) -> tuple[str, str, float]:
        return (self.scope, self.variant, self.depth)


def _cursor(conn: sqlite3.Connection, sql: str, params: tuple, skip: int) -> tuple[str, int]:
    """(created_at, id) of the page's first row: what the previous page's cursor holds (the extra row it read)."""
    row = conn.execute(f"SELECT created_at, id FROM ({sql} LIMIT 1 OFFSET ?)", (*params, skip)).fetchone()
    return row[0], row[1]


def table_pages(conn: sqlite3.Connection, rows: int) -> list[Page]:
    pages = []
    for depth in DEPTHS:
        skip = min(int(rows * depth), rows - LIMIT - 1)
        pages.append(Page("table", "offset", depth, skip, rows, OFFSET, (LIMIT + 1, skip)))
        if skip == 0:
            pages.append(Page("table", "keyset", depth, 0, rows, FIRST, (LIMIT + 1,)))
            continue
        after = _cursor(conn, f"SELECT created_at, id FROM notification_logs {ORDER}", (), skip)
        pages.append(Page("table", "keyset", depth, skip, rows, KEYSET, (*after, LIMIT + 1)))
    return pages


def api_pages(conn: sqlite3.Connection) -> list[Page]:
    """The route's own query for the busiest user; depth is clipped so every page is full."""
    user, total = conn.execute(
        "SELECT user_id, count(*) FROM notification_logs GROUP BY user_id ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    flt = LogFilter(user_id=user)
    first = list_query(flt, None, LIMIT)
    order_sql = first.sql.rsplit(" LIMIT ?", 1)[0].replace(f"SELECT {COLUMNS}", "SELECT created_at, id", 1)
    pages = []
    for depth in DEPTHS:
        skip = max(0, min(int(total * depth), total - LIMIT - 1))
        pages.append(Page("api", "offset", depth, skip, total, first.sql + " OFFSET ?", (*first.params, skip)))
        if skip == 0:
            pages.append(Page("api", "keyset", depth, 0, total, first.sql, first.params))
            continue
        query = list_query(flt, _cursor(conn, order_sql, first.params[:-1], skip), LIMIT)
        pages.append(Page("api", "keyset", depth, skip, total, query.sql, query.params))
    return pages


def time_queries(db: Path, pages: list[Page], rounds: int, keyset_repeat: int) -> dict[tuple, float]:
    """Median seconds per page query, measured in interleaved rounds."""
    samples: dict[tuple, list[float]] = {p.key: [] for p in pages}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for _ in range(rounds):
            for page in pages:
                for _ in range(keyset_repeat if page.variant == "keyset" else 1):
                    started = time.perf_counter()
                    got = conn.execute(page.sql, page.params).fetchall()
                    samples[page.key].append(time.perf_counter() - started)
                    assert len(got) == min(LIMIT + 1, page.total - page.skip), (page.key, len(got))
    finally:
        conn.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def miniflare_meta(db: Path, pages: list[Page], repeat: int) -> dict[tuple, tuple[int, float]]:
    """(rows_read, median ms through getPlatformProxy) per page query."""
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        proj = miniflare.install(db, Path(tmp))
        steps = [
            {"label": str(i), "repeat": repeat, "batch": [{"sql": p.sql, "params": list(p.params)}]}
            for i, p in enumerate(pages)
        ]
        result = miniflare.run_meta(proj, steps)
    return {pages[int(step.label)].key: (step.rows_read, statistics.median(step.ms[1:] or step.ms)) for step in result}


def run(opts: Options) -> str:
    rows = opts.sizes([1_000_000], [2_000])[-1]
    say(f"pagination: preparing {rows:,} rows")
    db = datagen.cached(rows, opts.out)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        pages = table_pages(conn, rows) + api_pages(conn)
    say("pagination: timing on the SQLite file")
    medians = time_queries(db, pages, rounds=2 if opts.smoke else 15, keyset_repeat=3 if opts.smoke else 20)
    meta: dict = {}
    if not opts.smoke:
        say("pagination: rows read and latency through Miniflare's D1")
        meta = miniflare_meta(db, pages, repeat=5)
    return render(rows, pages, medians, meta)


def render(rows: int, pages: list[Page], medians: dict, meta: dict) -> str:
    lines = []
    for page in sorted(pages, key=lambda p: p.key):
        read, ms = meta.get(page.key, (None, None))
        seconds = medians[page.key]
        base = medians[(page.scope, page.variant, 0.0)]
        lines.append(
            [
                page.scope,
                page.variant,
                f"{page.depth:.0%} (row {page.skip:,} of {page.total:,})",
                f"{seconds * 1000:.3f}",
                f"{seconds / base:.2f}×",
                fmt(read),
                fmt(ms),
            ]
        )
    targets, notes = [], []
    for scope in ("table", "api"):
        keyset = ratio(medians[(scope, "keyset", 0.9)], medians[(scope, "keyset", 0.0)])
        offset = ratio(medians[(scope, "offset", 0.9)], medians[(scope, "offset", 0.0)])
        deep = ratio(medians[(scope, "offset", 0.9)], medians[(scope, "keyset", 0.9)])
        targets.append(Target(f"{scope}: keyset page at 90 % depth vs depth 0 (time)", keyset, 1.2, "×"))
        targets.append(
            Target(
                f"{scope}: keyset rows read at 90 % depth (limit + 1)",
                meta.get((scope, "keyset", 0.9), (None,))[0],
                LIMIT + 1,
            )
        )
        notes.append(
            f"- {scope}: OFFSET at 90 % costs {fmt(offset)}× its depth 0 (keyset {fmt(keyset)}×); at 90 % OFFSET "
            f"takes {fmt(deep)}× the keyset time."
        )
    user_total = next(p.total for p in pages if p.scope == "api")
    body = [
        f"Page of {LIMIT} rows (queries ask for limit + 1 = {LIMIT + 1}) on a {rows:,}-row `notification_logs`. "
        "`table`: whole table newest first on `idx_logs_created_id`. `api`: the log-list route's own query "
        f"(`list_query`, filtered on the busiest user, {user_total:,} rows, on `idx_logs_user_created`); its depth is "
        "clipped so the page is full. Time: median on the SQLite file (Python `sqlite3`, interleaved rounds, "
        "keyset repeated 20× per round). Rows read and latency: D1's `meta.rows_read` and the median wall time "
        "through Miniflare (getPlatformProxy), the anchor a D1 user sees.",
        "",
        table(["scope", "variant", "depth", "time (ms)", "vs depth 0", "D1 rows read", "Miniflare ms"], lines),
        "",
        *notes,
        "",
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)
