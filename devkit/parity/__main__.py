"""``python -m devkit.parity [--json FILE] [--only a,b]``: run the contract suite on Pyodide + Miniflare.

Fetches the pinned wheels if the cache is stale (``fetch_wheels.sh``), then runs ``harness.mjs`` with the
first Node >= 22 (``devkit.nodejs``: the machine's, else the one ``scripts/_setup.sh`` installs).
Exit status is the harness's: 0 only when every self-check and contract passed.
"""

import argparse
import subprocess
import sys

from devkit.nodejs import node_binary
from devkit.parity.paths import HARNESS, ROOT, wheels_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.parity", description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results (with observations) to this file")
    parser.add_argument("--only", default="", help="comma-separated contract names (self-checks always run)")
    args = parser.parse_args(argv)
    command = [str(node_binary()), str(HARNESS), "--root", str(ROOT), "--wheels", str(wheels_dir())]
    if args.json:
        command += ["--json", args.json]
    if args.only:
        command += ["--only", args.only]
    return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
