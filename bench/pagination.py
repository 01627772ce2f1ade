"""Benchmark 3: a log page deep in a large table, keyset cursor vs OFFSET.

Both walk ``idx_logs_created_id`` newest first. A keyset page seeks to the cursor and reads
``limit + 1`` index entries wherever it is; OFFSET must step over every skipped row, so its
cost grows with depth. Time is measured on the SQLite file directly (rounds interleave all
variants so machine noise hits them alike); rows read are D1's own ``meta.rows_read`` from
Miniflare, i.e. what D1 would bill.
"""

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench import datagen, miniflare
from bench.options import Options, say
from bench.report import Target, fmt, ratio, table

NAME = "pagination"
TITLE = "3. Pagination depth: keyset vs OFFSET"
LIMIT = 50
DEPTHS = (0.0, 0.5, 0.9)
COLUMNS = (
    "id, message_id, user_id, channel_type, template_key, subject, status, error, retry_count, sent_at, created_at"
)
ORDER = "ORDER BY created_at DESC, id DESC"
FIRST = f"SELECT {COLUMNS} FROM notification_logs {ORDER} LIMIT ?"
KEYSET = f"SELECT {COLUMNS} FROM notification_logs WHERE (created_at, id) < (?, ?) {ORDER} LIMIT ?"
OFFSET = f"SELECT {COLUMNS} FROM notification_logs {ORDER} LIMIT ? OFFSET ?"


def queries(conn: sqlite3.Connection, rows: int) -> dict[tuple[str, float], tuple[str, tuple]]:
    """(variant, depth) → (sql, params). The keyset cursor is the last row of the previous page."""
    out: dict[tuple[str, float], tuple[str, tuple]] = {}
    for depth in DEPTHS:
        skip = int(rows * depth)
        out[("offset", depth)] = (OFFSET, (LIMIT + 1, skip))
        if skip == 0:
            out[("keyset", depth)] = (FIRST, (LIMIT + 1,))
            continue
        last = conn.execute(f"SELECT created_at, id FROM notification_logs {ORDER} LIMIT 1 OFFSET ?", (skip - 1,))
        created_at, ident = last.fetchone()
        out[("keyset", depth)] = (KEYSET, (created_at, ident, LIMIT + 1))
    return out


def time_queries(db: Path, plan: dict, rounds: int, keyset_repeat: int) -> dict[tuple[str, float], float]:
    """Median seconds per query, measured in interleaved rounds."""
    samples: dict[tuple[str, float], list[float]] = {key: [] for key in plan}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for _ in range(rounds):
            for key, (sql, params) in plan.items():
                for _ in range(keyset_repeat if key[0] == "keyset" else 1):
                    started = time.perf_counter()
                    page = conn.execute(sql, params).fetchall()
                    samples[key].append(time.perf_counter() - started)
                    assert len(page) == LIMIT + 1, (key, len(page))
    finally:
        conn.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def miniflare_meta(db: Path, plan: dict, repeat: int) -> dict[tuple[str, float], tuple[int, float]]:
    """(rows_read, median ms through getPlatformProxy) per query."""
    with tempfile.TemporaryDirectory(dir=db.parent) as tmp:
        proj = miniflare.install(db, Path(tmp))
        steps = [
            {"label": f"{v}:{d}", "repeat": repeat, "batch": [{"sql": sql, "params": list(params)}]}
            for (v, d), (sql, params) in plan.items()
        ]
        result = miniflare.run_meta(proj, steps)
    out = {}
    for step in result:
        variant, depth = step.label.split(":")
        out[(variant, float(depth))] = (step.rows_read, statistics.median(step.ms[1:] or step.ms))
    return out


def run(opts: Options) -> str:
    rows = opts.sizes([1_000_000], [2_000])[-1]
    say(f"pagination: preparing {rows:,} rows")
    db = datagen.cached(rows, opts.out)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        plan = queries(conn, rows)
    say("pagination: timing on the SQLite file")
    medians = time_queries(db, plan, rounds=2 if opts.smoke else 15, keyset_repeat=3 if opts.smoke else 20)
    meta: dict = {}
    if not opts.smoke:
        say("pagination: rows read and latency through Miniflare's D1")
        meta = miniflare_meta(db, plan, repeat=5)
    return render(rows, medians, meta)


def render(rows: int, medians: dict, meta: dict) -> str:
    lines = []
    for (variant, depth), seconds in sorted(medians.items()):
        read, ms = meta.get((variant, depth), (None, None))
        base = medians[(variant, 0.0)]
        lines.append([variant, f"{depth:.0%}", f"{seconds * 1000:.3f}", f"{seconds / base:.2f}×", fmt(read), fmt(ms)])
    keyset_ratio = ratio(medians[("keyset", 0.9)], medians[("keyset", 0.0)])
    offset_ratio = ratio(medians[("offset", 0.9)], medians[("offset", 0.0)])
    keyset_read = meta.get(("keyset", 0.9), (None, None))[0]
    targets = [
        Target("keyset page at 90 % depth vs depth 0 (time)", keyset_ratio, 1.2, "×"),
        Target("keyset rows read at 90 % depth (limit + 1)", keyset_read, LIMIT + 1),
    ]
    body = [
        f"Page of {LIMIT} rows (query asks for limit + 1 = {LIMIT + 1}) on a {rows:,}-row `notification_logs`, newest "
        "first on `idx_logs_created_id`. Time: median on the SQLite file (Python `sqlite3`, interleaved rounds). "
        "Rows read and latency: D1's `meta.rows_read` and the median wall time through Miniflare (getPlatformProxy).",
        "",
        table(
            ["variant", "depth", "time (ms)", "vs depth 0", "D1 rows read", "Miniflare ms"],
            lines,
        ),
        "",
        f"- Anchor ratio: OFFSET at 90 % costs {fmt(offset_ratio)}× its depth 0; keyset {fmt(keyset_ratio)}×; "
        f"at 90 % OFFSET is {fmt(ratio(medians[('offset', 0.9)], medians[('keyset', 0.9)]))}× slower than keyset.",
        "",
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)
