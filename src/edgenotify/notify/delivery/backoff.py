"""When a failed delivery is tried again: exponential backoff with full jitter.

Full jitter (a uniform delay between 0 and the exponential ceiling) spreads the retries of many
messages that failed together — e.g. a receiver that was down — instead of sending them all
back at the same instant. A receiver's own ``Retry-After`` (HTTP header) or Telegram's
``parameters.retry_after`` is a lower bound: we never come back earlier than asked.
"""

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

# Total attempts per message (the first delivery included); the last failure is permanent.
MAX_ATTEMPTS = 5
BASE_DELAY_SECONDS = 30.0
MAX_DELAY_SECONDS = 3600.0
# A receiver asking for more than a day is capped so the message still resolves in bounded time.
MAX_RETRY_AFTER_SECONDS = 86400.0


def backoff_delay(failed_attempts: int, retry_after: float | None = None, rand: float | None = None) -> float:
    """Seconds to wait before the next attempt after ``failed_attempts`` failures (1-based)."""
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, failed_attempts - 1))
    delay = (random.random() if rand is None else rand) * ceiling
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())
