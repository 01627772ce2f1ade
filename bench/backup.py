"""Benchmark 1: backup and restore throughput and memory, ours vs wrangler vs sqlite3.

All contenders work on the same generated SQLite file. Backup: ours (keyset pages through the
embedded D1 binding, gzip SQL into R2, manifest last) vs ``wrangler d1 export --local`` vs
``sqlite3 .dump``. Restore: ours (from that R2 object into an empty embedded D1, verified
against the manifest) vs ``sqlite3`` replaying its own dump vs ``wrangler d1 execute --local
--file`` (of wrangler's export, or of our backup's SQL when the export failed).

Ours runs twice per size: the operator CLIs ``scripts/backup``/``scripts/restore`` on the
embedded runtime's local R2 (what a developer pays), and the same ``edgenotify.ops`` code through
``bench/ops_probe.py`` on ``bench.disk_r2`` (bodies streamed to files: our code's own memory, as on
the edge where R2, not the Worker, holds the uploaded parts). Each contender runs in its own process
under ``/usr/bin/time -v`` with a timeout and an RSS cap; cheap contenders are repeated and the
fastest run kept (the shared machine only ever adds time); restores are checked by counting
the restored rows. Preparation (copies into each tool's layout) is outside the timed region.
"""

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
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
OURS = {
    "embedded": "ours: scripts/backup, scripts/restore (embedded local R2)",
    "disk": "ours: edgenotify.ops, R2 stand-in on disk",
}
WRANGLER_REPEAT_MAX_ROWS = 200_000  # wrangler export is repeated like the others only up to here


@dataclass
class SizeResult:
    rows: int
    db_bytes: int
    repeats: int
    backup: dict[str, Run] = field(default_factory=dict)
    restore: dict[str, Run] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sql_bytes: int | None = None  # our backup's uncompressed SQL
    wrangler_input: str = ""


def best(attempts: Callable[[], Run], repeats: int) -> Run:
    """Fastest successful run of ``repeats`` (peak memory: the largest seen); the failure if none succeeds."""
    runs = [attempts() for _ in range(repeats)]
    ok = [r for r in runs if r.ok]
    if not ok:
        return runs[-1]
    chosen = min(ok, key=lambda r: r.seconds)
    peaks = [r.peak_kib for r in ok if r.peak_kib]
    chosen.tree_rss_kib = max(peaks) if peaks else chosen.tree_rss_kib
    return chosen


def _probe(*args: str) -> list[str]:
    return [sys.executable, str(PROBE), *args]


def _cli(module: str, *args: str) -> list[str]:
    """An operator CLI exactly as ``scripts/backup``/``scripts/restore`` exec it (minus the setup)."""
    return [sys.executable, "-m", f"devkit.ops.{module}", *args, "--json", "--quiet"]


def _json_out(path: Path) -> dict:
    """The JSON document a CLI (indented) or the probe (one line) printed."""
    try:
        text = path.read_text()
        return json.loads(text)
    except ValueError:
        lines = [ln for ln in text.splitlines() if ln.startswith("{")]
        try:
            return json.loads(lines[-1]) if lines else {}
        except ValueError:
            return {}
    except OSError:
        return {}


class Sizing:
    """One table size: the files, the limits and the runs."""

    def __init__(self, rows: int, opts: Options, work: Path):
        self.db = datagen.cached(rows, opts.out)
        self.opts, self.work = opts, work
        repeats = 1 if opts.smoke or rows > WRANGLER_REPEAT_MAX_ROWS else 3
        self.res = SizeResult(rows, self.db.stat().st_size, repeats)
        self.limits = anchors.Limits(opts.timeout_for(rows), opts.rss_cap_mib)
        child_env = {**os.environ, "PYTHONPATH": f"{datagen.ROOT / 'src'}:{datagen.ROOT}"}
        self.kw = {
            "timeout": self.limits.timeout,
            "rss_cap_mib": self.limits.rss_cap_mib,
            "work": work,
            "cwd": datagen.ROOT,
            "env": child_env,
        }
        self.config = scenario.config_dir(work / "config")
        self.source = scenario.state_with(self.db, work / "ours-src")
        self.backup_ids: dict[str, str] = {}

    def ours_backup(self, r2: str) -> None:
        out = self.work / f"ours-backup-{r2}.json"

        if r2 == "embedded":
            argv = _cli("backup", "--state-dir", str(self.source), "--config", str(self.config))
        else:
            argv = _probe("backup", str(self.source), str(self.config), r2)

        def attempt() -> Run:
            got = measure.run(OURS[r2], argv, stdout=out, **self.kw)
            info = _json_out(out)
            got.output_bytes = (info.get("object") or {}).get("size") if got.ok else None
            if got.ok:
                self.backup_ids[r2] = info["id"]
                self.res.sql_bytes = (info.get("object") or {}).get("sql_bytes")
            return got

        self.res.backup[OURS[r2]] = best(attempt, self.res.repeats)

    def ours_restore(self, r2: str) -> None:
        if r2 not in self.backup_ids:
            self.res.notes.append(f"{OURS[r2]} restore not measured: its backup failed")
            return
        target = self.work / "ours-dst"
        db = target / "d1" / "DB.sqlite3"

        backup_id = self.backup_ids[r2]
        if r2 == "embedded":  # the CLI restores its own state: give it an empty D1 and a copy of the bucket
            argv = _cli("restore", backup_id, "--apply", "--state-dir", str(target), "--config", str(self.config))
        else:
            argv = _probe("restore", str(self.source), backup_id, str(target), str(self.config), r2)

        def attempt() -> Run:
            shutil.rmtree(target, ignore_errors=True)
            if r2 == "embedded":
                shutil.copytree(self.source / "r2", target / "r2")
            got = measure.run(OURS[r2], argv, stdout=self.work / "ours-restore.json", output=db, **self.kw)
            return anchors.verify(got, db, self.res.rows)

        self.res.restore[OURS[r2]] = best(attempt, self.res.repeats)
        shutil.rmtree(target, ignore_errors=True)

    def sqlite(self) -> None:
        dump, restored = self.work / "dump.sql", self.work / "sqlite3-restored.sqlite"
        got = best(lambda: anchors.sqlite_dump(self.db, dump, self.work, self.limits), self.res.repeats)
        self.res.backup["sqlite3 .dump"] = got
        if got.ok:
            say(f"restore {self.res.rows:,}: sqlite3 < dump")
            self.res.restore["sqlite3 < .dump"] = best(
                lambda: anchors.verify(
                    anchors.sqlite_restore(dump, restored, self.work, self.limits), restored, self.res.rows
                ),
                self.res.repeats,
            )
        restored.unlink(missing_ok=True)
        dump.unlink(missing_ok=True)

    def wrangler_export(self) -> None:
        proj, out = self.work / "wrangler-export", self.work / "wrangler.sql"
        self.res.backup["wrangler d1 export"] = best(
            lambda: anchors.wrangler_export(self.db, proj, out, self.work, self.limits), self.res.repeats
        )
        shutil.rmtree(proj, ignore_errors=True)

    def wrangler_execute(self) -> None:
        export = self.res.backup.get("wrangler d1 export")
        sql = self.work / "wrangler.sql"
        if export is not None and export.ok:
            self.res.wrangler_input = "wrangler's own export"
        elif "embedded" in self.backup_ids:
            sql = self.work / "ours.sql"
            argv = _probe("extract", str(self.source), self.backup_ids["embedded"], str(sql), str(self.config))
            extracted = measure.run("extract ours", argv, timeout=self.limits.timeout, work=self.work)
            if not extracted.ok:
                self.res.notes.append(f"wrangler d1 execute not measured: extracting our SQL {extracted.status}")
                return
            self.res.wrangler_input = "our backup's SQL (gunzipped), because wrangler's export failed"
        else:
            self.res.notes.append("wrangler d1 execute not measured: neither wrangler's export nor our backup exists")
            return
        say(f"restore {self.res.rows:,}: wrangler d1 execute --file ({self.res.wrangler_input})")
        proj = self.work / "wrangler-execute"
        got = anchors.wrangler_execute(sql, proj, self.work, self.limits)
        self.res.restore["wrangler d1 execute --file"] = anchors.verify(
            got, miniflare.database_file(proj), self.res.rows
        )
        shutil.rmtree(proj, ignore_errors=True)
        sql.unlink(missing_ok=True)
        (self.work / "wrangler.sql").unlink(missing_ok=True)

    def measure(self) -> SizeResult:
        n = f"{self.res.rows:,}"
        for r2 in OURS:
            say(f"backup {n}: {OURS[r2]} ×{self.res.repeats}")
            self.ours_backup(r2)
        say(f"backup {n}: sqlite3 .dump ×{self.res.repeats}")
        self.sqlite()
        if not self.opts.smoke:
            say(f"backup {n}: wrangler d1 export --local ×{self.res.repeats}")
            self.wrangler_export()
        for r2 in OURS:
            say(f"restore {n}: {OURS[r2]} ×{self.res.repeats}")
            self.ours_restore(r2)
        if not self.opts.smoke:
            self.wrangler_execute()
        shutil.rmtree(self.source, ignore_errors=True)
        return self.res


def run(opts: Options) -> str:
    results = []
    for rows in opts.sizes([100_000, 1_000_000], [300]):
        with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp:
            results.append(Sizing(rows, opts, Path(tmp)).measure())
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
        base_b, base_r = res.backup.get(OURS["embedded"]), res.restore.get(OURS["embedded"])
        backup_rows += [_row(res, label, r, base_b, size=True) for label, r in res.backup.items()]
        restore_rows += [_row(res, label, r, base_r, size=False) for label, r in res.restore.items()]
        notes += [f"- {res.rows:,} rows: {n}" for n in res.notes]
        if res.wrangler_input:
            notes.append(f"- {res.rows:,} rows: `wrangler d1 execute --file` was given {res.wrangler_input}.")
        targets += _targets(res)
    for label in OURS.values():
        targets += _flat(results, label)
    db_sizes = ", ".join(f"{res.rows:,} rows = {res.db_bytes / 2**20:.0f} MiB" for res in results)
    sql = ", ".join(f"{res.rows:,} rows = {fmt(res.sql_bytes / 2**20)} MiB" for res in results if res.sql_bytes)
    repeats = ", ".join(f"{res.rows:,} rows ×{res.repeats}" for res in results)
    body = [
        f"Same generated database for every contender (D1 file: {db_sizes}). Ours: the CLIs (`python -m "
        "devkit.ops.backup|restore --json --quiet`, as `scripts/backup|restore` exec them) on the embedded runtime "
        "(D1 file, local R2), and the same `edgenotify.ops` code via `bench/ops_probe.py` with "
        "R2 = `bench/disk_r2.py` (bodies streamed to files: our code's own memory). Time includes process start; "
        "best of the repeats "
        f"({repeats}; wrangler d1 execute once). Peak memory = max of `/usr/bin/time -v` max RSS and the sampled sum "
        "over the process tree (wrangler's memory is mostly its `workerd` child). "
        f"Per-contender timeout {opts.timeout_for(results[-1].rows) if results else 0:.0f} s at the largest size; "
        f"RSS cap {opts.rss_cap_mib} MiB (above it a contender is killed and recorded as failed)."
        + (f" Our backup's uncompressed SQL: {sql}." if sql else ""),
        "",
        "Backup (output: our gzip object; the others' plain SQL files):",
        "",
        table(["rows", "contender", "seconds", "rows/s", "peak memory", "output", "time vs ours"], backup_rows),
        "",
        "Restore (into an empty database; restored row count verified):",
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
    ours_b, ours_r = res.backup.get(OURS["embedded"]), res.restore.get(OURS["embedded"])
    ok_b = ours_b is not None and ours_b.ok
    out = []
    export = res.backup.get("wrangler d1 export")
    if export is not None:
        name = f"{n}: backup speed-up over wrangler d1 export"
        if export.ok or not ok_b:
            out.append(
                Target(
                    name,
                    ratio(export.seconds, ours_b.seconds) if ok_b and export.ok else None,
                    4.0,
                    "×",
                    higher_is_better=True,
                    why_not="" if ok_b else "our backup failed",
                )
            )
        elif export.reason.startswith("timeout"):  # wrangler would have needed longer: a lower bound
            out.append(
                Target(
                    name + " (lower bound: wrangler timed out)",
                    ratio(export.seconds, ours_b.seconds),
                    4.0,
                    "×",
                    higher_is_better=True,
                )
            )
        else:
            why = f"wrangler d1 export {export.status}; ours completed in {ours_b.seconds:.1f} s"
            out.append(Target(name, None, 4.0, "×", higher_is_better=True, why_not=why))
    dump = res.backup.get("sqlite3 .dump")
    if dump is not None:
        slower = ratio(ours_b.seconds, dump.seconds) if ok_b and dump.ok else None
        out.append(Target(f"{n}: backup time vs sqlite3 .dump", slower, 4.0, "×"))
    for label in OURS.values():
        r = res.backup.get(label)
        peak = r.peak_kib / 1024 if r is not None and r.ok and r.peak_kib else None
        out.append(Target(f"{n}: backup peak memory, {label}", peak, 150, " MiB"))
    own = res.restore.get("sqlite3 < .dump")
    slower = ratio(ours_r.seconds, own.seconds) if ours_r and ours_r.ok and own and own.ok else None
    out.append(Target(f"{n}: restore time vs sqlite3 restoring its own dump", slower, 2.0, "×"))
    return out


def _flat(results: list[SizeResult], label: str) -> list[Target]:
    peaks = [(res.rows, res.backup[label].peak_kib) for res in results if label in res.backup and res.backup[label].ok]
    if len(peaks) < 2:
        return []
    name = f"backup peak memory growth {peaks[0][0]:,} → {peaks[-1][0]:,} rows (flat), {label}"
    return [Target(name, ratio(peaks[-1][1], peaks[0][1]), FLAT_GROWTH, "×")]
