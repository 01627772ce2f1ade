"""Benchmark 1: backup and restore throughput and memory, ours vs wrangler vs sqlite3.

All contenders work on the same generated SQLite file. Backup: ours (keyset pages through the
embedded D1 binding, gzip SQL into the embedded local R2, manifest last) vs ``wrangler d1
export --local`` vs ``sqlite3 .dump``. Restore: ours (from that R2 object into an empty
embedded D1, verified against the manifest) vs ``sqlite3`` replaying its own dump vs ``wrangler
d1 execute --local --file`` (of wrangler's export, or of our backup's SQL when the export
failed). Each runs in its own process under ``/usr/bin/time -v`` with a timeout and an RSS cap;
restores are checked by counting the restored rows. Preparation (copies into the layouts each
tool expects) is outside the timed region.
"""

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import anchors, datagen, measure, miniflare, scenario
from bench.measure import Run
from bench.options import Options, say
from bench.report import Target, fmt, mib, ratio, table

NAME = "backup"
TITLE = "1. Backup and restore: throughput and memory"
PROBE = Path(__file__).resolve().parent / "ops_probe.py"
FLAT_GROWTH = 1.2  # "flat": peak memory at the largest size at most 20 % above the smallest


@dataclass
class SizeResult:
    rows: int
    db_bytes: int
    backup: dict[str, Run] = field(default_factory=dict)
    restore: dict[str, Run] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sql_bytes: int | None = None  # our backup's uncompressed SQL
    wrangler_input: str = ""


def _probe(*args: str) -> list[str]:
    return [sys.executable, str(PROBE), *args]


def _json_out(path: Path) -> dict:
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def measure_size(rows: int, opts: Options, work: Path) -> SizeResult:
    db = datagen.cached(rows, opts.out)
    res = SizeResult(rows, db.stat().st_size)
    limits = anchors.Limits(opts.timeout_for(rows), opts.rss_cap_mib)
    kw = {"timeout": limits.timeout, "rss_cap_mib": limits.rss_cap_mib, "work": work}
    config = scenario.config_dir(work / "config")
    source = scenario.state_with(db, work / "ours-src")

    say(f"backup {rows:,}: ours")
    ours = measure.run(
        "ours backup", _probe("backup", str(source), str(config)), stdout=work / "ours-backup.json", **kw
    )
    info = _json_out(work / "ours-backup.json")
    ours.output_bytes = (info.get("object") or {}).get("size") if ours.ok else None
    res.sql_bytes = (info.get("object") or {}).get("sql_bytes")
    res.backup["ours"] = ours

    say(f"backup {rows:,}: sqlite3 .dump")
    res.backup["sqlite3 .dump"] = anchors.sqlite_dump(db, work / "dump.sql", work, limits)
    if not opts.smoke:
        say(f"backup {rows:,}: wrangler d1 export --local")
        res.backup["wrangler d1 export"] = anchors.wrangler_export(
            db, work / "wrangler-export", work / "wrangler.sql", work, limits
        )
        shutil.rmtree(work / "wrangler-export", ignore_errors=True)

    if ours.ok:
        say(f"restore {rows:,}: ours")
        target = work / "ours-dst"
        argv = _probe("restore", str(source), info["id"], str(target), str(config))
        got = measure.run(
            "ours restore", argv, stdout=work / "ours-restore.json", output=target / "d1" / "DB.sqlite3", **kw
        )
        res.restore["ours"] = anchors.verify(got, target / "d1" / "DB.sqlite3", rows)
        shutil.rmtree(target, ignore_errors=True)
    else:
        res.notes.append("our restore not measured: our backup failed")

    dump = res.backup["sqlite3 .dump"]
    if dump.ok:
        say(f"restore {rows:,}: sqlite3 < dump")
        restored = work / "sqlite3-restored.sqlite"
        res.restore["sqlite3 < .dump"] = anchors.verify(
            anchors.sqlite_restore(work / "dump.sql", restored, work, limits), restored, rows
        )
        restored.unlink(missing_ok=True)
    (work / "dump.sql").unlink(missing_ok=True)

    if not opts.smoke:
        _wrangler_restore(res, opts, work, limits, source, info, config)
    shutil.rmtree(source, ignore_errors=True)
    return res


def _wrangler_restore(res: SizeResult, opts: Options, work: Path, limits, source: Path, info: dict, config) -> None:
    export = res.backup.get("wrangler d1 export")
    sql = work / "wrangler.sql"
    if export is not None and export.ok:
        res.wrangler_input = "wrangler's own export"
    elif res.backup["ours"].ok:
        sql = work / "ours.sql"
        extracted = measure.run(
            "extract ours",
            _probe("extract", str(source), info["id"], str(sql), str(config)),
            timeout=limits.timeout,
            work=work,
        )
        if not extracted.ok:
            res.notes.append(f"wrangler d1 execute not measured: extracting our SQL {extracted.status}")
            return
        res.wrangler_input = "our backup's SQL (gunzipped), because wrangler's export failed"
    else:
        res.notes.append("wrangler d1 execute not measured: neither wrangler's export nor our backup exists")
        return
    say(f"restore {res.rows:,}: wrangler d1 execute --file ({res.wrangler_input})")
    proj = work / "wrangler-execute"
    got = anchors.wrangler_execute(sql, proj, work, limits)
    res.restore["wrangler d1 execute --file"] = anchors.verify(got, miniflare.database_file(proj), res.rows)
    shutil.rmtree(proj, ignore_errors=True)
    sql.unlink(missing_ok=True)
    (work / "wrangler.sql").unlink(missing_ok=True)


def run(opts: Options) -> str:
    sizes = opts.sizes([100_000, 1_000_000], [300])
    results = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp:
            results.append(measure_size(rows, opts, Path(tmp)))
    return render(results, opts)


def _row(res: SizeResult, label: str, r: Run, base: Run | None, size: bool) -> list[str]:
    seconds = fmt(r.seconds) if r.ok else r.status
    rate = fmt(round(res.rows / r.seconds)) if r.ok and r.seconds else "—"
    out = fmt(r.output_bytes / 2**20) + " MiB" if size and r.output_bytes else "—"
    vs = f"{fmt(ratio(r.seconds, base.seconds))}×" if r.ok and base is not None and base.ok else "—"
    return [f"{res.rows:,}", label, seconds, rate, mib(r.peak_kib), out, vs]


def render(results: list[SizeResult], opts: Options) -> str:
    backup_rows, restore_rows, notes, targets = [], [], [], []
    for res in results:
        ours_b, ours_r = res.backup.get("ours"), res.restore.get("ours")
        for label, r in res.backup.items():
            backup_rows.append(_row(res, label, r, ours_b, size=True))
        for label, r in res.restore.items():
            restore_rows.append(_row(res, label, r, ours_r, size=False))
        notes += [f"- {res.rows:,} rows: {n}" for n in res.notes]
        if res.wrangler_input:
            notes.append(f"- {res.rows:,} rows: `wrangler d1 execute --file` was given {res.wrangler_input}.")
        targets += _targets(res)
    peaks = [
        (res.rows, res.backup["ours"].peak_kib) for res in results if res.backup.get("ours") and res.backup["ours"].ok
    ]
    if len(peaks) >= 2:
        growth = ratio(peaks[-1][1], peaks[0][1])
        targets.append(
            Target(
                f"our backup peak memory growth {peaks[0][0]:,} → {peaks[-1][0]:,} rows (flat)",
                growth,
                FLAT_GROWTH,
                "×",
            )
        )
    db_sizes = ", ".join(f"{res.rows:,} rows = {res.db_bytes / 2**20:.0f} MiB" for res in results)
    sql = ", ".join(f"{res.rows:,} rows = {fmt(res.sql_bytes / 2**20)} MiB" for res in results if res.sql_bytes)
    body = [
        "Same generated database for every contender (D1 file sizes: " + db_sizes + "). Ours: "
        "`bench/ops_probe.py` runs `edgenotify.ops` backup/restore on the embedded runtime's bindings (D1 file, local "
        "R2 in SQLite), each in its own process. Peak memory = max of `/usr/bin/time -v` max RSS and the sampled sum "
        "over the process tree (wrangler's memory is mostly its `workerd` child). Time includes process start. "
        f"Per-contender timeout {opts.timeout_for(results[-1].rows) if results else 0:.0f} s at the largest size, "
        f"RSS cap {opts.rss_cap_mib} MiB (a contender above it is killed and recorded as failed)."
        + (f" Our backup's uncompressed SQL: {sql}." if sql else ""),
        "",
        "Backup (output: our gzip object in R2; the others' SQL files):",
        "",
        table(["rows", "contender", "seconds", "rows/s", "peak memory", "output", "time vs ours"], backup_rows),
        "",
        "Restore (into an empty database; row count verified):",
        "",
        table(["rows", "contender", "seconds", "rows/s", "peak memory", "output", "time vs ours"], restore_rows),
        "",
        *notes,
        *([""] if notes else []),
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)


def _targets(res: SizeResult) -> list[Target]:
    n = f"{res.rows:,} rows"
    ours_b, ours_r = res.backup.get("ours"), res.restore.get("ours")
    ok_b = ours_b is not None and ours_b.ok
    out = []
    export = res.backup.get("wrangler d1 export")
    if export is not None:
        speedup = ratio(export.seconds, ours_b.seconds) if ok_b else None
        name = f"{n}: backup speed-up over wrangler d1 export"
        if not export.ok and speedup is not None:
            name += f" (lower bound: wrangler {export.status})"
        out.append(Target(name, speedup, 4.0, "×", higher_is_better=True))
    dump = res.backup.get("sqlite3 .dump")
    if dump is not None:
        slower = ratio(ours_b.seconds, dump.seconds) if ok_b and dump.ok else None
        out.append(Target(f"{n}: backup time vs sqlite3 .dump", slower, 4.0, "×"))
    out.append(
        Target(
            f"{n}: our backup peak memory", ours_b.peak_kib / 1024 if ok_b and ours_b.peak_kib else None, 150, " MiB"
        )
    )
    own = res.restore.get("sqlite3 < .dump")
    slower = ratio(ours_r.seconds, own.seconds) if ours_r and ours_r.ok and own and own.ok else None
    out.append(Target(f"{n}: restore time vs sqlite3 restoring its own dump", slower, 2.0, "×"))
    return out
