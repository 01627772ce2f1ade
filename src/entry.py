"""Cloudflare Python Worker entrypoint.

This module is the only place the Workers SDK meets the application: it turns the SDK's
request into an ``HttpRequest`` and the application's ``HttpResponse`` back into an SDK
``Response``. Everything below ``edgenotify`` is plain Python that sees bindings with the
Workers API shape, whether they are real (Pyodide) or embedded (CPython, local files).
"""

from collections.abc import Hashable
from typing import Any

from workers import Response, WorkerEntrypoint

from edgenotify.app import handle_fetch
from edgenotify.http.request import HttpRequest
from edgenotify.migrations import automigrate
from edgenotify.scheduled import handle_scheduled


def sdk_database_identity(binding: Any) -> tuple[Hashable, Any]:
    """The SDK wraps ``env.DB`` afresh per request; the JavaScript object inside is the isolate's database.

    ``_binding`` is the SDK wrapper's (private) JS object; a Pyodide ``JsProxy``'s ``js_id`` is the
    same for the same JS object for the isolate's lifetime. Confined here, where the SDK is known.
    """
    target = getattr(binding, "_binding", binding)
    js_id = getattr(target, "js_id", None)
    if isinstance(js_id, int):
        return ("js", js_id), target
    return ("py", id(target)), target


automigrate.identify_databases_by(sdk_database_identity)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = await request.bytes() if request.method not in ("GET", "HEAD") else b""
        incoming = HttpRequest(
            method=str(request.method),
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=bytes(body),
        )
        out = await handle_fetch(incoming, self.env, self.ctx)
        # A null-body status (204, 304) must have a null body, not b"" (the Response constructor throws).
        return Response(out.body or None, status=out.status, headers=list(out.headers.items()))

    async def scheduled(self, controller, env, ctx):
        # workerd passes env and ctx as None to class entrypoints: use self.env / self.ctx.
        await handle_scheduled(str(controller.cron), self.env, self.ctx)
