"""Cloudflare Python Worker entrypoint.

This module is the only place the Workers SDK meets the application: it turns the SDK's
request into an ``HttpRequest`` and the application's ``HttpResponse`` back into an SDK
``Response``. Everything below ``edgenotify`` is plain Python that sees bindings with the
Workers API shape, whether they are real (Pyodide) or embedded (CPython, local files).
"""

from collections.abc import Hashable
from typing import Any

from workers import Response, WorkerEntrypoint

from edgenotify import webapi
from edgenotify.app import handle_fetch
from edgenotify.http.request import HttpRequest
from edgenotify.migrations import automigrate
from edgenotify.scheduled import handle_scheduled

# Statuses whose response must have a null body (workerd's Response constructor throws otherwise).
NULL_BODY_STATUSES = frozenset((101, 204, 205, 304))


def request_method(request) -> str:
    """The request's method as sent, known to ``http.HTTPMethod`` or not.

    The SDK's ``request.method`` is ``HTTPMethod[js_method]``: a method it does not list (``QUERY``,
    ``PROPFIND``) raises ``KeyError`` before the application can answer. The JS request's own
    ``method`` is the plain string, so the router can answer 405 with an ``Allow`` header instead.
    """
    return str(request.js_object.method)


async def read_request(request) -> HttpRequest:
    """The SDK request as the application's value: method, URL, headers (lower-cased), body."""
    method = request_method(request)
    body = await request.bytes() if method not in ("GET", "HEAD") else b""
    return HttpRequest(
        method=method,
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=bytes(body),
    )


def write_response(out, method: str):
    """The application's response as an SDK ``Response`` (a null body where HTTP requires one)."""
    null_body = method == "HEAD" or out.status in NULL_BODY_STATUSES or not out.body
    return Response(None if null_body else out.body, status=out.status, headers=list(out.headers.items()))


def sdk_js_object(binding: Any) -> Any:
    """The JS object inside an SDK binding wrapper: ``_binding`` is the wrapper's (private) attribute,
    confined here, where the SDK is known; anything else is returned as it is."""
    return getattr(binding, "_binding", binding)


def sdk_database_identity(binding: Any) -> tuple[Hashable, Any]:
    """The SDK wraps ``env.DB`` afresh per request; the JavaScript object inside is the isolate's database.

    A Pyodide ``JsProxy``'s ``js_id`` is the same for the same JS object for the isolate's lifetime.
    """
    target = sdk_js_object(binding)
    js_id = getattr(target, "js_id", None)
    if isinstance(js_id, int):
        return ("js", js_id), target
    return ("py", id(target)), target


automigrate.identify_databases_by(sdk_database_identity)
webapi.unwrap_bindings_with(sdk_js_object)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        incoming = await read_request(request)
        return write_response(await handle_fetch(incoming, self.env, self.ctx), incoming.method)

    async def scheduled(self, controller, env, ctx):
        # workerd passes env and ctx as None to class entrypoints: use self.env / self.ctx.
        await handle_scheduled(str(controller.cron), self.env, self.ctx)
