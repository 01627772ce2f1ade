"""Notifications: send (idempotent), list and read delivery logs, per-user stats.

D1 cost: a send with a warm KV cache is exactly ONE round trip (one batch: idempotency claim,
log rows, stats, key read-back); in development the count is returned as ``x-d1-round-trips``
so tests and benchmarks can hold the path to it. Delivery runs after the response. A list, a
read and the stats are one round trip each.
"""

from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body, parse_query
from edgenotify.models.common import path_param
from edgenotify.models.notifications import (
    ListQuery,
    NotificationItem,
    NotificationPage,
    SendRequest,
    SendResponse,
    StatsQuery,
    StatsResponse,
    check_send,
)
from edgenotify.notify import idempotency
from edgenotify.notify.logs import LogFilter, get_log, list_logs
from edgenotify.notify.send import KEY_FIELD, SendCommand, send
from edgenotify.notify.stats import user_totals

ROUND_TRIPS_HEADER = "x-d1-round-trips"


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
        headers["idempotent-replayed"] = "true"
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
    item = await get_log(context, message_id)
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
    ),
    Route(
        "GET",
        "/v1/notifications",
        list_notifications,
        summary="Delivery logs of a user, newest first, keyset-paginated",
        response_model=NotificationPage,
        query_model=ListQuery,
    ),
    Route(
        "GET",
        "/v1/notifications/{message_id}",
        get_notification,
        summary="One message's delivery log",
        response_model=NotificationItem,
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
