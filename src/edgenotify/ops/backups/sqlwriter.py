"""SQL text for a backup file: statements D1 and ``wrangler d1 execute --file`` both accept.

Values arrive as exact SQL literals computed by SQLite's ``quote()`` (see ``dump.py``), so no
value ever passes through a JavaScript number. This module only arranges them:

* rows of one table are grouped into multi-row INSERTs of at most ``STATEMENT_BUDGET`` bytes
  (D1 refuses statements over 100,000 bytes);
* a row too large for one statement is inserted with its largest values empty, then each value
  is appended in pieces: ``UPDATE t SET c = c || '<piece>'`` (BLOBs: ``CAST(c || X'..' AS BLOB)``,
  as ``||`` alone would turn bytes into TEXT);
* the file never contains the words TRANSACTION or COMMIT inside a value: ``wrangler d1
  execute`` deletes the first ``BEGIN TRANSACTION;`` and ``COMMIT;`` it finds anywhere in the
  file, string literals included, and reports success. Such text is written as a
  ``replace()`` of a marked-up literal, ``replace('... TRANS~0~ACTION ...', '~0~', '')``, which
  SQLite evaluates back to the same TEXT.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from edgenotify.ops.backups.schema import TableSpec, key_compare, quote_ident

STATEMENT_BUDGET = 98_000  # bytes per statement, under D1's 100,000
PIECE_BYTES = 40_000  # raw bytes of a large value per UPDATE (quotes may double it when escaped)
_FORBIDDEN = re.compile(r"TRANSACTION|COMMIT", re.I)
# What must never appear in a file meant for `wrangler d1 execute --file` (checked on every statement).
WRANGLER_TRAPS = re.compile(r"BEGIN\s+TRANSACTION|COMMIT\s*;", re.I)


class RowTooLarge(ValueError):
    """A row whose key or many mid-sized values cannot be written under the statement limit."""


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def has_forbidden(text: str) -> bool:
    """``_FORBIDDEN.search`` without the regex: two substring scans are ~10x faster per row.

    Lowered as UTF-8 bytes (ASCII-only case mapping, ~2x faster than ``str.lower`` on non-ASCII
    text): the only non-ASCII character whose lower case holds one of the words' letters is U+0130,
    which lowers to "i" plus a combining dot, so it can never complete a word either way.
    """
    return has_forbidden_bytes(text.encode("utf-8", "surrogatepass"))


def has_forbidden_bytes(data: bytes) -> bool:
    low = data.lower()
    return b"commit" in low or b"transaction" in low


def _marker(raw: str) -> str:
    """A short non-letter token absent from ``raw`` (so every occurrence in the output is ours)."""
    n = 0
    while f"~{n}~" in raw:
        n += 1
    return f"~{n}~"


def safe_literal(lit: str) -> str:
    """The same TEXT value with no TRANSACTION/COMMIT in the SQL: ``replace('COMM~0~IT', '~0~', '')``.

    The marker goes inside the word's letters, so it never sits between the quotes of a ''
    escape and never touches another marker character; one ``replace`` keeps the expression
    flat however many occurrences there are (a ``||`` chain would hit SQLite's depth limit).
    """
    if not lit.startswith("'") or not has_forbidden(lit):
        return lit
    inner = lit[1:-1]
    marker = _marker(inner)
    parts: list[str] = []
    pos = 0
    for m in _FORBIDDEN.finditer(inner):
        cut = m.start() + 4  # inside the word's letters
        parts.append(inner[pos:cut])
        pos = cut
    parts.append(inner[pos:])
    return f"replace('{marker.join(parts)}', '{marker}', '')"


def is_blob(lit: str) -> bool:
    return lit[:2] in ("X'", "x'")


def is_text(lit: str) -> bool:
    return lit.startswith("'")


def is_hex_text(lit: str) -> bool:
    """TEXT written as ``CAST(X'..' AS TEXT)`` (it holds a NUL character, see ``dump.literal_sql``)."""
    return lit.startswith("CAST(X'") and lit.endswith("' AS TEXT)")


def text_value(lit: str) -> str:
    return lit[1:-1].replace("''", "'")


def text_literal(raw: str) -> str:
    return "'" + raw.replace("'", "''") + "'"


def split_literal(lit: str, piece_bytes: int = PIECE_BYTES) -> tuple[str, list[str]]:
    """(the empty literal of the value's type, piece literals concatenating to the value)."""
    step = piece_bytes * 2
    if is_blob(lit):
        digits = lit[2:-1]
        return "X''", [f"X'{digits[i : i + step]}'" for i in range(0, len(digits), step)]
    if is_hex_text(lit):  # bytes are concatenated as TEXT: the whole value ends up byte for byte equal
        digits = lit[len("CAST(X'") : -len("' AS TEXT)")]
        return "''", [f"CAST(X'{digits[i : i + step]}' AS TEXT)" for i in range(0, len(digits), step)]
    if not is_text(lit):
        raise RowTooLarge(f"a {len(lit)}-byte non-text literal cannot be split")
    raw = text_value(lit)
    pieces: list[str] = []
    i = 0
    while i < len(raw):
        chunk = raw[i : i + piece_bytes]
        rendered = safe_literal(text_literal(chunk))
        while nbytes(rendered) > 2 * piece_bytes and len(chunk) > 1:  # escapes/multibyte: shrink
            chunk = chunk[: len(chunk) // 2]
            rendered = safe_literal(text_literal(chunk))
        pieces.append(rendered)
        i += len(chunk)
    return "''", pieces


@dataclass
class Row:
    key: list[str]  # literals of the keyset key (rowid or PK), for UPDATE ... WHERE
    values: list[str] | None  # literals in ``TableSpec.insert_columns`` order; None when only ``text`` was read
    text: str | None = None  # the tuple ``(lit,lit,...)``, when SQLite built it

    def tuple_text(self) -> str:
        return self.text if self.text is not None else "(" + ",".join(self.values or ()) + ")"

    def literals(self) -> list[str]:
        if self.values is None:
            raise RowTooLarge("a row read without its separate literals needs splitting (reader threshold too high)")
        return self.values


_VALUE_START = re.compile(r"[(,]'")


def _safe_tuple(row: Row) -> str:
    """Only TEXT can hold the words: rewrite this row's literals."""
    if row.values is None:
        return _safe_tuple_text(row.tuple_text())
    return "(" + ",".join(safe_literal(v) for v in row.values) + ")"


def _safe_tuple_text(tup: str) -> str:
    """``_safe_tuple`` on a tuple's text: its TEXT literals are found by walking it (a quote opens a
    literal only right after "(" or ","; inside one, '' is an escaped quote)."""
    out: list[str] = []
    pos = 0
    while True:
        m = _VALUE_START.search(tup, pos)
        if m is None:
            out.append(tup[pos:])
            return "".join(out)
        start = m.start() + 1
        end = start + 1
        while True:
            end = tup.index("'", end)
            if tup.startswith("''", end):
                end += 2
                continue
            break
        out.append(tup[pos:start])
        out.append(safe_literal(tup[start : end + 1]))
        pos = end + 1


class TableWriter:
    """Renders rows of one table as INSERT (and, for large values, UPDATE) statements."""

    def __init__(self, spec: TableSpec, budget: int = STATEMENT_BUDGET, piece_bytes: int = PIECE_BYTES):
        self.spec = spec
        self.budget = budget
        self.piece_bytes = piece_bytes
        self.table = quote_ident(spec.name)
        self.head = f"INSERT INTO {self.table} ({', '.join(spec.insert_columns)}) VALUES\n"
        self.head_bytes = nbytes(self.head)
        self._head = self.head.encode("utf-8")

    def block_statements(
        self, data: bytes, spans: list[tuple[int, int]], groups: Iterator[tuple[int, int]]
    ) -> Iterator[bytes]:
        """INSERTs of a page read as one text (``dump.Block``), as UTF-8: one per group of rows.
        The caller has checked the text for the words wrangler would alter (``has_forbidden``)."""
        for i, j in groups:
            yield self._head + b",\n".join([data[s:e] for s, e in spans[i:j]]) + b";\n"

    def statements(self, rows: list[Row]) -> Iterator[str]:
        tuples = [row.tuple_text() for row in rows]
        if has_forbidden("".join(tuples)):  # one scan per page; ")(" between tuples cannot join a word
            tuples = [_safe_tuple(row) if has_forbidden(tup) else tup for tup, row in zip(tuples, rows, strict=True)]
        group: list[str] = []
        size = self.head_bytes
        for row, tup in zip(rows, tuples, strict=True):
            tb = (len(tup) if tup.isascii() else nbytes(tup)) + 2  # isascii() is O(1) on str
            if self.head_bytes + tb > self.budget:
                if group:
                    yield self._insert(group)
                    group, size = [], self.head_bytes
                yield from self._split_row(row)
                continue
            if size + tb > self.budget:
                yield self._insert(group)
                group, size = [], self.head_bytes
            group.append(tup)
            size += tb
        if group:
            yield self._insert(group)

    def _insert(self, tuples: list[str]) -> str:
        return self.head + ",\n".join(tuples) + ";\n"

    def _where(self, key: list[str]) -> str:
        names = [k if k.lower() in ("rowid", "_rowid_", "oid") else quote_ident(k) for k in self.spec.key]
        return key_compare(names, "=", [safe_literal(k) for k in key])

    def _split_row(self, row: Row) -> Iterator[str]:
        values = row.literals()
        current = [safe_literal(v) for v in values]
        appends: list[tuple[int, str]] = []
        for i in sorted(range(len(values)), key=lambda i: -len(values[i])):
            if self.head_bytes + nbytes("(" + ",".join(current) + ")") + 2 <= self.budget:
                break
            lit = values[i]
            if not (is_text(lit) or is_blob(lit) or is_hex_text(lit)):
                continue
            empty, pieces = split_literal(lit, self.piece_bytes)
            current[i] = empty
            appends.extend((i, p) for p in pieces)
        statement = self._insert(["(" + ",".join(current) + ")"])
        if nbytes(statement) > self.budget:
            raise RowTooLarge(f"a row of {self.spec.name} does not fit in {self.budget} bytes even with values split")
        yield statement
        where = self._where(row.key)
        columns = self.spec.insert_columns
        for i, piece in appends:
            col = columns[i]
            expr = f"CAST({col} || {piece} AS BLOB)" if is_blob(piece) else f"{col} || {piece}"
            update = f"UPDATE {self.table} SET {col} = {expr} WHERE {where};\n"
            if nbytes(update) > self.budget:
                raise RowTooLarge(f"a key of {self.spec.name} is too large to address a row in pieces")
            yield update


def ddl_statement(sql: str) -> str:
    """A CREATE statement from sqlite_master, terminated safely even after a trailing comment."""
    last_line = sql.rsplit("\n", 1)[-1]
    return f"{sql}\n;\n" if "--" in last_line else f"{sql};\n"
