"""When a failed delivery is tried again, and when a failing channel is switched off.

The default schedule is Svix's: after the first attempt, retries 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h later (eight attempts over about 27.6 hours), so a receiver down for a day still
gets every message. Each delay is jittered by up to ``jitter`` of itself either way, which spreads
the retries of many messages that failed together; with the default 10 % the last attempt still
comes at least 24.8 hours after the first. A receiver's own ``Retry-After`` (HTTP header) or
Telegram's ``parameters.retry_after`` is honoured as a lower bound up to ``max_retry_after``.

A deployment changes any of it with one ``system_configs`` row, key :data:`CONFIG_KEY`, whose
value is a JSON object with some of the :class:`Policy` fields, e.g.
``{"delays": [60, 600, 3600], "jitter": 0.2, "disable_after_seconds": 86400}``. A malformed row
is ignored (the defaults apply) and logged, so a typo cannot stop delivery.
"""

import json
import random
from dataclasses import dataclass, fields, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from edgenotify.observability import log_event

CONFIG_KEY = "delivery_policy"
DEFAULT_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True)
class Policy:
    delays: tuple[float, ...] = DEFAULT_DELAYS  # seconds before retry n (n = 1..); attempts = len + 1
    jitter: float = 0.1  # each delay varies by up to this fraction of itself, either way
    max_retry_after: float = 36000.0  # a receiver asking for longer is retried after this long
    disable_after_seconds: float = 5 * 86400.0  # a config failing permanently this long is disabled

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def delay(self, failures: int, retry_after: float | None = None, rand: float | None = None) -> float | None:
        """Seconds before the next attempt after ``failures`` failed ones, or None when none is left."""
        if failures >= self.max_attempts:
            return None
        base = self.delays[failures - 1]
        spread = (random.random() if rand is None else rand) * 2 - 1
        delay = base * (1 + self.jitter * spread)
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay


DEFAULT_POLICY = Policy()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{value!r} is not a non-negative number")
    return float(value)


def parse_policy(text: str | None) -> Policy:
    """The policy a ``system_configs`` value describes (ValueError when it is malformed)."""
    if not text:
        return DEFAULT_POLICY
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the delivery policy must be a JSON object")
    known = {f.name for f in fields(Policy)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown delivery policy field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "delays":
            if not isinstance(value, list) or not value:
                raise ValueError("delays must be a non-empty list of seconds")
            values[name] = tuple(_number(v) for v in value)
        else:
            values[name] = _number(value)
    if values.get("jitter", 0) >= 1:
        raise ValueError("jitter must be below 1")
    return replace(DEFAULT_POLICY, **values)


async def load_policy(db: Any) -> Policy:
    """This deployment's policy: one D1 query; the defaults when there is no row or it is malformed."""
    row = await db.first("SELECT config_value FROM system_configs WHERE config_key = ?", CONFIG_KEY)
    try:
        return parse_policy(row["config_value"] if row else None)
    except ValueError as exc:
        log_event("delivery.policy_invalid", key=CONFIG_KEY, error=str(exc))
        return DEFAULT_POLICY


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
