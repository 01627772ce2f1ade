"""The fetch handler: request id, dev auto-migration, routing, auth, uniform JSON errors, one log line."""

import time
import traceback
import uuid
from typing import Any

from edgenotify import usage
from edgenotify.auth import authorize
from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.request import REQUEST_ID_FORMAT, HttpRequest
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Router
from edgenotify.migrations.automigrate import MigrationFailed, ensure_migrated
from edgenotify.observability import log_invocation
from edgenotify.ops.jobs import marker
from edgenotify.routes import ROUTER

RETRY_LATER = {"retry-after": "60"}


def _request_id(request: HttpRequest) -> str:
    given = request.header("x-request-id")
    return given if given and REQUEST_ID_FORMAT.match(given) else uuid.uuid4().hex


def migration_error(exc: MigrationFailed) -> ApiError:
    return ApiError(503, "migration_failed", f"migration {exc.name} failed: {exc.message}", field=exc.name)


async def handle_fetch(request: HttpRequest, env: Any, ctx: Any, router: Router = ROUTER) -> HttpResponse:
    """Answer ``request`` through ``router`` (the worker's routes; the contract suite passes its own)."""
    request.request_id = _request_id(request)
    started = time.perf_counter()
    used, token = usage.start()
    error_code = None
    try:
        response = await _dispatch(request, env, ctx, router)
    except ApiError as exc:
        error_code = exc.code
        response = json_response(exc.body(), exc.status, exc.headers)
    except Exception:  # a bug, never a client's doing: log it, answer without internals
        error_code = "internal_error"
        print(f"request {request.request_id} failed:\n{traceback.format_exc()}")
        response = json_response({"error": {"code": "internal_error", "message": "internal error"}}, 500)
    finally:
        usage.stop(token)
    response.headers["x-request-id"] = request.request_id
    if request.method == "HEAD":
        response.body = b""
    fields = {"method": request.method, "route": used.route, "status": response.status, "error_code": error_code}
    log_invocation("request", used, started, request_id=request.request_id, **fields)
    return response


async def _dispatch(request: HttpRequest, env: Any, ctx: Any, router: Router) -> HttpResponse:
    route, params = router.match(request.method, request.path)
    usage.note_route(route.pattern)
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
