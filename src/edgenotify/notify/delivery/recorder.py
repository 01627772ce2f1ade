"""Writes each message's outcome as soon as its attempt ends: group commit, never a batch-wide wait.

Recording a whole run's outcomes after its slowest attempt made one slow receiver hold every
other message's outcome past its lease, and the next run sent them all again. Here each finished
attempt hands its statements (one :class:`Group`, all guarded by that message's lease) to the
recorder; one writer waits at most :data:`LINGER_SECONDS` for company, then writes whatever has
finished meanwhile and while its previous write was in flight, in one D1 batch (at most
:data:`MAX_GROUPS_PER_BATCH` messages). A message is therefore on disk within about the linger
plus one D1 round trip of its answer, whatever its neighbours do, and a run of N messages costs
between N / MAX_GROUPS_PER_BATCH and N batches (fewer batches: fewer D1 queries and less CPU).

A batch is a transaction: if it fails, its groups are written one by one, so one message's bad
statement cannot take the others' outcomes with it. A group that still cannot be written keeps
its lease; the retry cron takes the message over when the lease expires.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db.d1 import Query, Result
from edgenotify.observability import log_event

MAX_GROUPS_PER_BATCH = 100
LINGER_SECONDS = 0.05  # far below any lease: only groups outcomes that end close together


@dataclass
class Group:
    """One message's outcome statements; ``after`` runs with their results once they are written."""

    message_id: str
    queries: list[Query]
    after: Callable[[list[Result]], Awaitable[None]] | None = None


@dataclass
class Recorder:
    db: Any
    batches: int = 0
    failures: list[str] = field(default_factory=list)
    _queue: list[Group] = field(default_factory=list)
    _writer: "asyncio.Task[None] | None" = None

    def add(self, group: Group) -> None:
        self._queue.append(group)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())

    async def flush(self) -> None:
        """Wait until everything added so far is written (or given up on)."""
        while self._writer is not None and not self._writer.done():
            await self._writer

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < MAX_GROUPS_PER_BATCH:
                await asyncio.sleep(LINGER_SECONDS)
            groups = self._queue[:MAX_GROUPS_PER_BATCH]
            del self._queue[:MAX_GROUPS_PER_BATCH]
            await self._write(groups)

    async def _write(self, groups: Sequence[Group]) -> None:
        try:
            results = await self.db.batch([q for g in groups for q in g.queries])
            self.batches += 1
        except Exception as exc:
            if len(groups) == 1:
                self.failures.append(f"{groups[0].message_id}: {type(exc).__name__}: {exc}")
                log_event("delivery.record_failed", message_id=groups[0].message_id, error=f"{type(exc).__name__}")
                return
            for group in groups:
                await self._write([group])
            return
        offset = 0
        for group in groups:
            mine = results[offset : offset + len(group.queries)]
            offset += len(group.queries)
            if group.after is not None:
                try:
                    await group.after(mine)
                except Exception as exc:  # a follow-up (e.g. a KV invalidation) must not stop the writer
                    log_event("delivery.after_record_failed", message_id=group.message_id, error=str(exc))
