"""Values too large to come back from D1 as one literal: read in pieces, their literal built here.

D1 refuses any string or BLOB over 2,000,000 bytes, results included (SQLITE_TOOBIG). A value of
1 MB is a legal row, but its literal (``X'<hex>'``, or TEXT with its quotes doubled) is twice that,
and a row's literals travel together in one JSON array. So a page of rows returns, for each value
over ``inline_bytes``, only a placeholder (its type and byte length); the bytes then come as hex
pieces of ``PIECE_BYTES`` (one query per column and piece, for all of the page's rows at once), and
the literal is made exactly as the page query would have made it (``dump.literal_sql``).
"""

from dataclasses import dataclass
from typing import Any

from edgenotify.db import Database
from edgenotify.ops.backups.schema import key_compare, quote_ident

PLACEHOLDER = "#big:"  # no literal starts with "#"
PIECE_BYTES = 900_000  # its hex is 1.8 MB: under D1's 2,000,000-byte string
ROW_LITERALS_BYTES = 1_500_000  # a row's inline literals together, at most (they share one JSON string)
KEYS_SQL_BYTES = 50_000  # the key conditions of one piece query (D1's statement limit is 100 KB)


def inline_bytes(values: int) -> int:
    """The largest value a row returns inline, so that all of its literals (at most ~2x each) fit."""
    return max(1024, ROW_LITERALS_BYTES // (2 * max(1, values)))


def guarded_sql(expr: str, literal: str, limit: int) -> str:
    """``literal`` of ``expr``, or the placeholder ``#big:<type>:<bytes>`` when it is over ``limit``."""
    size = f"length(CAST({expr} AS BLOB))"
    return f"CASE WHEN {size} > {limit} THEN '{PLACEHOLDER}' || typeof({expr}) || ':' || {size} ELSE {literal} END"


@dataclass
class BigValue:
    row: int  # index of the row in its page
    value: int  # index in the row's literals
    kind: str  # typeof(): 'text' or 'blob'
    size: int


def placeholders(values: list[list[str] | None]) -> list[BigValue]:
    found = []
    for r, literals in enumerate(values):
        for v, lit in enumerate(literals or ()):
            if lit.startswith(PLACEHOLDER):
                kind, size = lit[len(PLACEHOLDER) :].split(":")
                found.append(BigValue(r, v, kind, int(size)))
    return found


def literal(kind: str, data: bytes) -> str:
    """What ``dump.literal_sql`` gives for these bytes: ``quote()``, or the NUL-safe CAST for TEXT."""
    if kind == "blob":
        return f"X'{data.hex().upper()}'"
    if b"\x00" in data:
        return f"CAST(X'{data.hex().upper()}' AS TEXT)"
    return "'" + data.decode("utf-8", "replace").replace("'", "''") + "'"


async def fill(db: Database, table: str, columns: list[str], key_sql: list[str], rows: list[Any]) -> int:
    """Replace the placeholders in the ``rows``' literals (``Row.values``, ``Row.key``) by the values'
    literals; ``columns`` names each literal's column, ``key_sql`` the key's expressions (``t.rowid``).
    Returns the number of queries it ran."""
    big = placeholders([r.values for r in rows])
    pieces: dict[tuple[int, int], list[str]] = {}
    queries = 0
    for column in sorted({b.value for b in big}):
        wanted = [b for b in big if b.value == column]
        for start in range(0, max(b.size for b in wanted), PIECE_BYTES):
            for group in _groups([b.row for b in wanted if b.size > start], rows, key_sql):
                where = " OR ".join(key_compare(key_sql, "=", rows[r].key) for r in group)
                got = await db.values(
                    f"SELECT {', '.join(f'quote({k})' for k in key_sql)}, "
                    f"hex(substr(CAST(t.{quote_ident(columns[column])} AS BLOB), {start + 1}, {PIECE_BYTES})) "
                    f"FROM {quote_ident(table)} AS t WHERE {where}"
                )
                queries += 1
                by_key = {tuple(map(str, found[:-1])): found[-1] for found in got}
                for r in group:
                    pieces.setdefault((r, column), []).append(by_key[tuple(rows[r].key)])
    for b in big:
        rows[b.row].values[b.value] = literal(b.kind, bytes.fromhex("".join(pieces[(b.row, b.value)])))
    return queries


def _groups(indexes: list[int], rows: list[Any], key_sql: list[str]) -> list[list[int]]:
    """Row indexes in groups whose key conditions stay under ``KEYS_SQL_BYTES``."""
    groups: list[list[int]] = [[]]
    size = 0
    for r in indexes:
        n = len(key_compare(key_sql, "=", rows[r].key)) + 4
        if groups[-1] and size + n > KEYS_SQL_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(r)
        size += n
    return groups
