"""Deliver a set of messages concurrently and record every outcome in ONE D1 batch.

Ownership of a ``notification_logs`` row during an attempt is proven by its lease: the value of
``next_attempt_at`` the row carried when this worker took it (set at insert for the first
attempt, set by the cron's claim for retries). The outcome UPDATE only applies while the row is
still pending with that lease, so a slow worker whose lease expired and whose row was re-claimed
by a later cron cannot overwrite the newer attempt, and ``user_stats`` is only counted when the
row update applies (both statements test the same guard inside one transaction).

Nothing escapes unrecorded: every exception of an attempt becomes a failed :class:`Attempt` with
its reason in ``error``. If even the recording batch fails, the rows keep their lease and the
cron retries them once it expires.
"""

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from edgenotify.clock import iso, utcnow
from edgenotify.db.d1 import Query
from edgenotify.http.errors import ApiError
from edgenotify.notify.delivery import lark, telegram, webhook
from edgenotify.notify.delivery.backoff import MAX_ATTEMPTS, backoff_delay
from edgenotify.notify.delivery.outcome import Attempt, Message, failure
from edgenotify.notify.delivery.transport import attempt_deadline, make_client
from edgenotify.notify.ssrf import check_url

Sender = Callable[[Any, Message, dict[str, Any]], Awaitable[Attempt]]

SENDERS: dict[str, Sender] = {"webhook": webhook.send, "telegram": telegram.send, "lark": lark.send}
# The config field holding each channel's outbound URL, checked against the SSRF policy per attempt.
URL_FIELDS = {"webhook": "url", "telegram": "api_base", "lark": "webhook_url"}
# Config values that must never appear in a stored error text.
SECRET_FIELDS = ("bot_token", "secret")

DEFAULT_TIMEOUT_SECONDS = 10.0
TIMEOUT_VAR = "DELIVERY_TIMEOUT_SECONDS"  # Worker var; tests set it small to exercise timeouts quickly
MAX_CONCURRENT = 6  # Workers allow six simultaneous outbound connections per invocation
# How long an attempt owns its row; afterwards the cron may take it over (crash safety net).
LEASE_SECONDS = 180


@dataclass(frozen=True)
class Delivery:
    message: Message
    config: dict[str, Any] | None  # the decrypted channel config; None when the user has none active
    lease: str  # next_attempt_at as this worker found it: proves ownership of the row
    retry_count: int = 0  # failed attempts before this one
    unavailable: str | None = None  # the config could not be loaded now (a retryable failure)


@dataclass
class Summary:
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "retrying": self.retrying, "failed": self.failed}


def timeout_seconds(env: Any) -> float:
    raw = getattr(env, TIMEOUT_VAR, None)
    try:
        value = float(raw) if raw not in (None, "") else DEFAULT_TIMEOUT_SECONDS
    except (TypeError, ValueError):
        value = DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS


def _scrub(text: str, config: dict[str, Any]) -> str:
    for name in SECRET_FIELDS:
        secret = config.get(name)
        if isinstance(secret, str) and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


def _refused_url(delivery: Delivery, development: bool) -> Attempt | None:
    channel = delivery.message.channel
    url = (delivery.config or {}).get(URL_FIELDS.get(channel, ""))
    if channel == "telegram" and not url:
        return None  # the default Bot API base is public https
    try:
        check_url(url, development, URL_FIELDS.get(channel, "url"))
    except ApiError as exc:
        return failure(f"refused URL: {exc.message}", permanent=True)
    return None


async def attempt(client: Any, delivery: Delivery, development: bool, timeout: float) -> Attempt:
    """One attempt; every exception becomes a failed Attempt with the reason in ``error``."""
    channel = delivery.message.channel
    sender = SENDERS.get(channel)
    if sender is None:
        return failure(f"unknown channel {channel!r}", permanent=True)
    if delivery.unavailable is not None:
        return failure(delivery.unavailable)
    if delivery.config is None:
        return failure(f"user has no active {channel} config", permanent=True)
    refused = _refused_url(delivery, development)
    if refused is not None:
        return refused
    try:
        async with attempt_deadline(timeout):
            result = await sender(client, delivery.message, delivery.config)
    except httpx.TimeoutException as exc:
        result = failure(f"timeout after {timeout:g}s ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        result = failure(f"network error: {type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug or a malformed config: recorded, never raised
        print(f"delivery {delivery.message.message_id} raised:\n{traceback.format_exc()}")
        result = failure(f"delivery error: {type(exc).__name__}: {exc}")
    if result.error:
        result = replace(result, error=_scrub(result.error, delivery.config))
    return result


async def attempt_all(context: Any, deliveries: Sequence[Delivery]) -> list[Attempt]:
    if not deliveries:
        return []
    timeout = timeout_seconds(context.env)
    development = context.settings.development
    gate = asyncio.Semaphore(MAX_CONCURRENT)

    async def one(client: Any, delivery: Delivery) -> Attempt:
        async with gate:
            return await attempt(client, delivery, development, timeout)

    async with make_client(timeout) as client:
        return list(await asyncio.gather(*(one(client, d) for d in deliveries)))


_GUARD = "SELECT 1 FROM notification_logs WHERE message_id = ? AND status = 'pending' AND next_attempt_at = ?"

_COUNT = (
    "INSERT INTO user_stats (user_id, success_count, failed_count, created_at, updated_at) "
    f"SELECT ?, ?, ?, ?, ? WHERE EXISTS ({_GUARD}) "
    "ON CONFLICT (user_id) DO UPDATE SET success_count = success_count + excluded.success_count, "
    "failed_count = failed_count + excluded.failed_count, updated_at = excluded.updated_at"
)


def _count(delivery: Delivery, success: int, failed: int, now: str) -> Query:
    message = delivery.message
    return Query.of(_COUNT, message.user_id, success, failed, now, now, message.message_id, delivery.lease)


_OWNED = "WHERE message_id = ? AND status = 'pending' AND next_attempt_at = ?"
_SUCCEEDED = (
    f"UPDATE notification_logs SET status = 'success', sent_at = ?, error = NULL, next_attempt_at = NULL {_OWNED}"
)
_FAILED = f"UPDATE notification_logs SET status = 'failed', error = ?, retry_count = ?, next_attempt_at = NULL {_OWNED}"
_RETRYING = f"UPDATE notification_logs SET error = ?, retry_count = ?, next_attempt_at = ? {_OWNED}"


def outcome_queries(delivery: Delivery, result: Attempt, moment: datetime) -> tuple[list[Query], str]:
    """The statements recording ``result`` for ``delivery``, and the state it leads to."""
    now = iso(moment)
    owned = (delivery.message.message_id, delivery.lease)
    if result.ok:
        return [_count(delivery, 1, 0, now), Query.of(_SUCCEEDED, now, *owned)], "succeeded"
    failures = delivery.retry_count + 1
    if result.permanent or failures >= MAX_ATTEMPTS:
        return [_count(delivery, 0, 1, now), Query.of(_FAILED, result.error, failures, *owned)], "failed"
    due = iso(moment + timedelta(seconds=backoff_delay(failures, result.retry_after)))
    return [Query.of(_RETRYING, result.error, failures, due, *owned)], "retrying"


def record(deliveries: Sequence[Delivery], results: Sequence[Attempt], moment: datetime) -> tuple[list[Query], Summary]:
    """The statements recording every outcome, and what they amount to."""
    summary = Summary()
    queries: list[Query] = []
    for delivery, result in zip(deliveries, results, strict=True):
        statements, state = outcome_queries(delivery, result, moment)
        queries.extend(statements)
        setattr(summary, state, getattr(summary, state) + 1)
        if result.error:
            summary.errors.append(f"{delivery.message.message_id}: {result.error}")
    return queries, summary


async def deliver_and_record(context: Any, deliveries: Sequence[Delivery]) -> Summary:
    """Attempt every delivery, then record all outcomes in one batch."""
    results = await attempt_all(context, deliveries)
    queries, summary = record(deliveries, results, utcnow())
    await context.db.batch(queries)
    return summary


async def deliver_in_background(context: Any, deliveries: Sequence[Delivery]) -> None:
    """The ``waitUntil`` work of a send: never raises (a failure is logged; the lease covers it)."""
    try:
        await deliver_and_record(context, deliveries)
    except Exception:
        ids = ", ".join(d.message.message_id for d in deliveries)
        print(f"delivery of {ids} could not be recorded; the retry cron takes over:\n{traceback.format_exc()}")
