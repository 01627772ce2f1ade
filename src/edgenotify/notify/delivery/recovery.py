"""Recovering failed messages: the same message (same id, same ``webhook-id``) on a fresh schedule.

One message (:func:`recover_one`) is set pending and delivered at once, after the response; a
bulk recovery (:func:`recover_many`) sets up to ``limit`` failed messages of a filter pending and
due now, so the retry cron delivers them within its per-invocation budget. Both are one D1 batch
that picks the rows once per statement with the same query: the user's failure counter goes down
(a recovered message is no longer a final failure), one audit row per message is written, and
the rows change, so either all of it happens or none. Only ``failed`` messages qualify: a message
that succeeded is never sent again, a pending one is already on its way.

A bulk recovery is bounded (``limit``) and resumable: it walks rows in ``id`` order and returns
the last id as ``next_cursor`` when the page was full, so the next call continues after it and
never picks up again a message that failed anew after its recovery.
"""

from dataclasses import dataclass
from typing import Any

from edgenotify import errors
from edgenotify.audit import audit_rows_query
from edgenotify.clock import iso, iso_after, utcnow
from edgenotify.db.d1 import Query
from edgenotify.errors import DomainError
from edgenotify.notify.configs import load_active_configs
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery, deliver_in_background
from edgenotify.notify.delivery.outcome import Message

MAX_BULK = 500

_RETURNING = (
    "message_id, user_id, channel_type, template_key, subject, content, retry_count, attempt_count, created_at, id"
)


@dataclass(frozen=True)
class RecoverFilter:
    since: str
    until: str | None = None
    user_id: str | None = None
    channel: str | None = None
    after_id: int = 0


def _picked_many(flt: RecoverFilter, limit: int) -> Query:
    where = ["status = 'failed'", "created_at >= ?", "id > ?"]
    params: list[Any] = [flt.since, flt.after_id]
    for column, value in (("user_id", flt.user_id), ("channel_type", flt.channel)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.until is not None:
        where.append("created_at < ?")
        params.append(flt.until)
    sql = f"SELECT id, user_id, message_id FROM notification_logs WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
    return Query(sql, (*params, limit))


def _picked_one(message_id: str) -> Query:
    return Query.of(
        "SELECT id, user_id, message_id FROM notification_logs WHERE message_id = ? AND status = 'failed'", message_id
    )


def _statements(context: Any, picked: Query, due: str, details: dict[str, Any]) -> list[Query]:
    uncount = Query(
        f"UPDATE user_stats SET failed_count = MAX(0, failed_count - (SELECT COUNT(*) FROM ({picked.sql}) AS p"
        f" WHERE p.user_id = user_stats.user_id)) WHERE user_id IN (SELECT user_id FROM ({picked.sql}))",
        picked.params * 2,
    )
    audit = audit_rows_query(context, "notification.recover", "notification", picked, "message_id", details)
    reset = Query(
        "UPDATE notification_logs SET status = 'pending', retry_count = 0, next_attempt_at = ?"
        f" WHERE id IN (SELECT id FROM ({picked.sql})) RETURNING {_RETURNING}",
        (due, *picked.params),
    )
    return [uncount, audit, reset]


def _message(row: dict[str, Any]) -> Message:
    return Message(row["message_id"], row["user_id"], row["channel_type"], row["subject"], row["content"] or "",
                   row["template_key"], row["created_at"])  # fmt: skip


async def recover_one(context: Any, message_id: str) -> dict[str, Any]:
    """Send one failed message again now (after the response); 404 / 409 when it does not qualify."""
    lease = iso_after(LEASE_SECONDS, utcnow())
    statements = _statements(context, _picked_one(message_id), lease, {"mode": "single"})
    state = Query.of("SELECT status FROM notification_logs WHERE message_id = ?", message_id)
    results = await context.db.batch([state, *statements])
    if not results[-1].rows:
        status = results[0].rows[0]["status"] if results[0].rows else None
        if status is None:
            raise DomainError(errors.MESSAGE_NOT_FOUND, f"no message {message_id}", "message_id")
        code = errors.MESSAGE_SUCCEEDED if status == "success" else errors.MESSAGE_NOT_FAILED
        raise DomainError(code, f"message {message_id} is {status}; only failed messages are recovered")
    row = results[-1].rows[0]
    configs = await load_active_configs(context, row["user_id"], [row["channel_type"]])
    config = configs[0] if configs else None
    delivery = Delivery(_message(row), config, lease, 0, None, int(row["attempt_count"] or 0))
    context.wait_until(deliver_in_background(context, [delivery]))
    return {"message_id": message_id, "status": "pending", "attempt": delivery.attempt_count + 1}


async def recover_many(context: Any, flt: RecoverFilter, limit: int) -> dict[str, Any]:
    """Set up to ``limit`` failed messages matching ``flt`` pending and due now (the retry cron sends them)."""
    details = {"mode": "bulk", "since": flt.since, "until": flt.until, "user_id": flt.user_id, "channel": flt.channel}
    statements = _statements(context, _picked_many(flt, limit), iso(utcnow()), details)
    rows = sorted((await context.db.batch(statements))[-1].rows, key=lambda r: r["id"])
    next_cursor = str(rows[-1]["id"]) if len(rows) == limit else None
    return {"recovered": len(rows), "message_ids": [r["message_id"] for r in rows], "next_cursor": next_cursor}
