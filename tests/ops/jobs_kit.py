"""Driving jobs invocation by invocation, with kills: what the runtime does to an isolate past a limit.

``Killer`` is FAULT INJECTION around the REAL embedded bindings: every D1 call (through the facade)
and every R2 call is counted, and the call numbered ``at`` raises ``Killed`` before it reaches the
binding (``mode="before"``) or after it completed (``mode="after"``: the work happened, the isolate
died before hearing back). ``Killed`` is a BaseException, so no ``except Exception`` handler of the
job runs, exactly like an isolate killed for CPU time: only the checkpoint in D1 survives.
"""

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from edgenotify.context import Context
from edgenotify.db import Database
from edgenotify.env import Settings


class Killed(BaseException):
    """The isolate died mid-step (a limit, an eviction): nothing after this point runs."""


@dataclass
class Killer:
    at: int | None = None
    mode: str = "before"
    count: int = 0
    d1: int = 0
    r2: int = 0
    fired: bool = False

    async def call(self, kind: str, work: Any) -> Any:
        self.count += 1
        setattr(self, kind, getattr(self, kind) + 1)
        if self.count == self.at and self.mode == "before":
            self.fired = True
            work.close()
            raise Killed(f"killed before call {self.count}")
        result = await work
        if self.count == self.at:
            self.fired = True
            raise Killed(f"killed after call {self.count}")
        return result


class KillingDatabase(Database):
    def __init__(self, binding: Any, killer: Killer):
        super().__init__(binding)
        self.killer = killer

    async def execute(self, query: Any) -> Any:
        return await self.killer.call("d1", super().execute(query))

    async def values(self, sql: str, *params: Any) -> Any:
        return await self.killer.call("d1", super().values(sql, *params))

    async def batch(self, queries: Any) -> Any:
        return await self.killer.call("d1", super().batch(queries))


@dataclass
class KillingR2:
    real: Any
    killer: Killer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name == "resumeMultipartUpload":
            return lambda key, upload_id: KillingR2(attr(key, upload_id), self.killer)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            return self.killer.call("r2", attr(*args, **kwargs))

        return counted


@dataclass
class Invocation:
    """One invocation's context on ``env`` (fresh facades and counters), with an optional kill."""

    env: Any
    killer: Killer = field(default_factory=Killer)

    def context(self) -> Context:
        env = SimpleNamespace(**{k: v for k, v in vars(self.env).items()})
        env.BACKUPS = KillingR2(self.env.BACKUPS, self.killer)
        return Context(env, None, Settings.from_env(env), KillingDatabase(self.env.DB, self.killer))
