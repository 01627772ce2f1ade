"""What every benchmark receives from the command line."""

import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.datagen import OUT


@dataclass
class Options:
    rows: list[int] = field(default_factory=list)  # empty: the benchmark's own default sizes
    smoke: bool = False  # tiny sizes, no slow anchors: proves the code path still runs
    timeout: float | None = None  # per-contender limit in seconds (None: scaled by rows)
    rss_cap_mib: int = 4096  # a contender above this is killed (shared machine) and recorded as failed
    duration: float | None = None  # HTTP benchmark: seconds of load per endpoint (wrk)
    driver: str = "auto"  # HTTP benchmark: "wrk", "httpx" or "auto" (wrk when installed)
    out: Path = OUT

    def sizes(self, default: list[int], smoke: list[int]) -> list[int]:
        if self.smoke:
            return smoke
        return self.rows or default

    def timeout_for(self, rows: int) -> float:
        """Per-contender limit: 60 s plus 1 s per 500 rows (wrangler replays ~800 rows/s), at most 10 min."""
        if self.timeout is not None:
            return self.timeout
        return min(60 + rows / 500, 600)

    def work(self, name: str) -> Path:
        path = self.out / "work" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def say(*parts: object) -> None:
    """Progress for the person waiting; figures go to stdout at the end."""
    print(*parts, file=sys.stderr, flush=True)
