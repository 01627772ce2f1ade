"""Send notifications (one, or a bulk of up to 100): resolve, render, then ONE D1 batch does the rest.

Round trips with a warm KV cache: configs and templates come from KV (zero D1; loaded concurrently,
each user's configs and each template once per request), and a single ``db.batch`` claims the
idempotency keys, inserts one ``notification_logs`` row per (message, channel), counts the sends
in ``user_stats`` and reads the keys back to decide created / replay / conflict per message (see
:mod:`edgenotify.notify.idempotency`). The statements are multi-row (D1 binds up to 100 parameters
per statement), so a bulk of 100 messages to 3 channels is about 60 statements in one round trip;
only a bulk that would exceed the invocation's D1 query limit is split into more batches, each
message wholly inside one of them (a batch is one transaction: atomic per message). Delivery runs
after the response (``waitUntil``).

Each new row starts ``pending`` with ``next_attempt_at`` = now + lease: the background delivery
clears or reschedules it; if that work dies (isolate evicted, D1 error) the retry cron picks the
row up once the lease expires, so no message is left pending forever. A scheduled send
(``send_at`` in the future) is inserted with ``next_attempt_at`` = ``send_at`` and no background
delivery: the retry cron's due pickup delivers it, and until that pickup it can be cancelled.
"""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edgenotify import errors
from edgenotify.clock import iso, iso_after, utcnow
from edgenotify.db.d1 import MAX_BOUND_PARAMS, Query, chunked
from edgenotify.errors import DomainError
from edgenotify.limits import Limits
from edgenotify.notify import idempotency
from edgenotify.notify.configs import load_active_configs
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery, deliver_in_background
from edgenotify.notify.delivery.outcome import Message
from edgenotify.notify.render import render, render_inline
from edgenotify.notify.templates import load_template

KEY_FIELD = "Idempotency-Key"
# A rendered message larger than this is refused before it reaches D1, whose rows are capped at
# 2 MB: a template repeating a large variable must not turn into a 500.
MAX_RENDERED_CHARS = 100_000
MAX_BATCH = 100
MAX_SCHEDULE_DAYS = 30
# Statements a bulk leaves to everything else the invocation does (cursor key, retries, ...).
_QUERY_HEADROOM = 20


@dataclass(frozen=True)
class SendCommand:
    user_id: str
    channels: list[str] | None  # None: every active channel of the user
    template_key: str | None
    variables: dict[str, Any] | None
    subject: str | None
    content: str | None
    idempotency_key: str | None
    request_hash: str  # fingerprint of the request body (idempotency conflicts)
    send_at: str | None = None  # stored form; None or past: now


@dataclass(frozen=True)
class SendResult:
    message_ids: dict[str, str]  # channel -> message id, in channel order
    replayed: bool


@dataclass(frozen=True)
class _Planned:
    message: Message
    config: Any  # the user's ChannelConfig


@dataclass(frozen=True)
class _Prepared:
    """A command ready to write: its rows, its key claim, and when it is first due."""

    command: SendCommand
    planned: list[_Planned]
    claim: idempotency.Claim | None
    due: str  # next_attempt_at of its rows
    scheduled: bool

    @property
    def message_ids(self) -> dict[str, str]:
        return {p.message.channel: p.message.message_id for p in self.planned}


Outcome = SendResult | DomainError


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def conflict() -> DomainError:
    message = f"this {KEY_FIELD} was already used with a different request body"
    return DomainError(errors.IDEMPOTENCY_CONFLICT, message, KEY_FIELD)


class _Loads:
    """Each user's configs and each template loaded once per request, concurrently."""

    def __init__(self, context: Any):
        self.context = context
        self.tasks: dict[tuple[str, str], asyncio.Future] = {}

    async def _once(self, key: tuple[str, str], load: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self.tasks:
            self.tasks[key] = asyncio.ensure_future(load())
        return await self.tasks[key]

    async def configs(self, user_id: str) -> list[Any]:
        return await self._once(("configs", user_id), lambda: load_active_configs(self.context, user_id))

    async def template(self, key: str | None) -> Any:
        if key is None:
            return None
        return await self._once(("template", key), lambda: load_template(self.context, key))


async def _load(loads: _Loads, command: SendCommand) -> tuple[list[Any], Any]:
    configs, loaded = await asyncio.gather(
        loads.configs(command.user_id), loads.template(command.template_key), return_exceptions=True
    )
    for outcome in (configs, loaded):  # configs' error first: it is the first thing a client must fix
        if isinstance(outcome, BaseException):
            raise outcome
    return configs, loaded


def _targets(command: SendCommand, configs: list[Any]) -> dict[str, Any]:
    """channel -> the user's config, for the requested (or all active, not disabled) channels."""
    active = {c.channel: c for c in configs if c.is_active}
    if command.channels is None:
        usable = {ch: c for ch, c in active.items() if not c.disabled}
        if active and not usable:
            raise channel_disabled(list(active))
        if not usable:
            raise DomainError(errors.NO_ACTIVE_CHANNEL, f"user {command.user_id!r} has no active channel config")
        return usable
    missing = [ch for ch in command.channels if ch not in active]
    if missing:
        message = f"no active config for channel(s): {', '.join(missing)}"
        raise DomainError(errors.CHANNEL_NOT_CONFIGURED, message, "channels")
    disabled = [ch for ch in command.channels if active[ch].disabled]
    if disabled:
        raise channel_disabled(disabled)
    return {ch: active[ch] for ch in command.channels}


def channel_disabled(channels: list[str]) -> DomainError:
    """A send to configs that failing deliveries disabled (a PUT of the config re-enables it)."""
    message = f"channel config(s) disabled after failing deliveries: {', '.join(channels)}; PUT the config again"
    return DomainError(errors.CHANNEL_DISABLED, message, "channels")


def _rendered(command: SendCommand, template: Any, channels: list[str]) -> dict[str, tuple[str | None, str]]:
    """channel -> (subject, content) for template or inline sends."""
    if command.template_key is None:
        if command.variables is None:
            return {ch: (command.subject, command.content or "") for ch in channels}
        texts = render_inline(command.subject, command.content or "", "text", command.variables)
        return {ch: texts for ch in channels}
    if template is None:
        raise DomainError(errors.UNKNOWN_TEMPLATE, f"no template {command.template_key!r}", "template_key")
    if not template.is_active:
        message = f"template {command.template_key!r} is not active"
        raise DomainError(errors.TEMPLATE_INACTIVE, message, "template_key")
    if command.channels is None:  # default channels: those the template has contents for
        channels = [ch for ch in channels if ch in template.contents]
        if not channels:
            message = f"template {template.key} has no content for the user's channels"
            raise DomainError(errors.CHANNEL_NOT_IN_TEMPLATE, message, "template_key")
    return {ch: render(template, ch, command.variables or {}) for ch in channels}


def _due(command: SendCommand, moment: datetime) -> tuple[str, bool]:
    """(next_attempt_at of the new rows, whether the send waits for ``send_at``)."""
    now = iso(moment)
    if command.send_at is None or command.send_at <= now:
        return iso_after(LEASE_SECONDS, moment), False
    if command.send_at > iso(moment + timedelta(days=MAX_SCHEDULE_DAYS)):
        raise DomainError(errors.INVALID_VALUE, f"send_at must be at most {MAX_SCHEDULE_DAYS} days ahead", "send_at")
    return command.send_at, True


async def _prepare(loads: _Loads, command: SendCommand, moment: datetime) -> _Prepared:
    due, scheduled = _due(command, moment)
    configs, template = await _load(loads, command)
    targets = _targets(command, configs)
    texts = _rendered(command, template, list(targets))
    now = iso(moment)
    planned = []
    for channel, (subject, content) in texts.items():
        if len(content) + len(subject or "") > MAX_RENDERED_CHARS:
            message = f"rendered {channel} message exceeds {MAX_RENDERED_CHARS} characters"
            raise DomainError(errors.CONTENT_TOO_LARGE, message, "variables" if command.template_key else "content")
        message = Message(new_message_id(), command.user_id, channel, subject, content, command.template_key, now)
        planned.append(_Planned(message, targets[channel]))
    ids = {p.message.channel: p.message.message_id for p in planned}
    claim = None
    if command.idempotency_key is not None:
        claim = idempotency.Claim(
            command.idempotency_key, command.user_id, command.request_hash, idempotency.ids_json(ids)
        )
    return _Prepared(command, planned, claim, due, scheduled)


_LOG_COLUMNS = (
    "message_id, user_id, channel_type, template_key, subject, content, status, next_attempt_at, request_id,"
    " variables, send_at, created_at"
)
# One row of VALUES per (message, channel); columns 12 and 13 carry the idempotency guard (key, our ids).
_LOG_ROW = "(" + ", ".join(["?"] * 13) + ")"
_INSERT_LOGS = (
    f"INSERT INTO notification_logs ({_LOG_COLUMNS}) SELECT v.column1, v.column2, v.column3, v.column4, v.column5,"
    " v.column6, 'pending', v.column7, v.column8, v.column9, v.column10, v.column11 FROM (VALUES {rows}) AS v"
    " WHERE " + idempotency.owns_sql("v.column12", "v.column2", "v.column13")
)
_STATS_ROW = "(?, ?, ?, ?, ?)"  # user_id, count, now, key, our ids
_COUNT_SENDS = (
    "INSERT INTO user_stats (user_id, notification_count, last_notification_at, created_at, updated_at)"
    " SELECT v.column1, v.column2, v.column3, v.column3, v.column3 FROM (VALUES {rows}) AS v"
    " WHERE " + idempotency.owns_sql("v.column4", "v.column1", "v.column5") + " ON CONFLICT (user_id) DO UPDATE SET"
    " notification_count = notification_count + excluded.notification_count,"
    " last_notification_at = excluded.last_notification_at, updated_at = excluded.updated_at"
)
_PER_STATEMENT_KEYS = MAX_BOUND_PARAMS // 2


def _multi_row(sql: str, row: str, rows: list[tuple[Any, ...]]) -> list[Query]:
    per_statement = MAX_BOUND_PARAMS // row.count("?")
    return [
        Query(sql.format(rows=", ".join([row] * len(chunk))), tuple(v for r in chunk for v in r))
        for chunk in chunked(rows, per_statement)
    ]


def _log_rows(context: Any, item: _Prepared, now: str) -> list[tuple[Any, ...]]:
    command = item.command
    variables = json.dumps(command.variables, separators=(",", ":"), ensure_ascii=False) if command.variables else None
    guard = (item.claim.key, item.claim.message_ids) if item.claim else (None, None)
    return [
        (
            p.message.message_id,
            command.user_id,
            p.message.channel,
            command.template_key,
            p.message.subject,
            p.message.content,
            item.due,
            context.request_id or None,
            variables,
            command.send_at if item.scheduled else None,
            now,
            *guard,
        )  # fmt: skip
        for p in item.planned
    ]


def _writes(context: Any, items: list[_Prepared], refused: list[SendCommand], moment: datetime) -> list[Query]:
    """Every statement of one batch: claims, rows, counters, key read-backs (see the module docstring)."""
    now = iso(moment)
    claims = [item.claim for item in items if item.claim]
    queries = [
        idempotency.claims_query(list(chunk), now, iso_after(idempotency.TTL_SECONDS, moment))
        for chunk in chunked(claims, MAX_BOUND_PARAMS // idempotency.CLAIM_PARAMS)
    ]
    queries += _multi_row(_INSERT_LOGS, _LOG_ROW, [row for item in items for row in _log_rows(context, item, now)])
    stats = [
        (i.command.user_id, len(i.planned), now, *((i.claim.key, i.claim.message_ids) if i.claim else (None, None)))
        for i in items
    ]
    queries += _multi_row(_COUNT_SENDS, _STATS_ROW, stats)
    pairs = [(c.key, c.user_id) for c in claims] + [(c.idempotency_key, c.user_id) for c in refused]
    queries += [idempotency.stored_query(list(chunk)) for chunk in chunked(pairs, _PER_STATEMENT_KEYS)]
    return queries


def _groups(context: Any, items: list[_Prepared], moment: datetime, budget: int) -> list[list[_Prepared]]:
    """Consecutive items in as few batches as ``budget`` statements each allow (at least one item each)."""
    groups: list[list[_Prepared]] = []
    for item in items:
        if groups and len(_writes(context, [*groups[-1], item], [], moment)) <= budget:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _stored_rows(results: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (row["idempotency_key"], row["user_id"]): row
        for result in results
        if result.rows and "request_hash" in result.rows[0]
        for row in result.rows
    }


def _decided(item: _Prepared, stored: dict[tuple[str, str], dict[str, Any]]) -> tuple[Outcome, bool]:
    """(outcome, whether this batch created the item's rows)."""
    if item.claim is None:
        return SendResult(item.message_ids, replayed=False), True
    decision = idempotency.decide(stored.get((item.claim.key, item.claim.user_id)), item.claim)
    if decision.outcome == idempotency.CONFLICT:
        return conflict(), False
    if decision.outcome == idempotency.REPLAYED:
        return SendResult(decision.message_ids, replayed=True), False
    return SendResult(item.message_ids, replayed=False), True


def _after_refusal(error: DomainError, command: SendCommand, stored: dict, now: str) -> Outcome:
    """A command that could not be planned now may still replay one that was: its key decides."""
    if command.idempotency_key is None:
        return error
    decision = idempotency.replay_of(stored.get((command.idempotency_key, command.user_id)), command.request_hash, now)
    if decision is None:
        return error
    if decision.outcome == idempotency.CONFLICT:
        return conflict()
    return SendResult(decision.message_ids, replayed=True)


async def send_many(context: Any, commands: list[SendCommand]) -> list[Outcome]:
    """Plan, write and schedule delivery of every command; one outcome per command, in order."""
    moment = utcnow()
    loads = _Loads(context)
    planned = await asyncio.gather(*(_prepare(loads, c, moment) for c in commands), return_exceptions=True)
    for outcome in planned:
        if isinstance(outcome, BaseException) and not isinstance(outcome, DomainError):
            raise outcome  # a bug or an outage, never one message's doing
    items = [p for p in planned if isinstance(p, _Prepared)]
    refused = [c for c, p in zip(commands, planned, strict=True) if isinstance(p, DomainError) and c.idempotency_key]
    budget = max(1, Limits.from_env(context.env).d1_queries - _QUERY_HEADROOM)
    groups = _groups(context, items, moment, budget) if items else []
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for index, group in enumerate(groups or [[]]):
        queries = _writes(context, group, refused if index == 0 else [], moment)
        stored.update(_stored_rows(await context.db.batch(queries)))
    outcomes: dict[int, Outcome] = {}
    deliveries = []
    for item in items:
        outcome, created = _decided(item, stored)
        outcomes[id(item)] = outcome
        if created and not item.scheduled:
            deliveries += [Delivery(p.message, p.config, item.due) for p in item.planned]
    if deliveries:
        context.wait_until(deliver_in_background(context, deliveries))
    now = iso(moment)
    return [
        outcomes[id(p)] if isinstance(p, _Prepared) else _after_refusal(p, c, stored, now)  # type: ignore[arg-type]
        for c, p in zip(commands, planned, strict=True)
    ]


async def send(context: Any, command: SendCommand) -> SendResult:
    """Create the rows (or replay / refuse per idempotency key) and schedule delivery."""
    (outcome,) = await send_many(context, [command])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
