"""The integrity check as a pass across invocations, under lowered limits, with kills between steps.

Limits: ``LIMIT_D1_QUERIES=20`` and ``LIMIT_CPU_MS=500`` (``conftest.LIMITS``), so a step plans 10
queries; each step runs as one invocation of the embedded runtime, which ENFORCES the limits, and
its D1 calls are counted through ``jobs_kit.Killer`` (fault injection around the REAL bindings: the
N-th call dies before or after it reaches D1, like an isolate killed for its CPU time). Problems are
planted in the data the way only a foreign tool could write them (plain sqlite3, foreign keys off),
in ranges the pass reaches only after several steps.
"""

import asyncio
import sqlite3
from datetime import timedelta

from jobs_kit import Invocation, Killed, Killer

from devkit.embedded.runtime import Runtime
from edgenotify.clock import iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.ops import records
from edgenotify.ops.diagnostics.health import check_maintenance
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.maintenance import integrity
from edgenotify.ops.maintenance.run import run_maintenance

LOGS = 300
RANGE = 40  # rows per data-check query: the logs take 8 ranges
LOG = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, status, sent_at, created_at) "
    "VALUES (?, 'u1', 'webhook', 'success', ?, ?)"
)


async def _seed(env) -> Database:
    await ensure_migrated(env.DB)
    db = Database(env.DB)
    when = iso(utcnow() - timedelta(days=1))
    await db.batch([Query.of(LOG, f"m{i}", when, when) for i in range(LOGS)])
    await db.run(
        "INSERT INTO delivery_attempts (message_id, attempt, started_at, duration_ms, outcome) "
        "SELECT message_id, 1, created_at, 5, 'delivered' FROM notification_logs"
    )
    return db


def _plant(env) -> None:
    """A log with an unknown status near the end (range 8 of 8), a template content whose template is
    gone (a foreign key violation), an attempt whose log is gone."""
    conn = sqlite3.connect(env.DB.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("UPDATE notification_logs SET status = 'weird' WHERE message_id = ?", (f"m{LOGS - 5}",))
    conn.execute(
        "INSERT INTO template_contents (template_key, channel_type, content_template) VALUES ('ghost', 'lark', 'x')"
    )
    conn.execute(
        "INSERT INTO delivery_attempts (message_id, attempt, started_at, duration_ms, outcome) "
        "VALUES ('gone', 1, '2026-01-01T00:00:00.000Z', 1, 'delivered')"
    )
    conn.commit()
    conn.close()


async def _invoke(env, killer: Killer, work) -> None:
    """One invocation under the embedded runtime's enforcement of the env's (lowered) limits."""
    context = Invocation(env, killer).context()
    await Runtime(env).invoke("integrity step", lambda ctx: work(context))


async def _final_records(db: Database) -> list[dict]:
    return [r for r in await records.recent(db, integrity.TASK) if r["status"] != records.RUNNING]


def test_the_pass_spans_invocations_resumes_after_kills_and_finds_what_lies_in_later_ranges(limited_envs) -> None:
    env, _ = limited_envs

    async def run():
        db = await _seed(env)
        _plant(env)
        first = Killer()
        await _invoke(env, first, lambda c: integrity.start_or_continue(c, "test", RANGE))
        calls, kills, seen = [first.d1], [], []
        kill_plan = iter([("before", 2), ("after", 3), ("before", 5), ("after", 1), ("before", 4)] * 10)
        while (job := (await store.recent(db, integrity.KIND, 1))[0]).running:
            seen.append((job.state["unit"], job.state["after"], await _final_records(db)))
            mode, at = next(kill_plan)
            killer = Killer(at, mode)
            try:
                await _invoke(env, killer, usecases.tick)
            except Killed:
                kills.append(f"{mode} {at}")
            if (await store.get(db, job.id)).running:
                clean = Killer()
                await _invoke(env, clean, usecases.tick)  # the every-minute job tick continues the pass
                calls.append(clean.d1)
        return job, calls, kills, seen, await _final_records(db)

    job, calls, kills, seen, final = asyncio.run(run())
    assert job.status == "complete" and job.failures == 0, job.last_error
    assert len(calls) >= 3 and len(kills) >= 2  # several invocations, killed ones among them
    assert max(calls) <= 20  # every step inside LIMIT_D1_QUERIES
    assert all(records_then == [] for _, _, records_then in seen)  # nothing reported while the pass ran
    assert any(after is not None for _, after, _ in seen)  # a step stopped inside a table's ranges
    assert len(final) == 1  # reported once, at the end
    details = final[0]["details"]
    assert final[0]["status"] == "warning" and details["job"] == job.id
    problems = " | ".join(details["problems"])
    assert "1 notification log(s): bad status" in problems
    assert "1 foreign key violation(s) in template_contents" in problems
    assert "1 template content(s) without their template" in problems
    assert "1 delivery attempt(s) without their log" in problems
    # exactly what was checked, each row once despite the kills
    assert details["checked"]["rows"] == {
        "template_contents": 1,
        "notification_logs": LOGS,
        "delivery_attempts": LOGS + 1,
        "idempotency_keys": 0,
    }
    assert "notification_logs" in details["checked"]["quick_check"]
    assert details["checked"]["foreign_key_check"] == ["template_contents"]
    [(after, last)] = details["where"]["notification_logs.bad_status"]
    assert after == 7 * RANGE and last == LOGS  # found in the last range, reached steps after the first
    assert details["steps"] == job.steps >= 3


def test_a_daily_run_that_does_not_finish_reports_the_pass_as_running_and_the_tick_reports_it(limited_envs) -> None:
    env, _ = limited_envs

    async def run():
        db = await _seed(env)
        _plant(env)
        context = Context.create(env, None)
        await db.run("INSERT INTO system_configs (config_key, config_value) VALUES ('ops.integrity_range_rows', '40')")
        summary = await run_maintenance(context)
        health_running = await check_maintenance(Context.create(env, None), utcnow())
        ticks = 0
        while (await usecases.tick(Context.create(env, None)))["status"] == "running":
            ticks += 1
        health_after = await check_maintenance(Context.create(env, None), utcnow())
        return summary, health_running, ticks, await records.recent(db, integrity.TASK), health_after

    summary, health_running, ticks, recorded, health_after = asyncio.run(run())
    task = next(r for r in summary["results"] if r["task"] == integrity.TASK)
    progress = task["details"]["progress"]
    assert task["status"] == "running" and progress["units_done"] < progress["units"]
    assert summary["details"]["running"] == [integrity.TASK]
    assert summary["details"]["tasks"][integrity.TASK] == "running"
    assert health_running["status"] == "healthy" and "in progress" in health_running["note"]
    assert ticks >= 1
    assert [r["status"] for r in recorded] == ["warning", "running"]  # newest first: the finished pass
    assert health_after["status"] == "degraded" and "integrity check warning" in health_after["reason"]


def test_a_unit_failing_three_times_is_reported_not_checked_and_the_pass_goes_on(embedded_env) -> None:
    async def run():
        db = await _seed(embedded_env)
        _plant(embedded_env)
        context = Context.create(embedded_env, None)
        units = [{"check": "quick_check", "table": "gone"}, {"check": "data", "name": "notification_logs"}]
        job = integrity.new_job("test", RANGE, units)
        await db.execute(store.insert_query(job))
        seen = []
        while job.running:
            job = await integrity.advance(context, job)
            seen.append((job.state["unit"], job.failures))
        return job, seen, await records.recent(db, integrity.TASK)

    job, seen, recorded = asyncio.run(run())
    assert seen == [(0, 1), (0, 2), (1, 3), (2, 3)]  # retried twice, then left "not checked", then the rest
    assert job.status == "complete" and "no such table: gone" in job.last_error
    [final] = recorded
    problems = final["details"]["problems"]
    assert final["status"] == "warning" and problems[0].startswith("quick_check(gone) not checked: D1Error")
    assert "1 notification log(s): bad status" in problems  # the units after it still ran
    assert final["details"]["checked"]["quick_check"] == []  # never reported as checked
    assert final["details"]["checked"]["rows"] == {"notification_logs": LOGS}


def test_an_integrity_pass_through_the_admin_api(tmp_path) -> None:
    """Started by POST /admin/maintenance/run, listed and shown by /admin/jobs, continued by its endpoint."""
    from tests.conftest import start_worker

    worker, stop = start_worker(tmp_path / "state", LIMIT_D1_QUERIES="40")
    try:
        client, admin = worker.client, worker.headers("admin")
        assert client.get("/admin/jobs", headers=admin, params={"kind": "integrity"}).json()["items"] == []
        db = Database(worker.env.DB)
        asyncio.run(
            db.run("INSERT INTO system_configs (config_key, config_value) VALUES ('ops.integrity_range_rows', '20')")
        )
        asyncio.run(_seed(worker.env))
        ran = client.post("/admin/maintenance/run", headers=admin)
        assert ran.status_code == 200 and ran.json()["details"]["running"] == [integrity.TASK]
        [listed] = client.get("/admin/jobs", headers=admin, params={"kind": "integrity"}).json()["items"]
        shown = client.get(f"/admin/jobs/{listed['id']}", headers=admin).json()
        assert listed["status"] == shown["status"] == "running" and shown["report"]["range_rows"] == 20
        statuses = []
        while (step := client.post(f"/admin/jobs/{listed['id']}/continue", headers=admin)).status_code == 202:
            statuses.append(step.json()["status"])
        done = step.json()
        runs = client.get("/admin/maintenance/runs", headers=admin, params={"task": integrity.TASK}).json()
    finally:
        stop()
    assert step.status_code == 200 and done["status"] == "complete" and done["outcome"]["status"] == "success"
    assert statuses and set(statuses) == {"running"}
    assert done["report"]["checked"]["rows"]["notification_logs"] == LOGS
    assert [r["status"] for r in runs["items"]] == ["success", "running"]


def test_a_restore_makes_the_pass_wait_then_start_over(limited_envs) -> None:
    """A pass does not check data a restore is replacing, nor report rows it checked before one."""
    env, _ = limited_envs

    async def step(job_id: str) -> store.Job:
        db = Database(env.DB)
        return await integrity.advance(Context.create(env, None), await store.get(db, job_id))

    async def run():
        db = await _seed(env)
        job = integrity.new_job("test", 20, [{"check": "data", "name": "notification_logs"}])
        await db.execute(store.insert_query(job))
        before = await step(job.id)
        restore = store.Job("restore-20261122T030000000Z-a1b2c3", store.RESTORE, "test", phase="data")
        await db.execute(store.insert_query(restore))
        waited = await step(job.id)
        restore.status, restore.finished_at = "complete", iso(utcnow() + timedelta(seconds=1))
        await store.save(db, restore)
        job = await step(job.id)
        restarted = job.state.get("restarted")
        while job.running:
            job = await step(job.id)
        return before, waited, restarted, job, await _final_records(db)

    before, waited, restarted, job, final = asyncio.run(run())
    assert before.running and before.state["progress"]["rows_scanned"] > 0
    assert waited.steps == before.steps and waited.state == before.state  # nothing checked meanwhile
    assert restarted == "restore job restore-20261122T030000000Z-a1b2c3 replaced the data"
    assert job.status == "complete" and job.state["data"]["notification_logs"]["scanned"] == LOGS  # once, anew
    assert len(final) == 1 and final[0]["details"]["checked"]["rows"]["notification_logs"] == LOGS
    assert "notification_logs" in final[0]["details"]["checked"]["quick_check"]  # planned anew: every table
