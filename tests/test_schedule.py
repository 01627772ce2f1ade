"""The cron schedule is declared once, in wrangler.toml, and every declared cron has work.

``scripts/build_bundle`` (wrangler's ``[build]`` command, also run by scripts/dev and scripts/test)
renders ``[triggers] crons`` into ``edgenotify._crons``; ``edgenotify.scheduled.CRON_TASKS`` says
what each cron runs. Changing a cron in wrangler.toml without its work (e.g. the backup to
``0 2 * * *``) fails here, before a deploy would silently stop the backup.
"""

import asyncio
import importlib
import runpy
from pathlib import Path

from edgenotify import _crons, scheduled
from edgenotify.db import Database

ROOT = Path(__file__).resolve().parents[1]
BUILD = runpy.run_path(str(ROOT / "scripts" / "build_bundle"), run_name="build_bundle")
BACKUP = "edgenotify.ops.backups.backup_task:scheduled_backup"
RETENTION = "edgenotify.ops.maintenance.retention:apply_retention"


def declared(wrangler_toml: Path) -> tuple[str, ...]:
    namespace: dict = {}
    exec(BUILD["render_crons"](wrangler_toml), namespace)
    return namespace["DECLARED_CRONS"]


def cron_of(task: str, table: dict[str, list[str]]) -> list[str]:
    return [cron for cron, paths in table.items() if task in paths]


def is_daily(cron: str) -> bool:
    """``M H * * *`` with a fixed minute and hour: exactly one run a day."""
    minute, hour, *rest = cron.split()
    return minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]


def test_the_installed_schedule_is_what_wrangler_toml_declares():
    importlib.reload(_crons)
    assert _crons.DECLARED_CRONS == declared(ROOT / "wrangler.toml")
    assert _crons.DECLARED_CRONS  # an empty list would pass the drift check vacuously


def test_every_declared_cron_has_work_and_all_work_is_scheduled():
    assert scheduled.schedule_drift(declared(ROOT / "wrangler.toml")) == {
        "declared_without_work": [],
        "work_without_cron": [],
    }


def test_the_daily_backup_and_its_retention_are_scheduled():
    [cron] = cron_of(BACKUP, scheduled.CRON_TASKS)
    assert cron in declared(ROOT / "wrangler.toml") and is_daily(cron)
    assert cron_of(RETENTION, scheduled.CRON_TASKS) == [cron]
    for paths in scheduled.CRON_TASKS.values():
        assert all(callable(scheduled.load_task(path)) for path in paths)


def test_moving_the_backup_cron_in_wrangler_toml_alone_is_caught(tmp_path):
    """The mutation that once left every test green: the backup cron edited in wrangler.toml only."""
    text = (ROOT / "wrangler.toml").read_text(encoding="utf-8")
    assert text.count(f'"{scheduled.BACKUP_CRON}"') == 1
    mutated = tmp_path / "wrangler.toml"
    mutated.write_text(text.replace(f'"{scheduled.BACKUP_CRON}"', '"0 2 * * *"'), encoding="utf-8")
    assert scheduled.schedule_drift(declared(mutated)) == {
        "declared_without_work": ["0 2 * * *"],
        "work_without_cron": [scheduled.BACKUP_CRON],
    }


def test_a_cron_without_work_is_recorded_as_a_failed_task(embedded_env):
    outcome = asyncio.run(scheduled.handle_scheduled("1 2 3 4 5", embedded_env, None))
    assert outcome[scheduled.UNMATCHED_TASK]["status"] == "failed"
    rows = asyncio.run(
        Database(embedded_env.DB).all("SELECT task_name, status, error, details FROM task_execution_records")
    )
    assert [(r["task_name"], r["status"]) for r in rows] == [(scheduled.UNMATCHED_TASK, "failed")]
    assert "no scheduled work matches" in rows[0]["error"] and '"1 2 3 4 5"' in rows[0]["details"]
