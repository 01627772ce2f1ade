"""Benchmark 5: cold start and auto-migration overhead.

A fresh interpreter imports ``src/entry.py`` (with the embedded ``workers`` shim) and serves
requests with the development auto-migrator on (``coldstart_probe.py``). Measured: import wall
time (median of fresh processes) against the bare interpreter's own start-up, a ``-X
importtime`` breakdown by top-level package, the D1 round trips of each request on an empty
database and on a current one (target: 0 once current), and that sqlglot is imported neither
at import time nor by any GET route (the admin query-plan endpoint excepted).
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.options import Options, say
from bench.report import Target, fmt, ratio, table

NAME = "coldstart"
TITLE = "5. Cold start and auto-migration"
PROBE = Path(__file__).resolve().parent / "coldstart_probe.py"


def probe(state_dir: Path, importtime: bool = False) -> tuple[dict, str]:
    flags = ["-X", "importtime"] if importtime else []
    proc = subprocess.run(
        [sys.executable, *flags, str(PROBE), str(state_dir)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"coldstart probe failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def bare_startup_ms(runs: int) -> float:
    """Wall time of ``python -c pass``: the interpreter's own cold start, the anchor."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def entry_breakdown(importtime: str, top: int = 8) -> tuple[float | None, list[tuple[str, float]]]:
    """Cumulative µs of ``entry`` and self time by top-level package inside its import."""
    block: list[tuple[str, int]] = []
    total = None
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us, cumulative = int(parts[0].split(":")[1]), int(parts[1])
        except ValueError:
            continue  # the header line
        name = parts[2].rstrip()[1:]  # one space follows the bar, then two per nesting level
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 0 and name == "entry":
            total = cumulative / 1000
            break
        block = [] if depth == 0 else block  # another top-level import: not part of entry's tree
        if depth:
            block.append((name.strip(), self_us))
    by_package: dict[str, float] = defaultdict(float)
    for name, self_us in block:
        by_package[name.split(".")[0]] += self_us / 1000
    return total, sorted(by_package.items(), key=lambda kv: -kv[1])[:top]


def run(opts: Options) -> str:
    runs = 0 if opts.smoke else 7
    with tempfile.TemporaryDirectory(dir=opts.work(NAME)) as tmp:
        state = Path(tmp)
        say("coldstart: first boot on an empty database")
        first, _ = probe(state)
        say(f"coldstart: {runs} fresh processes on the now-current database")
        later = [probe(state)[0] for _ in range(runs)]
        detail, importtime = probe(state, importtime=True)
        later = later or [detail]  # smoke: the -X importtime run stands in for the timed ones
    bare = bare_startup_ms(max(runs, 1))
    return render(first, later, detail, importtime, bare)


def render(first: dict, later: list[dict], detail: dict, importtime: str, bare: float) -> str:
    import_ms = statistics.median(p["import_ms"] for p in later)
    shim_ms = statistics.median(p["shim_ms"] for p in later)
    entry_total, packages = entry_breakdown(importtime)
    current_calls = [r["d1_calls"] for p in later for r in p["health"][1:]]
    isolate_first = [p["health"][0]["d1_calls"] for p in later]
    loaded = sorted(
        {m for p in [first, *later, detail] for r in p["health"] + p["routes"] for m in r["loaded"]}
        | {m for p in [first, *later, detail] for m in p["loaded_after_import"]}
    )
    first_loaded = next((r["path"] for p in [first, *later] for r in p["health"] + p["routes"] if r["loaded"]), None)
    routes = [[r["path"], r["status"], r["d1_calls"], ", ".join(r["loaded"]) or "—"] for r in detail["routes"]]
    targets = [
        Target(
            "D1 queries per request once migrations are current (max over later requests)",
            max(current_calls, default=None),
            0,
        ),
        Target("sqlglot modules on the request path (import + GET routes)", len(loaded), 0),
    ]
    body = [
        "Fresh CPython processes import `src/entry.py` with the embedded `workers` shim, then serve `GET /health` "
        "5 times and every GET route once (path parameters filled with `bench`) with `ENVIRONMENT=development`, "
        "so the auto-migrator runs. D1 calls are counted at the binding (all/run/first/raw/batch/exec).",
        "",
        table(
            ["measure", "value"],
            [
                ["import of `entry` (wall, median of fresh processes)", f"{fmt(import_ms)} ms"],
                ["import of `entry` (`-X importtime` cumulative, one run)", f"{fmt(entry_total)} ms"],
                ["bare interpreter start (`python -c pass`, anchor)", f"{fmt(bare)} ms"],
                ["entry import / bare start", f"{fmt(ratio(import_ms, bare))}×"],
                ["embedded `workers` shim import (not on the edge)", f"{fmt(shim_ms)} ms"],
                ["modules loaded after import", fmt(detail["module_count"])],
                ["D1 calls, 1st request, empty database (applies migrations)", fmt(first["health"][0]["d1_calls"])],
                ["D1 calls, 1st request of a new isolate, database current", fmt(max(isolate_first))],
                ["D1 calls, later requests, database current", fmt(max(current_calls, default=None))],
                ["1st request on empty database (ms, incl. migrations)", fmt(first["health"][0]["ms"])],
                ["sqlglot imported", "no" if not loaded else f"YES (first after {first_loaded or 'import'})"],
            ],
        ),
        "",
        "Heaviest packages inside `entry`'s import (self time, `-X importtime`): "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in packages)
        + ".",
        "",
        "GET routes exercised (one fresh isolate, database current):",
        "",
        table(["route", "status", "D1 calls", "forbidden modules loaded"], routes) if routes else "(none)",
        "",
        "```",
        *(t.line() for t in targets),
        "```",
    ]
    return "\n".join(body)
