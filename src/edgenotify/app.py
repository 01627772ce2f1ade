"""The fetch handler: request id, dev auto-migration, routing, auth, and uniform JSON errors."""

import re
import traceback
import uuid
from typing import Any

from edgenotify.auth import authorize
from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.request import HttpRequest
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.migrations.automigrate import MigrationFailed, ensure_migrated
from edgenotify.ops.jobs import marker
from edgenotify.routes import ROUTER

RETRY_LATER = {"retry-after": "60"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _request_id(request: HttpRequest) -> str:
    given = request.header("x-request-id")
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


def migration_error(exc: MigrationFailed) -> ApiError:
    return ApiError(503, "migration_failed", f"migration {exc.name} failed: {exc.message}", field=exc.name)


async def handle_fetch(request: HttpRequest, env: Any, ctx: Any) -> HttpResponse:
    request.request_id = _request_id(request)
    try:
        response = await _dispatch(request, env, ctx)
    except ApiError as exc:
        response = json_response(exc.body(), exc.status, exc.headers)
    except Exception:  # a bug, never a client's doing: log it, answer without internals
        print(f"request {request.request_id} failed:\n{traceback.format_exc()}")
        response = json_response({"error": {"code": "internal_error", "message": "internal error"}}, 500)
    response.headers["x-request-id"] = request.request_id
    if request.method == "HEAD":
        response.body = b""
    return response


async def _dispatch(request: HttpRequest, env: Any, ctx: Any) -> HttpResponse:
    route, params = ROUTER.match(request.method, request.path)
    context = Context.create(env, ctx, request)
    context.actor = authorize(request, context.settings, route.role)
    if context.settings.development:
        try:
            await ensure_migrated(env.DB)
        except MigrationFailed as exc:
            raise migration_error(exc) from exc
    if route.role == "client" and await marker.cached(context.db):
        raise ApiError(503, "restore_in_progress", "a restore is replacing the data; retry later", headers=RETRY_LATER)
    request.path_params = params
    return await route.handler(context)
