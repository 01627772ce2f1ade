"""How much work one invocation of a job may still do, measured as it goes.

A job step must end well inside the invocation's limits (``edgenotify.limits``): past a D1 query
or subrequest cap the runtime throws, and an isolate past its CPU time is killed without reaching
any handler. So a step takes only ``SHARE`` of each limit (the rest is margin, and room for the
invocation's other work), and budgets four things at once:

* D1 queries, and subrequests (R2 calls and D1 queries), counted at the facades
  (``Database.round_trips``, ``Bucket.calls``);
* time: on the edge the clock only advances across I/O, so elapsed time over a step's awaits is an
  upper bound of its CPU time; the step stops before a unit whose cost (the largest seen so far,
  doubled) would not fit;
* rows, from the measured Pyodide CPU per row (the edge runs Python ~3x slower than CPython on a
  backup, ~6x on a restore): a cap that holds even when the clock says nothing.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgenotify.db import Database
from edgenotify.limits import Limits
from edgenotify.ops.bucket import Bucket

SHARE = 0.5
# Pyodide main-thread CPU per row, rounded up: the row cap of a step is SHARE of the CPU limit divided
# by these. Measured by `scripts/bench pyodide_jobs` (bench/RESULTS.md) at 200k log rows: backup 36 s
# per million, restore 82 s, of which Miniflare's D1 client (not in production) 11 s and 50 s.
# An integrity pass touches no row in Python (SQLite counts them): its entry only caps the rows one
# step asks D1 to scan.
CPU_MS_PER_ROW = {"backup": 0.035, "restore": 0.06, "integrity": 0.001}


@dataclass
class Budget:
    queries: int
    subrequests: int
    seconds: float
    rows: int
    db: Database
    bucket: Bucket
    clock: Callable[[], float] = time.monotonic
    _q0: int = 0
    _r0: int = 0
    _t0: float = 0.0
    rows_done: int = 0
    hard_queries: int = 0  # the invocation's whole limit left at the start (not just SHARE of it)
    units: int = 0  # units of work measured so far in this invocation
    _unit_cost: float = field(default=0.0)

    @classmethod
    def for_invocation(
        cls, limits: Limits, kind: str, db: Database, bucket: Bucket, clock: Callable[[], float] = time.monotonic
    ) -> "Budget":
        """SHARE of the invocation's limits, less what this invocation has already used."""
        cpu_ms = limits.cpu_ms * SHARE
        budget = cls(
            queries=int(limits.d1_queries * SHARE) - db.round_trips,
            subrequests=int(limits.subrequests * SHARE) - bucket.calls - db.round_trips,
            seconds=cpu_ms / 1000,
            rows=max(1, int(cpu_ms / CPU_MS_PER_ROW[kind])),
            db=db,
            bucket=bucket,
            clock=clock,
            hard_queries=limits.d1_queries - db.round_trips,
        )
        budget._q0, budget._r0, budget._t0 = db.round_trips, bucket.calls, clock()
        return budget

    @classmethod
    def unlimited(cls, db: Database, bucket: Bucket) -> "Budget":
        """For one-shot runs outside a Worker invocation (a local CLI on a file, benchmarks)."""
        big = 1 << 60
        return cls(big, big, float(big), big, db, bucket, hard_queries=big, _q0=db.round_trips, _r0=bucket.calls)

    @property
    def queries_left(self) -> int:
        return self.queries - (self.db.round_trips - self._q0)

    @property
    def subrequests_left(self) -> int:
        """Every binding call is a subrequest on the edge: R2 calls and D1 queries alike."""
        used = (self.bucket.calls - self._r0) + (self.db.round_trips - self._q0)
        return self.subrequests - used

    @property
    def elapsed(self) -> float:
        return self.clock() - self._t0

    def measure(self, seconds: float) -> None:
        """Record the cost of one unit of work (a page, a batch): the next must fit twice over."""
        self._unit_cost = max(self._unit_cost, seconds)
        self.units += 1

    def allows(self, queries: int = 1, subrequests: int = 0, rows: int = 0) -> bool:
        """Whether one more unit needing ``queries`` and ``subrequests`` fits (plus the step's final save).

        Time and rows never refuse a step's first unit: a step that did nothing would be repeated
        forever (on a loaded machine the fixed work before it may already use the time budget).
        """
        first = self.units == 0
        return (
            self.queries_left >= queries + 1
            and self.subrequests_left >= subrequests
            and (first or self.elapsed + 2 * self._unit_cost <= self.seconds)
            and (first or self.rows_done + rows <= self.rows)
        )

    def allows_one(self, queries: int) -> bool:
        """For a step's FIRST unit, which must happen for the job to progress: it may use the margin
        beyond SHARE, never the last queries of the invocation's limit."""
        return self.hard_queries - (self.db.round_trips - self._q0) >= queries + 2

    def usage(self) -> dict[str, float]:
        return {
            "queries": self.db.round_trips - self._q0,
            "subrequests": self.bucket.calls - self._r0,
            "seconds": round(self.elapsed, 3),
            "rows": self.rows_done,
        }
