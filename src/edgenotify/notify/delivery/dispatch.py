"""Deliver messages with at most a few connections at once, recording each outcome as it ends.

Ownership of a ``notification_logs`` row during an attempt is proven by its lease: the value of
``next_attempt_at`` the row carried when this worker took it (set at insert for the first
attempt, set by the cron's claim for retries). Every outcome statement applies only while the
row is still pending with that lease, so a worker whose lease expired cannot overwrite a newer
attempt, and ``user_stats``, the attempt history and the channel's health change only when the
row update applies (the statements test the same guard inside one transaction).

Why no slow peer can cause a duplicate: an attempt has ONE total deadline (connect, send,
headers and the whole body; ``transport.attempt_deadline``) shorter than the lease, an attempt only
starts if its deadline ends well before the lease does (otherwise the row is released, due
now, for the next run), and each outcome is written as soon as its attempt ends
(:mod:`.recorder`) rather than after the slowest of a batch.

Nothing escapes unrecorded: every exception of an attempt becomes a failed :class:`Attempt` with
its reason and class; a client that cannot even be built (``transport.make_client``) fails every
attempt of the run the same way (so each advances its schedule and none stays pending forever).
"""

import asyncio
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from edgenotify.clock import iso, parse_iso, utcnow
from edgenotify.db.d1 import Query, Result
from edgenotify.errors import DomainError
from edgenotify.limits import Limits
from edgenotify.notify import channels
from edgenotify.notify.channels import status
from edgenotify.notify.channels.masking import scrub
from edgenotify.notify.configs import forget_cached
from edgenotify.notify.delivery import outcome as oc
from edgenotify.notify.delivery.outcome import Attempt, Message, failure
from edgenotify.notify.delivery.recorder import Group, Recorder
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY, Policy, load_policy
from edgenotify.notify.delivery.transport import attempt_deadline, make_client
from edgenotify.notify.ssrf import check_url
from edgenotify.observability import log_event

DEFAULT_TIMEOUT_SECONDS = 15.0  # Svix's per-attempt limit
TIMEOUT_VAR = "DELIVERY_TIMEOUT_SECONDS"  # Worker var; tests set it small to exercise timeouts quickly
# How long an attempt owns its row; afterwards the cron may take it over (crash safety net).
LEASE_SECONDS = 180
# An attempt starts only if its deadline plus this much (to write the outcome) ends before the lease.
RECORD_MARGIN_SECONDS = 20.0
MAX_TIMEOUT_SECONDS = LEASE_SECONDS - RECORD_MARGIN_SECONDS - 10.0


@dataclass(frozen=True)
class Delivery:
    message: Message
    config: Any  # the user's ChannelConfig for this channel (decrypted), None when there is none active
    lease: str  # next_attempt_at as this worker found it: proves ownership of the row
    retry_count: int = 0  # failed attempts of the current schedule before this one
    unavailable: str | None = None  # the config could not be loaded now (a retryable failure)
    attempt_count: int = 0  # attempts the message ever had before this one (history numbering)


@dataclass
class Summary:
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0  # not started: the lease would have ended first; due again at once
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "retrying": self.retrying, "failed": self.failed,
                "released": self.released}  # fmt: skip


def timeout_seconds(env: Any) -> float:
    raw = getattr(env, TIMEOUT_VAR, None)
    try:
        value = float(raw) if raw not in (None, "") else DEFAULT_TIMEOUT_SECONDS
    except (TypeError, ValueError):
        value = DEFAULT_TIMEOUT_SECONDS
    value = value if value > 0 else DEFAULT_TIMEOUT_SECONDS
    return min(value, MAX_TIMEOUT_SECONDS)


def _settings(delivery: Delivery) -> dict[str, Any]:
    return delivery.config.config if delivery.config is not None else {}


def _refused_url(delivery: Delivery, development: bool) -> Attempt | None:
    spec = channels.get(delivery.message.channel)
    config = _settings(delivery)
    for name in spec.url_fields if spec else ():
        url = config.get(name)
        if url is None:
            continue  # an optional URL left out: the channel's public default
        try:
            check_url(url, development, name)
        except DomainError as exc:
            return failure(f"refused URL: {exc.message}", oc.REFUSED_URL, permanent=True)
    return None


def _precondition(delivery: Delivery, development: bool) -> Attempt | None:
    """Why this delivery cannot be attempted at all, or None."""
    channel = delivery.message.channel
    if channels.get(channel) is None:
        return failure(f"unknown channel {channel!r}", oc.NO_CONFIG, permanent=True)
    if delivery.unavailable is not None:
        return failure(delivery.unavailable, oc.CONFIG_UNAVAILABLE)
    if delivery.config is None:
        return failure(f"user has no active {channel} config", oc.NO_CONFIG, permanent=True)
    if delivery.config.disabled:
        reason = delivery.config.disabled_reason or "failing deliveries"
        return failure(f"{channel} config is disabled: {reason}", oc.CHANNEL_DISABLED, permanent=True)
    return _refused_url(delivery, development)


def _scrubbed(result: Attempt, delivery: Delivery) -> Attempt:
    secrets = channels.secret_values(delivery.message.channel, _settings(delivery))
    return replace(
        result,
        error=scrub(result.error, secrets) if result.error else None,
        excerpt=scrub(result.excerpt, secrets) if result.excerpt else None,
    )


async def attempt(client: Any, delivery: Delivery, development: bool, timeout: float) -> Attempt:
    """One attempt; every exception becomes a failed Attempt with its reason and class."""
    refused = _precondition(delivery, development)
    if refused is not None:
        return _scrubbed(refused, delivery)
    sender = channels.REGISTRY[delivery.message.channel].send
    try:
        async with attempt_deadline(timeout):  # the whole attempt, answer body included
            result = await sender(client, delivery.message, _settings(delivery))
    except httpx.TimeoutException as exc:
        result = failure(f"timeout after {timeout:g}s ({type(exc).__name__})", oc.TIMEOUT)
    except httpx.HTTPError as exc:
        result = failure(f"network error: {type(exc).__name__}: {exc}", oc.NETWORK)
    except Exception as exc:  # a bug or a malformed config: recorded, never raised
        print(f"delivery {delivery.message.message_id} raised:\n{traceback.format_exc()}")
        result = failure(f"delivery error: {type(exc).__name__}: {exc}", oc.INTERNAL)
    return _scrubbed(result, delivery)


# -- outcome statements -------------------------------------------------------------------------

_GUARD = "SELECT 1 FROM notification_logs WHERE message_id = ? AND status = 'pending' AND next_attempt_at = ?"
_OWNED = "WHERE message_id = ? AND status = 'pending' AND next_attempt_at = ?"
_COUNT = (
    "INSERT INTO user_stats (user_id, success_count, failed_count, created_at, updated_at) "
    f"SELECT ?, ?, ?, ?, ? WHERE EXISTS ({_GUARD}) "
    "ON CONFLICT (user_id) DO UPDATE SET success_count = success_count + excluded.success_count, "
    "failed_count = failed_count + excluded.failed_count, updated_at = excluded.updated_at"
)
_HISTORY = (
    "INSERT OR IGNORE INTO delivery_attempts (message_id, attempt, started_at, duration_ms, status_code, outcome,"
    f" error_class, error, response_excerpt) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS ({_GUARD})"
)
_HEALTHY = (
    "UPDATE user_configs SET failing_since = NULL WHERE user_id = ? AND channel_type = ? AND failing_since IS NOT NULL"
    f" AND EXISTS ({_GUARD})"
)
_FAILING = (
    "UPDATE user_configs SET failing_since = COALESCE(failing_since, ?) WHERE user_id = ? AND channel_type = ?"
    f" AND EXISTS ({_GUARD})"
)
_DISABLE = (
    "UPDATE user_configs SET disabled_at = ?,"
    " disabled_reason = 'deliveries failed permanently since ' || failing_since || '; last: ' || ?"
    " WHERE user_id = ? AND channel_type = ? AND disabled_at IS NULL AND failing_since <= ?"
    f" AND EXISTS ({_GUARD}) RETURNING id"
)
_SUCCEEDED = (
    "UPDATE notification_logs SET status = 'success', sent_at = ?, error = NULL, next_attempt_at = NULL,"
    f" attempt_count = ? {_OWNED}"
)
_FAILED = (
    "UPDATE notification_logs SET status = 'failed', error = ?, retry_count = ?, attempt_count = ?,"
    f" next_attempt_at = NULL {_OWNED}"
)
_RETRYING = f"UPDATE notification_logs SET error = ?, retry_count = ?, attempt_count = ?, next_attempt_at = ? {_OWNED}"
_RELEASE = f"UPDATE notification_logs SET next_attempt_at = ? {_OWNED}"
_EVENT = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, subject, content, status, next_attempt_at,"
    f" created_at) SELECT ?, ?, ?, ?, ?, 'pending', ?, ? WHERE EXISTS ({_GUARD})"
)


@dataclass(frozen=True)
class Timing:
    started: datetime
    duration_ms: int
    ended: datetime


def _history(delivery: Delivery, result: Attempt, timing: Timing, state: str) -> Query:
    message = delivery.message
    return Query.of(
        _HISTORY, message.message_id, delivery.attempt_count + 1, iso(timing.started), timing.duration_ms,
        result.status_code, state, result.error_class, result.error, result.excerpt, message.message_id,
        delivery.lease,
    )  # fmt: skip


def _health(delivery: Delivery, result: Attempt, state: str, now: str, policy: Policy, ended: datetime) -> list[Query]:
    """The channel config's failure run: reset by a success, extended (and maybe ended by
    disabling the config) by a permanent failure that the config itself caused."""
    message = delivery.message
    owned = (message.message_id, delivery.lease)
    spec = channels.get(message.channel)
    if delivery.config is None or spec is None or spec.internal:
        return []
    if result.error_class in (oc.NO_CONFIG, oc.CHANNEL_DISABLED):
        return []
    where = (message.user_id, message.channel)
    if state == "succeeded":
        return [Query.of(_HEALTHY, *where, *owned)]
    if state != "failed":
        return []
    threshold = iso(ended - timedelta(seconds=policy.disable_after_seconds))
    return [
        Query.of(_FAILING, now, *where, *owned),
        Query.of(_DISABLE, now, (result.error or "")[:200], *where, threshold, *owned),
    ]


def _event(delivery: Delivery, result: Attempt, state: str, now: str) -> Query:
    """The status webhook's event for a message that reached its final state (delivered by the cron)."""
    message = delivery.message
    data = {"message_id": message.message_id, "user_id": message.user_id, "channel": message.channel,
            "status": "success" if state == "succeeded" else "failed", "attempts": delivery.attempt_count + 1,
            "error": result.error, "at": now}  # fmt: skip
    kind = status.DELIVERED if state == "succeeded" else status.FAILED
    return Query.of(_EVENT, "evt_" + uuid.uuid4().hex, status.EVENTS_USER, status.NAME, kind,
                    status.event_content(data), now, now, message.message_id, delivery.lease)  # fmt: skip


def outcome_queries(
    delivery: Delivery, result: Attempt, timing: Timing, policy: Policy, events: bool = False
) -> tuple[list[Query], str]:
    """The statements recording ``result`` for ``delivery``, and the state it leads to; with
    ``events`` (the deployment has a status webhook) a final state also queues its event.

    Order matters: every guarded statement runs before the row update that ends the guard."""
    now = iso(timing.ended)
    message = delivery.message
    owned = (message.message_id, delivery.lease)
    attempts = delivery.attempt_count + 1
    failures = delivery.retry_count + 1
    delay = None if result.ok or result.permanent else policy.delay(failures, result.retry_after)
    state = "succeeded" if result.ok else ("retrying" if delay is not None else "failed")
    queries = [_history(delivery, result, timing, state)]
    queries += _health(delivery, result, state, now, policy, timing.ended)
    if events and state != "retrying" and message.channel != status.NAME:
        queries.append(_event(delivery, result, state, now))
    if state == "succeeded":
        queries += [Query.of(_COUNT, message.user_id, 1, 0, now, now, *owned),
                    Query.of(_SUCCEEDED, now, attempts, *owned)]  # fmt: skip
    elif state == "failed":
        queries += [Query.of(_COUNT, message.user_id, 0, 1, now, now, *owned),
                    Query.of(_FAILED, result.error, failures, attempts, *owned)]  # fmt: skip
    else:
        due = iso(timing.ended + timedelta(seconds=delay or 0))
        queries.append(Query.of(_RETRYING, result.error, failures, attempts, due, *owned))
    return queries, state


def release_query(delivery: Delivery, now: str) -> Query:
    return Query.of(_RELEASE, now, delivery.message.message_id, delivery.lease)


def _forget_if_disabled(context: Any, delivery: Delivery) -> Any:
    """After the outcome is written: drop the config's KV entries if it was just disabled (the only
    statement of a group with RETURNING rows), so the next send sees it at once."""

    async def after(results: list[Result]) -> None:
        if any(r.rows for r in results):
            await forget_cached(context, delivery.message.user_id, delivery.message.channel)

    return after


def _target(delivery: Delivery) -> str | None:
    """The masked outbound URL, for logs."""
    spec = channels.get(delivery.message.channel)
    masked = channels.mask_config(delivery.message.channel, _settings(delivery))
    for name in spec.url_fields if spec else ():
        if masked.get(name):
            return masked[name]
    return None


def _log(delivery: Delivery, result: Attempt, state: str, duration_ms: int) -> None:
    message = delivery.message
    log_event("delivery.attempt", message_id=message.message_id, user_id=message.user_id, channel=message.channel,
              attempt=delivery.attempt_count + 1, outcome=state, status_code=result.status_code,
              error_class=result.error_class, duration_ms=duration_ms, target=_target(delivery))  # fmt: skip


@dataclass
class Run:
    """One set of deliveries: the client, the connection gate, the recorder and the tallies."""

    context: Any
    policy: Policy | None = None
    summary: Summary = field(default_factory=Summary)

    def __post_init__(self) -> None:
        self.timeout = timeout_seconds(self.context.env)
        self.development = self.context.settings.development
        self.recorder = Recorder(self.context.db)
        self.events = status.settings(self.context.env) is not None
        connections = Limits.from_env(self.context.env).connections
        # One connection stays free for the recorder's D1 writes.
        self.gate = asyncio.Semaphore(max(1, connections - 1))

    async def _policy(self) -> Policy:
        if self.policy is None:  # read once, on the first failure (a run of successes never needs it)
            self.policy = await load_policy(self.context.db)
        return self.policy

    def _can_start(self, delivery: Delivery) -> bool:
        left = (parse_iso(delivery.lease) - utcnow()).total_seconds()
        return left > self.timeout + RECORD_MARGIN_SECONDS

    async def _record(self, delivery: Delivery, result: Attempt, started: datetime, clock: float) -> None:
        duration_ms = int((time.monotonic() - clock) * 1000)
        policy = (self.policy or DEFAULT_POLICY) if result.ok else await self._policy()
        timing = Timing(started, duration_ms, utcnow())
        queries, state = outcome_queries(delivery, result, timing, policy, self.events)
        setattr(self.summary, state, getattr(self.summary, state) + 1)
        if result.error:
            self.summary.errors.append(f"{delivery.message.message_id}: {result.error}")
        _log(delivery, result, state, duration_ms)
        self.recorder.add(Group(delivery.message.message_id, queries, _forget_if_disabled(self.context, delivery)))

    async def one(self, client: Any, delivery: Delivery) -> None:
        async with self.gate:
            if not self._can_start(delivery):
                self.summary.released += 1
                self.recorder.add(Group(delivery.message.message_id, [release_query(delivery, iso(utcnow()))]))
                return
            started, clock = utcnow(), time.monotonic()
            result = await attempt(client, delivery, self.development, self.timeout)
        await self._record(delivery, result, started, clock)

    async def deliver(self, deliveries: Sequence[Delivery]) -> Summary:
        """Attempt every delivery (each outcome written as it ends); returns once all are written."""
        if not deliveries:
            return self.summary
        try:
            client = make_client(self.timeout)
        except Exception as exc:
            print(f"delivery client could not be built:\n{traceback.format_exc()}")
            broken = failure(f"delivery client could not be built: {type(exc).__name__}: {exc}", oc.INTERNAL)
            for delivery in deliveries:
                await self._record(delivery, broken, utcnow(), time.monotonic())
        else:
            async with client:
                await asyncio.gather(*(self.one(client, d) for d in deliveries))
        await self.recorder.flush()
        return self.summary


async def deliver_and_record(context: Any, deliveries: Sequence[Delivery]) -> Summary:
    """Attempt every delivery; each outcome is recorded as soon as its attempt ends."""
    return await Run(context).deliver(deliveries)


async def deliver_in_background(context: Any, deliveries: Sequence[Delivery]) -> None:
    """The ``waitUntil`` work of a send: never raises (a failure is logged; the lease covers it)."""
    try:
        await deliver_and_record(context, deliveries)
    except Exception:
        ids = ", ".join(d.message.message_id for d in deliveries)
        print(f"delivery of {ids} could not be recorded; the retry cron takes over:\n{traceback.format_exc()}")
