"""The retry cron (``*/5 * * * *``): claim due pending deliveries, attempt them, record it all.

Claiming is one atomic statement: ``UPDATE ... SET next_attempt_at = <lease> WHERE id IN (due
rows, oldest first, LIMIT n) RETURNING ...``. Because the lease lies in the future, a second cron
running at the same time finds no due rows among those, so no message is sent twice by two crons.
The outcome of every attempt and this run's ``task_execution_records`` row are then written in
ONE batch. Rows whose first (``waitUntil``) delivery never got recorded are due here too, once
the lease set at insert expires: pending never means forgotten.
"""

import time
import traceback
from typing import Any

from edgenotify.clock import iso, iso_after, utcnow
from edgenotify.db.d1 import Query
from edgenotify.notify.configs import load_active_configs
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery, attempt_all, record
from edgenotify.notify.delivery.outcome import Message
from edgenotify.ops.records import FAILED, record_query

TASK_NAME = "retry_due"
BATCH_LIMIT = 50  # rows per run: bounds the run's duration and subrequests
MAX_ERRORS_IN_DETAILS = 10

# INDEXED BY: the partial index exists for exactly this pickup; without statistics SQLite
# would pick idx_notification_status and sort every pending row.
_CLAIM = (
    "UPDATE notification_logs SET next_attempt_at = ? WHERE id IN ("
    "SELECT id FROM notification_logs INDEXED BY idx_pending_notifications"
    " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)"
    " RETURNING message_id, user_id, channel_type, template_key, subject, content, retry_count, created_at"
)


def claim_query(now: str, lease: str, limit: int) -> Query:
    return Query.of(_CLAIM, lease, now, limit)


def task_record(started_at: str, started: float, status: str, details: dict[str, Any], error: str | None) -> Query:
    duration_ms = int((time.monotonic() - started) * 1000)
    return record_query(TASK_NAME, status, started_at, duration_ms, details, error)


async def _configs(context: Any, user_id: str) -> dict[str, Any] | str:
    """channel -> config for the user, or the reason they cannot be loaded now."""
    try:
        return {c.channel: c.config for c in await load_active_configs(context, user_id) if c.is_active}
    except Exception as exc:
        return f"config unavailable: {type(exc).__name__}: {exc}"


async def deliveries_for(context: Any, rows: list[dict[str, Any]], lease: str) -> list[Delivery]:
    per_user: dict[str, dict[str, Any] | str] = {}
    for user_id in dict.fromkeys(row["user_id"] for row in rows):
        per_user[user_id] = await _configs(context, user_id)
    deliveries = []
    for row in rows:
        message = Message(
            row["message_id"], row["user_id"], row["channel_type"], row["subject"], row["content"] or "",
            row["template_key"], row["created_at"],
        )  # fmt: skip
        configs = per_user[row["user_id"]]
        unavailable = configs if isinstance(configs, str) else None
        config = configs.get(row["channel_type"]) if isinstance(configs, dict) else None
        deliveries.append(Delivery(message, config, lease, int(row["retry_count"] or 0), unavailable))
    return deliveries


async def retry_due(context: Any) -> dict[str, Any]:
    """One cron run; returns (and records) what it did. Never raises."""
    started = time.monotonic()
    moment = utcnow()
    started_at = iso(moment)
    limit = BATCH_LIMIT
    details: dict[str, Any] = {"limit": limit, "claimed": 0}
    try:
        lease = iso_after(LEASE_SECONDS, moment)
        claimed = (await context.db.execute(claim_query(started_at, lease, limit))).rows
        details["claimed"] = len(claimed)
        deliveries = await deliveries_for(context, claimed, lease)
        results = await attempt_all(context, deliveries)
        queries, summary = record(deliveries, results, utcnow())
        details.update(summary.as_dict(), errors=summary.errors[:MAX_ERRORS_IN_DETAILS])
        await context.db.batch([*queries, task_record(started_at, started, "completed", details, None)])
        return {"status": "completed", **details}
    except Exception as exc:
        print(f"{TASK_NAME} failed:\n{traceback.format_exc()}")
        error = f"{type(exc).__name__}: {exc}"
        try:
            await context.db.execute(task_record(started_at, started, FAILED, details, error))
        except Exception:
            print(f"{TASK_NAME}: could not record the failure:\n{traceback.format_exc()}")
        return {"status": FAILED, "error": error, **details}
