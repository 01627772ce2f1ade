"""A headless Chromium for tests that must see a page as a browser renders it (``/docs``).

``chromium()`` finds Debian's ``chromium`` and, when it is missing and this is a root shell with
apt (the project's machines and CI), installs it once with ``apt-get install -y chromium``. The
install lives here only, so scripts and tests agree on one way to get a browser.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")


def _found() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def chromium() -> str:
    """The browser's path, installing Debian's package when possible; RuntimeError otherwise."""
    path = _found()
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, timeout=900)
        if _found() is None:  # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], env=env, capture_output=True, timeout=900)
        path = _found()
    if path is None:
        raise RuntimeError("no chromium: install Debian's package (apt-get install -y chromium)")
    return path


def run(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Chromium on ``url`` with the headless flags, ``args`` (e.g. ``--dump-dom``) and a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=profile)


def screenshot(url: str, target: Path, size: str = "1280,2000") -> Path:
    run(url, f"--screenshot={target}", f"--window-size={size}", "--hide-scrollbars")
    return target
