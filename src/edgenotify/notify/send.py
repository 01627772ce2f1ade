"""Send one notification to a user's channels: resolve, render, then ONE D1 batch does the rest.

Round trips with a warm KV cache: configs and template come from KV (zero D1; the two reads run
concurrently), and a single
``db.batch`` claims the idempotency key, inserts one ``notification_logs`` row per channel, counts
the send in ``user_stats`` and reads the key row back to decide created / replay / conflict (see
:mod:`edgenotify.notify.idempotency`). Delivery runs after the response (``waitUntil``).

Each new row starts ``pending`` with ``next_attempt_at`` = now + lease: the background delivery
clears or reschedules it; if that work dies (isolate evicted, D1 error) the retry cron picks the
row up once the lease expires, so no message is left pending forever.
"""

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from edgenotify.clock import iso, iso_after, utcnow
from edgenotify.db.d1 import Query
from edgenotify.http.errors import ApiError
from edgenotify.notify import idempotency
from edgenotify.notify.configs import load_active_configs
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery, deliver_in_background
from edgenotify.notify.delivery.outcome import Message
from edgenotify.notify.render import render, render_inline
from edgenotify.notify.templates import load_template

KEY_FIELD = "Idempotency-Key"
# A rendered message larger than this is refused (422) before it reaches D1, whose rows are
# capped at 2 MB: a template repeating a large variable must not turn into a 500.
MAX_RENDERED_CHARS = 100_000


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


@dataclass(frozen=True)
class SendResult:
    message_ids: dict[str, str]  # channel -> message id, in channel order
    replayed: bool


@dataclass(frozen=True)
class _Planned:
    message: Message
    config: Any  # the user's ChannelConfig


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


def conflict() -> ApiError:
    return ApiError(
        409, "idempotency_conflict", "this Idempotency-Key was already used with a different request body", KEY_FIELD
    )


async def _no_template() -> None:
    return None


async def _load(context: Any, command: SendCommand) -> tuple[list[Any], Any]:
    """The user's configs and the template, read concurrently (two KV reads when warm)."""
    template = load_template(context, command.template_key) if command.template_key else _no_template()
    configs, loaded = await asyncio.gather(
        load_active_configs(context, command.user_id, command.channels), template, return_exceptions=True
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
            raise ApiError(422, "no_active_channel", f"user {command.user_id!r} has no active channel config")
        return usable
    missing = [ch for ch in command.channels if ch not in active]
    if missing:
        raise ApiError(
            422, "channel_not_configured", f"no active config for channel(s): {', '.join(missing)}", "channels"
        )
    disabled = [ch for ch in command.channels if active[ch].disabled]
    if disabled:
        raise channel_disabled(disabled)
    return {ch: active[ch] for ch in command.channels}


def channel_disabled(channels: list[str]) -> ApiError:
    """A send to configs that failing deliveries disabled (a PUT of the config re-enables it)."""
    return ApiError(
        422, "channel_disabled", f"channel config(s) disabled after failing deliveries: {', '.join(channels)};"
        " PUT the config again to re-enable", "channels",
    )  # fmt: skip


def _rendered(command: SendCommand, template: Any, channels: list[str]) -> dict[str, tuple[str | None, str]]:
    """channel -> (subject, content) for template or inline sends."""
    if command.template_key is None:
        if command.variables is None:
            return {ch: (command.subject, command.content or "") for ch in channels}
        texts = render_inline(command.subject, command.content or "", "text", command.variables)
        return {ch: texts for ch in channels}
    if template is None:
        raise ApiError(422, "template_not_found", f"no template {command.template_key!r}", "template_key")
    if not template.is_active:
        raise ApiError(422, "template_inactive", f"template {command.template_key!r} is not active", "template_key")
    if command.channels is None:  # default channels: those the template has contents for
        channels = [ch for ch in channels if ch in template.contents]
        if not channels:
            raise ApiError(
                422, "channel_not_in_template", f"template {template.key} has no content for the user's channels",
                "template_key",
            )  # fmt: skip
    return {ch: render(template, ch, command.variables or {}) for ch in channels}


async def _plan(context: Any, command: SendCommand, now: str) -> list[_Planned]:
    configs, template = await _load(context, command)
    targets = _targets(command, configs)
    texts = _rendered(command, template, list(targets))
    planned = []
    for channel, (subject, content) in texts.items():
        if len(content) + len(subject or "") > MAX_RENDERED_CHARS:
            raise ApiError(
                422, "content_too_large", f"rendered {channel} message exceeds {MAX_RENDERED_CHARS} characters",
                "variables" if command.template_key else "content",
            )  # fmt: skip
        message = Message(new_message_id(), command.user_id, channel, subject, content, command.template_key, now)
        planned.append(_Planned(message, targets[channel]))
    return planned


_INSERT_LOG = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, template_key, subject, content, status,"
    " next_attempt_at, request_id, variables, created_at) SELECT ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?"
)
_COUNT_SEND = (
    "INSERT INTO user_stats (user_id, notification_count, last_notification_at, created_at, updated_at)"
    " SELECT ?, ?, ?, ?, ? WHERE {guard} ON CONFLICT (user_id) DO UPDATE SET"
    " notification_count = notification_count + excluded.notification_count,"
    " last_notification_at = excluded.last_notification_at, updated_at = excluded.updated_at"
)


def _writes(
    context: Any, command: SendCommand, planned: list[_Planned], lease: str, now: str, claim: "idempotency.Claim | None"
) -> list[Query]:
    """The guarded INSERTs of one send; with a key they apply only if our claim won."""
    guard_sql, guard = (idempotency.OWNS_KEY, claim.owns_params()) if claim else ("1", ())
    variables = json.dumps(command.variables, separators=(",", ":"), ensure_ascii=False) if command.variables else None
    queries = [
        Query(
            _INSERT_LOG + (f" WHERE {guard_sql}" if claim else ""),
            (
                p.message.message_id,
                command.user_id,
                p.message.channel,
                command.template_key,
                p.message.subject,
                p.message.content,
                lease,
                context.request_id or None,
                variables,
                now,
                *guard,
            ),
        )
        for p in planned
    ]
    queries.append(Query(_COUNT_SEND.format(guard=guard_sql), (command.user_id, len(planned), now, now, now, *guard)))
    return queries


async def _replay_after_error(context: Any, command: SendCommand, error: ApiError) -> SendResult:
    """A request that cannot be planned now may still be a replay of one that was: check the key."""
    if command.idempotency_key is None:
        raise error
    query = idempotency.stored_query(command.idempotency_key, command.user_id)
    row = await context.db.first(query.sql, *query.params)
    decision = idempotency.replay_of(row, command.request_hash, iso(utcnow()))
    if decision is None:
        raise error
    if decision.outcome == idempotency.CONFLICT:
        raise conflict()
    return SendResult(decision.message_ids, replayed=True)


async def send(context: Any, command: SendCommand) -> SendResult:
    """Create the rows (or replay / refuse per idempotency key) and schedule delivery."""
    moment = utcnow()
    now = iso(moment)
    try:
        planned = await _plan(context, command, now)
    except ApiError as error:
        return await _replay_after_error(context, command, error)
    lease = iso_after(LEASE_SECONDS, moment)
    message_ids = {p.message.channel: p.message.message_id for p in planned}
    claim = None
    queries: list[Query] = []
    if command.idempotency_key is not None:
        claim = idempotency.Claim(
            command.idempotency_key, command.user_id, command.request_hash, idempotency.ids_json(message_ids)
        )
        queries.append(claim.insert(now, iso_after(idempotency.TTL_SECONDS, moment)))
    queries.extend(_writes(context, command, planned, lease, now, claim))
    if claim is not None:
        queries.append(claim.stored())
    results = await context.db.batch(queries)
    if claim is not None:
        rows = results[-1].rows
        decision = idempotency.decide(rows[0] if rows else None, claim)
        if decision.outcome == idempotency.CONFLICT:
            raise conflict()
        if decision.outcome == idempotency.REPLAYED:
            return SendResult(decision.message_ids, replayed=True)
    deliveries = [Delivery(p.message, p.config, lease) for p in planned]
    context.wait_until(deliver_in_background(context, deliveries))
    return SendResult(message_ids, replayed=False)
