"""Which lines of ``src/`` ran, recorded inside Pyodide with ``sys.monitoring`` (Python 3.12+; Pyodide's 3.13).

Each (code object, line) reports once and is then disabled, so recording costs almost nothing after the
first pass over a line. A module's executable lines are the lines its compiled code has instructions
for (``co_lines`` of the module and every nested code object), computed by the same interpreter, so
the share is "lines with code that ran" out of "lines with code". Modules left out on purpose (they
need pydantic) are reported apart and not counted.
"""

import os
import sys
from types import CodeType
from typing import Any

TOOL_ID = sys.monitoring.COVERAGE_ID if hasattr(sys, "monitoring") else 1


class LineRecorder:
    def __init__(self, root: str):
        self.root = root.rstrip("/") + "/"
        self.ran: dict[str, set[int]] = {}

    def _line(self, code: CodeType, line: int) -> Any:
        if code.co_filename.startswith(self.root):
            self.ran.setdefault(code.co_filename, set()).add(line)
        return sys.monitoring.DISABLE

    def start(self) -> None:
        sys.monitoring.use_tool_id(TOOL_ID, "edgenotify-parity-coverage")
        sys.monitoring.register_callback(TOOL_ID, sys.monitoring.events.LINE, self._line)
        sys.monitoring.set_events(TOOL_ID, sys.monitoring.events.LINE)

    def stop(self) -> None:
        sys.monitoring.set_events(TOOL_ID, 0)
        sys.monitoring.free_tool_id(TOOL_ID)

    def report(self, left_out: tuple[str, ...], cpython_only: tuple[str, ...]) -> dict[str, Any]:
        """Per module (path relative to ``src/``): line counts, missed lines, and why it is not counted.

        ``excluded`` is ``"pydantic"`` for the route modules left out here, modules importing pydantic
        and the ``edgenotify/models/`` package (pydantic models only), ``"cpython"`` for modules only
        CPython imports, else None (counted).
        """
        skipped = {_path(name) for name in left_out}
        cpython = {_path(name) for name in cpython_only}
        modules: dict[str, Any] = {}
        for path in sorted(_python_files(self.root)):
            rel = path[len(self.root) :]
            lines = executable_lines(path)
            ran = self.ran.get(path, set()) & lines
            pydantic = rel in skipped or rel.startswith("edgenotify/models/") or _needs_pydantic(path)
            excluded = "pydantic" if pydantic else ("cpython" if rel in cpython else None)
            modules[rel] = {"excluded": excluded, "lines": len(lines), "ran": len(ran), "missed": sorted(lines - ran)}
        return modules


def _path(module: str) -> str:
    return module.replace(".", "/") + ".py"


def _python_files(root: str) -> list[str]:
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files if f.endswith(".py")]
    return found


def _needs_pydantic(path: str) -> bool:
    """A module importing pydantic itself (``edgenotify.models.*``, ``edgenotify.http.validation``)."""
    with open(path, encoding="utf-8") as f:
        return any(line.startswith(("from pydantic", "import pydantic")) for line in f)


def executable_lines(path: str) -> set[int]:
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    lines: set[int] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        lines.update(line for _, _, line in current.co_lines() if line is not None)
        pending += [const for const in current.co_consts if isinstance(const, CodeType)]
    lines.discard(0)
    return lines
