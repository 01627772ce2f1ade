"""Recovering failed messages: one now (``POST /v1/notifications/{message_id}/retry``) or many by
filter (``POST /v1/notifications/recover``, bounded and resumable). Both audited; both refuse
messages that succeeded. D1 cost: one batch each (plus the config read of a single retry)."""

from edgenotify import errors
from edgenotify.context import Context
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body
from edgenotify.models.common import path_param
from edgenotify.models.delivery import RecoverRequest, RecoverResult, RetryResult
from edgenotify.notify.delivery.recovery import RecoverFilter, recover_many, recover_one


async def retry_message(context: Context) -> HttpResponse:
    message_id = path_param(context.req, "message_id")
    return json_response(await recover_one(context, message_id), 202)


async def recover_messages(context: Context) -> HttpResponse:
    body = parse_body(context.req, RecoverRequest)
    flt = RecoverFilter(body.since, body.until, body.user_id, body.channel, int(body.cursor or 0))
    return json_response(await recover_many(context, flt, body.limit))


ROUTES = [
    Route(
        "POST",
        "/v1/notifications/{message_id}/retry",
        retry_message,
        summary="Send a failed message again now (same message id and webhook-id, a fresh retry schedule)",
        response_model=RetryResult,
        status=202,
        description="Only a failed message qualifies; it is delivered after the response and audited.",
        errors=(errors.MESSAGE_NOT_FOUND, errors.MESSAGE_SUCCEEDED, errors.MESSAGE_NOT_FAILED),
    ),
    Route(
        "POST",
        "/v1/notifications/recover",
        recover_messages,
        summary="Recover failed messages created in a time range (optionally one user / channel), in pages",
        request_model=RecoverRequest,
        description="Bounded per call: pass next_cursor back until it is null. Each message is audited.",
        response_model=RecoverResult,
    ),
]
