"""``GET /admin/notifications``: the operator's view of messages across users (bearer ADMIN_TOKEN).

"All failed messages since 09:00" is one request: status, channel, user and time-range filters,
newest first, keyset pages with the same signed cursors as every other list (a cursor of this
list is refused by the clients' list and the other way round). One D1 query per page, walking
``idx_logs_status_created`` when filtered by status.
"""

from edgenotify import errors
from edgenotify.context import Context
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_query
from edgenotify.models.notifications import NotificationPage, OperatorMessagesQuery
from edgenotify.notify.logs import OPERATOR_LIST, LogFilter, list_logs


async def list_messages(context: Context) -> HttpResponse:
    query = parse_query(context.req, OperatorMessagesQuery)
    flt = LogFilter(
        user_id=query.user_id, status=query.status, channel=query.channel, since=query.since, until=query.until
    )
    items, next_cursor = await list_logs(context, flt, query.cursor, query.limit, OPERATOR_LIST)
    return json_response({"items": items, "next_cursor": next_cursor})


ROUTES = [
    Route(
        "GET",
        "/admin/notifications",
        list_messages,
        role="admin",
        summary="Messages across users, newest first, keyset-paginated",
        description="Filter by status, channel, user and creation time, e.g. status=failed&since=2026-12-01T09:00:00Z"
        " for every failed message since 09:00.",
        response_model=NotificationPage,
        query_model=OperatorMessagesQuery,
        errors=(errors.INVALID_CURSOR,),
    )
]
