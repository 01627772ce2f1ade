"""The ``ctx`` a Worker gets: ``waitUntil`` work that outlives the response, plus a way to await it.

On the edge ``self.ctx.waitUntil(coro)`` takes a Python coroutine directly (the SDK patches it)
and the runtime keeps the isolate alive until the work settles. Here each call becomes an
asyncio task on the server's loop, tracked so that shutdown and tests can ``await ctx.drain()``
instead of sleeping. A failing task is logged, never raised into the request that scheduled it.
"""

import asyncio
import traceback
from collections.abc import Awaitable
from typing import Any

from devkit.embedded.meter import Meter, drive


class WorkTracker:
    """All pending ``waitUntil`` work of one server (shared by its per-request contexts)."""

    def __init__(self) -> None:
        self.pending: set[asyncio.Task[Any]] = set()
        self.failures: list[BaseException] = []

    def add(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(work)
        self.pending.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.failures.append(exc)
            print("waitUntil task failed:\n" + "".join(traceback.format_exception(exc)), flush=True)

    async def drain(self) -> None:
        """Wait until no work is pending, including work scheduled by work that was pending."""
        while self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)


class ExecutionContext:
    """``self.ctx``: ``waitUntil(awaitable)``, ``passThroughOnException()``, ``drain()``.

    With a ``meter`` (the runtime's invocations), ``waitUntil`` work is part of the invocation
    that scheduled it: same limits, same CPU budget, as on the edge.
    """

    def __init__(self, tracker: WorkTracker | None = None, meter: Meter | None = None):
        self.tracker = tracker or WorkTracker()
        self.meter = meter
        self.own: set[asyncio.Future[Any]] = set()
        self.scheduled = 0  # waitUntil calls so far

    def waitUntil(self, work: Awaitable[Any]) -> None:
        if not asyncio.iscoroutine(work) and not isinstance(work, asyncio.Future):
            raise TypeError(f"waitUntil expects a coroutine or future, got {type(work).__name__}")
        if self.meter is not None and asyncio.iscoroutine(work):
            work = drive(work, self.meter)
        task = self.tracker.add(work)
        self.scheduled += 1
        self.own.add(task)
        task.add_done_callback(self.own.discard)

    def passThroughOnException(self) -> None:
        """Meaningful only behind a Cloudflare route; accepted for API compatibility."""

    async def drain(self) -> None:
        await self.tracker.drain()

    async def settle(self) -> None:
        """Wait until the work this context scheduled (and the work that work scheduled) is done."""
        while self.own:
            await asyncio.gather(*list(self.own), return_exceptions=True)

    @property
    def pending(self) -> int:
        return len(self.tracker.pending)


class ScheduledController:
    """The ``controller`` of ``scheduled()``: ``cron``, ``scheduledTime`` (ms), ``type``, ``noRetry()``."""

    type = "scheduled"

    def __init__(self, cron: str, scheduled_time_ms: int):
        self.cron = cron
        self.scheduledTime = scheduled_time_ms
        self.retry = True

    def noRetry(self) -> None:
        self.retry = False
