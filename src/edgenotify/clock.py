"""Time as the database stores it: ISO-8601 UTC text with milliseconds and a trailing Z.

Lexicographic order of these strings equals chronological order, which is what lets the
indexes on ``created_at`` serve range filters and keyset pagination.
"""

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utcnow())


def iso_after(seconds: float, start: datetime | None = None) -> str:
    return iso((start or utcnow()) + timedelta(seconds=seconds))


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` or offset; naive means UTC). Raises ValueError."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
