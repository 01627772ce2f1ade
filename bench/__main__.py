"""``scripts/bench <name>|all [options]``: run benchmarks, print figures, update bench/RESULTS.md.

Benchmarks are run by hand, never by ``scripts/test`` (only their ``--smoke`` mode is, to keep
them from rotting). Full sizes are heavy: run them one at a time, under ``nice`` on a shared box.
"""

import argparse
import importlib
import os
import sys
from pathlib import Path

from bench import report
from bench.options import Options, say

BENCHMARKS = {
    "backup": "bench.backup",
    "roundtrips": "bench.roundtrips",
    "pagination": "bench.pagination",
    "http": "bench.http_load",
    "coldstart": "bench.coldstart",
    "indexes": "bench.indexes",
    "jobs_chain": "bench.jobs_chain",
    "delivery": "bench.delivery",
    "pyodide_jobs": "bench.pyodide_jobs",
}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    p.add_argument("name", choices=[*BENCHMARKS, "all"], help="benchmark to run")
    p.add_argument("--rows", help="comma-separated table sizes (default: the benchmark's full sizes)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no slow anchors, do not record")
    p.add_argument("--timeout", type=float, help="per-contender time limit in seconds (default scales with rows)")
    p.add_argument("--rss-cap-mib", type=int, default=4096, help="kill a contender above this RSS (default 4096)")
    p.add_argument("--duration", type=float, help="HTTP benchmark: seconds of load per endpoint (default 10)")
    p.add_argument("--driver", choices=["auto", "wrk", "httpx"], default="auto", help="HTTP load driver")
    p.add_argument("--no-record", action="store_true", help="print only; leave bench/RESULTS.md alone")
    p.add_argument("--results", type=Path, default=report.RESULTS, help="results file to update")
    p.add_argument("--out", type=Path, help="work and cache directory (default bench/out)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    opts = Options(
        rows=[int(r.replace("_", "")) for r in args.rows.split(",")] if args.rows else [],
        smoke=args.smoke,
        timeout=args.timeout,
        rss_cap_mib=args.rss_cap_mib,
        duration=args.duration,
        driver=args.driver,
    )
    if args.out:
        opts.out = args.out
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    machine = report.machine_note()
    command = report.command_line(sys.argv[1:] if argv is None else argv)
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        say(f"== {name}")
        before = report.code_version()
        body = module.run(opts)
        after = report.code_version()
        code = before if before == after else f"changed during the run ({before} → {after}): figures may mix versions"
        text = report.section(name, module.TITLE, body, machine, command, code)
        print(text, flush=True)
        if not (args.smoke or args.no_record):
            report.record(name, text, args.results)
            say(f"recorded in {os.path.relpath(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
