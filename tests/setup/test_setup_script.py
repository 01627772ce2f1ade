"""``scripts/_setup.sh`` on machines that lack something: a clear message and a documented exit code, no traceback.

Exit codes (documented in the script and the README): 3 no Python >= 3.11, 5 no npm where Node tools are needed.
Each case fails before the set-up touches anything, so it runs against this checkout.
"""

import glob
import subprocess
from pathlib import Path

from setup_kit import ROOT, bare_path, base_python, clean_env


def old_python() -> str | None:
    """A real Python 3.10 on this machine, if there is one (pyenv keeps several)."""
    found = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.10*" / "bin" / "python3.10")))
    return found[-1] if found else None


def setup(env: dict[str, str], script: str = "source scripts/_setup.sh") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_only_python_310_is_refused_with_exit_3(tmp_path: Path) -> None:
    python = old_python()
    if python is None:  # no real 3.10 here: a stand-in that reports 3.10 the way the set-up asks
        python = str(tmp_path / "python3.10")
        Path(python).write_text("#!/bin/sh\necho 3.10\n")
        Path(python).chmod(0o755)
    run = setup(clean_env(tmp_path, bare_path(tmp_path / "bin", python)))
    assert run.returncode == 3, run.stderr
    assert "needs Python >= 3.11" in run.stderr and "python3=3.10" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "tomllib" not in run.stderr


def test_no_python_at_all_is_refused_with_exit_3(tmp_path: Path) -> None:
    run = setup(clean_env(tmp_path, bare_path(tmp_path / "bin", None)))
    assert run.returncode == 3, run.stderr
    assert "needs Python >= 3.11 and found none" in run.stderr and "PYTHON=" in run.stderr


def test_node_tools_without_npm_exit_5(tmp_path: Path) -> None:
    env = clean_env(tmp_path, bare_path(tmp_path / "bin", base_python()))
    env["XDG_CACHE_HOME"] = str(Path.home() / ".cache")  # reuse the bootstrapped uv: this case is about npm
    run = setup(env, "source scripts/_setup.sh && setup_node")
    assert run.returncode == 5, run.stderr
    assert "npm is needed" in run.stderr and "Traceback" not in run.stderr
