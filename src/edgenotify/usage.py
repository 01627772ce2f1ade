"""What one invocation used (D1 round trips and rows, KV and R2 operations, outbound requests).

The worker counts for itself, so that its log line per invocation says the same thing on the edge
(``wrangler tail``, Workers Logs) as locally. Counting must cost next to nothing and depend on no
runtime: one context variable, set for the duration of a request, a cron event or a piece of
``waitUntil`` work (asyncio copies it into every task started inside), and a few integer
additions per binding call. Outside an observed invocation (tests calling code directly, CLIs)
nothing is counted.

* D1: :class:`edgenotify.db.Database` reports every round trip with its rows (``meta``);
* KV and R2: ``Context.kv`` / ``Context.r2`` are :class:`CountedBinding` views of the bindings;
* outbound HTTP: :func:`on_request`, an httpx ``request`` event hook, one per request sent.
"""

import inspect
from collections.abc import Awaitable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    route: str | None = None  # the matched route's pattern (requests)
    d1_round_trips: int = 0
    rows_read: int = 0
    rows_written: int = 0
    kv_operations: int = 0
    r2_operations: int = 0
    fetches: int = 0

    @property
    def subrequests(self) -> int:
        """Every binding call and outbound request, as the platform counts subrequests."""
        return self.d1_round_trips + self.kv_operations + self.r2_operations + self.fetches


_CURRENT: ContextVar[Usage | None] = ContextVar("edgenotify_usage", default=None)


def start() -> tuple[Usage, Token[Usage | None]]:
    """Begin counting for the current invocation; pass the token to :func:`stop`."""
    usage = Usage()
    return usage, _CURRENT.set(usage)


def stop(token: Token[Usage | None]) -> None:
    _CURRENT.reset(token)


def note_route(pattern: str) -> None:
    usage = _CURRENT.get()
    if usage is not None:
        usage.route = pattern


def count_d1() -> None:
    """One D1 round trip sent (counted even when it then fails: it was a subrequest)."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.d1_round_trips += 1


def count_rows(rows_read: int, rows_written: int) -> None:
    usage = _CURRENT.get()
    if usage is not None:
        usage.rows_read += rows_read
        usage.rows_written += rows_written


def _count(service: str) -> None:
    usage = _CURRENT.get()
    if usage is not None:
        if service == "kv":
            usage.kv_operations += 1
        else:
            usage.r2_operations += 1


async def on_request(request: Any) -> None:
    """httpx ``event_hooks={"request": [on_request]}``: one outbound request."""
    usage = _CURRENT.get()
    if usage is not None:
        usage.fetches += 1


# R2 calls that send no request (a handle on an upload), and the ones whose result has calls of its own.
_LOCAL = frozenset({"resumeMultipartUpload"})
_HANDLES = frozenset({"createMultipartUpload", "resumeMultipartUpload"})


class CountedBinding:
    """A KV namespace or R2 bucket (or upload) whose method calls are counted; everything else passes."""

    __slots__ = ("_target", "_service")

    def __init__(self, binding: Any, service: str):
        self._target = binding
        self._service = service

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        service = self._service

        def call(*args: Any, **kwargs: Any) -> Any:
            if name not in _LOCAL:
                _count(service)
            result = attr(*args, **kwargs)
            if name not in _HANDLES:
                return result
            return _counted_later(result, service) if inspect.isawaitable(result) else CountedBinding(result, service)

        return call


async def _counted_later(result: Awaitable[Any], service: str) -> "CountedBinding":
    return CountedBinding(await result, service)
