"""The adapter (``src/entry.py``) and the app's dispatch (``app.handle_fetch``) on the runtime's real classes.

On Pyodide the requests and responses are the Workers SDK's ``Request``/``Response`` over Node's Fetch
classes and ``ctx`` is a JS ``ExecutionContext`` with workerd's ``waitUntil`` patch; on CPython they are the
embedded runtime's. ``Default`` serves the worker's own routes (on Pyodide only ``/health``: the route
modules that need pydantic are left out there, see ``devkit/parity/README.md``); a contract router of
pydantic-free handlers covers auth, JSON errors, ``waitUntil`` of a coroutine, null-body statuses and
repeated headers through the same ``read_request`` -> ``handle_fetch`` -> ``write_response`` path.
"""

import json
from typing import Any

from edgenotify.app import handle_fetch
from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route, Router
from tests.contract.contracts import CONTRACT_SECRETS, contract, platform

CLIENT_TOKEN = CONTRACT_SECRETS["API_TOKEN"]
ADMIN_TOKEN = CONTRACT_SECRETS["ADMIN_TOKEN"]
BASE = "https://worker.example"
LATER_KEY = "contract-http:later"
REPEATED = [("x-multi", "a"), ("x-multi", "b")]
SHOWN_HEADERS = ("allow", "content-type", "www-authenticate", "x-empty", "retry-after")


async def _echo(context: Context) -> HttpResponse:
    request = context.req
    body = request.json() if request.body else None
    seen = {"method": request.method, "params": request.path_params, "multi": request.header("x-multi")}
    return json_response({**seen, "query": request.query, "body": body, "actor": context.actor})


async def _later(context: Context) -> HttpResponse:
    async def record() -> None:
        await context.kv.put(LATER_KEY, context.req.query.get("v", ""))

    context.wait_until(record())
    return json_response({"scheduled": True}, 202)


async def _empty(context: Context) -> HttpResponse:
    return HttpResponse(204, b"ignored: a 204 has no body", {"x-empty": "yes"})


async def _broken(context: Context) -> HttpResponse:
    raise RuntimeError("a bug in a handler")


async def _refuse(context: Context) -> HttpResponse:
    raise ApiError(409, "busy", "try later", field="job", headers={"retry-after": "5"})


ROUTER = Router(
    [
        Route("GET", "/c/echo/{item}", _echo, role="client"),
        Route("POST", "/c/echo/{item}", _echo, role="client"),
        Route("POST", "/c/later", _later, role="client"),
        Route("GET", "/c/empty", _empty, role="public"),
        Route("GET", "/c/broken", _broken, role="public"),
        Route("GET", "/c/refuse", _refuse, role="admin"),
    ]
)


async def _seen(response: Any) -> dict[str, Any]:
    """What a client sees of an SDK response: status, the headers that matter here, the body."""
    text = await response.text()
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = text
    headers = {name: response.headers.get(name) for name in SHOWN_HEADERS if response.headers.get(name)}
    request_id = response.headers.get("x-request-id") or ""
    shape = request_id if request_id.startswith("contract-") else ("hex32" if len(request_id) == 32 else request_id)
    return {"status": response.status, "headers": headers, "body": body, "request_id": shape}


def _request(method: str, path: str, token: str | None = None, body: Any = None, headers: Any = ()) -> Any:
    from workers import Request

    pairs = [("authorization", f"Bearer {token}")] if token else []
    pairs += list(headers)
    options: dict[str, Any] = {"method": method, "headers": pairs}
    if body is not None:
        options["body"] = body if isinstance(body, bytes) else json.dumps(body).encode()
        pairs.append(("content-type", "application/json"))
    return Request(BASE + path, **options)


async def _through_app(env: Any, ctx: Any, request: Any) -> dict[str, Any]:
    """``Default.fetch``'s path with the contract router: the SDK sets up ``env``/``ctx`` as for a request."""
    import entry

    worker = entry.Default(ctx, env)  # the SDK patches ctx.waitUntil here, as in production
    incoming = await entry.read_request(request)
    out = await handle_fetch(incoming, worker.env, worker.ctx, ROUTER)
    return await _seen(entry.write_response(out, incoming.method))


@contract
async def http_entrypoint_serves_health_and_unknown_methods(env: Any) -> Any:
    """``Default.fetch`` with the SDK's Request: GET/HEAD, request ids, 404, and 405 for any method."""
    import entry

    ctx = platform().execution_context()
    worker = entry.Default(ctx, env)
    seen = {}
    for label, method, path, headers in [
        ("get", "GET", "/health", [("x-request-id", "contract-req-1")]),
        ("head", "HEAD", "/health", []),
        ("bad_request_id", "GET", "/health", [("x-request-id", "bad id with spaces")]),
        ("unknown_path", "GET", "/nowhere", []),
        ("post", "POST", "/health", []),
        ("propfind", "PROPFIND", "/health", []),
        ("query", "QUERY", "/health", []),
    ]:
        seen[label] = await _seen(await worker.fetch(_request(method, path, headers=headers)))
    await platform().settle(ctx)
    health = seen.pop("get")
    assert health["status"] == 200 and health["body"]["status"] == "ok", health
    seen["bad_request_id"]["body"] = sorted(seen["bad_request_id"]["body"])  # its "time" differs per run
    assert seen["head"]["status"] == 200 and seen["head"]["body"] is None
    for label in ("post", "propfind", "query"):
        assert seen[label]["status"] == 405 and seen[label]["headers"]["allow"] == "GET", seen[label]
        assert seen[label]["body"]["error"]["code"] == "method_not_allowed"
    return {"health": [health["status"], health["request_id"], sorted(health["body"])], **seen}


@contract
async def http_dispatch_auth_errors_and_bodies(env: Any) -> Any:
    """Auth (401/403), routing (404/405 with Allow), JSON errors (4xx, 500 without internals), bodies."""
    ctx = platform().execution_context()
    cases = {
        "no_token": _request("GET", "/c/echo/1"),
        "bad_token": _request("GET", "/c/echo/1", token="nope"),
        "admin_on_client": _request("GET", "/c/echo/1", token=ADMIN_TOKEN),
        "client_on_admin": _request("GET", "/c/refuse", token=CLIENT_TOKEN),
        "admin_refused": _request("GET", "/c/refuse", token=ADMIN_TOKEN),
        "echo": _request("POST", "/c/echo/item-7?a=1&a=2&b=", CLIENT_TOKEN, {"n": 1.5, "s": "é"}, REPEATED),
        "head_echo": _request("HEAD", "/c/echo/1", token=CLIENT_TOKEN),
        "propfind": _request("PROPFIND", "/c/echo/1", token=CLIENT_TOKEN),
        "bad_json": _request("POST", "/c/echo/1", CLIENT_TOKEN, b"{nope"),
        "unknown": _request("GET", "/c/none", token=CLIENT_TOKEN),
        "empty_204": _request("GET", "/c/empty"),
        "broken": _request("GET", "/c/broken"),
    }
    seen = {label: await _through_app(env, ctx, request) for label, request in cases.items()}
    assert [seen[k]["status"] for k in ("no_token", "bad_token", "admin_on_client", "client_on_admin")] == [
        401,
        401,
        403,
        403,
    ]
    assert seen["echo"]["body"]["multi"] == "a, b" and seen["propfind"]["headers"]["allow"] == "GET, POST"
    assert seen["empty_204"] == {"status": 204, "headers": {"x-empty": "yes"}, "body": None, "request_id": "hex32"}
    assert seen["broken"]["body"] == {"error": {"code": "internal_error", "message": "internal error"}}
    return seen


@contract
async def http_wait_until_runs_a_coroutine(env: Any) -> Any:
    """A handler's ``context.wait_until(coroutine)`` runs after the response, on the runtime's ctx."""
    await env.CONFIG_CACHE.delete(LATER_KEY)
    ctx = platform().execution_context()
    answer = await _through_app(env, ctx, _request("POST", "/c/later?v=done", CLIENT_TOKEN, {}))
    await platform().settle(ctx)
    stored = await env.CONFIG_CACHE.get(LATER_KEY)
    await env.CONFIG_CACHE.delete(LATER_KEY)
    assert stored == "done", stored
    return {"answer": answer, "stored": stored}
