"""Migration files as wrangler sees them: names, order and content hashes."""

import hashlib
import re
from dataclasses import dataclass

# wrangler: parseInt(name.split("_")[0], 10), i.e. the leading digits of the part before the first "_".
_NUMBER = re.compile(r"^\s*([+-]?\d+)")


@dataclass(frozen=True)
class MigrationFile:
    name: str  # file name including ".sql": the key in wrangler's d1_migrations ledger
    sql: str

    @property
    def sha256(self) -> str:
        return sha256_text(self.sql)

    @property
    def number(self) -> int | None:
        return leading_number(self.name)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def leading_number(name: str) -> int | None:
    """The migration number as wrangler reads it (``0002_x.sql`` → 2, ``7-x.sql`` → 7, ``init.sql`` → None)."""
    m = _NUMBER.match(name.split("_")[0])
    return int(m.group(1)) if m else None


def wrangler_order(name: str) -> tuple[int, int, str]:
    """Wrangler's order: by leading number (so 9_x < 10_y), then by name; unnumbered last."""
    number = leading_number(name)
    return (0, number, name) if number is not None else (1, 0, name)


def ordered(files: list[MigrationFile]) -> list[MigrationFile]:
    return sorted(files, key=lambda f: wrangler_order(f.name))
