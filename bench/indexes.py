"""Benchmark 6: do ``idx_logs_user_status`` and ``idx_notification_user`` earn their writes?

Both are prefixes of other indexes on ``notification_logs`` (``idx_logs_user_status_created`` =
``user_id, status, created_at, id``; ``idx_logs_user_created`` = ``user_id, created_at, id``), so
SQLite can answer every lookup they serve from the longer index; yet each costs an index entry per
inserted log row, and ``idx_logs_user_status`` another two per status change. Measured on the same
generated database with and without them:

* writes: D1's own ``rows_written`` for the API's sends (request + ``waitUntil`` delivery), from
  replaying the recorded calls through Miniflare on each variant (``bench.roundtrips``), and the
  SQLite time of inserting log rows and marking them delivered with the send path's own statements;
* reads: every query shape the code runs on the table, its ``EXPLAIN QUERY PLAN`` (which index)
  and median time on each variant, and D1's ``rows_read`` through Miniflare.
"""

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench import datagen, miniflare, roundtrips
from bench.options import Options, say
from bench.report import Target, fmt, table
from edgenotify.clock import iso
from edgenotify.db import Query
from edgenotify.notify import logs, stats
from edgenotify.notify.delivery.dispatch import _SUCCEEDED
from edgenotify.notify.retry import claim_query
from edgenotify.notify.send import _INSERT_LOGS, _LOG_ROW

NAME = "indexes"
TITLE = "6. Redundant notification_logs indexes: write cost and read plans"
# Created by 0001, dropped by 0006: the "with" variant puts them back on the generated database.
CANDIDATES = {"idx_logs_user_status": "user_id, status", "idx_notification_user": "user_id"}
VARIANTS = ("with", "without")
WRITE_ROWS = 2_000  # log rows inserted then delivered per timing round
_INSERT_ONE = _INSERT_LOGS.format(rows=_LOG_ROW)  # the send's log-row INSERT, one row of VALUES


def variant(db_file: Path, target: Path, name: str) -> Path:
    """A private copy of ``db_file`` with the candidate indexes (``with``) or without them."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        for index, columns in CANDIDATES.items():
            if name == "with":
                dst.execute(f"CREATE INDEX IF NOT EXISTS {index} ON notification_logs ({columns})")
            else:
                dst.execute(f"DROP INDEX IF EXISTS {index}")
    return target


def read_queries(conn: sqlite3.Connection) -> dict[str, Query]:
    """The read shapes the code runs on ``notification_logs``, built by the code's own query builders."""
    user, created, row_id, channel, template = conn.execute(
        "SELECT user_id, max(created_at), max(id), max(channel_type), max(template_key) FROM notification_logs "
        "GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    message_id = conn.execute("SELECT message_id FROM notification_logs WHERE user_id = ? LIMIT 1", (user,)).fetchone()
    since = conn.execute("SELECT min(created_at) FROM notification_logs WHERE user_id = ?", (user,)).fetchone()[0]
    half = since[:8] + "15" + since[10:]  # a mid-range lower bound
    flt = logs.LogFilter
    limit = logs.DEFAULT_LIMIT
    return {
        "log page": logs.list_query(flt(user), None, limit),
        "log page, cursor": logs.list_query(flt(user), (created, row_id), limit),
        "log page, status=failed": logs.list_query(flt(user, status="failed"), None, limit),
        "log page, status=success, cursor": logs.list_query(flt(user, status="success"), (created, row_id), limit),
        "log page, channel": logs.list_query(flt(user, channel=channel), None, limit),
        "log page, template": logs.list_query(flt(user, template_key=template), None, limit),
        "log page, since": logs.list_query(flt(user, since=half), None, limit),
        "log page, keyword": logs.list_query(flt(user, keyword="order"), None, limit),
        "log by message id": logs.get_query(message_id[0]),
        "stats": stats.counts_query(user, None, None),
        "stats, since": stats.counts_query(user, half, None),
        "retry pickup": claim_query(iso(datagen.END), iso(datagen.END), 50),
    }


def plan(conn: sqlite3.Connection, query: Query) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params).fetchall()
    return "; ".join(str(r[-1]) for r in rows)


def time_reads(files: dict[str, Path], queries: dict[str, Query], rounds: int) -> dict[tuple[str, str], float]:
    """Median seconds per (variant, query); rounds interleave the variants so noise hits both alike."""
    conns = {v: sqlite3.connect(f"file:{f}?mode=ro", uri=True) for v, f in files.items()}
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(rounds):
            for v, conn in conns.items():
                for label, q in queries.items():
                    if q.sql.startswith("UPDATE"):
                        continue  # the retry pickup writes: its plan is what matters here
                    t0 = time.perf_counter()
                    conn.execute(q.sql, q.params).fetchall()
                    samples.setdefault((v, label), []).append(time.perf_counter() - t0)
    finally:
        for conn in conns.values():
            conn.close()
    return {key: statistics.median(s) for key, s in samples.items()}


def time_writes(files: dict[str, Path], rows: int, rounds: int) -> dict[str, float]:
    """Median seconds to insert ``rows`` pending log rows and mark each delivered (the send path's SQL)."""
    samples: dict[str, list[float]] = {v: [] for v in files}
    for n in range(rounds):
        for v, path in files.items():
            with sqlite3.connect(path) as conn:
                now = iso(datagen.END)
                ids = [f"bench-{n}-{i}" for i in range(rows)]
                t0 = time.perf_counter()
                for i, message_id in enumerate(ids):
                    user = f"user_{i % datagen.USERS:04d}"
                    row = (message_id, user, "webhook", None, "s", "c" * 200, now, None, None, None, now, None, None)
                    conn.execute(_INSERT_ONE, row)
                for message_id in ids:
                    conn.execute(_SUCCEEDED, (now, 1, message_id, now))  # sent_at, attempt_count, owner
                conn.commit()
                samples[v].append(time.perf_counter() - t0)
    return {v: statistics.median(s) for v, s in samples.items()}


def d1_rows_read(files: dict[str, Path], queries: dict[str, Query], work: Path) -> dict[tuple[str, str], int]:
    reads = {label: q for label, q in queries.items() if not q.sql.startswith("UPDATE")}
    out = {}
    for v, path in files.items():
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            proj = miniflare.install(path, Path(tmp))
            steps = [{"label": k, "batch": [{"sql": q.sql, "params": list(q.params)}]} for k, q in reads.items()]
            for step in miniflare.run_meta(proj, steps):
                out[(v, step.label)] = step.rows_read
    return out


def send_writes(db_file: Path, work: Path) -> tuple[dict[tuple[str, str], tuple[int, int]], str]:
    """D1 rows written by each recorded send (request, after response) on each variant."""
    ops, snapshot = roundtrips.recorded_ops(work / "ops", db_file)
    sends = [op for op in ops if op.label.startswith("send") and "replay" not in op.label]
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for v in VARIANTS:
        note = roundtrips.replay(sends, variant(snapshot, work / f"snapshot-{v}.sqlite", v), work)
        if note:
            return {}, note
        for op in sends:
            out[(v, op.label)] = (op.miniflare_rows(1) or 0, op.miniflare_rows(1, background=True) or 0)
    return out, ""


def run(opts: Options) -> str:
    rows = opts.sizes([100_000], [300])[-1]
    say(f"indexes: preparing {rows:,} rows")
    db_file = datagen.cached(rows, opts.out)
    with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp:
        work = Path(tmp)
        files = {v: variant(db_file, work / f"{v}.sqlite", v) for v in VARIANTS}
        with sqlite3.connect(f"file:{files['with']}?mode=ro", uri=True) as conn:
            queries = read_queries(conn)
        plans = {}
        for v, path in files.items():
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                plans.update({(v, label): plan(conn, q) for label, q in queries.items()})
        say("indexes: timing reads and writes on the SQLite files")
        reads = time_reads(files, queries, rounds=3 if opts.smoke else 30)
        write_rows = 50 if opts.smoke else WRITE_ROWS
        write_files = {v: variant(db_file, work / f"w-{v}.sqlite", v) for v in VARIANTS}
        writes = time_writes(write_files, write_rows, rounds=1 if opts.smoke else 5)
        d1_reads: dict = {}
        sends: dict = {}
        note = "Miniflare figures skipped in smoke mode."
        if not opts.smoke:
            say("indexes: D1 rows read and written through Miniflare")
            d1_reads = d1_rows_read(files, queries, work)
            sends, note = send_writes(db_file, work)
    return render(rows, queries, plans, reads, writes, d1_reads, sends, note, write_rows)


def render(rows, queries, plans, reads, writes, d1_reads, sends, note, write_rows) -> str:
    read_lines = []
    changed = []
    for label in queries:
        if plans[("with", label)] != plans[("without", label)]:
            changed.append(label)
        read_lines.append(
            [
                label,
                plans[("with", label)],
                "same" if label not in changed else plans[("without", label)],
                *(f"{reads[(v, label)] * 1000:.3f}" if (v, label) in reads else "—" for v in VARIANTS),
                *(fmt(d1_reads.get((v, label))) for v in VARIANTS),
            ]
        )
    send_lines = [
        [label, *(f"{sends[(v, label)][0]} + {sends[(v, label)][1]}" for v in VARIANTS)]
        for label in dict.fromkeys(k[1] for k in sends)
    ]
    saved = None
    if sends:
        per_send = [sum(sends[("with", k)]) - sum(sends[("without", k)]) for k in dict.fromkeys(k[1] for k in sends)]
        saved = min(per_send)
    write_ratio = writes["without"] / writes["with"] if writes.get("with") else None
    worse = [k for k in queries if (d1_reads.get(("without", k)) or 0) > (d1_reads.get(("with", k)) or 0)]
    targets = [
        Target(
            "read queries that read more D1 rows without the two indexes",
            len(worse) if d1_reads else None,
            0,
            why_not="" if d1_reads else note,
        ),
        Target(
            "D1 rows written saved per send (request + delivery) by dropping them",
            saved,
            1,
            higher_is_better=True,
            why_not="" if sends else note,
        ),
    ]
    body = [
        f"`notification_logs` of {rows:,} generated rows; variants: `with` (as migrations 0001-0002 left it) and "
        "`without` "
        f"({', '.join(f'`{c}`' for c in CANDIDATES)} dropped). Plans: SQLite's `EXPLAIN QUERY PLAN` "
        "(Python `sqlite3`, no `ANALYZE`, as on a fresh D1). Time: median of interleaved rounds on the files. "
        "D1 rows: `meta.rows_read` through Miniflare (getPlatformProxy).",
        "",
        table(
            ["query", "plan (with)", "plan (without)", "ms with", "ms without", "D1 read with", "D1 read without"],
            read_lines,
        ),
        "",
        f"Writes on SQLite: {write_rows:,} log rows inserted as the send path does (`pending`) then marked "
        f"delivered (`success`): median {fmt(writes.get('with'))} s with, {fmt(writes.get('without'))} s without "
        f"({fmt(write_ratio)}× the time).",
        "",
        "D1 rows written per API send (request + after-response delivery), replayed through Miniflare:",
        "",
        table(["send", "with", "without"], send_lines) if send_lines else note,
        "",
        f"Plans that change without them: {', '.join(changed) or 'none'}.",
        "",
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)
