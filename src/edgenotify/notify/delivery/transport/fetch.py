"""Pyodide's backend: an ``httpx.AsyncBaseTransport`` over the runtime's ``fetch`` (workerd's, or Node's).

Each request is one ``fetch`` with ``redirect: "manual"`` (a 3xx comes back as the answer, never
followed) and one abort signal that fires at the request's deadline — the largest of httpx's per-phase
timeouts, applied to the whole exchange — or when the attempt is cancelled (``attempt_deadline``).
The answer's body is read in full before httpx sees it. Headers keep their repeats both ways, except
those ``fetch`` sets itself (``host``, ``content-length``, hop-by-hop headers); the answer's
``content-encoding`` and ``content-length`` are dropped because ``fetch`` has already decoded the body
(httpx would decode it twice, and the length is of the encoded bytes).
"""

import asyncio
from typing import Any

import httpx

from edgenotify.webapi import js_error_name, to_js, web_global

# DOMException names an aborted fetch rejects with: our signal's timeout, or our own abort().
_ABORTED = ("TimeoutError", "AbortError")
_DECODED = ("content-encoding", "content-length")
# Headers httpx sets that ``fetch`` owns (the Fetch standard's forbidden request headers and hop-by-hop
# ones): Node's ``fetch`` rejects a request carrying ``connection``; the runtime sets the rest itself.
_FETCH_OWNED = ("connection", "content-length", "host", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade")


def _deadline_ms(request: httpx.Request) -> int | None:
    """The request's total deadline: the largest per-phase timeout httpx attached to it, in ms."""
    phases = request.extensions.get("timeout") or {}
    finite = [value for value in phases.values() if value is not None]
    return max(1, round(max(finite) * 1000)) if finite else None


class FetchTransport(httpx.AsyncBaseTransport):
    """Sends each httpx request with one JS ``fetch``; see the module docstring for the rules."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        controller = web_global("AbortController").new()
        signal = self._signal(controller, _deadline_ms(request))
        init = {
            "method": request.method,
            "headers": [[k, v] for k, v in request.headers.multi_items() if k.lower() not in _FETCH_OWNED],
            "redirect": "manual",
            "signal": signal,
        }
        if body:
            init["body"] = body
        try:
            answer = await web_global("fetch")(str(request.url), to_js(init))
            content = (await answer.arrayBuffer()).to_bytes()
        except asyncio.CancelledError:
            controller.abort()
            raise
        except Exception as exc:
            if js_error_name(exc) is None:  # a Python error: a bug, not the network
                raise
            raise _as_httpx_error(exc, request) from None
        headers = [(str(name), str(value)) for name, value in (list(pair) for pair in answer.headers.entries())]
        kept = [(name, value) for name, value in headers if name.lower() not in _DECODED]
        return httpx.Response(int(answer.status), headers=kept, content=content, request=request)

    @staticmethod
    def _signal(controller: Any, deadline_ms: int | None) -> Any:
        if deadline_ms is None:
            return controller.signal
        signals = web_global("AbortSignal")
        return signals.any(to_js([controller.signal, signals.timeout(deadline_ms)]))


def _as_httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """A rejected ``fetch`` as the httpx error the delivery code already handles."""
    name = js_error_name(exc)
    message = f"{name}: {getattr(exc, 'message', exc)}"
    if name in _ABORTED:
        return httpx.ReadTimeout(message, request=request)
    return httpx.ConnectError(message, request=request)
