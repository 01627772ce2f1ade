"""Migration files as wrangler sees them: names, order and content hashes."""

import hashlib
import re
from dataclasses import dataclass

_NUMBER = re.compile(r"^(\d+)_")


@dataclass(frozen=True)
class MigrationFile:
    name: str  # file name including ".sql": the key in wrangler's d1_migrations ledger
    sql: str

    @property
    def sha256(self) -> str:
        return sha256_text(self.sql)

    @property
    def number(self) -> int | None:
        m = _NUMBER.match(self.name)
        return int(m.group(1)) if m else None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def wrangler_order(name: str) -> tuple[int, int, str]:
    """Wrangler's order: by leading number (so 9_x < 10_y), then by name; unnumbered last."""
    m = _NUMBER.match(name)
    return (0, int(m.group(1)), name) if m else (1, 0, name)


def ordered(files: list[MigrationFile]) -> list[MigrationFile]:
    return sorted(files, key=lambda f: wrangler_order(f.name))
