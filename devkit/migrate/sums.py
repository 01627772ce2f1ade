"""What ``migrations/migrations.sum`` says about the files, for ``status``, ``apply`` and ``hash``.

The sum file itself is owned by the linter (``devkit.lint.sumfile``): its name and format are
defined there alone, and this module only uses its API (``SUM_NAME``, ``compute_sum``,
``read_sum``, ``write_sum``, ``changed_files``), so the two tools can never disagree.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.lint import sumfile
from devkit.lint.sumfile import SUM_NAME
from devkit.migrate.source import names


@dataclass
class SumReport:
    path: Path
    present: bool = False
    up_to_date: bool = False  # the file is exactly what ``hash`` would write now
    changed: list[str] = field(default_factory=list)  # listed, bytes differ: edited since hashed
    removed: list[str] = field(default_factory=list)  # listed, file gone
    unlisted: list[str] = field(default_factory=list)  # file not listed yet
    error: str | None = None  # unreadable / malformed

    @property
    def ok(self) -> bool:
        return self.up_to_date

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "present": self.present,
            "up_to_date": self.up_to_date,
            "changed": self.changed,
            "removed": self.removed,
            "unlisted": self.unlisted,
            "error": self.error,
        }

    def lines(self) -> list[str]:
        if self.up_to_date:
            return [f"{SUM_NAME}: up to date"]
        if not self.present:
            return [f"{SUM_NAME}: missing (run `migrate hash`)"]
        if self.error:
            return [f"{SUM_NAME}: {self.error}"]
        out = [f"{SUM_NAME}: out of date (run `migrate hash` once the change is intended)"]
        out += [f"  changed   {n}  (edited since it was hashed)" for n in self.changed]
        out += [f"  removed   {n}  (listed, file is gone)" for n in self.removed]
        out += [f"  unlisted  {n}  (not hashed yet)" for n in self.unlisted]
        if not (self.changed or self.removed or self.unlisted):
            out.append("  its h1 line does not match its entries (hand edit or bad merge)")
        return out


def report(directory: Path) -> SumReport:
    path = directory / SUM_NAME
    result = SumReport(path, present=path.is_file())
    if not result.present:
        return result
    try:
        committed = sumfile.read_sum(directory) or {}
        result.up_to_date = path.read_text(encoding="utf-8") == sumfile.compute_sum(directory)
        result.changed = sumfile.changed_files(directory)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        result.error = str(exc)
        return result
    current = names(directory)
    result.removed = [n for n in committed if n not in current]
    result.unlisted = [n for n in current if n not in committed]
    return result


def rewrite(directory: Path) -> bool:
    """Write the sum file; True when its content changed."""
    path = directory / SUM_NAME
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    sumfile.write_sum(directory)
    return path.read_text(encoding="utf-8") != before
