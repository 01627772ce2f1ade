"""Backup and restore as jobs across many invocations, under lowered limits, with kills anywhere.

Limits: ``LIMIT_D1_QUERIES=20`` and ``LIMIT_CPU_MS=500`` in the worker's env, so each step plans a
budget of 10 queries and 250 ms; every step runs as one invocation of the embedded runtime, which
ENFORCES those limits (a step past one would raise), and its D1 calls are also counted through the
facade. Kills: each step first dies once inside, either by ``jobs_kit.Killer`` (fault injection
around the real bindings: the N-th D1 or R2 call, before or after it) or by the runtime's own limit
exception (a CPU or D1 query limit far below what the job planned for); the next invocation
continues from the checkpoint. At the end the data must be exact: per-table digests, the object's
chunk digests, the restored database read back by plain sqlite3.
"""

import asyncio
import gzip
import hashlib
import itertools
from dataclasses import replace

from jobs_kit import Invocation, Killed, Killer
from ops_kit import seed, snapshot

from devkit.embedded.meter import CpuLimitExceeded
from devkit.embedded.runtime import Runtime
from edgenotify.db import D1Error, Database, Query
from edgenotify.limits import Limits
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.dump import digest_table
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.jobs.backup import BackupOptions
from edgenotify.scheduled import MAINTENANCE_CRON, RETRY_CRON

PART = 5 * 1024 * 1024


async def _fill(env) -> None:
    """Every value kind (ops_kit.seed), 1,500 log rows, and ~5.6 MB of incompressible BLOBs (multipart)."""
    db = Database(env.DB)
    await seed(db, env.DB)
    insert = "INSERT INTO notification_logs (message_id, user_id, channel_type, status, content, created_at) "
    await db.batch(
        [
            Query.of(
                insert + "VALUES (?, ?, ?, ?, ?, ?)",
                f"m{i}",
                f"u{i % 7}",
                "webhook",
                "success",
                "x" * (i % 300),
                "2026-01-01T00:00:00.000Z",
            )
            for i in range(2, 1500)
        ]
    )
    await db.run("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    await db.batch([Query("INSERT INTO blobs (data) VALUES (randomblob(45000))") for _ in range(125)])


def _kill_plan():
    """How successive steps die first: at call 1, 2, 3, ... (before or after it), by the CPU limit, by the
    D1 query limit (the embedded runtime enforcing a limit lower than the one the job planned for)."""
    calls = [("call", n, mode) for n in range(1, 13) for mode in ("before", "after")]
    limits = [("cpu_ms", 1, ""), ("d1_queries", 3, "")]
    return itertools.cycle([k for pair in itertools.zip_longest(calls, limits * 12) for k in pair if k])


async def _step(env, job_id: str, killer: Killer, limits: Limits) -> None:
    """One invocation of the job under the embedded runtime's enforcement of ``limits``."""
    runtime = Runtime(env)
    runtime.limits = limits
    context = Invocation(env, killer).context()
    await runtime.invoke("job step", lambda ctx: usecases.continue_job(context, job_id))


async def _drive(env, job_id: str, kills, killed: list[str], calls: list[tuple[int, int]]) -> store.Job:
    """Continue the job until it ends: each step first runs once and dies inside, then once cleanly
    under the real limits (LIMIT_D1_QUERIES=20, LIMIT_CPU_MS=500), which it must stay within."""
    planned = Limits.from_env(env)
    while True:
        job = await store.get(Database(env.DB), job_id)
        assert job is not None and job.failures == 0, job and job.last_error
        if not job.running:
            return job
        kind, n, mode = next(kills)
        killer = Killer(n, mode) if kind == "call" else Killer()
        limits = planned if kind == "call" else replace(planned, **{kind: n})
        try:
            await _step(env, job_id, killer, limits)
        except (Killed, CpuLimitExceeded, D1Error):
            killed.append(f"{kind} {n} {mode}".strip())
        clean = Killer()
        await _step(env, job_id, clean, planned)
        calls.append((clean.d1, clean.r2))


def _digests(path_env) -> dict[str, tuple[int, str]]:
    async def run():
        db = Database(path_env.DB)
        schema = await inspect(db)
        out = {}
        for spec in schema.tables:
            if spec.dumps_rows and spec.name != "audit_logs":
                d = await digest_table(db, spec, schema.negative_zero)
                out[spec.name] = (d.rows, d.sha256)
        return out

    return asyncio.run(run())


def test_backup_and_restore_complete_across_invocations_with_kills_anywhere(limited_envs) -> None:
    source, target = limited_envs
    asyncio.run(_fill(source))
    backup_kills: list[str] = []
    backup_calls: list[tuple[int, int]] = []
    restore_kills: list[str] = []
    restore_calls: list[tuple[int, int]] = []

    async def backup() -> tuple[store.Job, dict]:
        first = Killer()
        job = await usecases.start_backup(
            Invocation(source, first).context(), "test", options=BackupOptions(part_size=PART, page_rows=100)
        )
        backup_calls.append((first.d1, first.r2))
        job = await _drive(source, job.id, _kill_plan(), backup_kills, backup_calls)
        manifest = mf.parse(await (await source.BACKUPS.get(mf.manifest_key(job.id))).bytes())
        return job, manifest

    job, manifest = asyncio.run(backup())
    assert job.status == "complete" and manifest["steps"] == job.steps
    assert len(backup_calls) >= 6 and len(backup_kills) >= 5  # many invocations, a kill inside most of them
    assert max(d1 for d1, _ in backup_calls) <= 20  # every step within LIMIT_D1_QUERIES
    obj = manifest["object"]
    stored = asyncio.run(_bytes(source, mf.data_key(job.id)))
    assert obj["parts"] >= 2 and len(stored) == obj["size"]  # a multipart object, parts across invocations
    assert [hashlib.sha256(stored[c["offset"] : c["offset"] + c["size"]]).hexdigest() for c in obj["chunks"]] == [
        c["sha256"] for c in obj["chunks"]
    ]
    assert len(gzip.decompress(stored)) == obj["sql_bytes"]  # one plain .sql.gz: gunzip reads every member
    keys = asyncio.run(_keys(source))
    assert keys == [mf.data_key(job.id), mf.manifest_key(job.id)]  # no carry object left behind
    logs = next(t for t in manifest["tables"] if t["name"] == "notification_logs")
    assert logs["rows"] == 1499 and len(logs["segments"]) >= 2  # the table spans several steps

    async def restore() -> store.Job:
        await automigrate.ensure_migrated(target.DB)
        started = await usecases.start_restore(
            Invocation(target).context(), job.id, dry_run=False, quiesce_seconds=0, trigger="test"
        )
        return await _drive(target, started["job"]["id"], _kill_plan(), restore_kills, restore_calls)

    restored = asyncio.run(restore())
    kills = backup_kills + restore_kills
    assert {k.split()[0] for k in kills} == {"call", "cpu_ms", "d1_queries"}, kills  # each kind of death happened
    assert restored.status == "complete" and restored.state["verification"]["ok"], restored.state
    assert len(restore_calls) >= 6 and len(restore_kills) >= 5
    assert max(d1 for d1, _ in restore_calls) <= 20
    assert _digests(target) == _digests(source)
    mine, theirs = snapshot(target.DB.path), snapshot(source.DB.path)
    assert {k: v for k, v in mine.items() if k not in ("audit_logs", "sqlite_sequence")} == {
        k: v for k, v in theirs.items() if k not in ("audit_logs", "sqlite_sequence")
    }
    actions = [row[3][1] for row in mine["audit_logs"]]
    assert actions == ["backup.start", "restore.start", "restore.complete"]  # the restore's rows at its end


async def _bytes(env, key: str) -> bytes:
    return await (await env.BACKUPS.get(key)).bytes()


async def _keys(env) -> list[str]:
    return sorted(str(o.key) for o in (await env.BACKUPS.list(prefix=mf.PREFIX))["objects"])


def test_a_restore_marks_the_database_until_it_completes(worker) -> None:
    """Client routes 503, health unhealthy, crons skip, backups refused; all lifted at the end."""
    client, admin, db = worker.client, worker.headers("admin"), Database(worker.env.DB)
    logs = ("/v1/notifications", {"user_id": "u1"})
    assert client.get(logs[0], params=logs[1], headers=worker.headers()).status_code == 200
    manifest = client.post("/admin/backups", headers=admin).json()
    started = client.post(
        f"/admin/backups/{manifest['id']}/restore",
        headers=admin,
        json={"dry_run": False, "force": True, "quiesce_seconds": 3600},
    )
    assert started.status_code == 202 and started.headers["location"] == f"/admin/jobs/{started.json()['job']['id']}"
    job_id = started.json()["job"]["id"]
    assert started.json()["job"]["phase"] == "quiesce"  # chunks checked; waiting for every isolate to see it

    refused = client.get(logs[0], params=logs[1], headers=worker.headers())
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "restore_in_progress"
    health = client.get("/admin/health", headers=admin)
    assert health.status_code == 503 and any(
        r.startswith(f"jobs: restore job {job_id}") for r in health.json()["reasons"]
    )
    records_before = asyncio.run(db.all("SELECT count(*) AS n FROM task_execution_records"))[0]["n"]
    assert worker.scheduled(MAINTENANCE_CRON).status_code == 200 and worker.scheduled(RETRY_CRON).status_code == 200
    assert asyncio.run(db.all("SELECT count(*) AS n FROM task_execution_records"))[0]["n"] == records_before
    backup = client.post("/admin/backups", headers=admin)
    assert backup.status_code == 409 and backup.json()["error"]["code"] == "restore_running"
    waiting = client.post(f"/admin/jobs/{job_id}/continue", headers=admin)
    assert waiting.status_code == 202 and waiting.json()["phase"] == "quiesce"

    past = "UPDATE ops_jobs SET state = json_set(state, '$.quiesce_until', '2000-01-01T00:00:00.000Z') WHERE id = ?"
    asyncio.run(db.run(past, job_id))  # the quiesce period is over
    done = client.post(f"/admin/jobs/{job_id}/continue", headers=admin)
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text
    assert client.get(logs[0], params=logs[1], headers=worker.headers()).status_code == 200
    checks = {c["name"]: c for c in client.get("/admin/health", headers=admin).json()["checks"]}
    assert checks["jobs"]["status"] == "healthy"
    assert client.get("/admin/jobs/restore-20200101T000000000Z-abcdef", headers=admin).status_code == 404
    assert client.get("/admin/jobs/nope", headers=admin).status_code == 422
