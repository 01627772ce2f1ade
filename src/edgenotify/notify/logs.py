"""Reading ``notification_logs``: filtered, newest first, keyset-paginated by ``(created_at, id)``.

Why keyset and not OFFSET: the page costs the same at any depth and stays stable while new rows
arrive; ``id`` breaks ties between rows created in the same millisecond, so no row is skipped or
repeated. Every list query is anchored on ``user_id`` so it walks ``idx_logs_user_created``
(``user_id, created_at, id``) in order, or ``idx_logs_user_status_created`` (``user_id, status,
created_at, id``) when it filters on status, and stops after ``limit + 1`` matching rows (the plans
are in bench/RESULTS.md section 6).

The cursor points AT the first row of the next page (the extra row each page already fetches)
and the next page starts there inclusively, ``(created_at, id) <= (?, ?)``. An exclusive cursor on
the last row shown, ``< (?, ?)``, made the index seek visit that row again, which D1 bills: a
cursor page read ``limit + 2`` rows instead of ``limit + 1`` (bench/RESULTS.md section 2).

The cursor is opaque to clients: base64url of ``[created_at, id]`` followed by a truncated
HMAC-SHA256, so a tampered or forged cursor is a 400 ``invalid_cursor`` rather than a query on
attacker-chosen values. The MAC's domain names the cursor's meaning (``v2``: inclusive), so a
cursor minted by the earlier exclusive scheme is refused rather than repeating a row.
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from edgenotify.db.d1 import Query
from edgenotify.http.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# D1 refuses LIKE patterns over 50 bytes; the two '%' leave 48 for the escaped keyword.
MAX_LIKE_PATTERN_BYTES = 50
_MAC_BYTES = 16

COLUMNS = (
    "id, message_id, user_id, channel_type, template_key, subject, content, status, sent_at, error,"
    " retry_count, next_attempt_at, request_id, variables, created_at"
)


@dataclass(frozen=True)
class LogFilter:
    user_id: str
    status: str | None = None
    channel: str | None = None
    template_key: str | None = None
    since: str | None = None  # inclusive, ISO-8601 as stored
    until: str | None = None  # exclusive
    keyword: str | None = None  # substring of subject or content (case-insensitive for ASCII)


def invalid_cursor(message: str = "cursor is malformed or was altered") -> ApiError:
    return ApiError(400, "invalid_cursor", message, field="cursor")


def _key(secret: str | None) -> bytes:
    return hashlib.sha256(b"edgenotify/log-cursor/v2:" + (secret or "").encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_cursor(created_at: str, row_id: int, secret: str | None) -> str:
    payload = json.dumps([created_at, row_id], separators=(",", ":")).encode()
    mac = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64(payload + mac)


def decode_cursor(token: str, secret: str | None) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid_cursor() from None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    expected = hmac.new(_key(secret), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, expected):
        raise invalid_cursor()
    try:
        created_at, row_id = json.loads(payload)
    except (ValueError, TypeError):
        raise invalid_cursor() from None
    if not isinstance(created_at, str) or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise invalid_cursor()
    return created_at, row_id


def like_pattern(keyword: str) -> str:
    """``%keyword%`` with ``\\``, ``%`` and ``_`` escaped (used with ``ESCAPE '\\'``)."""
    escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if len(pattern.encode("utf-8")) > MAX_LIKE_PATTERN_BYTES:
        raise ApiError(
            422, "invalid_value", f"keyword is too long (D1 allows {MAX_LIKE_PATTERN_BYTES}-byte patterns)", "keyword"
        )
    return pattern


def list_query(flt: LogFilter, start: tuple[str, int] | None, limit: int) -> Query:
    """One page (``limit + 1`` rows, to know whether another page follows) from ``start`` inclusive."""
    where = ["user_id = ?"]
    params: list[Any] = [flt.user_id]
    for column, value in (("status", flt.status), ("channel_type", flt.channel), ("template_key", flt.template_key)):
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
        f"SELECT {COLUMNS} FROM notification_logs WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ?"
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
        "created_at": row["created_at"],
    }


async def list_logs(
    context: Any, flt: LogFilter, cursor: str | None, limit: int = DEFAULT_LIMIT
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of items and the cursor of the next page (None on the last page)."""
    secret = context.settings.api_token
    start = decode_cursor(cursor, secret) if cursor else None
    rows = await context.db.all(*_args(list_query(flt, start, limit)))
    page = rows[:limit]
    following = rows[limit] if len(rows) > limit else None
    next_cursor = encode_cursor(following["created_at"], int(following["id"]), secret) if following else None
    return [to_item(row) for row in page], next_cursor


async def get_log(context: Any, message_id: str) -> dict[str, Any] | None:
    row = await context.db.first(*_args(get_query(message_id)))
    return to_item(row) if row else None


def _args(query: Query) -> tuple[Any, ...]:
    return (query.sql, *query.params)
