"""Per-invocation limits, counted and enforced the way production enforces them.

An invocation is a request, a cron event or an operator step (``Runtime.invoke``), together
with the ``waitUntil`` work it schedules: they share one :class:`Meter`, found through the
``CURRENT`` context variable (asyncio copies it into every task the invocation creates, so
concurrent requests on one loop never see each other's meter). The limits are
``edgenotify.limits.Limits`` (plan defaults, ``LIMIT_*`` overrides).

What is counted, and what refuses:

* every binding call (D1 ``all/run/first/raw/batch/exec``, each KV and R2 operation) is one
  subrequest, and also one D1 query or one KV operation. A ``batch`` is one query (one call,
  as the platform counts it); a bulk KV ``get`` is one operation. Past a limit the call throws
  ``Too many API requests by single Worker invocation. ...``, production's text;
* every outbound HTTP request (httpx's transport, hooked in :func:`install_httpx_hook`) is one
  subrequest; past the limit it throws ``Too many subrequests by single Worker invocation. ...``.
  At most ``connections`` (6) requests wait for response headers at once; more wait in a queue,
  as production queues them (a connection stops counting once its headers arrive);
* a D1 result over ``d1_result_bytes`` (50 MB; TEXT/BLOB bytes + 8 per other value) fails the
  call, rolled back (the text is ours: production's is not documented);
* CPU time: the invocation's coroutines are driven step by step (:func:`drive`) and each step
  adds its ``time.thread_time()`` delta, minus the time spent inside the embedded bindings
  (on the edge D1, KV and R2 work happens in other processes and is I/O, not CPU). It is
  checked at every binding call, every outbound request and every suspension; past the limit
  the invocation is stopped with :class:`CpuLimitExceeded`, a ``BaseException`` so that no
  ``except Exception`` handler of the worker swallows it (on the edge the isolate is killed
  and no handler runs at all).
"""

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from devkit.embedded.jsvalues import JsException

if TYPE_CHECKING:
    from edgenotify.limits import Limits

T = TypeVar("T")

CONFIGURE = "To configure this limit, refer to https://developers.cloudflare.com/workers/wrangler/configuration/#limits"
TOO_MANY_API_REQUESTS = f"Too many API requests by single Worker invocation. {CONFIGURE}"
TOO_MANY_SUBREQUESTS = f"Too many subrequests by single Worker invocation. {CONFIGURE}"
CPU_EXCEEDED = "Worker exceeded CPU time limit."


class LimitExceeded(JsException):
    """A call refused because its invocation used up a limit; ``limit`` names which one."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit


class CpuLimitExceeded(BaseException):  # noqa: N818 - the platform's name for it (Pyodide's workerd glue)
    """The invocation ran past its CPU time: it stops here, whatever handlers it has."""

    limit = "cpu_ms"

    def __init__(self) -> None:
        super().__init__(CPU_EXCEEDED)


@dataclass
class Usage:
    """What one invocation used (shown on the dev server's line per invocation)."""

    d1_queries: int = 0
    rows_read: int = 0
    rows_written: int = 0
    kv_operations: int = 0
    r2_operations: int = 0
    fetches: int = 0
    subrequests: int = 0
    cpu_ms: float = 0.0


class Meter:
    """One invocation's counters and limits."""

    def __init__(self, limits: "Limits"):
        self.limits = limits
        self.usage = Usage()
        self.refused: str | None = None  # the first limit that refused a call, for the log line
        self.stopped = False  # past its CPU time: every later step and call is refused
        self._cpu = 0.0  # seconds of finished steps, binding time included
        self._io = 0.0  # seconds spent inside embedded bindings (not worker CPU on the edge)
        self._step_started: float | None = None
        self._gate: asyncio.Semaphore | None = None

    # -- CPU -----------------------------------------------------------------------------
    def cpu_seconds(self) -> float:
        running = time.thread_time() - self._step_started if self._step_started is not None else 0.0
        return self._cpu + running - self._io

    def check_cpu(self) -> None:
        if self.stopped or self.cpu_seconds() * 1000 > self.limits.cpu_ms:
            self._stop()

    def _stop(self) -> None:
        self.stopped = True
        self.refused = self.refused or "cpu_ms"
        raise CpuLimitExceeded

    def _step(self, coro: Coroutine[Any, Any, Any], value: Any, thrown: BaseException | None) -> Any:
        started = time.thread_time()
        self._step_started = started
        try:
            return coro.throw(thrown) if thrown is not None else coro.send(value)
        finally:
            self._step_started = None
            self._cpu += time.thread_time() - started
            self.usage.cpu_ms = max(0.0, (self._cpu - self._io) * 1000)

    # -- calls ---------------------------------------------------------------------------
    def _refuse(self, message: str, limit: str) -> None:
        self.refused = self.refused or limit
        raise LimitExceeded(message, limit)

    @contextmanager
    def binding_call(self, service: str, own_time: bool = True) -> Iterator["Meter"]:
        """One D1/KV/R2 call: counted (or refused), its own time kept out of the CPU figure
        (``own_time=False``: the call runs on another thread and awaits, so this thread's time
        meanwhile is the invocation's own)."""
        self.check_cpu()
        usage, limits = self.usage, self.limits
        if usage.subrequests >= limits.subrequests:
            self._refuse(TOO_MANY_API_REQUESTS, "subrequests")
        if service == "d1":
            if usage.d1_queries >= limits.d1_queries:
                self._refuse(TOO_MANY_API_REQUESTS, "d1_queries")
            usage.d1_queries += 1
        elif service == "kv":
            if usage.kv_operations >= limits.kv_operations:
                self._refuse(TOO_MANY_API_REQUESTS, "kv_operations")
            usage.kv_operations += 1
        else:
            usage.r2_operations += 1
        usage.subrequests += 1
        if not own_time:
            yield self
            return
        started = time.thread_time()
        try:
            yield self
        finally:
            self._io += time.thread_time() - started

    def rows(self, read: int, written: int) -> None:
        self.usage.rows_read += read
        self.usage.rows_written += written

    def check_result_size(self, rows: list[tuple[Any, ...]]) -> str | None:
        """The refusal text when a D1 result is over ``d1_result_bytes``, else None."""
        size = result_bytes(rows)
        if size <= self.limits.d1_result_bytes:
            return None
        self.refused = self.refused or "d1_result_bytes"
        return f"result of {size} bytes is over the {self.limits.d1_result_bytes}-byte limit of a D1 query result"

    def fetch(self) -> None:
        """One outbound request: counted, or refused past the subrequest limit."""
        self.check_cpu()
        if self.usage.subrequests >= self.limits.subrequests:
            self._refuse(TOO_MANY_SUBREQUESTS, "subrequests")
        self.usage.subrequests += 1
        self.usage.fetches += 1

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """One of the invocation's connection slots, held until the response headers arrive."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limits.connections)
        async with self._gate:
            yield


def result_bytes(rows: list[tuple[Any, ...]]) -> int:
    """The size D1 would ship for ``rows``: TEXT/BLOB lengths, 8 bytes per other value (column-wise, at C speed)."""
    total = 0
    for column in zip(*rows, strict=True):
        kinds = set(map(type, column))
        if kinds <= _SIZED:
            total += sum(map(len, filter(None, column)))
        else:
            total += sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in column)
    return total


_SIZED = frozenset({str, bytes, type(None)})

CURRENT: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("embedded_invocation_meter", default=None)


def current() -> Meter | None:
    return CURRENT.get()


def binding_call(service: str, own_time: bool = True) -> AbstractContextManager[Any]:
    """``Meter.binding_call`` of the current invocation; nothing outside one (tests, CLIs, migrations)."""
    meter = CURRENT.get()
    return nullcontext() if meter is None else meter.binding_call(service, own_time)


class _Stepper:
    """Runs a coroutine one step at a time inside its task, adding each step's CPU to ``meter``."""

    def __init__(self, coro: Coroutine[Any, Any, T], meter: Meter):
        self.coro = coro
        self.meter = meter

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, meter = self.coro, self.meter
        value: Any = None
        thrown: BaseException | None = None
        while True:
            if meter.stopped:
                coro.close()
                raise CpuLimitExceeded
            try:
                yielded = meter._step(coro, value, thrown)
            except StopIteration as stop:
                return stop.value
            except CpuLimitExceeded:
                meter.stopped = True
                raise
            if meter.cpu_seconds() * 1000 > meter.limits.cpu_ms:
                meter.stopped = True
                meter.refused = meter.refused or "cpu_ms"
                continue  # closes the coroutine and raises at the top of the loop
            try:
                value, thrown = (yield yielded), None
            except BaseException as exc:  # cancellation and the like: handed to the coroutine
                value, thrown = None, exc


async def drive(coro: Coroutine[Any, Any, T], meter: Meter) -> T:
    """Await ``coro`` as part of ``meter``'s invocation (CPU counted per step)."""
    return await _Stepper(coro, meter)


def _is_driven(coro: Any) -> bool:
    return getattr(coro, "cr_code", None) is drive.__code__


def install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
    """Make every task created inside an invocation (``gather``, ``wait_for``...) part of its CPU meter."""
    previous = loop.get_task_factory()
    if getattr(previous, "embedded_meter", False):
        return

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> Any:
        # ``options``: ``context`` (3.11+), ``name`` and ``eager_start`` (3.13+), as create_task passes them.
        context: contextvars.Context | None = options.get("context")
        meter = CURRENT.get() if context is None else context.get(CURRENT)
        if meter is not None and asyncio.iscoroutine(coro) and not _is_driven(coro):
            coro = drive(coro, meter)
        if previous is not None:
            return previous(loop, coro, **options)
        return asyncio.Task(coro, loop=loop, **options)

    factory.embedded_meter = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)


_httpx_installed = False


def install_httpx_hook() -> None:
    """Count and gate httpx's own transport (what the worker's outbound HTTP uses on CPython)."""
    global _httpx_installed
    if _httpx_installed:
        return
    import httpx

    original = httpx.AsyncHTTPTransport.handle_async_request

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        meter = CURRENT.get()
        if meter is None:
            return await original(self, request)
        meter.fetch()
        async with meter.connection():  # httpx returns once the headers are in; the body streams after
            return await original(self, request)

    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    _httpx_installed = True
