"""scripts/backup and scripts/restore on a local state directory (in-process, as the scripts run them)."""

import asyncio
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from ops_kit import snapshot

from devkit.migrate.cli import main as migrate
from devkit.ops.backup import main as backup
from devkit.ops.local import local_env
from devkit.ops.restore import main as restore
from edgenotify.db import Database, Query
from edgenotify.ops.backups import manifest as mf

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    state = tmp_path / "state"
    assert migrate(["apply", "--database", str(state / "d1" / "DB.sqlite3")]) == 0
    capsys.readouterr()
    return state


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_backup_then_restore_by_id_and_from_files(state: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "copy.sql"
    assert backup(["--state-dir", str(state), "--output", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    manifest = json.loads(captured.out)
    assert captured.err == ""  # no progress frames when stderr is not a terminal
    assert out.read_text().startswith("-- edgenotify D1 backup") and Path(f"{out}.manifest.json").is_file()

    assert restore(["--state-dir", str(state), "--list", "--json"]) == 0
    assert [b["id"] for b in _json(capsys)["backups"]] == [manifest["id"]]

    before = snapshot(state / "d1" / "DB.sqlite3")
    assert restore(["latest", "--state-dir", str(state), "--json"]) == 1  # dry run: the backup was audited
    dry = _json(capsys)
    assert dry["dry_run"] and [r["code"] for r in dry["refusals"]] == ["target_not_empty"]
    assert dry["target"]["tables_with_rows"] == ["audit_logs"] and snapshot(state / "d1" / "DB.sqlite3") == before

    assert restore([manifest["id"], "--state-dir", str(state), "--apply", "--force", "--json"]) == 0
    job = _json(capsys)["job"]
    assert job["status"] == "complete" and job["verification"]["ok"] and job["trigger"] == "cli"
    assert restore(["--continue", "--state-dir", str(state), "--json"]) == 0  # reports the ended job
    assert _json(capsys)["job"]["id"] == job["id"]
    assert restore(["--file", str(out), "--state-dir", str(state), "--json"]) == 1  # dry run of the file
    dry_file = _json(capsys)
    assert dry_file["dry_run"] and [r["code"] for r in dry_file["refusals"]] == ["target_not_empty"]
    assert dry_file["would"]["verify"] == "digests" and dry_file["manifest"]["id"] == manifest["id"]
    assert restore(["--file", str(out), "--state-dir", str(state), "--apply", "--force", "--json"]) == 0
    report = _json(capsys)
    restored = report["job"]  # the file was imported into a format-3 backup, then restored by the job
    assert restored["kind"] == "restore" and restored["status"] == "complete" and restored["verification"]["ok"]
    assert restored["subject"] != manifest["id"] and all(c["ok"] and "rows" in c for c in restored["checks"])
    imported = asyncio.run(_manifest(state, restored["subject"]))
    assert imported["imported_from"]["backup"] == manifest["id"]
    assert [t["sha256"] for t in imported["tables"]] == [t["sha256"] for t in manifest["tables"]]  # verified by digest
    after = snapshot(state / "d1" / "DB.sqlite3")
    audit_trail = ("audit_logs", "sqlite_sequence")  # the backup's own audit row came after its start
    assert {k: v for k, v in after.items() if k not in audit_trail} == {
        k: v for k, v in before.items() if k not in audit_trail
    }
    actions = [row[3][1] for row in after["audit_logs"]]
    # the file's state (audited before its rows were read), then the import's and the restore's events
    assert actions == ["backup.start", "import.start", "import.complete", "restore.start", "restore.complete"]
    assert restore(["--continue", "--state-dir", str(state), "--json"]) == 0  # the newest: that restore job
    assert _json(capsys)["job"]["id"] == restored["id"]
    assert asyncio.run(_keys(state)) == sorted(  # the file's copy is gone; the imported backup stays listed
        [mf.data_key(i) for i in (manifest["id"], restored["subject"])]
        + [mf.manifest_key(i) for i in (manifest["id"], restored["subject"])]
    )


async def _manifest(state: Path, backup_id: str) -> dict:
    env = local_env(state, ROOT / "wrangler.toml")
    try:
        return mf.parse(await (await env.BACKUPS.get(mf.manifest_key(backup_id))).bytes())
    finally:
        env.close()


async def _keys(state: Path) -> list[str]:
    env = local_env(state, ROOT / "wrangler.toml")
    try:
        return sorted(str(o.key) for o in (await env.BACKUPS.list())["objects"])
    finally:
        env.close()


def test_restore_refusals_and_usage_errors(state: Path, tmp_path: Path, capsys) -> None:
    assert backup(["--state-dir", str(state), "--quiet", "--json"]) == 0
    backup_id = _json(capsys)["id"]
    foreign = tmp_path / "script.sql"
    foreign.write_text("DROP TABLE notification_logs;")
    assert restore(["--file", str(foreign), "--state-dir", str(state), "--apply"]) == 1
    assert "refused (unsupported_statements)" in capsys.readouterr().out
    assert restore(["--state-dir", str(state)]) == 2  # no source
    assert restore([backup_id, "--file", str(foreign), "--state-dir", str(state)]) == 2  # two sources
    assert restore(["20200101T000000000Z-abcdef", "--state-dir", str(state)]) == 2
    assert "no complete backup" in capsys.readouterr().err


def test_progress_is_drawn_on_a_terminal_only_and_fits_its_width(state: Path) -> None:
    """scripts/backup under a real pseudo-terminal of 60 columns: frames with percent, rate and ETA,
    none wider than the terminal; stdout (a pipe) gets the JSON alone."""
    columns = 60
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": os.pathsep.join(["src", "."])}
    asyncio.run(_fill_logs(state))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devkit.ops.backup", "--state-dir", str(state), "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    frames = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        frames += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0 and json.loads(out)["totals"]["rows"] >= 5000
    lines = [f for f in frames.decode().split("\r") if f.strip()]
    assert lines and all(len(line.rstrip("\n")) < columns for line in lines), lines
    assert any("%" in f and "rows" in f and "/s" in f and "ETA" in f for f in lines), lines


async def _fill_logs(state: Path) -> None:
    env = local_env(state, ROOT / "wrangler.toml")
    try:
        rows = [
            Query.of(
                "INSERT INTO notification_logs (message_id, user_id, channel_type, status, created_at) "
                "VALUES (?, 'u', 'webhook', 'success', '2026-01-01T00:00:00.000Z')",
                f"m{i}",
            )
            for i in range(5000)
        ]
        db = Database(env.DB)
        for start in range(0, len(rows), 500):
            await db.batch(rows[start : start + 500])
    finally:
        env.close()
