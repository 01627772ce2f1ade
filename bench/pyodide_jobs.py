"""Backup and restore jobs on the parity runtime: Pyodide's CPU per million rows, D1 calls, wasm heap.

The production job code (``usecases.start_backup`` / ``start_restore`` then ``continue_job``, one
invocation after another under the paid plan's limits, quiesce 0, verification included) runs on real
Pyodide 0.28.3 in Node 22 against Miniflare's D1 and R2 (``devkit/parity/harness.mjs --bench``,
``devkit/parity/pyodide_bench.py``). The source database is a ``bench.datagen`` file copied into
Miniflare's persist layout (no SQL import); the restore goes into a second, empty D1 binding.

CPU is Node's MAIN THREAD (``process.threadCpuUsage``): Pyodide, the JS it calls and Miniflare's
client-side proxy code (which production does not have, so it is metered apart too); workerd, which
runs the SQL, is another process. The whole Node process's CPU is shown too. Per-million figures are
the measured CPU scaled linearly from the measured size; two sizes show how linear that is. The CPU
is broken down by job phase and, within each, by binding call (each D1 and R2 facade method) and the
rest; a second, profiled pass (cProfile inside Pyodide, at the largest size) says where Python's
time goes function by function.
"""

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from bench import datagen, miniflare
from bench.options import Options, say
from bench.report import Target, table
from devkit.nodejs import node_binary
from devkit.parity.paths import HARNESS, ROOT, wheels_dir

TITLE = "Backup and restore jobs on Pyodide (parity runtime): CPU per million rows"
DEFAULT_ROWS = [100_000, 200_000]
SMOKE_ROWS = [300]
TARGETS = {"backup": 15.0, "restore": 25.0}  # main-thread CPU seconds per million rows
BEFORE = {"backup": 31.0, "restore": 51.0}  # the earlier measurement, on main at b30e889
DATABASES = {"source": "DB", "target": "RESTORE_DB", "profiled": "PROFILE_DB"}
TOP = 25
CUMULATIVE_SCOPE = ("edgenotify/", "workers/")
MINIFLARE = "of which Miniflare's D1/R2 client"  # pyodide_bench.MINIFLARE: inside the D1 kinds' figures
OUTSIDE_PHASES = "(outside the phase methods)"  # pyodide_bench.Ledger.OUTSIDE
OUTSIDE_PYTHON = "outside Python frames (JS on the main thread: Miniflare's proxy client, promise callbacks)"

SDK_GROUP = (
    "D1/R2 call: the SDK's conversions and the JS call itself (workers/rpc.py, to_js, to_py; "
    "Miniflare's synchronous client work lands here)"
)
# Own time (tottime) of profiled functions, grouped: the first rule a function matches wins; a builtin
# (isinstance, str.encode, ...) counts where its most frequent caller does.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("the bench's own driver and meters", ("pyodide_bench.py",)),
    ("asyncio / event loop", ("asyncio/", "webloop")),
    ("zlib (compress / decompress)", ("zlib",)),
    ("sha256", ("sha256", "SHA256")),
    (SDK_GROUP, ("workers/", "to_py", "to_js", "pyodide")),
    ("D1 facade (edgenotify/db/d1.py)", ("edgenotify/db/d1.py",)),
    ("statement splitting (db/sqlsplit.py)", ("edgenotify/db/sqlsplit.py",)),
    ("statement classification (restoreplan.py)", ("restoreplan.py",)),
    ("SQL building (sqlwriter.py)", ("sqlwriter.py",)),
    ("page reading and digest text (dump.py)", ("ops/backups/dump.py",)),
    ("JSON", ("json",)),
    ("job code (ops/jobs/*)", ("ops/jobs/",)),
    ("other edgenotify code", ("edgenotify/",)),
]


def bench_config() -> str:
    """The repository's bindings plus two empty D1 databases for the restores (generated wrangler.toml)."""
    repo = tomllib.loads(miniflare.REPO_CONFIG.read_text(encoding="utf-8"))
    db = miniflare.database()
    lines = [
        'name = "edgenotify-pyodide-bench"',
        f'compatibility_date = "{repo["compatibility_date"]}"',
        f"compatibility_flags = {json.dumps(repo['compatibility_flags'])}",
        "",
        "[vars]",
        *(f"{k} = {json.dumps(v)}" for k, v in repo.get("vars", {}).items()),
    ]
    for role, binding in DATABASES.items():
        name = db["database_name"] if role == "source" else f"{db['database_name']}-bench-{role}"
        lines += ["", "[[d1_databases]]", f'binding = "{binding}"', f'database_name = "{name}"']
    for section in ("kv_namespaces", "r2_buckets"):
        for entry in repo.get(section, []):
            lines += ["", f"[[{section}]]", *(f"{k} = {json.dumps(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"


def prepare(rows: int, opts: Options) -> dict[str, Any]:
    """A work directory with the config, Miniflare's persist dir holding a copy of the generated
    database as the source D1 (the layout ``bench.miniflare`` uses), and the harness's spec."""
    work = opts.work("pyodide_jobs") / str(rows)
    shutil.rmtree(work, ignore_errors=True)
    persist = work / "persist"
    source = persist / miniflare.OBJECT_DIR.relative_to(miniflare.STATE / "v3") / miniflare.object_name()
    source.parent.mkdir(parents=True)
    shutil.copyfile(datagen.cached(rows, opts.out), source)
    config = work / "wrangler.toml"
    config.write_text(bench_config(), encoding="utf-8")
    return {
        "config": str(config),
        "persist": str(persist),
        "out": str(work / "figures.json"),
        "databases": DATABASES,
        "timeout_ms": int(1000 * max(300, opts.timeout or rows / 100)),
    }


def measure(rows: int, opts: Options, profile: bool) -> dict[str, Any]:
    """One harness run: the backup and restore of ``rows`` (and, with ``profile``, the profiled pass)."""
    spec = {**prepare(rows, opts), "profile": profile}
    spec_path = Path(spec["out"]).with_name("spec.json")
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    command = [str(node_binary()), str(HARNESS), "--root", str(ROOT), "--wheels", str(wheels_dir())]
    say(f"pyodide_jobs: backup and restore of {rows:,} rows on Pyodide + Miniflare{' (+ profiled pass)' * profile}")
    proc = subprocess.run([*command, "--bench", str(spec_path)], cwd=ROOT, capture_output=True, text=True)
    figures = Path(spec["out"])
    if not figures.exists():
        raise RuntimeError(f"parity bench failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    out = json.loads(figures.read_text(encoding="utf-8"))
    if not out["ok"] or proc.returncode != 0:
        raise RuntimeError(f"parity bench: jobs did not complete and verify: {json.dumps(out)[:2000]}")
    out["rows"] = rows
    shutil.rmtree(Path(spec["persist"]), ignore_errors=True)
    return out


def per_million(seconds: float, rows: int) -> float:
    return seconds / rows * 1_000_000


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def miniflare_s(job: dict[str, Any]) -> float:
    """CPU of the job in Miniflare's D1 and R2 clients (harness.mjs ``meteredD1``, ``meteredR2``): production
    has no such proxies."""
    return sum(calls.get(MINIFLARE, 0.0) for calls in job["calls"].values())


def summary_rows(runs: list[dict[str, Any]]) -> list[list[object]]:
    out: list[list[object]] = []
    for run in runs:
        rows = run["rows"]
        for kind in ("backup", "restore"):
            r = run[kind]
            result = (
                f"{r['logs_rows']:,} log rows ({r['manifest']['rows']:,} in all), "
                f"{r['manifest']['size'] / 2**20:.1f} MiB gzip, {r['manifest']['chunks']} chunks"
                if kind == "backup"
                else f"verification {'ok' if r['verification']['ok'] else 'FAILED'} ({r['tables']} tables)"
            )
            out.append(
                [
                    f"{rows:,}",
                    kind,
                    r["status"],
                    r["invocations"],
                    _s(r["thread_s"]),
                    f"**{per_million(r['thread_s'], rows):.1f} s**",
                    f"{per_million(r['thread_s'] - miniflare_s(r), rows):.1f} s",
                    _s(r["process_s"]),
                    _s(r["wall_s"]),
                    r["d1"],
                    r["most_d1"],
                    _s(r["most_thread_s"]),
                    r["r2"],
                    f"{r['heap_mb']:.0f} MB",
                    result,
                ]
            )
    return out


def call_kinds(runs: list[dict[str, Any]]) -> list[str]:
    """The binding calls seen (``D1 <facade method>``, ``R2``), the costliest first, R2 last."""
    spent: dict[str, float] = {}
    for run in runs:
        for kind in ("backup", "restore"):
            for calls in run[kind]["calls"].values():
                for name, seconds in calls.items():
                    if name != MINIFLARE:
                        spent[name] = spent.get(name, 0.0) + seconds
    return sorted(spent, key=lambda name: (name == "R2", -spent[name]))


def phase_rows(runs: list[dict[str, Any]], kinds: list[str]) -> list[list[object]]:
    out: list[list[object]] = []
    for run in runs:
        rows = run["rows"]
        for kind in ("backup", "restore"):
            r = run[kind]
            phases = dict(r["phases"])
            phases[OUTSIDE_PHASES] = r["thread_s"] - sum(r["phases"].values())
            for phase, seconds in phases.items():
                calls = r["calls"].get(phase, {})
                spent = [calls.get(k, 0.0) for k in kinds]
                share = seconds / r["thread_s"] if r["thread_s"] else 0
                out.append(
                    [
                        f"{rows:,}",
                        kind,
                        phase,
                        _s(seconds),
                        f"{share:.0%}",
                        f"{per_million(seconds, rows):.1f} s",
                        *(_s(x) if x else "" for x in spent),
                        _s(calls[MINIFLARE]) if calls.get(MINIFLARE) else "",
                        _s(max(0.0, seconds - sum(spent))),
                    ]
                )
            for phase in r["unattributed_phases"]:
                gone = "not attributed: its step method is gone"
                out.append([f"{rows:,}", kind, phase, gone, *[""] * (4 + len(kinds))])
    return out


def call_totals(runs: list[dict[str, Any]], kinds: list[str]) -> list[list[object]]:
    out: list[list[object]] = []
    for run in runs:
        for kind in ("backup", "restore"):
            r = run[kind]
            spent = {k: sum(c.get(k, 0.0) for c in r["calls"].values()) for k in kinds}
            rest = r["thread_s"] - sum(spent.values())
            cells = [f"{_s(spent[k])} ({r['call_counts'].get(k, 0):,})" if spent[k] else "" for k in kinds]
            proxy = _s(miniflare_s(r))
            share = f"{rest / r['thread_s']:.0%}" if r["thread_s"] else "—"
            out.append([f"{run['rows']:,}", kind, _s(r["thread_s"]), *cells, proxy, f"{_s(rest)} ({share})"])
    return out


def _matches(text: str) -> str | None:
    return next((name for name, needles in CATEGORIES if any(n in text for n in needles)), None)


def category(function: dict[str, Any]) -> str:
    text = f"{function['where']} {function['function']}"
    found = _matches(text)
    if found is None and function["builtin"]:
        found = _matches(function["caller"])
    return found or "other (stdlib, builtins)"


def overhead(function: dict[str, Any], calibration: dict[str, Any]) -> float:
    """The profiler's calibrated overhead in a function's own time: per call of it, and per call it made."""
    own = calibration["builtin" if function["builtin"] else "python"]["callee_s"] * function["calls"]
    made = (
        function["made_python"] * calibration["python"]["caller_s"]
        + function["made_builtin"] * calibration["builtin"]["caller_s"]
    )
    return own + made


def _listed(functions: list[dict[str, Any]]) -> list[list[object]]:
    return [
        [
            f"`{f['function']}`",
            f"`{f['where']}`",
            f"{f['calls']:,}",
            _s(f["own"]),
            _s(f["own_s"]),
            _s(f["cum_s"]),
        ]
        for f in functions
    ]


def _ours(function: dict[str, Any]) -> bool:
    """Our code and the Workers SDK's (the bench driver and the phase clock excluded)."""
    return function["where"].startswith(CUMULATIVE_SCOPE)


def profile_section(run: dict[str, Any]) -> str:
    rows = run["rows"]
    cal = run["profile"]["calibration"]
    parts = [
        f"\n\nProfiled pass (cProfile inside Pyodide, timed by the main thread's CPU, {rows:,} rows): each "
        f"profiled call costs {cal['python']['callee_s'] * 1e6:.1f} µs (Python) / "
        f"{cal['builtin']['callee_s'] * 1e6:.1f} µs (builtin) of own time plus "
        f"{cal['python']['caller_s'] * 1e6:.1f} / {cal['builtin']['caller_s'] * 1e6:.1f} µs in its caller, "
        f"measured on {cal['calls']:,} empty calls; 'own' below subtracts that, 'own raw' "
        "and 'with callees' do not (so cumulative times are inflated by the calls beneath: read them as "
        "where the calls are, not as seconds). Reference for the machine's speed: "
        f"{cal['calls']:,} empty Python calls took {cal['python']['unprofiled_s'] * 1000:.0f} ms of CPU here."
    ]
    for kind in ("backup", "restore"):
        p = run["profile"][kind]
        outside = max(0.0, p["thread_s"] - p["profiled_s"])
        functions = [{**f, "own": max(0.0, f["own_s"] - overhead(f, cal))} for f in p["functions"]]
        groups: dict[str, float] = {}
        for f in functions:
            groups[category(f)] = groups.get(category(f), 0.0) + f["own"]
        ordered = sorted(groups.items(), key=lambda kv: -kv[1]) + [(OUTSIDE_PYTHON, outside)]
        total = sum(seconds for _, seconds in ordered)
        grouped = [[name, _s(s), f"{s / total:.0%}" if total else "—"] for name, s in ordered]
        by_own = sorted(functions, key=lambda f: -f["own"])[:TOP]
        by_cum = sorted(filter(_ours, functions), key=lambda f: -f["cum_s"])[:TOP]
        parts.append(
            f"\n\n**{kind}, {rows:,} rows, profiled** ({p['status']}): main-thread CPU {_s(p['thread_s'])} "
            f"under the profiler, {_s(outside)} of it outside Python frames; less the calibrated overhead "
            f"{_s(total)}, against the unprofiled run's {_s(run[kind]['thread_s'])}: the excess is overhead "
            "the empty-call calibration misses, mostly in functions called per row (the SDK's conversions), "
            "so read their figures as upper bounds and the binding-call table above as the measure. "
            "Own time by group:\n\n"
            + table([f"{kind}: group", "CPU", "share"], grouped)
            + f"\n\nTop {TOP} functions by own time:\n\n"
            + table(["function", "where", "calls", "own", "own raw", "with callees (raw)"], _listed(by_own))
            + f"\n\nTop {TOP} of our code and the SDK by time with callees (raw; a coroutine's resumptions "
            "count as calls; waiting for D1 or R2 costs no CPU and is not in it):\n\n"
            + table(["function", "where", "calls", "own", "own raw", "with callees (raw)"], _listed(by_cum))
        )
    return "".join(parts)


def targets(runs: list[dict[str, Any]]) -> list[Target]:
    largest = max(runs, key=lambda r: r["rows"])
    return [
        Target(
            f"{kind}: Pyodide main-thread CPU per million rows "
            f"({largest['rows']:,} rows, scaled; earlier {BEFORE[kind]:.0f} s)",
            round(per_million(largest[kind]["thread_s"], largest["rows"]), 1),
            limit,
            " s",
        )
        for kind, limit in TARGETS.items()
    ]


def linearity(runs: list[dict[str, Any]]) -> str:
    if len(runs) < 2:
        return ""
    small, large = min(runs, key=lambda r: r["rows"]), max(runs, key=lambda r: r["rows"])
    parts = []
    for kind in ("backup", "restore"):
        a = per_million(small[kind]["thread_s"], small["rows"])
        b = per_million(large[kind]["thread_s"], large["rows"])
        parts.append(f"{kind} {a:.1f} s at {small['rows']:,} vs {b:.1f} s at {large['rows']:,} ({b / a - 1:+.0%})")
    return "Linearity (CPU per million rows): " + "; ".join(parts) + "."


def run(opts: Options) -> str:
    sizes = opts.sizes(DEFAULT_ROWS, SMOKE_ROWS)
    runs = [measure(rows, opts, profile=rows == max(sizes)) for rows in sizes]
    headers = [
        "rows",
        "job",
        "status",
        "invocations",
        "main-thread CPU",
        "per 1M rows (scaled)",
        "per 1M less Miniflare's D1/R2 client",
        "Node process CPU",
        "wall",
        "D1 calls",
        "most D1 in one",
        "most CPU in one",
        "R2 ops",
        "wasm heap after",
        "result",
    ]
    lines = "\n".join(t.line() for t in targets(runs))
    kinds = call_kinds(runs)
    largest = max(runs, key=lambda r: r["rows"])
    notes = (
        "\n\nCPU is Node's main thread (`process.threadCpuUsage`): Pyodide's Python, the JS it calls and "
        "Miniflare's client-side proxy (production has none of the latter); workerd, which runs the SQL, is a "
        "separate process and not counted. Per-million figures scale the measured CPU linearly; 'less "
        "Miniflare's D1/R2 client' subtracts the CPU metered inside Miniflare's D1 and R2 proxies "
        "(harness.mjs `meteredD1`, `meteredR2`), "
        "a part production does not have (its D1 binding's own cost is unknown here). Each invocation "
        "is a fresh `Context` under the paid limits (steps stop at half of each; on Pyodide the budget's clock is "
        "wall time, which a loaded machine inflates, so steps may be cut shorter than on the edge). Pages are read "
        "one after the other: reading the next while writing this one, as production does, saves wall time, not "
        "CPU, and would blur the per-call meters. The wasm heap "
        "never shrinks: 'after' is the peak so far in that process "
        f"(start {largest['heap_mb_start']:.0f} MB after imports)."
    )
    body = (
        "```\n"
        + lines
        + "\n```\n\n"
        + table(headers, summary_rows(runs))
        + "\n\n"
        + linearity(runs)
        + notes
        + "\n\nMain-thread CPU by binding call (around each method of the D1 facade, `D1 <method>`, and of the "
        "R2 facade, with the number of calls: the SDK's conversions "
        "both ways, the JS call, and Miniflare's client serialising the call and decoding the result, which "
        f"is also shown alone as '{MINIFLARE}': production has no such proxy) and the rest (our Python: SQL "
        "building, zlib, sha256, splitting, digests, job bookkeeping):\n\n"
        + table(["rows", "job", "main-thread CPU", *kinds, MINIFLARE, "rest"], call_totals(runs, kinds))
        + "\n\nThe same by job phase (around the step method of each phase):\n\n"
        + table(
            ["rows", "job", "phase", "CPU", "share", "per 1M rows", *kinds, MINIFLARE, "rest"], phase_rows(runs, kinds)
        )
        + profile_section(largest)
    )
    return body
