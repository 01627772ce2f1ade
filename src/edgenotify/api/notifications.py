"""Notifications: send (idempotent), list and read delivery logs, per-user stats.

D1 cost: a send with a warm KV cache is exactly ONE round trip (one batch: idempotency claim,
log rows, stats, key read-back); in development the count is returned as ``x-d1-round-trips``
so tests and benchmarks can hold the path to it. Delivery runs after the response. A list, a
read and the stats are one round trip each.
"""

from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Header, Route
from edgenotify.http.validation import parse_body, parse_query
from edgenotify.models.common import path_param
from edgenotify.models.delivery import NotificationDetail
from edgenotify.models.notifications import (
    ListQuery,
    NotificationPage,
    SendRequest,
    SendResponse,
    StatsQuery,
    StatsResponse,
    check_send,
)
from edgenotify.notify import idempotency
from edgenotify.notify.delivery.history import message_with_attempts
from edgenotify.notify.logs import LogFilter, list_logs
from edgenotify.notify.send import KEY_FIELD, SendCommand, send
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
_SEND_ERRORS = (
    (400, f"invalid_idempotency_key: {KEY_FIELD} is not 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters"),
    (409, f"idempotency_conflict: this {KEY_FIELD} was already used with a different body"),
    (
        422,
        "unsupported_channel, no_active_channel, channel_not_configured, channel_disabled, template_not_found,"
        " template_inactive, channel_not_in_template, missing_variables, undeclared_variables, invalid_variable_value,"
        " content_too_large: the request cannot be sent as asked",
    ),
    (
        503,
        "config_decryption_failed, config_corrupt, encryption_key_invalid: a stored config of the user cannot be"
        " opened with the configured CONFIG_ENCRYPTION_KEY",
    ),
)
_CURSOR_ERROR = (400, "invalid_cursor: the cursor is malformed or was altered")


def _idempotency_key(context: Context) -> str | None:
    key = context.req.header(KEY_FIELD)
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"{KEY_FIELD} must be 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters",
            field=KEY_FIELD,
        )
    return key


async def send_notification(context: Context) -> HttpResponse:
    key = _idempotency_key(context)
    body = parse_body(context.req, SendRequest)
    check_send(body)
    command = SendCommand(
        user_id=body.user_id,
        channels=body.channels,
        template_key=body.template_key,
        variables=body.variables,
        subject=body.subject,
        content=body.content,
        idempotency_key=key,
        request_hash=idempotency.fingerprint(body.model_dump(exclude_none=True)),
    )
    result = await send(context, command)
    messages = [{"channel": ch, "message_id": mid} for ch, mid in result.message_ids.items()]
    headers = {}
    if result.replayed:
        headers[REPLAYED_HEADER] = "true"
    if context.settings.development:
        headers[ROUND_TRIPS_HEADER] = str(context.db.round_trips)
    return json_response({"messages": messages, "replayed": result.replayed}, 202, headers)


async def list_notifications(context: Context) -> HttpResponse:
    query = parse_query(context.req, ListQuery)
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
        raise ApiError(404, "not_found", f"no notification {message_id}", field="message_id")
    return json_response(item)


async def get_stats(context: Context) -> HttpResponse:
    query = parse_query(context.req, StatsQuery)
    return json_response(await user_totals(context, query.user_id, query.since, query.until))


ROUTES = [
    Route(
        "POST",
        "/v1/notifications",
        send_notification,
        summary="Send a notification to a user's channels (optional Idempotency-Key header)",
        request_model=SendRequest,
        response_model=SendResponse,
        status=202,
        errors=_SEND_ERRORS,
        request_headers=_SEND_REQUEST_HEADERS,
        response_headers=_SEND_RESPONSE_HEADERS,
    ),
    Route(
        "GET",
        "/v1/notifications",
        list_notifications,
        summary="Delivery logs of a user, newest first, keyset-paginated",
        response_model=NotificationPage,
        query_model=ListQuery,
        errors=(_CURSOR_ERROR,),
    ),
    Route(
        "GET",
        "/v1/notifications/{message_id}",
        get_notification,
        summary="One message's delivery log with its attempt history",
        response_model=NotificationDetail,
        errors=((404, "not_found: no message with this id"),),
    ),
    Route(
        "GET",
        "/v1/stats",
        get_stats,
        summary="A user's totals per channel and status",
        response_model=StatsResponse,
        query_model=StatsQuery,
    ),
]
