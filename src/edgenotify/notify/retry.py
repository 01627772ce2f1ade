"""The retry cron (every minute): claim as much due work as one invocation can carry, deliver it.

Claiming is one atomic statement: ``UPDATE ... SET next_attempt_at = <lease> WHERE id IN (due
rows, oldest first, LIMIT n) RETURNING ...``. Because the lease lies in the future, a second run
at the same time finds no due rows among those, so no message is sent twice by two runs. Each
outcome is then written as its attempt ends (see ``delivery/dispatch.py``), and the run is
recorded through the shared task-record helper. Rows whose first (``waitUntil``) delivery never
got recorded are due here too, once the lease set at insert expires: pending never means forgotten.

How much one run claims (:func:`claim_limit`) follows from the invocation's limits
(``edgenotify.limits``), worst case per message: one outbound request (a subrequest), one D1
batch to record its outcome (a query and a subrequest) and ``CPU_MS_PER_DELIVERY`` of CPU, plus
a fixed overhead (claim, policy, task record) and one config query per ``USERS_PER_QUERY`` users.
On the paid plan that is ``min((1000 - 10) * 90 / 91, (10000 - 10) / 2, 30000 * 0.7 / 20)`` =
979 messages per run; at one run per minute, 58,740 per hour (bench/RESULTS.md, delivery).

Cloudflare Queues (per-message delay, dead-letter queue, consumer concurrency) were not added: the
D1 row must stay the source of truth either way, this sweep already meets the hourly target, and
an optional Queue binding would need its own embedded binding and a parity contract to be tested.
"""

from typing import Any

from edgenotify.clock import iso, iso_after, utcnow
from edgenotify.db.d1 import Query
from edgenotify.limits import Limits
from edgenotify.notify.channels import status
from edgenotify.notify.configs import USERS_PER_QUERY, ChannelConfig, load_configs_for
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery, Run
from edgenotify.notify.delivery.outcome import Message
from edgenotify.ops.records import SUCCESS, WARNING, Outcome, run_recorded

TASK_NAME = "retry_due"
MAX_ERRORS_IN_DETAILS = 10
FIXED_QUERIES = 10  # claim, policy, task record, and slack for the rare KV-invalidation follow-ups
# CPU of a whole retry run per delivery (claim, configs, attempt, record): measured on CPython,
# receivers and SQLite included, times Pyodide's ~3x, rounded up (bench/RESULTS.md, delivery).
# 30 % of the CPU limit stays unplanned as a margin.
CPU_MS_PER_DELIVERY = 20.0
CPU_SHARE = 0.7

# INDEXED BY: the partial index exists for exactly this pickup; without statistics SQLite
# would pick idx_notification_status and sort every pending row.
_CLAIM = (
    "UPDATE notification_logs SET next_attempt_at = ? WHERE id IN ("
    "SELECT id FROM notification_logs INDEXED BY idx_pending_notifications"
    " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)"
    " RETURNING message_id, user_id, channel_type, template_key, subject, content, retry_count, attempt_count,"
    " created_at"
)


def claim_limit(limits: Limits) -> int:
    """The most messages one run can deliver and record within ``limits`` (see the module docstring)."""
    by_queries = (limits.d1_queries - FIXED_QUERIES) * USERS_PER_QUERY // (USERS_PER_QUERY + 1)
    by_subrequests = (limits.subrequests - FIXED_QUERIES) // 2
    by_cpu = int(limits.cpu_ms * CPU_SHARE / CPU_MS_PER_DELIVERY)
    return max(1, min(by_queries, by_subrequests, by_cpu))


def claim_query(now: str, lease: str, limit: int) -> Query:
    return Query.of(_CLAIM, lease, now, limit)


def _status_config(env: Any) -> ChannelConfig | None:
    settings = status.settings(env)
    return ChannelConfig(status.EVENTS_USER, status.NAME, settings, True) if settings else None


def deliveries_for(rows: list[dict[str, Any]], configs: dict[str, Any], lease: str, env: Any) -> list[Delivery]:
    deliveries = []
    hook = _status_config(env)
    for row in rows:
        message = Message(
            row["message_id"], row["user_id"], row["channel_type"], row["subject"], row["content"] or "",
            row["template_key"], row["created_at"],
        )  # fmt: skip
        mine = configs.get(row["user_id"], {})
        unavailable = mine if isinstance(mine, str) else None
        config = mine.get(row["channel_type"]) if isinstance(mine, dict) else None
        if row["channel_type"] == status.NAME:
            unavailable, config = None, hook
        deliveries.append(Delivery(message, config, lease, int(row["retry_count"] or 0), unavailable,
                                   int(row["attempt_count"] or 0)))  # fmt: skip
    return deliveries


async def deliver_due(context: Any, limit: int) -> Outcome:
    """Claim up to ``limit`` due rows and deliver them; what happened, as a task outcome."""
    moment = utcnow()
    lease = iso_after(LEASE_SECONDS, moment)
    claimed = (await context.db.execute(claim_query(iso(moment), lease, limit))).rows
    users = list(dict.fromkeys(row["user_id"] for row in claimed if row["channel_type"] != status.NAME))
    configs = await load_configs_for(context, users)
    run = Run(context)
    summary = await run.deliver(deliveries_for(claimed, configs, lease, context.env))
    details = {"limit": limit, "claimed": len(claimed), **summary.as_dict(), "record_batches": run.recorder.batches,
               "errors": summary.errors[:MAX_ERRORS_IN_DETAILS]}  # fmt: skip
    if run.recorder.failures:
        details["record_failures"] = run.recorder.failures[:MAX_ERRORS_IN_DETAILS]
    return Outcome(WARNING if run.recorder.failures else SUCCESS, details)


async def retry_due(context: Any) -> dict[str, Any]:
    """One cron run; returns (and records) what it did. Never raises."""
    limit = claim_limit(Limits.from_env(context.env))
    return await run_recorded(context.db, TASK_NAME, lambda: deliver_due(context, limit))
