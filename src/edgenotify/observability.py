"""Structured logs: one JSON object per line, the shape `wrangler tail` and Workers Logs index.

Every log line the worker writes goes through ``log_event`` so that each line is machine-readable,
names its event, and never carries a secret (callers pass masked values only).

One ``invocation`` line closes every request, cron event and piece of ``waitUntil`` work: what ran
(route pattern or cron, never a raw path or a body), how it ended, how long it took and what it used
(:mod:`edgenotify.usage`), so a slow or failing invocation can be found and explained from the logs.
"""

import json
import time
from collections.abc import Coroutine
from typing import Any

from edgenotify import usage as counters


def log_event(event: str, **fields: Any) -> None:
    """Print one JSON line: ``{"event": ..., **fields}`` (``None`` fields left out)."""
    record = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
    print(json.dumps(record, separators=(",", ":"), default=str, ensure_ascii=False))


def log_invocation(kind: str, used: counters.Usage, started: float, **fields: Any) -> None:
    """The ``invocation`` line: ``fields`` say what ran and how it ended; ``started`` is ``time.perf_counter()``."""
    log_event(
        "invocation",
        kind=kind,
        **fields,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        d1_round_trips=used.d1_round_trips,
        rows_read=used.rows_read,
        rows_written=used.rows_written,
        kv_operations=used.kv_operations,
        r2_operations=used.r2_operations,
        fetches=used.fetches,
        subrequests=used.subrequests,
    )


async def observed_work(work: Coroutine[Any, Any, Any], request_id: str | None) -> None:
    """``work`` as a ``waitUntil`` invocation of its own: counted, and closed by its ``invocation`` line."""
    started = time.perf_counter()
    used, token = counters.start()
    status, error_code = "exception", None
    try:
        await work
        status = "ok"
    except BaseException as exc:  # the runtime reports it too; the line says which work failed
        error_code = type(exc).__name__
        raise
    finally:
        counters.stop(token)
        name = getattr(work, "__qualname__", None)
        log_invocation(
            "waitUntil", used, started, request_id=request_id, work=name, status=status, error_code=error_code
        )
