"""Node >= 22 and wrangler for the dev tools and tests that need them (wrangler, Pyodide's parity runtime).

Node comes from the machine when it is new enough, else from ``tools/node`` (the per-platform Node 22 package
that ``scripts/_setup.sh`` installs from the npm registry when the machine's Node is older). Nothing else in the
project needs Node: ``scripts/dev`` and the embedded runtime are pure Python.
"""

import functools
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_MAJOR = 22
LOCAL_NODE = ROOT / "tools" / "node" / "node_modules" / ".bin" / "node"
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
HOW_TO_INSTALL = "run scripts/test (or `source scripts/_setup.sh && setup_node`), which installs both"


class NodeMissing(RuntimeError):
    """No Node >= 22 or no node_modules: the caller needs Node and says so."""


def _major(node: str) -> int:
    try:
        out = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True, timeout=30)
    except OSError:
        return 0
    return int(out.stdout.split(".")[0]) if out.returncode == 0 and out.stdout[:1].isdigit() else 0


@functools.cache
def node_binary() -> Path:
    """The first Node >= 22: the one on PATH, else tools/node's."""
    for candidate in (shutil.which("node"), str(LOCAL_NODE)):
        if candidate and _major(candidate) >= MIN_MAJOR:
            return Path(candidate)
    raise NodeMissing(f"this needs Node >= {MIN_MAJOR} (wrangler, Pyodide) and none was found: {HOW_TO_INSTALL}")


def wrangler() -> Path:
    """The pinned wrangler from node_modules."""
    if not WRANGLER.exists():
        raise NodeMissing(f"this needs wrangler from node_modules, which is not installed: {HOW_TO_INSTALL}")
    return WRANGLER


def node_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with Node >= 22 first on PATH and wrangler's telemetry off."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{node_binary().parent}{os.pathsep}{env.get('PATH', '')}"
    env["WRANGLER_SEND_METRICS"] = "false"
    return env
