"""Per-invocation limits of a Cloudflare Worker: the one place their numbers live.

Production caps every invocation (a request, a cron event, and the ``waitUntil`` work that follows
either): D1 queries, KV operations, subrequests, simultaneous outbound connections, the size of one
D1 result, and CPU time. Past a cap the runtime throws, and an isolate past its CPU time is killed
without reaching any error handler. Two readers use these numbers: the embedded runtime enforces
them (so a limit is hit in a test before it is hit in production), and long jobs (backup, restore,
archive, retries) size their steps to stay well inside them.

The plan sets the defaults (``LIMIT_PLAN`` = ``paid`` or ``free``); each number can be lowered
through the worker's environment (``.dev.vars``, the process environment, or ``[vars]``) with the
names below, so tests and operators can make a long job cross many invocations on purpose.
"""

from dataclasses import dataclass, replace
from typing import Any

MB = 1024 * 1024

ENV_NAMES = {
    "d1_queries": "LIMIT_D1_QUERIES",
    "kv_operations": "LIMIT_KV_OPERATIONS",
    "subrequests": "LIMIT_SUBREQUESTS",
    "connections": "LIMIT_CONNECTIONS",
    "cpu_ms": "LIMIT_CPU_MS",
}
PLAN_ENV_NAME = "LIMIT_PLAN"


class LimitsConfigError(ValueError):
    """A ``LIMIT_*`` value that is not a positive integer, or an unknown plan."""


@dataclass(frozen=True)
class Limits:
    plan: str
    d1_queries: int
    kv_operations: int
    subrequests: int
    connections: int
    cpu_ms: int
    d1_result_bytes: int = 50 * MB

    @classmethod
    def for_plan(cls, plan: str = "paid", cpu_ms: int | None = None) -> "Limits":
        """Production's numbers; ``cpu_ms`` is ``[limits] cpu_ms`` from wrangler.toml when set (paid only)."""
        if plan == "paid":
            return cls("paid", 1000, 1000, 10_000, 6, cpu_ms or 30_000)
        if plan == "free":
            return cls("free", 50, 1000, 50, 6, 10)
        raise LimitsConfigError(f"{PLAN_ENV_NAME} must be 'paid' or 'free', not {plan!r}")

    @classmethod
    def from_env(cls, env: Any, cpu_ms: int | None = None) -> "Limits":
        """The plan's limits, each lowered (or raised) by its ``LIMIT_*`` variable when present."""
        plan = str(getattr(env, PLAN_ENV_NAME, None) or "paid").strip().lower()
        limits = cls.for_plan(plan, cpu_ms)
        overrides = {}
        for field_name, env_name in ENV_NAMES.items():
            raw = getattr(env, env_name, None)
            if raw is None or str(raw).strip() == "":
                continue
            try:
                value = int(str(raw).strip())
            except ValueError:
                value = 0
            if value <= 0:
                raise LimitsConfigError(f"{env_name} must be a positive integer, not {raw!r}")
            overrides[field_name] = value
        return replace(limits, **overrides)
