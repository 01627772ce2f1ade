"""Set-up on a fresh clone of HEAD, as a new developer runs it, leaves ``git status`` clean.

One clone (shared uv/pip/npm download caches, so it costs links, not downloads), on a PATH with no uv and the
machine's Node (older than 22 here, so tools/node's Node 22 is installed), starting from a stale ``.venv`` whose
Python is gone:

* set-up bootstraps uv from PyPI, rebuilds ``.venv`` from uv.lock, runs ``npm ci`` on both locks; a second run
  installs nothing;
* ``uv run pywrangler --help`` works;
* ``scripts/dev`` serves on a PATH with no Node or npm at all;
* ``git status --porcelain`` is empty after all of it.

Needs npm and the network to PyPI and the npm registry (or their caches).
"""

import os
import signal
import subprocess
import venv
from pathlib import Path

import httpx
from setup_kit import bare_path, base_python, clean_env, clone

SETUP = "source scripts/_setup.sh && setup_node"


def bash(cwd: Path, script: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def stale_venv(project: Path) -> None:
    """A .venv whose interpreter no longer exists (e.g. made by a Python that was uninstalled since)."""
    venv.create(project / ".venv", with_pip=False, symlinks=True)
    for name in ("python", "python3"):
        link = project / ".venv" / "bin" / name
        link.unlink()
        link.symlink_to("/nonexistent/python3.10")


def serve_once(project: Path, env: dict[str, str]) -> str:
    """Start scripts/dev on a free port, GET /health, stop it with Ctrl-C; return everything it printed."""
    proc = subprocess.Popen(
        ["scripts/dev", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        while not (line := proc.stdout.readline()).startswith("[embedded] ready on "):
            assert line, "".join(lines)
            lines.append(line)
        assert httpx.get(f"{line.split()[3]}/health", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + rest
    return "".join(lines) + line + rest


def test_fresh_clone_sets_up_serves_and_stays_clean(tmp_path: Path) -> None:
    project = clone(tmp_path)
    stale_venv(project)
    env = clean_env(tmp_path, bare_path(tmp_path / "bin", base_python(), node=True))

    first = bash(project, SETUP, env)
    assert first.returncode == 0, first.stderr
    assert "setup: installing uv" in first.stderr and "rebuilding it" in first.stderr, first.stderr
    assert "npm ci in tools/node\n" in first.stderr and "npm ci in .\n" in first.stderr, first.stderr
    second = bash(project, SETUP + " && python -c 'import pydantic; print(pydantic.VERSION)'", env)
    assert second.returncode == 0, second.stderr
    assert "setup:" not in second.stderr and second.stdout.strip() == "2.10.6", second.stderr

    pywrangler = bash(project, SETUP + " && uv run pywrangler --help", env, timeout=180)
    assert pywrangler.returncode == 0, pywrangler.stderr
    assert "pywrangler" in pywrangler.stdout and "sync" in pywrangler.stdout, pywrangler.stdout

    no_node = clean_env(tmp_path, bare_path(tmp_path / "bin-no-node", base_python()))
    no_node["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]  # the uv bootstrapped above
    assert bash(project, "command -v node || command -v npm", no_node).returncode == 1
    assert "serving" in serve_once(project, no_node)

    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored=no"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == "", status.stdout
    assert os.path.isdir(project / "node_modules" / "wrangler")
