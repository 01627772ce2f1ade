"""The migration directory's integrity file, ``migrations/migrations.sum`` (Atlas's ``atlas.sum`` idea).

wrangler's ``d1_migrations`` ledger has no checksum, so an edited migration goes unnoticed. Committing one hash
per file makes an edit visible to the linter and to ``migrate status``; the first line hashes all other lines, so
two branches that each add a migration conflict in version control instead of silently interleaving, and a hand
edit of the sum file itself is detected.

Format (agreed with the migrate CLI)::

    h1:<base64 sha256 of all following lines joined by "\\n">
    <file name> h1:<base64 sha256 of the file bytes>      (one line per file, wrangler order)

The file ends with a newline. Only ``*.sql`` files directly in the directory are listed, as wrangler applies them.
"""

import base64
import hashlib
from pathlib import Path

from edgenotify.migrations.files import wrangler_order

SUM_NAME = "migrations.sum"


class SumFileError(ValueError):
    """The sum file exists but cannot be parsed (not merely stale)."""


def h1(data: bytes) -> str:
    return "h1:" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def migration_names(directory: str | Path) -> list[str]:
    """``*.sql`` file names in wrangler's order (numeric prefix, then name; unnumbered last)."""
    return sorted((p.name for p in Path(directory).glob("*.sql") if p.is_file()), key=wrangler_order)


def file_hashes(directory: str | Path) -> dict[str, str]:
    """Current ``h1:`` hash of every migration file, in wrangler order."""
    d = Path(directory)
    return {name: h1((d / name).read_bytes()) for name in migration_names(d)}


def _render(hashes: dict[str, str]) -> str:
    lines = [f"{name} {digest}" for name, digest in hashes.items()]
    return "\n".join([h1("\n".join(lines).encode("utf-8")), *lines]) + "\n"


def compute_sum(directory: str | Path) -> str:
    """The sum file text the directory should have now."""
    return _render(file_hashes(directory))


def write_sum(directory: str | Path) -> None:
    (Path(directory) / SUM_NAME).write_text(compute_sum(directory), encoding="utf-8", newline="\n")


def _parse(text: str) -> tuple[str, dict[str, str], list[str]]:
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw = raw[:-1]
    if not raw or not raw[0].startswith("h1:"):
        raise SumFileError(f"{SUM_NAME}: the first line must be the h1: sum of the other lines")
    entries: dict[str, str] = {}
    for number, line in enumerate(raw[1:], start=2):
        name, sep, digest = line.rpartition(" ")
        if not sep or not name or not digest.startswith("h1:"):
            raise SumFileError(f"{SUM_NAME}:{number}: expected '<file> h1:<hash>', got {line!r}")
        if name in entries:
            raise SumFileError(f"{SUM_NAME}:{number}: {name} is listed twice")
        entries[name] = digest
    return raw[0], entries, raw[1:]


def read_sum(directory: str | Path) -> dict[str, str] | None:
    """``{file name: "h1:..."}`` as committed, or None when there is no sum file.

    Raises SumFileError when the file is malformed; use ``sum_is_consistent`` to check its own h1 line.
    """
    path = Path(directory) / SUM_NAME
    if not path.is_file():
        return None
    return _parse(path.read_text(encoding="utf-8"))[1]


def sum_is_consistent(directory: str | Path) -> bool:
    """True when the sum file's first line matches its entry lines (False: tampered or a bad merge).

    A missing sum file counts as consistent (there is nothing to contradict).
    """
    path = Path(directory) / SUM_NAME
    if not path.is_file():
        return True
    head, _, lines = _parse(path.read_text(encoding="utf-8"))
    return head == h1("\n".join(lines).encode("utf-8"))


def changed_files(directory: str | Path) -> list[str]:
    """Files listed in the sum file whose bytes changed since (edited after release), in wrangler order.

    New files (not listed yet) are not changes; deleted files are reported by ``removed_files``.
    """
    committed = read_sum(directory) or {}
    current = file_hashes(directory)
    return [name for name, digest in current.items() if name in committed and committed[name] != digest]


def removed_files(directory: str | Path) -> list[str]:
    """Files listed in the sum file that no longer exist (a released migration was deleted or renamed)."""
    committed = read_sum(directory) or {}
    current = file_hashes(directory)
    return [name for name in committed if name not in current]


def new_files(directory: str | Path) -> list[str]:
    """Files not listed in the sum file yet (fine: written since the last ``hash``)."""
    committed = read_sum(directory) or {}
    return [name for name in file_hashes(directory) if name not in committed]
