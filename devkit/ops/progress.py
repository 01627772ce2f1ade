"""Progress for the operator CLIs: a one-line bar on a terminal, nothing anywhere else.

Drawn only when stderr is a TTY (redirected logs get no ``\\r`` frames), fitted to the terminal's
width at every frame, with totals, percent, rate and ETA when the total is known, redrawn at most
ten times a second. Stdout stays machine-readable either way.
"""

import shutil
import sys
import time
from typing import TextIO


def _eta(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    def __init__(self, unit: str, quiet: bool = False, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self.unit = unit
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def line(self, done: int, total: int | None, label: str, width: int) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        if total:
            fraction = min(1.0, done / total)
            eta = _eta((total - done) / rate) if rate > 0 and done < total else "0:00"
            tail = f" {fraction * 100:5.1f}% {done:,}/{total:,} {self.unit} {rate:,.0f}/s ETA {eta} {label}"
            bar_width = max(0, min(30, width - len(tail) - 3))
            filled = int(bar_width * fraction)
            text = (f"[{'#' * filled}{'.' * (bar_width - filled)}]" if bar_width >= 5 else "") + tail
        else:
            text = f"{done:,} {self.unit} {rate:,.0f}/s {label}"
        return text[: width - 1]

    def draw(self, done: int, total: int | None, label: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        width = shutil.get_terminal_size((80, 24)).columns
        self.stream.write("\r" + self.line(done, total, label, width).ljust(width - 1))
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
