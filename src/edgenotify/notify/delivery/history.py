"""Reading a message with its attempt history (written by the dispatcher as each attempt ends)."""

from typing import Any

from edgenotify.db.d1 import Query
from edgenotify.notify.logs import get_query, to_item

COLUMNS = "attempt, started_at, duration_ms, status_code, outcome, error_class, error, response_excerpt"


def attempts_query(message_id: str) -> Query:
    return Query.of(f"SELECT {COLUMNS} FROM delivery_attempts WHERE message_id = ? ORDER BY attempt", message_id)


async def message_with_attempts(context: Any, message_id: str) -> dict[str, Any] | None:
    """The log item of ``message_id`` with ``attempts`` (oldest first), in one D1 round trip."""
    log, attempts = await context.db.batch([get_query(message_id), attempts_query(message_id)])
    if not log.rows:
        return None
    return {**to_item(log.rows[0]), "attempts": attempts.rows}
