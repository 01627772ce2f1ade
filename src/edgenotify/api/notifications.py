"""Notifications: send (idempotent, optionally scheduled), bulk send, cancel, list and read delivery
logs, per-user stats.

D1 cost: a send with a warm KV cache is exactly ONE round trip (one batch: idempotency claim,
log rows, stats, key read-back); in development the count is returned as ``x-d1-round-trips``
so tests and benchmarks can hold the path to it. Delivery runs after the response. A bulk send is
one round trip too unless it outgrows the invocation's D1 query limit. A list, a read, a cancel
and the stats are one round trip each (plus one small read of the cursor key per isolate).
"""

from edgenotify import errors
from edgenotify.context import Context
from edgenotify.errors import DomainError
from edgenotify.http.errors import body_of, status_of
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Header, Route
from edgenotify.http.validation import parse_body, parse_query
from edgenotify.models.common import path_param
from edgenotify.models.delivery import NotificationDetail
from edgenotify.models.notifications import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    NotificationItem,
    NotificationListQuery,
    NotificationPage,
    SendFields,
    SendRequest,
    SendResponse,
    StatsQuery,
    StatsResponse,
    check_send,
)
from edgenotify.notify import idempotency
from edgenotify.notify.delivery.history import message_with_attempts
from edgenotify.notify.logs import LogFilter, list_logs
from edgenotify.notify.schedule import cancel
from edgenotify.notify.send import KEY_FIELD, MAX_BATCH, SendCommand, SendResult, send, send_many
from edgenotify.notify.stats import user_totals

ROUND_TRIPS_HEADER = "x-d1-round-trips"
REPLAYED_HEADER = "idempotent-replayed"

# What the send route documents beyond its models (see api/openapi.py for what every route derives).
_SEND_REQUEST_HEADERS = (
    Header(
        KEY_FIELD,
        f"Makes the send idempotent per user for {idempotency.TTL_SECONDS // 3600} h: the same key with the same"
        " body replays the first answer, with another body it is refused (409)",
        # printable ASCII without leading/trailing blanks, as idempotency.valid_key checks
        schema={"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    ),
)
_SEND_RESPONSE_HEADERS = (
    Header(
        REPLAYED_HEADER,
        f"Present (true) when this answer replays an earlier send with the same {KEY_FIELD}",
        schema={"type": "string", "enum": ["true"]},
    ),
    Header(
        ROUND_TRIPS_HEADER,
        "Development only: the D1 round trips this request made",
        schema={"type": "integer", "minimum": 0},
    ),
)
# What a send can answer beyond its body's validation (one message or each item of a bulk).
_ITEM_ERRORS = (
    errors.UNSUPPORTED_CHANNEL,
    errors.NO_ACTIVE_CHANNEL,
    errors.CHANNEL_NOT_CONFIGURED,
    errors.CHANNEL_DISABLED,
    errors.UNKNOWN_TEMPLATE,
    errors.TEMPLATE_INACTIVE,
    errors.CHANNEL_NOT_IN_TEMPLATE,
    errors.MISSING_VARIABLES,
    errors.UNDECLARED_VARIABLES,
    errors.INVALID_VARIABLE_VALUE,
    errors.CONTENT_TOO_LARGE,
    errors.IDEMPOTENCY_CONFLICT,
    errors.CONFIG_DECRYPTION_FAILED,
    errors.CONFIG_CORRUPT,
    errors.ENCRYPTION_KEY_INVALID,
)
_SEND_ERRORS = (errors.INVALID_IDEMPOTENCY_KEY, *_ITEM_ERRORS)


def _idempotency_key(context: Context) -> str | None:
    key = context.req.header(KEY_FIELD)
    if key is None:
        return None
    if not idempotency.valid_key(key):
        message = f"{KEY_FIELD} must be 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters"
        raise DomainError(errors.INVALID_IDEMPOTENCY_KEY, message, KEY_FIELD)
    return key


def _command(body: SendFields, key: str | None, fingerprint: dict) -> SendCommand:
    return SendCommand(
        user_id=body.user_id,
        channels=body.channels,
        template_key=body.template_key,
        variables=body.variables,
        subject=body.subject,
        content=body.content,
        idempotency_key=key,
        request_hash=idempotency.fingerprint(fingerprint),
        send_at=body.send_at,
    )


def _sent(result: SendResult) -> dict:
    messages = [{"channel": ch, "message_id": mid} for ch, mid in result.message_ids.items()]
    return {"messages": messages, "replayed": result.replayed}


def _round_trips(context: Context, headers: dict[str, str]) -> dict[str, str]:
    if context.settings.development:
        headers[ROUND_TRIPS_HEADER] = str(context.db.round_trips)
    return headers


async def send_notification(context: Context) -> HttpResponse:
    key = _idempotency_key(context)
    body = parse_body(context.req, SendRequest)
    check_send(body)
    result = await send(context, _command(body, key, body.model_dump(exclude_none=True)))
    headers = {REPLAYED_HEADER: "true"} if result.replayed else {}
    return json_response(_sent(result), 202, _round_trips(context, headers))


def _item_command(index: int, item: BatchItem) -> SendCommand:
    check_send(item, prefix=f"messages.{index}.")
    fingerprint = item.model_dump(exclude_none=True, exclude={"idempotency_key"})
    return _command(item, item.idempotency_key, fingerprint)


def _item_error(index: int, exc: DomainError) -> dict:
    """An item's error as a single send would answer it, its field named within the bulk body."""
    field = "idempotency_key" if exc.field == KEY_FIELD else exc.field
    prefix = f"messages.{index}."
    if field and not field.startswith(prefix):
        field = prefix + field
    return {"index": index, "status": status_of(exc.code), **body_of(DomainError(exc.code, exc.message, field))}


async def send_batch(context: Context) -> HttpResponse:
    """Each item is checked, planned and written on its own; one 207 answer carries every outcome."""
    body = parse_body(context.req, BatchRequest)
    commands: dict[int, SendCommand] = {}
    results: dict[int, dict] = {}
    for index, item in enumerate(body.messages):
        try:
            commands[index] = _item_command(index, item)
        except DomainError as exc:
            results[index] = _item_error(index, exc)
    outcomes = await send_many(context, list(commands.values()))
    for index, outcome in zip(commands, outcomes, strict=True):
        if isinstance(outcome, DomainError):
            results[index] = _item_error(index, outcome)
        else:
            results[index] = {"index": index, "status": 202, **_sent(outcome)}
    ordered = [results[i] for i in range(len(body.messages))]
    accepted = sum(1 for r in ordered if r["status"] == 202)
    page = {"results": ordered, "accepted": accepted, "rejected": len(ordered) - accepted}
    return json_response(page, 207, _round_trips(context, {}))


async def cancel_notification(context: Context) -> HttpResponse:
    return json_response(await cancel(context, path_param(context.req, "message_id")))


async def list_notifications(context: Context) -> HttpResponse:
    query = parse_query(context.req, NotificationListQuery)
    flt = LogFilter(
        user_id=query.user_id,
        status=query.status,
        channel=query.channel,
        template_key=query.template_key,
        since=query.since,
        until=query.until,
        keyword=query.keyword,
    )
    items, next_cursor = await list_logs(context, flt, query.cursor, query.limit)
    return json_response({"items": items, "next_cursor": next_cursor})


async def get_notification(context: Context) -> HttpResponse:
    message_id = path_param(context.req, "message_id")
    item = await message_with_attempts(context, message_id)
    if item is None:
        raise DomainError(errors.MESSAGE_NOT_FOUND, f"no message {message_id}", "message_id")
    return json_response(item)


async def get_stats(context: Context) -> HttpResponse:
    query = parse_query(context.req, StatsQuery)
    return json_response(await user_totals(context, query.user_id, query.since, query.until))


ROUTES = [
    Route(
        "POST",
        "/v1/notifications",
        send_notification,
        summary="Send a notification to a user's channels",
        description="Renders a template (or inline content) for each channel, stores one message per channel"
        " and answers 202 before delivery, which runs right after the answer (or at send_at). An optional"
        " Idempotency-Key header makes retries of the same request safe for 24 h.",
        request_model=SendRequest,
        response_model=SendResponse,
        status=202,
        errors=_SEND_ERRORS,
        request_headers=_SEND_REQUEST_HEADERS,
        response_headers=_SEND_RESPONSE_HEADERS,
    ),
    Route(
        "POST",
        "/v1/notifications/batch",
        send_batch,
        summary=f"Send up to {MAX_BATCH} notifications in one request",
        description="Each item is a send body (different users, templates or inline content) with its own"
        " optional idempotency_key and send_at. Items are validated, written and delivered independently, each"
        " atomically: the 207 answer holds one result per item, in order, with the status a single send would"
        " have answered (202, 409 or 422; 503 when a stored config cannot be opened) and its error code.",
        request_model=BatchRequest,
        response_model=BatchResponse,
        status=207,
        response_headers=(_SEND_RESPONSE_HEADERS[1],),
    ),
    Route(
        "POST",
        "/v1/notifications/{message_id}/cancel",
        cancel_notification,
        summary="Cancel a scheduled message before it is attempted",
        description="A message sent with send_at can be cancelled until the retry cron picks it up at its"
        " scheduled time; afterwards (or for a message sent at once) the answer is 409 not_cancellable.",
        response_model=NotificationItem,
        errors=(errors.MESSAGE_NOT_FOUND, errors.NOT_CANCELLABLE),
    ),
    Route(
        "GET",
        "/v1/notifications",
        list_notifications,
        summary="Delivery logs of a user, newest first, keyset-paginated",
        description="Filters combine; pass next_cursor back as cursor for the next (older) page. A cursor is"
        " signed and only valid for this list.",
        response_model=NotificationPage,
        query_model=NotificationListQuery,
        errors=(errors.INVALID_CURSOR,),
    ),
    Route(
        "GET",
        "/v1/notifications/{message_id}",
        get_notification,
        summary="One message's delivery log with its attempt history",
        description="The message as stored (status, last error with credentials masked, times) and every"
        " delivery attempt: number, start, duration, HTTP status, error class, a scrubbed response excerpt.",
        response_model=NotificationDetail,
        errors=(errors.MESSAGE_NOT_FOUND,),
    ),
    Route(
        "GET",
        "/v1/stats",
        get_stats,
        summary="A user's totals per channel and status",
        description="Counts of the user's messages created in the optional window, and all-time counters.",
        response_model=StatsResponse,
        query_model=StatsQuery,
    ),
]
