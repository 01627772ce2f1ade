"""Safety rules around backup jobs: completeness, grace, dead jobs' uploads, cron ticks continuing a job."""

import asyncio
from pathlib import Path

import pytest
from jobs_kit import Invocation

from edgenotify.db import Database, Query
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import run_backup
from edgenotify.ops.config import load
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.jobs.backup import BackupOptions
from edgenotify.ops.maintenance import retention
from edgenotify.scheduled import BACKUP_CRON, RETRY_CRON
from tests.conftest import start_worker

PART = 5 * 1024 * 1024


async def _blobs(env, count: int = 130) -> None:
    await usecases.automigrate.ensure_migrated(env.DB)
    await Database(env.DB).run("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB)")
    await Database(env.DB).batch([Query("INSERT INTO blobs (data) VALUES (randomblob(45000))") for _ in range(count)])


def test_complete_means_manifest_and_matching_data(limited_envs) -> None:
    source, _ = limited_envs

    async def run():
        await _blobs(source, 5)
        ids = [(await run_backup(Database(source.DB), source.BACKUPS))["id"] for _ in range(3)]
        await source.BACKUPS.delete(mf.data_key(ids[0]))  # manifest without data
        await source.BACKUPS.put(mf.data_key(ids[1]), b"replaced")  # data replaced after the manifest
        return ids, {b.id: b for b in await catalog.list_backups(source.BACKUPS)}

    ids, listed = asyncio.run(run())
    assert not listed[ids[0]].complete and "data object does not" in listed[ids[0]].problem
    assert not listed[ids[1]].complete and "bytes, the manifest says" in listed[ids[1]].problem
    assert listed[ids[2]].complete and listed[ids[2]].problem is None


def test_grace_below_one_hour_is_refused(limited_envs) -> None:
    source, _ = limited_envs
    with pytest.raises(ValueError, match="at least 1"):
        retention.RetentionPolicy(incomplete_grace_hours=0)

    async def run():
        await usecases.automigrate.ensure_migrated(source.DB)
        db = Database(source.DB)
        await db.run(
            "INSERT INTO system_configs (config_key, config_value) VALUES ('ops.backup_incomplete_grace_hours', '0')"
        )
        return await load(db, source)

    config, problems = asyncio.run(run())
    assert config.backup_incomplete_grace_hours == 24 and "below 1" in problems[0]


def test_a_dead_job_is_abandoned_its_upload_aborted_and_a_running_one_kept(limited_envs) -> None:
    source, _ = limited_envs

    async def run():
        await _blobs(source)
        context = Invocation(source).context()
        job = await usecases.start_backup(context, "test", options=BackupOptions(part_size=PART))
        while not job.state["object"]["upload_id"]:  # until a part is uploaded and a carry kept
            job = await usecases.continue_job(Invocation(source).context(), job.id)
        assert job.running
        before = await _keys(source, job.id)
        kept = await retention.apply_retention(Invocation(source).context())  # fresh: kept
        db = Database(source.DB)
        await db.run("UPDATE ops_jobs SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = ?", job.id)
        dead = await retention.apply_retention(Invocation(source).context())
        upload = (
            source.BACKUPS._db()
            .execute("SELECT state FROM uploads WHERE upload_id = ?", (job.state["object"]["upload_id"],))
            .fetchone()
        )
        audit = await db.all("SELECT action FROM audit_logs WHERE resource_id = ? ORDER BY id", job.id)
        return job, before, kept, dead, upload[0], await _keys(source, job.id), await store.get(db, job.id), audit

    job, before, kept, dead, upload_state, after, final, audit = asyncio.run(run())
    assert any(k.endswith(".bin") for k in before)  # the carry of the running job
    assert kept["details"]["abandoned_jobs"] == [] and kept["details"]["deleted"] == []
    assert dead["details"]["abandoned_jobs"] == [job.id]
    assert upload_state == "aborted" and after == [] and final.status == "failed"
    assert [a["action"] for a in audit] == ["backup.start", "backup.failed"]


async def _keys(env, backup_id: str) -> list[str]:
    return sorted(str(o.key) for o in (await env.BACKUPS.list(prefix=f"{mf.PREFIX}{backup_id}/"))["objects"])


def test_the_backup_cron_starts_a_job_and_the_tick_continues_it(tmp_path: Path) -> None:
    worker, stop = start_worker(tmp_path / "state", LIMIT_D1_QUERIES="20", LIMIT_CPU_MS="500")
    try:
        asyncio.run(_blobs(worker.env, 60))
        admin = worker.headers("admin")
        created = worker.client.post("/admin/backups", headers=admin)
        assert created.status_code == 202 and created.headers["location"].startswith("/admin/jobs/")
        assert worker.client.post("/admin/backups", headers=admin).json()["error"]["code"] == "backup_running"
        assert worker.scheduled(BACKUP_CRON).status_code == 200  # the daily cron continues it, no second job
        for _ in range(40):
            job = worker.client.get(created.headers["location"], headers=admin).json()
            if job["status"] != "running":
                break
            assert worker.scheduled(RETRY_CRON).status_code == 200  # the 5-minute tick
        assert job["status"] == "complete" and job["steps"] > 2, job
        listed = worker.client.get("/admin/backups", headers=admin).json()["items"]
        assert listed[0]["id"] == job["id"] and listed[0]["complete"] and listed[0]["steps"] == job["steps"]
    finally:
        stop()


def test_a_forced_restore_abandons_a_running_backup_an_unforced_one_is_refused(limited_envs) -> None:
    source, _ = limited_envs

    async def run():
        await _blobs(source)
        earlier = await run_backup(Database(source.DB), source.BACKUPS)
        job = await usecases.start_backup(Invocation(source).context(), "test", options=BackupOptions(part_size=PART))
        refused = await usecases.start_restore(Invocation(source).context(), earlier["id"], force=False)
        started = await usecases.start_restore(
            Invocation(source).context(), earlier["id"], force=True, dry_run=False, quiesce_seconds=0
        )
        return job, refused, started, await store.get(Database(source.DB), job.id), await _keys(source, job.id)

    job, refused, started, abandoned, keys = asyncio.run(run())
    assert job.running and {r["code"] for r in refused["refusals"]} >= {"backup_running", "target_not_empty"}
    assert started["job"]["status"] == "running" and abandoned.status == "failed" and keys == []
    assert abandoned.last_error == f"abandoned for restore job {started['job']['id']}"
