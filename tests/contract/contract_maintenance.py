"""The integrity pass across invocations, with kills, through the job tick (``ops.maintenance.integrity``).

Limits are lowered as in ``contract_jobs`` (``LIMIT_D1_QUERIES=20``, by wrapping ``env``) and every
other step is first killed inside at its N-th D1 call by the same FAULT-INJECTION facade, so the
per-table ``PRAGMA quick_check("t")`` / ``PRAGMA foreign_key_check("t")`` and the keyset-ranged data
checks run on D1 (Miniflare) as on SQLite, and a problem planted in the last range is found once.
Observations hold outcomes only: step counts depend on each runtime's speed.
"""

from typing import Any

from edgenotify.db import Database, Query
from edgenotify.migrations import automigrate
from edgenotify.ops import records
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.maintenance import integrity
from tests.contract.contract_jobs import Killed, _context
from tests.contract.contracts import contract
from tests.contract.support import reset_database

LOGS = 60
RANGE = 8


async def _seed(db: Database) -> None:
    log = (
        "INSERT INTO notification_logs (message_id, user_id, channel_type, status, sent_at, created_at) "
        "VALUES (?, 'u1', 'webhook', ?, '2026-11-22T03:00:00.000Z', '2026-11-22T03:00:00.000Z')"
    )
    rows = [Query.of(log, f"m{i}", "weird" if i == LOGS - 2 else "success") for i in range(LOGS)]
    attempt = (
        "INSERT INTO delivery_attempts (message_id, attempt, started_at, duration_ms, outcome) "
        "VALUES (?, 1, '2026-11-22T03:00:00.000Z', 5, 'delivered')"
    )
    rows += [Query.of(attempt, m) for m in ("m1", "gone")]
    await db.batch(rows)


@contract
async def maintenance_integrity_pass_across_invocations_with_kills(env: Any) -> Any:
    await reset_database(env.DB)
    automigrate.forget(env.DB)
    await automigrate.ensure_migrated(env.DB)
    db = Database(env.DB)
    await _seed(db)
    context, _ = _context(env)
    job = await integrity.start_or_continue(context, "contract", RANGE)
    kills, most, n = 0, 0, 0
    while (job := await store.get(db, job.id)).running:
        assert job.failures == 0, job.last_error
        assert [r for r in await records.recent(db, integrity.TASK) if r["status"] != records.RUNNING] == []
        n += 1
        if n % 2:
            killing, _ = _context(env, at=1 + n % 5, after=n % 3 == 1)
            try:
                await usecases.tick(killing)
            except Killed:
                kills += 1
        context, counted = _context(env)
        await usecases.tick(context)
        most = max(most, counted.round_trips)
    [final] = await records.recent(db, integrity.TASK)
    details = final["details"]
    assert job.steps >= 3 and kills >= 1 and most <= 20, (job.steps, kills, most)
    return {
        "job": job.status,
        "record": final["status"],
        "problems": details["problems"],
        "rows": details["checked"]["rows"],
        "quick_checked": [t for t in details["checked"]["quick_check"] if t in ("notification_logs", "ops_jobs")],
        "quick_check": details["quick_check"],
        "bad_status_at": details["where"]["notification_logs.bad_status"],
    }
