"""Reading ``notification_logs``: filtered, newest first, keyset-paginated by ``(created_at, id)``.

Why keyset and not OFFSET: the page costs the same at any depth and stays stable while new rows
arrive; ``id`` breaks ties between rows created in the same millisecond, so no row is skipped or
repeated. A user's list is anchored on ``user_id`` so it walks ``idx_logs_user_created``
(``user_id, created_at, id``) in order, or ``idx_logs_user_status_created`` (``user_id, status,
created_at, id``) when it filters on status, and stops after ``limit + 1`` matching rows (the plans
are in bench/RESULTS.md section 6).

The cursor points AT the first row of the next page (the extra row each page already fetches)
and the next page starts there inclusively, ``(created_at, id) <= (?, ?)``. An exclusive cursor on
the last row shown, ``< (?, ?)``, made the index seek visit that row again, which D1 bills: a
cursor page read ``limit + 2`` rows instead of ``limit + 1`` (bench/RESULTS.md section 2).

Cursors are :mod:`edgenotify.notify.cursors` (signed, bounded, one scheme for every list); a
user's list and the operator's list across users are two lists, so their cursors are not
interchangeable. The operator's list (``user_id`` None) walks ``idx_logs_status_created``
(status, created_at, id) when filtered by status, else ``idx_logs_created_id``.
"""

import json
from dataclasses import dataclass
from typing import Any

from edgenotify import errors
from edgenotify.db.d1 import Query
from edgenotify.errors import DomainError
from edgenotify.notify import cursors

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# D1 refuses LIKE patterns over 50 bytes; the two '%' leave 48 for the escaped keyword.
MAX_LIKE_PATTERN_BYTES = 50
USER_LIST, OPERATOR_LIST = "logs", "admin.messages"
_CURSOR_SHAPE = (str, int)  # (created_at, id) of the next page's first row

COLUMNS = (
    "id, message_id, user_id, channel_type, template_key, subject, content, status, sent_at, error,"
    " retry_count, next_attempt_at, request_id, variables, send_at, created_at"
)


@dataclass(frozen=True)
class LogFilter:
    user_id: str | None  # None: every user's messages (the operator's view)
    status: str | None = None
    channel: str | None = None
    template_key: str | None = None
    since: str | None = None  # inclusive, ISO-8601 as stored
    until: str | None = None  # exclusive
    keyword: str | None = None  # substring of subject or content (case-insensitive for ASCII)


def like_pattern(keyword: str) -> str:
    """``%keyword%`` with ``\\``, ``%`` and ``_`` escaped (used with ``ESCAPE '\\'``)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in keyword):  # SQLite's LIKE stops at a NUL: "%" would match all
        raise DomainError(errors.INVALID_VALUE, "keyword must not contain control characters", "keyword")
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if len(pattern.encode("utf-8")) > MAX_LIKE_PATTERN_BYTES:
        message = f"keyword is too long (D1 allows {MAX_LIKE_PATTERN_BYTES}-byte patterns)"
        raise DomainError(errors.INVALID_VALUE, message, "keyword")
    return pattern


def list_query(flt: LogFilter, start: tuple[str, int] | None, limit: int) -> Query:
    """One page (``limit + 1`` rows, to know whether another page follows) from ``start`` inclusive."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("user_id", flt.user_id),
        ("status", flt.status),
        ("channel_type", flt.channel),
        ("template_key", flt.template_key),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.since is not None:
        where.append("created_at >= ?")
        params.append(flt.since)
    if flt.until is not None:
        where.append("created_at < ?")
        params.append(flt.until)
    if flt.keyword:
        pattern = like_pattern(flt.keyword)
        where.append("(subject LIKE ? ESCAPE '\\' OR content LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    if start is not None:
        where.append("(created_at, id) <= (?, ?)")
        params.extend(start)
    sql = (
        f"SELECT {COLUMNS} FROM notification_logs WHERE {' AND '.join(where) or '1'}"
        " ORDER BY created_at DESC, id DESC LIMIT ?"
    )
    return Query(sql, (*params, limit + 1))


def get_query(message_id: str) -> Query:
    return Query.of(f"SELECT {COLUMNS} FROM notification_logs WHERE message_id = ?", message_id)


def to_item(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API shows it (``channel_type`` → ``channel``, variables parsed, no row id)."""
    variables = row.get("variables")
    try:
        parsed = json.loads(variables) if variables else None
    except ValueError:
        parsed = None
    return {
        "message_id": row["message_id"],
        "user_id": row["user_id"],
        "channel": row["channel_type"],
        "template_key": row["template_key"],
        "subject": row["subject"],
        "content": row["content"],
        "status": row["status"],
        "error": row["error"],
        "retry_count": int(row["retry_count"] or 0),
        "next_attempt_at": row["next_attempt_at"],
        "sent_at": row["sent_at"],
        "request_id": row["request_id"],
        "variables": parsed if isinstance(parsed, dict) else None,
        "send_at": row["send_at"],
        "created_at": row["created_at"],
    }


async def list_logs(
    context: Any, flt: LogFilter, cursor: str | None, limit: int = DEFAULT_LIMIT, list_name: str = USER_LIST
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of items and the cursor of the next page (None on the last page)."""
    key = await cursors.cursor_key(context)
    start = cursors.decode(key, list_name, cursor, _CURSOR_SHAPE) if cursor else None
    rows = await context.db.all(*_args(list_query(flt, tuple(start) if start else None, limit)))
    page = rows[:limit]
    following = rows[limit] if len(rows) > limit else None
    next_cursor = cursors.encode(key, list_name, [following["created_at"], following["id"]]) if following else None
    return [to_item(row) for row in page], next_cursor


async def get_log(context: Any, message_id: str) -> dict[str, Any] | None:
    row = await context.db.first(*_args(get_query(message_id)))
    return to_item(row) if row else None


def _args(query: Query) -> tuple[Any, ...]:
    return (query.sql, *query.params)
