"""Environments for running the set-up as a new developer would: a PATH that holds only what we choose.

``bare_path`` builds a directory of symlinks to the basic tools the scripts use (shell, coreutils, git) plus the
given Python and, only if asked, Node/npm, so a test can show what happens on a machine without uv, without Node
or without a Python >= 3.11. Caches stay shared (uv's, pip's, npm's) so a fresh clone costs links, not downloads.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASIC_TOOLS = (
    "bash sh env dirname basename sed sort head tail cut tr cat printf sha256sum mktemp mkdir mv rm rmdir ln cp "
    "ls chmod uname git grep id touch date readlink realpath"
).split()


def base_python() -> str:
    """The interpreter behind this venv (not the venv's own python, which already has every package)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def bare_path(directory: Path, python: str | None, *, node: bool = False) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    tools = BASIC_TOOLS + (["node", "npm", "npx"] if node else [])
    for tool in tools:
        found = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin")
        if found:
            (directory / tool).symlink_to(found)
    if python:
        (directory / "python3").symlink_to(python)
    return str(directory)


def clean_env(tmp: Path, path: str) -> dict[str, str]:
    """A new developer's environment: nothing of ours on PATH, uv bootstrapped into a fresh tool cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))}
    env["PATH"] = path
    env["XDG_CACHE_HOME"] = str(tmp / "cache")  # where _setup.sh bootstraps uv: empty, so it must install uv
    env["UV_CACHE_DIR"] = _cache_dir(["uv", "cache", "dir"])  # downloads stay shared
    env["PIP_CACHE_DIR"] = _cache_dir([sys.executable, "-m", "pip", "cache", "dir"])
    return env


def _cache_dir(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def clone(tmp: Path) -> Path:
    """A fresh clone of this worktree's HEAD."""
    target = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    return target
