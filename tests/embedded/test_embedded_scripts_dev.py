"""``scripts/dev`` end to end, in a copy of the project so the real checkout's .dev.vars is untouched.

The copy shares the already-installed ``.venv`` and ``node_modules`` (symlinks), so ``_setup.sh``
finds them current and installs nothing.
"""

import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx

from devkit.embedded.env import parse_dotenv

ROOT = Path(__file__).resolve().parents[2]
COPIED = (
    "src",
    "devkit",
    "scripts",
    "migrations",
    "wrangler.toml",
    "pyproject.toml",
    "uv.lock",
    "package.json",
    "package-lock.json",
)


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, copy / name)
    for shared in (".venv", "node_modules"):
        (copy / shared).symlink_to(ROOT / shared)
    return copy


def test_scripts_dev_creates_dev_vars_migrates_and_serves(tmp_path):
    project = project_copy(tmp_path)
    proc = subprocess.Popen(
        [str(project / "scripts" / "dev"), "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not (line := proc.stdout.readline()).startswith("[embedded] ready on "):
            assert line, "".join(lines) + proc.stderr.read()
            lines.append(line)
        url = line.split()[3]
        values = parse_dotenv((project / ".dev.vars").read_text())
        assert values["ENVIRONMENT"] == "development" and len(values["API_TOKEN"]) >= 40
        assert values["API_TOKEN"] != values["ADMIN_TOKEN"]
        assert any(line.startswith("applied  0001_") for line in lines), lines
        assert any("tokens" in line and ".dev.vars" in line for line in lines), lines
        response = httpx.get(f"{url}/health", timeout=30)
        assert response.status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    database = project / ".state" / "d1" / "DB.sqlite3"
    with sqlite3.connect(database) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM d1_migrations")]
    assert names == sorted(p.name for p in (project / "migrations").glob("*.sql"))
