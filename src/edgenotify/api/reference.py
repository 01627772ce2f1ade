"""``GET /openapi.json`` and ``GET /docs``: the API's description, machine- and human-readable.

Both are built once per isolate from the route list they are given (which they join), so the
document always describes exactly the routes the router serves, the two of them included.
"""

import json
from collections.abc import Callable

from edgenotify.api.docs_page import render_docs
from edgenotify.api.openapi import build_document
from edgenotify.context import Context
from edgenotify.http.response import HttpResponse
from edgenotify.http.router import Header, Route
from edgenotify.models.common import OpenApiDocument


def _cached(build: Callable[[], bytes]) -> Callable[[], bytes]:
    built: list[bytes] = []

    def get() -> bytes:
        if not built:
            built.append(build())
        return built[0]

    return get


def routes_for(api_routes: list[Route]) -> list[Route]:
    """The two reference routes, describing ``api_routes`` and themselves."""
    every: list[Route] = []
    document = _cached(lambda: json.dumps(build_document(every), separators=(",", ":")).encode("utf-8"))
    page = _cached(lambda: render_docs(json.loads(document())).encode("utf-8"))

    async def openapi_json(context: Context) -> HttpResponse:
        return HttpResponse(200, document(), {"content-type": "application/json; charset=utf-8"})

    async def docs(context: Context) -> HttpResponse:
        headers = {
            "content-type": "text/html; charset=utf-8",
            # Everything is inline: no script, style or image may come from anywhere else.
            "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        }
        return HttpResponse(200, page(), headers)

    ours = [
        Route(
            "GET",
            "/openapi.json",
            openapi_json,
            role="public",
            summary="This OpenAPI 3.1 document",
            description="Generated from the routes, their models and the error registry.",
            response_model=OpenApiDocument,
        ),
        Route(
            "GET",
            "/docs",
            docs,
            role="public",
            media_type="text/html",
            summary="The API reference as one HTML page",
            description="Rendered from the OpenAPI document; self-contained (no external scripts or styles).",
            response_headers=(Header("Content-Security-Policy", "Everything on the page is inline", True),),
        ),
    ]
    every.extend([*api_routes, *ours])
    return ours
