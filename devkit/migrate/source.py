"""Migration files on disk, read exactly as wrangler reads them.

wrangler's default ``migrations_pattern`` is ``<migrations_dir>/*.sql`` with ``dot: false``:
top-level ``.sql`` files, hidden ones excluded, each named by its file name (``.sql``
included) in the ``d1_migrations`` ledger. Files are read as bytes and decoded strictly, so
the text we hash and run is byte for byte what is committed (no newline translation).
"""

from datetime import UTC, datetime
from pathlib import Path

from edgenotify.migrations.files import MigrationFile, leading_number, wrangler_order

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "migrations"


class SourceError(Exception):
    """The migrations directory or a file in it cannot be used (exit code 2)."""


def names(directory: Path) -> list[str]:
    if not directory.is_dir():
        raise SourceError(f"no migrations directory at {directory}")
    found = [p.name for p in directory.glob("*.sql") if p.is_file() and not p.name.startswith(".")]
    return sorted(found, key=wrangler_order)


def load(directory: Path) -> list[MigrationFile]:
    """Every migration file in wrangler's order."""
    files = []
    for name in names(directory):
        try:
            files.append(MigrationFile(name, (directory / name).read_bytes().decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise SourceError(f"{directory / name} is not UTF-8: {exc}") from exc
    return files


def file_name_for(directory: Path, message: str) -> str:
    """wrangler's ``d1 migrations create`` naming: ``NNNN_<message, spaces→_>.sql``, NNNN = max + 1."""
    stem = message.replace(" ", "_")
    if not stem.strip("_"):
        raise SourceError("the migration name is empty")
    if "/" in stem or "\\" in stem:
        raise SourceError(f"the migration name {message!r} contains a path separator ('/' or '\\')")
    if stem.endswith(".sql"):
        stem = stem[: -len(".sql")]
    numbers = [n for n in (leading_number(name) for name in names(directory)) if n is not None]
    return f"{max(numbers, default=0) + 1:04d}_{stem}.sql"


def create(directory: Path, message: str, now: datetime | None = None) -> Path:
    """Write an empty migration with wrangler's header comment; refuse to overwrite."""
    name = file_name_for(directory, message)
    path = directory / name
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    try:
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(f"-- Migration number: {name.split('_')[0]} \t {stamp}\n")
    except FileExistsError as exc:
        raise SourceError(f"{path} already exists") from exc
    return path
