"""Run the Worker's ``Default`` entrypoint on CPython: one instance per event, like workerd.

``load_entrypoint`` installs the ``workers`` shim, then imports ``src/entry.py`` exactly as the
edge would. ``Runtime`` owns the env, the per-invocation limits and the pending ``waitUntil``
work of one "isolate". Every event is one invocation with its own :class:`~devkit.embedded.meter.Meter`
(limits from ``edgenotify.limits.Limits.from_env`` and ``[limits] cpu_ms`` of wrangler.toml);
``report`` receives an :class:`Invocation` once the event and its ``waitUntil`` work are done.
"""

import asyncio
import importlib
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from devkit.embedded import workers_shim
from devkit.embedded.context import ExecutionContext, ScheduledController, WorkTracker
from devkit.embedded.env import ROOT, configured_cpu_ms
from devkit.embedded.meter import (
    CPU_EXCEEDED,
    CURRENT,
    CpuLimitExceeded,
    Meter,
    Usage,
    drive,
    install_httpx_hook,
    install_task_factory,
)
from edgenotify.limits import Limits

SRC = Path(__file__).resolve().parents[2] / "src"
T = TypeVar("T")


def load_entrypoint(module: str = "entry", name: str = "Default") -> type:
    workers_shim.install()
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    return getattr(importlib.import_module(module), name)


@dataclass
class Invocation:
    """One finished invocation: what ran, how it ended, what it used."""

    kind: str  # "fetch", "scheduled" or "invoke"
    name: str  # "GET /path", the cron, or the operator step's label
    outcome: str  # the HTTP status; "ok", "exception" or "exceededCpu" otherwise (workerd's outcomes)
    duration_ms: float  # until the response (fetch) or the end of the event, waitUntil work excluded
    usage: Usage
    refused: str | None  # the limit that refused a call, if any
    wait_until: int  # waitUntil tasks it scheduled

    def line(self) -> str:
        """The dev server's line for it: what ran, how it ended, what it used of its limits."""
        usage = self.usage
        what = f'cron "{self.name}"' if self.kind == "scheduled" else self.name
        parts = [
            f"[embedded] {what} {self.outcome} {self.duration_ms:.1f}ms",
            f"d1 {usage.d1_queries} (rows read {usage.rows_read}, written {usage.rows_written})",
            f"kv {usage.kv_operations}",
            f"subrequests {usage.subrequests} (fetch {usage.fetches})",
            f"cpu {usage.cpu_ms:.1f}ms",
        ]
        if self.wait_until:
            parts.append(f"waitUntil {self.wait_until}")
        if self.refused:
            parts.append(f"limit reached: {self.refused}")
        return " | ".join(parts)


def request_name(request: workers_shim.Request) -> str:
    """``METHOD /path?query`` of a request, for the invocation line (the method as sent, even one the SDK lacks)."""
    url = urlsplit(request.url)
    return f"{request._method} {url.path}{'?' + url.query if url.query else ''}"


def exceeded_cpu_response() -> workers_shim.Response:
    """What a client gets when the invocation ran out of CPU (the edge answers its error 1102 page, 503)."""
    body = {"error": {"code": "exceeded_cpu", "message": CPU_EXCEEDED}}
    return workers_shim.Response.json(body, status=503)


class Runtime:
    """The embedded isolate: ``env`` + entrypoint class + limits + the tracker of ``waitUntil`` work."""

    def __init__(
        self,
        env: Any,
        entrypoint: type | None = None,
        config_path: str | Path = ROOT / "wrangler.toml",
        report: Callable[[Invocation], None] | None = None,
    ):
        self.env = env
        self._entrypoint = entrypoint
        self.limits = Limits.from_env(env, cpu_ms=configured_cpu_ms(Path(config_path)))
        self.tracker = WorkTracker()
        self.report = report
        install_httpx_hook()

    @property
    def entrypoint(self) -> type:
        if self._entrypoint is None:
            self._entrypoint = load_entrypoint()
        return self._entrypoint

    def context(self, meter: Meter | None = None) -> ExecutionContext:
        return ExecutionContext(self.tracker, meter)

    async def _run(self, meter: Meter, coro: Coroutine[Any, Any, T]) -> T:
        install_task_factory(asyncio.get_running_loop())
        token = CURRENT.set(meter)
        try:
            return await drive(coro, meter)
        finally:
            CURRENT.reset(token)

    def _finish(self, ctx: ExecutionContext, meter: Meter, kind: str, name: str, outcome: str, started: float) -> None:
        """Report the invocation now, or once its ``waitUntil`` work is done (the limits cover both)."""
        duration = (time.perf_counter() - started) * 1000
        scheduled = ctx.scheduled

        def report() -> None:
            if self.report is not None:
                self.report(Invocation(kind, name, outcome, duration, meter.usage, meter.refused, scheduled))

        if not ctx.own:
            report()
            return

        async def later() -> None:
            await ctx.settle()
            report()

        self.tracker.add(later())

    async def fetch(self, request: workers_shim.Request) -> workers_shim.Response:
        meter, started = Meter(self.limits), time.perf_counter()
        ctx = self.context(meter)
        response: Any = None
        try:
            response = await self._run(meter, self.entrypoint(ctx, self.env).fetch(request))
        except CpuLimitExceeded:
            response = exceeded_cpu_response()
        finally:
            outcome = str(response.status) if isinstance(response, workers_shim.Response) else "exception"
            self._finish(ctx, meter, "fetch", request_name(request), outcome, started)
        if not isinstance(response, workers_shim.Response):
            raise TypeError(f"fetch() must return a workers.Response, not {type(response).__name__}")
        return response

    async def scheduled(self, cron: str, scheduled_time_ms: int | None = None) -> str:
        """Call ``scheduled(controller, None, None)`` as workerd does for class entrypoints.

        Returns the event outcome as Miniflare reports it: ``"ok"``, ``"exception"`` or
        ``"exceededCpu"``. Like workerd, the event lasts until the ``waitUntil`` work it
        scheduled has settled.
        """
        when = int(time.time() * 1000) if scheduled_time_ms is None else scheduled_time_ms
        controller = ScheduledController(cron, when)
        meter, started = Meter(self.limits), time.perf_counter()
        ctx = self.context(meter)
        try:
            await self._run(meter, self.entrypoint(ctx, self.env).scheduled(controller, None, None))
            outcome = "ok"
        except CpuLimitExceeded:
            outcome = "exceededCpu"
        except Exception:
            print(f"scheduled({cron!r}) threw:\n{traceback.format_exc()}", flush=True)
            outcome = "exception"
        await ctx.settle()
        if meter.stopped:
            outcome = "exceededCpu"
        self._finish(ctx, meter, "scheduled", cron, outcome, started)
        return outcome

    async def invoke(self, label: str, work: Callable[[ExecutionContext], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(ctx)`` as one invocation (an operator step, e.g. one step of a long job).

        The same limits, CPU meter and ``waitUntil`` rules as a request or a cron event; a limit
        reached raises here (``LimitExceeded`` from the call it refused, or ``CpuLimitExceeded``),
        so a driver can record the step as interrupted and carry on in the next invocation.
        """
        meter, started = Meter(self.limits), time.perf_counter()
        ctx = self.context(meter)
        outcome = "exception"
        try:
            result = await self._run(meter, work(ctx))
            outcome = "ok"
        except CpuLimitExceeded:
            outcome = "exceededCpu"
            raise
        finally:
            await ctx.settle()  # waitUntil work belongs to the step (and stops with it)
            if meter.stopped:
                outcome = "exceededCpu"
            self._finish(ctx, meter, "invoke", label, outcome, started)
        if meter.stopped:
            raise CpuLimitExceeded
        return result

    async def drain(self) -> None:
        await self.tracker.drain()
