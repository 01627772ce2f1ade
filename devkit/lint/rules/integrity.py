"""Directory-level checks: released migrations must not change, and file names must order as intended."""

import re
from pathlib import Path

from devkit.lint import sumfile
from devkit.lint.findings import Finding, rule
from edgenotify.migrations.files import wrangler_order

EDITED = rule(
    "edited-after-release",
    "error",
    "high",
    "A migration listed in migrations.sum changed: databases that already applied it will never see the edit.",
    "Restore the released content and put the change in a new migration (scripts/migrate new NAME). If "
    "the file was never applied anywhere, refresh the sum file with scripts/migrate hash.",
)
REMOVED = rule(
    "released-file-removed",
    "error",
    "high",
    "A migration listed in migrations.sum no longer exists (deleted or renamed).",
    "Restore the file: databases record it by name in d1_migrations. Then refresh the sum if the removal was meant.",
)
SUM_MISMATCH = rule(
    "sum-mismatch",
    "error",
    "medium",
    "migrations.sum's first line does not match its entries (hand-edited, or a bad merge of two branches).",
    "Resolve the merge (rebase your new migration after the other branch's), then scripts/migrate hash.",
)
SUM_INVALID = rule(
    "sum-invalid",
    "error",
    "medium",
    "migrations.sum cannot be parsed.",
    "Regenerate it with scripts/migrate hash, after checking no released migration was edited.",
)
SUM_MISSING = rule(
    "sum-missing",
    "warning",
    "low",
    "There is no migrations.sum, so edits to released migrations cannot be detected.",
    "Create it with scripts/migrate hash and commit it.",
)
FILE_NAME = rule(
    "file-name",
    "warning",
    "low",
    "A migration file name does not start with a number (wrangler applies such files last, by name).",
    "Name files NNNN_description.sql (scripts/migrate new NAME picks the next number).",
)
DUPLICATE_NUMBER = rule(
    "duplicate-number",
    "warning",
    "medium",
    "Two migrations share a number (typically two branches merged): their order is decided by name only.",
    "Renumber the unreleased one to come after the other, then refresh the sum.",
)
OUT_OF_ORDER = rule(
    "out-of-order",
    "warning",
    "medium",
    "A new migration sorts before an already released one: fresh databases and existing ones apply them in "
    "different orders.",
    "Renumber the new file so it sorts after every released migration.",
)

_NUMBERED = re.compile(r"^(\d+)_")


def check_directory(directory: Path, display: str, names: list[str]) -> list[Finding]:
    sum_display = f"{display}/{sumfile.SUM_NAME}"
    out: list[Finding] = []
    try:
        committed = sumfile.read_sum(directory)
    except sumfile.SumFileError as exc:
        return [SUM_INVALID.finding(sum_display, 1, str(exc))] + _names(display, names)
    if committed is None:
        if names:
            out.append(SUM_MISSING.finding(sum_display, 1, f"no {sumfile.SUM_NAME} in {display}"))
        return out + _names(display, names)
    if not sumfile.sum_is_consistent(directory):
        out.append(SUM_MISMATCH.finding(sum_display, 1, "the h1: line does not match the entries below it"))
    for name in sumfile.changed_files(directory):
        out.append(EDITED.finding(f"{display}/{name}", 1, f"{name} differs from its hash in {sumfile.SUM_NAME}"))
    listed = list(committed)
    for name in sumfile.removed_files(directory):
        out.append(REMOVED.finding(sum_display, listed.index(name) + 2, f"{name} is listed but missing"))
    out.extend(_order(display, names, committed))
    return out + _names(display, names)


def _order(display: str, names: list[str], committed: dict[str, str]) -> list[Finding]:
    released = [n for n in names if n in committed]
    if not released:
        return []
    last = max(released, key=wrangler_order)
    return [
        OUT_OF_ORDER.finding(f"{display}/{n}", 1, f"{n} is new but sorts before the released {last}")
        for n in names
        if n not in committed and wrangler_order(n) < wrangler_order(last)
    ]


def _names(display: str, names: list[str]) -> list[Finding]:
    out: list[Finding] = []
    seen: dict[int, str] = {}
    for name in names:
        m = _NUMBERED.match(name)
        if not m:
            out.append(FILE_NAME.finding(f"{display}/{name}", 1, f"{name} has no NNNN_ number prefix"))
            continue
        number = int(m.group(1))
        if number in seen:
            message = f"{name} and {seen[number]} share number {number}"
            out.append(DUPLICATE_NUMBER.finding(f"{display}/{name}", 1, message))
        seen.setdefault(number, name)
    return out
