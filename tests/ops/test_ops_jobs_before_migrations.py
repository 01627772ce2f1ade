"""A backup or restore asked of a database whose migrations stop before ``ops_jobs`` (0003): a clear
409 ``migrations_pending`` that says to apply them, never a 500; the cron records the same reason.

Production applies migrations with ``wrangler d1 migrations apply`` (the worker never does), so the
worker runs here with ``ENVIRONMENT=production`` on a database migrated to 0002 only.
"""

import asyncio
from pathlib import Path

from devkit.embedded.env import build_env
from edgenotify.db import Database
from edgenotify.migrations import automigrate
from edgenotify.ops import records
from edgenotify.scheduled import BACKUP_CRON
from tests.conftest import start_worker


def _migrate_to_0002(state_dir: Path) -> None:
    env = build_env(state_dir, dev_vars_path=state_dir / "no.dev.vars", overrides={"ENVIRONMENT": "development"})
    files = automigrate.bundled_files()
    asyncio.run(automigrate.apply_pending(Database(env.DB), files, to=files[1].name))
    automigrate.forget(env.DB)
    env.close()


def test_backup_and_restore_before_the_jobs_migration_answer_migrations_pending(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _migrate_to_0002(state)
    worker, stop = start_worker(state, ENVIRONMENT="production")
    try:
        admin = worker.headers("admin")
        backup = worker.client.post("/admin/backups", headers=admin)
        restore = worker.client.post(
            "/admin/backups/20261122T030000000Z-a1b2c3/restore", headers=admin, json={"dry_run": False}
        )
        cron = worker.scheduled(BACKUP_CRON)
        recorded = asyncio.run(records.latest(Database(worker.env.DB), "backup"))
        tables = asyncio.run(
            Database(worker.env.DB).all("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ops_jobs'")
        )
    finally:
        stop()
    for response in (backup, restore):
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "migrations_pending" and "apply the pending migrations" in error["message"]
    assert cron.status_code == 200
    assert recorded["status"] == "failed" and "apply the pending migrations" in recorded["error"]
    assert tables == []  # nothing was created behind the operator's back
