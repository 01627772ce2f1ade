"""Cancelling a scheduled send: possible while the retry cron has not picked the message up yet.

A scheduled row waits with ``next_attempt_at = send_at``; the cron's due pickup replaces that value
with its lease before any attempt. So "not yet attempted" is exactly ``status = 'pending' AND
next_attempt_at = send_at``, and the cancelling UPDATE and the cron's claim are single statements:
whichever D1 runs first wins, a message is never both cancelled and delivered. The UPDATE and a
read of the row (to tell "not cancellable" from "no such message") share one batch with the
audit row, which is written only when the message was cancellable.
"""

from typing import Any

from edgenotify import errors
from edgenotify.audit import audit_query
from edgenotify.db.d1 import Query
from edgenotify.errors import DomainError
from edgenotify.notify.logs import COLUMNS, get_query, to_item

_WAITING = "message_id = ? AND status = 'pending' AND send_at IS NOT NULL AND next_attempt_at = send_at"
_CANCEL = (
    f"UPDATE notification_logs SET status = 'cancelled', next_attempt_at = NULL WHERE {_WAITING} RETURNING {COLUMNS}"
)


async def cancel(context: Any, message_id: str) -> dict[str, Any]:
    """The cancelled message, or ``message_not_found`` / ``not_cancellable``."""
    waiting = Query.of(f"EXISTS (SELECT 1 FROM notification_logs WHERE {_WAITING})", message_id)
    _, cancelled, current = await context.db.batch(
        [
            audit_query(context, "message.cancel", "notification", message_id, None, waiting),
            Query.of(_CANCEL, message_id),
            get_query(message_id),
        ]
    )
    if cancelled.rows:
        return to_item(cancelled.rows[0])
    if not current.rows:
        raise DomainError(errors.MESSAGE_NOT_FOUND, f"no message {message_id}", "message_id")
    status = current.rows[0]["status"]
    message = f"message {message_id} is {status} and no longer waits for a scheduled time"
    raise DomainError(errors.NOT_CANCELLABLE, message, "message_id")
