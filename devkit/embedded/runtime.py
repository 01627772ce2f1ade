"""Run the Worker's ``Default`` entrypoint on CPython: one instance per event, like workerd.

``load_entrypoint`` installs the ``workers`` shim, then imports ``src/entry.py`` exactly as the
edge would. ``Runtime`` owns the env and the pending ``waitUntil`` work of one "isolate".
"""

import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from devkit.embedded import workers_shim
from devkit.embedded.context import ExecutionContext, ScheduledController, WorkTracker

SRC = Path(__file__).resolve().parents[2] / "src"


def load_entrypoint(module: str = "entry", name: str = "Default") -> type:
    workers_shim.install()
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    return getattr(importlib.import_module(module), name)


class Runtime:
    """The embedded isolate: ``env`` + entrypoint class + the tracker of ``waitUntil`` work."""

    def __init__(self, env: Any, entrypoint: type | None = None):
        self.env = env
        self.entrypoint = entrypoint or load_entrypoint()
        self.tracker = WorkTracker()

    def context(self) -> ExecutionContext:
        return ExecutionContext(self.tracker)

    async def fetch(self, request: workers_shim.Request) -> workers_shim.Response:
        response = await self.entrypoint(self.context(), self.env).fetch(request)
        if not isinstance(response, workers_shim.Response):
            raise TypeError(f"fetch() must return a workers.Response, not {type(response).__name__}")
        return response

    async def scheduled(self, cron: str, scheduled_time_ms: int | None = None) -> str:
        """Call ``scheduled(controller, None, None)`` as workerd does for class entrypoints.

        Returns the event outcome as Miniflare reports it: ``"ok"`` or ``"exception"``. Like
        workerd, the event lasts until the ``waitUntil`` work it scheduled has settled.
        """
        when = int(time.time() * 1000) if scheduled_time_ms is None else scheduled_time_ms
        controller = ScheduledController(cron, when)
        ctx = self.context()
        try:
            await self.entrypoint(ctx, self.env).scheduled(controller, None, None)
            outcome = "ok"
        except Exception:
            print(f"scheduled({cron!r}) threw:\n{traceback.format_exc()}", flush=True)
            outcome = "exception"
        await ctx.drain()
        return outcome

    async def drain(self) -> None:
        await self.tracker.drain()
