"""A stand-in for the Python Workers SDK's ``workers`` module, for running ``src/entry.py`` on CPython.

Only the embedded runtime installs it (``install()`` puts it in ``sys.modules["workers"]``);
nothing in ``src/`` imports this file. It mirrors workers-runtime-sdk ``workers/
{entrypoints,request,response}.py`` and the JS rules underneath them that a Worker can trip
over: ``request.method`` is an ``http.HTTPMethod``, headers are an ``http.client.HTTPMessage``
(case-insensitive, names lower-cased and sorted, repeats joined with ", " like JS ``Headers``),
a body can be read once (``OSError("Body already used")``), a ``Response`` takes ``str``,
``bytes`` or ``None`` only, its status must be 200..599, and a null-body status (204, 205,
304) with a body is a ``TypeError``, as in workerd.
"""

import http.client
import json
import sys
from http import HTTPMethod, HTTPStatus
from typing import Any

from devkit.embedded import webcrypto
from devkit.embedded.jsvalues import JsDict, JsException, JsProxy

__all__ = ["JsDict", "JsException", "Request", "Response", "WorkerEntrypoint", "install"]

NULL_BODY_STATUSES = (101, 204, 205, 304)
# The methods the Fetch standard upper-cases; any other token keeps its case (``new Request(u, {method})``).
NORMALISED_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT")


def _headers(pairs: Any) -> http.client.HTTPMessage:
    """Build headers the way JS ``Headers`` would normalise them, as the SDK exposes them."""
    if pairs is None:
        pairs = []
    elif isinstance(pairs, http.client.HTTPMessage):
        pairs = list(pairs.items())
    elif isinstance(pairs, dict):
        pairs = list(pairs.items())
    elif not isinstance(pairs, list):
        raise TypeError("Received unexpected type for headers argument")
    merged: dict[str, list[str]] = {}
    for name, value in pairs:
        name, value = str(name).lower(), str(value).strip()
        if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n\0"):
            raise TypeError(f"Invalid header: {name!r}")
        merged.setdefault(name, []).append(value)
    message = http.client.HTTPMessage()
    for name in sorted(merged):
        if name == "set-cookie":
            for value in merged[name]:
                message[name] = value
        else:
            message[name] = ", ".join(merged[name])
    return message


class _Body:
    """A body that can be read once, with the SDK's read methods."""

    _body: bytes
    _used: bool

    def _take(self) -> bytes:
        if self._used:
            raise OSError("Body already used")
        self._used = True
        return self._body

    @property
    def body_used(self) -> bool:
        return self._used

    async def bytes(self) -> bytes:
        return self._take()

    async def text(self) -> str:
        return self._take().decode("utf-8", "replace")

    async def buffer(self) -> memoryview:
        return memoryview(self._take())

    async def _json(self, **kwargs: Any) -> Any:
        return json.loads(await self.text(), **kwargs)


class Request(_Body):
    """``workers.Request`` as ``fetch`` receives it."""

    def __init__(self, url: str, method: str = "GET", headers: Any = None, body: bytes | None = None, cf: Any = None):
        self._url = url
        self._method = method.upper() if method.upper() in NORMALISED_METHODS else method
        self._headers = _headers(headers)
        self._body = body or b""
        self._used = False
        self._cf = cf

    def __repr__(self) -> str:
        return f"Request(method={self._method!r}, url={self._url!r})"

    @property
    def url(self) -> str:
        return self._url

    @property
    def method(self) -> HTTPMethod:
        return HTTPMethod[self._method]  # the SDK does the same: unknown methods raise KeyError

    @property
    def js_object(self) -> JsProxy:
        """The JS ``Request`` under the SDK's wrapper; its ``method`` is the plain string, whatever it is."""
        return JsProxy({"method": self._method, "url": self._url})

    @property
    def headers(self) -> http.client.HTTPMessage:
        return self._headers

    @property
    def cf(self) -> Any:
        return self._cf

    async def json(self, **kwargs: Any) -> Any:
        return await self._json(**kwargs)


class Response(_Body):
    """``workers.Response(body=None, status=None, status_text="", headers=None)``."""

    def __init__(self, body: Any = None, status: int | HTTPStatus | None = None, status_text: str = "", headers=None):
        if body is not None and not isinstance(body, (str, bytes)):
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        code = int(status) if status else 200
        if not 200 <= code <= 599:
            raise JsException(
                "Responses may only be constructed with status codes in the range 200 to 599, inclusive.",
                "RangeError",
            )
        if code in NULL_BODY_STATUSES and body is not None:
            raise JsException("Response with null body status (101, 204, 205, or 304) cannot have a body.", "TypeError")
        self.status = code
        self.status_text = status_text
        self._headers = _headers(headers)
        if isinstance(body, str) and "content-type" not in self._headers:
            self._headers["content-type"] = "text/plain;charset=UTF-8"
        self._body = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        self._used = False

    def __repr__(self) -> str:
        return f"Response(status={self.status})"

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def headers(self) -> http.client.HTTPMessage:
        return self._headers

    @staticmethod
    def from_json(data: Any, status: int = 200, status_text: str = "", headers: Any = None) -> "Response":
        message = _headers(headers)
        if "content-type" not in message:
            message["content-type"] = "application/json"
        return Response(json.dumps(data), status=status, status_text=status_text, headers=message)

    def json(self: Any, *args: Any, **kwargs: Any) -> Any:
        """``await response.json()`` on an instance; ``Response.json(data, status=...)`` statically."""
        if isinstance(self, Response):
            return self._json(**kwargs)
        return Response.from_json(self, *args, **kwargs)


class WorkerEntrypoint:
    """Base class of ``Default``: the runtime constructs it with ``(ctx, env)`` per event."""

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env


def install() -> None:
    """Make ``import workers`` resolve to this module, and provide the JS globals ``src/`` reaches through
    ``edgenotify.webapi`` (``crypto``) — embedded runtime only."""
    sys.modules["workers"] = sys.modules[__name__]
    webcrypto.install()
