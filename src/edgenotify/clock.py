"""Time as the database stores it: ISO-8601 UTC text with milliseconds and a trailing Z.

Lexicographic order of these strings equals chronological order, which is what lets the
indexes on ``created_at`` serve range filters and keyset pagination.
"""

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


# The stored forms of the first and last representable instants.
MIN_ISO = "0001-01-01T00:00:00.000Z"
MAX_ISO = "9999-12-31T23:59:59.999Z"


def iso(moment: datetime) -> str:
    """Always a 4-digit year (``strftime("%Y")`` writes year 999 as ``999``, which sorts after 2026)."""
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def now_iso() -> str:
    return iso(utcnow())


def iso_after(seconds: float, start: datetime | None = None) -> str:
    return iso((start or utcnow()) + timedelta(seconds=seconds))


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 (``Z`` or offset; naive means UTC). Raises ValueError."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalize_iso(text: str) -> str:
    """Any ISO-8601 time in the stored form. An instant before year 1 or after 9999 in UTC (e.g.
    ``0001-01-01T00:00:00+14:00``) becomes the first / last stored instant, which compares the same
    against every stored time. Raises ValueError for text that is not ISO-8601."""
    value = parse_iso(text)
    try:
        return iso(value)
    except OverflowError:
        return MIN_ISO if value.year == 1 else MAX_ISO
