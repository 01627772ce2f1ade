"""The fetch handler: request id, dev auto-migration, routing, auth, the one error mapping, one log line.

Every failure a client can cause is a :class:`~edgenotify.errors.DomainError`; it becomes an HTTP
answer here and nowhere else (status by kind, ``http/errors.py``). In development an error whose
code the route does not declare is answered as a 500 ``internal_error`` and logged: the contract
(``http/contract.py``, the OpenAPI document) is then wrong, and tests and the fuzz run see it.
"""

import time
import traceback
import uuid
from typing import Any

from edgenotify import errors, usage
from edgenotify.auth import authorize
from edgenotify.context import Context
from edgenotify.env import Settings
from edgenotify.errors import DomainError
from edgenotify.http.contract import route_codes
from edgenotify.http.errors import body_of, error_body, status_of
from edgenotify.http.request import REQUEST_ID_FORMAT, HttpRequest
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route, Router
from edgenotify.migrations.automigrate import MigrationFailed, ensure_migrated
from edgenotify.observability import log_invocation
from edgenotify.ops.jobs import marker
from edgenotify.routes import ROUTER

RETRY_LATER = {"retry-after": "60"}


def _request_id(request: HttpRequest) -> str:
    given = request.header("x-request-id")
    return given if given and REQUEST_ID_FORMAT.fullmatch(given) else uuid.uuid4().hex


def _internal_error() -> HttpResponse:
    return json_response(error_body(errors.INTERNAL_ERROR, "internal error"), 500)


def _error_response(exc: DomainError, route: Route | None, development: bool, request_id: str) -> HttpResponse:
    if development and route is not None and exc.code not in route_codes(route):
        print(f"request {request_id}: {route.method} {route.pattern} answered undeclared code {exc.code.name}")
        return _internal_error()
    return json_response(body_of(exc), status_of(exc.code), exc.headers)


async def handle_fetch(request: HttpRequest, env: Any, ctx: Any, router: Router = ROUTER) -> HttpResponse:
    """Answer ``request`` through ``router`` (the worker's routes; the contract suite passes its own)."""
    request.request_id = _request_id(request)
    started = time.perf_counter()
    used, token = usage.start()
    error_code = None
    matched: list[Route] = []
    try:
        response = await _dispatch(request, env, ctx, router, matched)
    except DomainError as exc:
        error_code = exc.code.name
        development = Settings.from_env(env).development
        response = _error_response(exc, matched[0] if matched else None, development, request.request_id)
    except Exception:  # a bug, never a client's doing: log it, answer without internals
        error_code = errors.INTERNAL_ERROR.name
        print(f"request {request.request_id} failed:\n{traceback.format_exc()}")
        response = _internal_error()
    finally:
        usage.stop(token)
    response.headers["x-request-id"] = request.request_id
    if request.method == "HEAD":
        response.body = b""
    fields = {"method": request.method, "route": used.route, "status": response.status, "error_code": error_code}
    log_invocation("request", used, started, request_id=request.request_id, **fields)
    return response


async def _dispatch(request: HttpRequest, env: Any, ctx: Any, router: Router, matched: list[Route]) -> HttpResponse:
    route, params = router.match(request.method, request.path)
    matched.append(route)
    usage.note_route(route.pattern)
    context = Context.create(env, ctx, request)
    context.actor = authorize(request, context.settings, route.role)
    if context.settings.development:
        try:
            await ensure_migrated(env.DB)
        except MigrationFailed as exc:
            message = f"migration {exc.name} failed: {exc.message}"
            raise DomainError(errors.MIGRATION_FAILED, message, field=exc.name) from exc
    if route.role == "client" and await marker.cached(context.db):
        message = "a restore is replacing the data; retry later"
        raise DomainError(errors.RESTORE_IN_PROGRESS, message, headers=RETRY_LATER)
    request.path_params = params
    return await route.handler(context)
