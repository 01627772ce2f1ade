"""What a handler or cron task gets: the bindings (KV and R2 calls counted), settings, and the D1 facade."""

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from edgenotify.db import Database
from edgenotify.env import Settings
from edgenotify.http.request import HttpRequest
from edgenotify.observability import observed_work
from edgenotify.usage import CountedBinding


@dataclass
class Context:
    env: Any
    ctx: Any  # the runtime's ExecutionContext: waitUntil(coroutine)
    settings: Settings
    db: Database
    request: HttpRequest | None = None
    actor: str = "system"  # "client", "admin" or "system": recorded in audit_logs

    @classmethod
    def create(cls, env: Any, ctx: Any, request: HttpRequest | None = None) -> "Context":
        return cls(env, ctx, Settings.from_env(env), Database(env.DB), request)

    @property
    def kv(self) -> Any:
        return CountedBinding(self.env.CONFIG_CACHE, "kv")

    @property
    def r2(self) -> Any:
        return CountedBinding(self.env.BACKUPS, "r2")

    @property
    def request_id(self) -> str:
        return self.request.request_id if self.request else ""

    def wait_until(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the response is sent (``ctx.waitUntil``), with its own invocation log line."""
        self.ctx.waitUntil(observed_work(work, self.request_id or None))

    @property
    def req(self) -> HttpRequest:
        assert self.request is not None, "not an HTTP context"
        return self.request
