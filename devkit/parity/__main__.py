"""``python -m devkit.parity [coverage] [--json FILE] [--only a,b]``: run the contract suite on Pyodide + Miniflare.

Fetches the pinned wheels if the cache is stale (``fetch_wheels.sh``), starts the loopback receivers the
delivery contracts deliver to (``tests/contract/receivers.py``), then runs ``harness.mjs`` with the first
Node >= 22 (``devkit.nodejs``: the machine's, else the one ``scripts/_setup.sh`` installs).
``coverage`` also records which lines of ``src/`` ran on Pyodide and prints the share per module
(``--coverage-json FILE`` keeps the figures). Exit status is the harness's: 0 only when every self-check
and contract passed.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from devkit.nodejs import node_binary
from devkit.parity.coverage_report import render
from devkit.parity.paths import HARNESS, ROOT, wheels_dir
from tests.contract import receivers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.parity", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("run", "coverage"), default="run")
    parser.add_argument("--json", help="also write the results (with observations) to this file")
    parser.add_argument("--only", default="", help="comma-separated contract names (self-checks always run)")
    parser.add_argument("--coverage-json", help="with coverage: also write the per-module figures here")
    args = parser.parse_args(argv)
    command = [str(node_binary()), str(HARNESS), "--root", str(ROOT), "--wheels", str(wheels_dir())]
    if args.json:
        command += ["--json", args.json]
    if args.only:
        command += ["--only", args.only]
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        figures = Path(args.coverage_json or Path(tmp) / "coverage.json")
        if args.command == "coverage":
            command += ["--coverage", str(figures)]
        urls, stop = receivers.start()
        try:
            status = subprocess.call(command + ["--receivers", json.dumps(urls)], cwd=ROOT)
        finally:
            stop()
        if args.command == "coverage" and figures.exists():
            print(render(json.loads(figures.read_text(encoding="utf-8"))))
    return status


if __name__ == "__main__":
    sys.exit(main())
