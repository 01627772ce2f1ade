"""Is a restore replacing the data? The question every client route and cron asks first.

The marker is the running restore job's row in ``ops_jobs``. Client routes must not pay a D1
round trip for it on the hot path (a warm send is exactly one batch), so each isolate caches the
answer for ``TTL_SECONDS``; a restore therefore starts replacing data only ``QUIESCE_SECONDS``
after its row exists (``restore.new_job``), when every isolate's cached "no" has expired and the
requests that began before have ended. The isolate that starts or ends a restore updates its own
cache at once. Crons ask uncached (``current``): they run rarely and act on the data.
"""

import time
from collections.abc import Callable
from typing import Any

from edgenotify.db import D1Error, Database
from edgenotify.migrations.automigrate import database_key

TTL_SECONDS = 30.0
QUIESCE_SECONDS = 90.0
_cache: dict[Any, tuple[float, str | None]] = {}


async def current(db: Database) -> str | None:
    """The id of the running restore job, or None (also when the jobs table does not exist yet)."""
    try:
        row = await db.first("SELECT id FROM ops_jobs WHERE status = 'running' AND kind = 'restore' LIMIT 1")
    except D1Error:
        return None
    return str(row["id"]) if row else None


async def cached(db: Database, clock: Callable[[], float] = time.monotonic) -> str | None:
    """``current`` through this isolate's cache: a D1 query at most once per TTL_SECONDS."""
    key = database_key(db.binding)
    hit = _cache.get(key)
    now = clock()
    if hit is not None and now - hit[0] < TTL_SECONDS:
        return hit[1]
    job_id = await current(db)
    _cache[key] = (now, job_id)
    return job_id


def remember(db: Database, job_id: str | None, clock: Callable[[], float] = time.monotonic) -> None:
    """This isolate started (``job_id``) or ended (None) a restore: its own routes know at once."""
    _cache[database_key(db.binding)] = (clock(), job_id)


def forget(db: Database) -> None:
    _cache.pop(database_key(db.binding), None)
