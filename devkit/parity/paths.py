"""Where the parity harness finds its pieces: the repo, Node 22 (``devkit.nodejs``), the harness and the wheels."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HARNESS = HERE / "harness.mjs"
FETCH_WHEELS = HERE / "fetch_wheels.sh"


def wheels_dir() -> Path:
    """Download the pinned wheels if needed (once; cached) and return their directory."""
    env = {**os.environ, "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(FETCH_WHEELS)], check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return Path(out.stdout.strip().splitlines()[-1])
