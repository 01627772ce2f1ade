"""Printing figures, judging targets, and keeping ``bench/RESULTS.md`` current.

Each benchmark renders one Markdown section; ``record`` replaces that benchmark's previous
section (between HTML comment markers) or appends it, so the file always holds the latest
full set, each with its date, machine note and the exact command that produced it.
"""

import hashlib
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = """# Benchmark results

Latest figures of `scripts/bench`. Each section is rewritten by the benchmark that owns it and
says when, on what machine and with which command it was produced. Ratios compare contenders measured in the
same process run, so the noise of the shared machine mostly cancels out; absolute times are indicative only.
A contender that failed or timed out is recorded as `failed: <reason> after <t>`, never as a number.
"""


@dataclass(frozen=True)
class Target:
    """``value`` must be at most (or, with ``higher_is_better``, at least) ``limit``."""

    name: str
    value: float | None
    limit: float
    unit: str = ""
    higher_is_better: bool = False
    why_not: str = ""  # when value is None: why it could not be measured

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def line(self) -> str:
        op = "≥" if self.higher_is_better else "≤"
        goal = f"{op} {fmt(self.limit)}{self.unit}"
        if self.value is None:
            why = f": {self.why_not}" if self.why_not else ""
            return f"NOT MEASURED  {self.name} (target {goal}){why}"
        verdict = "PASS" if self.passed else "MISS"
        margin = abs(self.value - self.limit)
        how = "margin" if self.passed else "missed by"
        rel = f", {margin / self.limit:.0%}" if self.limit else ""
        return (
            f"{verdict}  {self.name}: {fmt(self.value)}{self.unit} (target {goal}; {how} {fmt(margin)}{self.unit}{rel})"
        )


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.{digits}g}" if abs(value) < 100 else f"{value:,.0f}"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    out = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(out)


def machine_note() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, load average {load} at start "
        f"(shared with other engineers' work); Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version} (Python module)"
    )


def command_line(argv: Sequence[str] | None = None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return "scripts/bench " + " ".join(shlex.quote(a) for a in args)


def code_version() -> str:
    """The commit the measured code is at, flagged when src/ or devkit/ have uncommitted changes."""
    root = RESULTS.parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "devkit"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if not dirty.stdout.strip():
        return head.stdout.strip()
    digest = hashlib.sha256()
    for path in sorted(p for d in ("src", "devkit") for p in (root / d).rglob("*.py")):
        digest.update(path.as_posix().encode() + path.read_bytes())
    return f"{head.stdout.strip()} + uncommitted changes in src/ or devkit/ (content {digest.hexdigest()[:10]})"


def section(name: str, title: str, body: str, machine: str, command: str, code: str = "") -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    code_line = f"- Code: {code}\n" if code else ""
    return (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"- Date: {stamp}\n- Machine: {machine}\n{code_line}- Command: `{command}`\n\n{body.strip()}\n"
        f"<!-- /bench:{name} -->\n"
    )


_SECTION = re.compile(r"<!-- bench:(\w+) -->\n## (\d*).*?<!-- /bench:\1 -->\n", re.DOTALL)


def record(name: str, text: str, path: Path = RESULTS) -> None:
    """Replace the section of benchmark ``name`` in ``path`` (or add it), keeping sections in numbered order.

    Text before the first section (the header and any hand-written summary) is preserved.
    """
    current = path.read_text(encoding="utf-8") if path.exists() else HEADER
    sections = {m.group(1): m.group(0) for m in _SECTION.finditer(current)}
    first = _SECTION.search(current)
    head = current[: first.start()] if first else current
    sections[name] = text

    def number(item: tuple[str, str]) -> tuple[int, str]:
        m = _SECTION.match(item[1])
        return (int(m.group(2)) if m and m.group(2) else 99, item[0])

    body = "\n".join(text for _, text in sorted(sections.items(), key=number))
    path.write_text(head.rstrip("\n") + "\n\n" + body, encoding="utf-8")
