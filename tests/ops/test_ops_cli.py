"""scripts/backup and scripts/restore on a local state directory (in-process, as the scripts run them)."""

import json
from pathlib import Path

import pytest
from ops_kit import snapshot

from devkit.migrate.cli import main as migrate
from devkit.ops.backup import main as backup
from devkit.ops.restore import main as restore


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
    assert restore(["--file", str(out), "--state-dir", str(state), "--apply", "--force", "--json"]) == 0
    report = _json(capsys)
    assert report["verification"]["basis"] == "manifest" and report["status"] == "restored"
    after = snapshot(state / "d1" / "DB.sqlite3")
    audit_trail = ("audit_logs", "sqlite_sequence")  # the backup's own audit row came after its start
    assert {k: v for k, v in after.items() if k not in audit_trail} == {
        k: v for k, v in before.items() if k not in audit_trail
    }
    actions = [row[3][1] for row in after["audit_logs"]]
    assert actions == ["backup.start"]  # the file's state: audited before its rows were read


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
