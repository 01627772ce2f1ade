"""Reading a table as exact SQL literals, in keyset pages, with a digest of what was read.

Each page is ONE query. SQLite computes the literals itself (``quote()``), so integers beyond
2**53, REALs (``%!.15g`` or ``%!.20e``, whichever round-trips), BLOBs, NULL vs '' and any TEXT
come back as text and never pass through a JavaScript number. ``quote()`` prints -0.0 as
``0.0``; where a column can hold -0.0 at all (see ``schema.affinity_may_hold_negative_zero``)
its sign is read with ``atan2(x, -1.0)`` and written as ``-0.0``. ``quote()`` also stops at a
NUL character inside TEXT; such a value is written as ``CAST(X'<hex>' AS TEXT)``.

Pages are bounded twice: at most ``max_rows`` rows and (for rowid tables) about ``max_bytes``
of value bytes, measured in SQL before any literal is built: a window sum over the first
``max_rows`` keys keeps only the prefix whose cumulative byte length stays under the budget
(always at least one row). Memory per page is therefore flat whatever the table size and the
row size (a D1 row is at most 2 MB). The keyset cursor is the last row's key, inlined as its
exact literal, so rowids beyond 2**53 work too.

SQLite also joins a row's literals into its tuple text ``(lit,lit,...)``, the text the INSERTs
carry, so Python handles one string per row (see ``TableReader``). The digest of a table is
SHA-256 over its rows in key order, each row being that tuple (UTF-8; REALs in Python's shortest
repr, see ``canonical``) followed by a newline. Backup and restore verification compute it with
this same reader, so equal digests mean equal data.
"""

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db import Database
from edgenotify.ops.backups.schema import ROWID_ALIASES, TableSpec, affinity_may_hold_negative_zero, quote_ident
from edgenotify.ops.backups.sqlwriter import STATEMENT_BUDGET, Row

MAX_PAGE_ROWS = 2000
MAX_PAGE_BYTES = 2_000_000
WITHOUT_ROWID_PAGE_ROWS = 200  # no byte budget there (see _page_sql); such tables hold small rows


def _key_sql(name: str) -> str:
    return name if name.lower() in ROWID_ALIASES else quote_ident(name)


def literal_sql(expr: str, negative_zero: bool) -> str:
    """SQL computing the exact literal of ``expr``.

    Two corrections to ``quote()``: TEXT holding a NUL character (``quote()`` stops at the NUL)
    is written as ``CAST(X'<hex>' AS TEXT)``, and -0.0 (printed ``0.0``) as ``-0.0``.
    """
    nul = f"typeof({expr}) = 'text' AND instr(CAST({expr} AS BLOB), X'00') > 0"
    cases = [f"WHEN {nul} THEN 'CAST(X''' || hex({expr}) || ''' AS TEXT)'"]
    if negative_zero:
        cases.append(f"WHEN typeof({expr}) = 'real' AND {expr} = 0 AND atan2({expr}, -1.0) < 0 THEN '-0.0'")
    return f"CASE {' '.join(cases)} ELSE quote({expr}) END"


_NUMBER_START = frozenset("-0123456789")


def canonical(literal: str) -> str:
    """The literal as the digest sees it: REALs as Python's shortest round-trip repr.

    SQLite versions print the same double differently (3.40's ``quote(0.1+0.2)`` is
    ``3.00000000000000044408e-01``, workerd's newer SQLite ``0.30000000000000004``); both parse to
    the same double, so a backup taken on D1 must verify when restored locally and vice versa.
    """
    if literal[:1] in _NUMBER_START and ("." in literal or "e" in literal or "E" in literal):
        return repr(float(literal))
    return literal


def row_text(values: list[str]) -> str:
    """A row's canonical text for the digest: its tuple ``(lit,lit,...)`` with REALs canonical, then a newline."""
    return "(" + ",".join(map(canonical, values)) + ")\n"


def may_hold_real(decl_type: str) -> bool:
    """Not TEXT affinity (SQLite's rules: no "INT", and "CHAR", "CLOB" or "TEXT"): TEXT affinity
    stores numbers as text, so its literals are never REALs (STRICT TEXT columns neither)."""
    t = decl_type.upper()
    return "INT" in t or not ("CHAR" in t or "CLOB" in t or "TEXT" in t)


def page_text(rows: list[Row]) -> str:
    """``"".join(row_text(r.values) for r in rows)``, from the tuples SQLite built where it can.

    A row comes with its literals one by one (``Row.values``) only when it holds a REAL or is
    large (see ``TableReader``); every other row's tuple text is already its digest text.
    """
    if all(r.values is None for r in rows):
        return "\n".join([r.text for r in rows]) + "\n" if rows else ""
    return "".join([r.text + "\n" if r.values is None else row_text(r.values) for r in rows])


@dataclass
class TableDigest:
    """Row count and SHA-256 of a table's pages."""

    rows: int = 0
    _hash: Any = field(default_factory=hashlib.sha256)

    def update(self, rows: list[Row]) -> None:
        self.rows += len(rows)
        self._hash.update(page_text(rows).encode("utf-8"))

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def _tuple_sql(literals: list[str]) -> str:
    return "'(' || " + " || ',' || ".join(literals) + " || ')'" if literals else "'()'"


class TableReader:
    """Keyset pages of ``Row`` for one table; ``pages()`` is an async iterator.

    A page query returns per row the key literal(s), the row's whole tuple text ``(lit,...)``
    built by SQLite, and, only for rows that hold a REAL (the digest canonicalises it) or whose
    values total more than ``large_row_bytes`` (the writer may have to split them), the literals
    again as a JSON array. So Python handles one string per row, not one per column.
    """

    def __init__(
        self,
        db: Database,
        spec: TableSpec,
        negative_zero: bool = True,
        max_rows: int = MAX_PAGE_ROWS,
        max_bytes: int = MAX_PAGE_BYTES,
        large_row_bytes: int | None = None,
        after: list[str] | None = None,
        until: list[str] | None = None,
    ):
        self.db = db
        self.after = after  # keyset bounds (key literals): rows with after < key <= until
        self.until = until
        self.spec = spec
        self.max_rows = max(1, max_rows)
        self.max_bytes = max(1, max_bytes)
        self.keys = [_key_sql(k) for k in spec.key]
        self.rowid_keyed = len(spec.key) == 1 and spec.key[0].lower() in ROWID_ALIASES
        zero = [negative_zero and affinity_may_hold_negative_zero(t) for t in spec.decl_types]
        self.value_exprs = [literal_sql(f"t.{quote_ident(c)}", z) for c, z in zip(spec.columns, zero, strict=True)]
        if spec.explicit_rowid:  # the rowid is also the first value
            self.value_exprs.insert(0, f"quote(t.{self.keys[0]})")
        self.queries = 0
        self.real_columns = [c for c, t in zip(spec.columns, spec.decl_types, strict=True) if may_hold_real(t)]
        if large_row_bytes is None:  # a tuple is at most ~2x its values' bytes (hex, doubled quotes) + ~32 per value
            large_row_bytes = (STATEMENT_BUDGET - 2_000) // 2 - 32 * len(self.value_exprs)
        self.large_row_bytes = large_row_bytes
        self._key_count = len(self.keys)

    def _compare(self, op: str, key: list[str], prefix: str) -> str:
        cols = [f"{prefix}{k}" for k in self.keys]
        if len(cols) == 1:
            return f"{cols[0]} {op} {key[0]}"
        return f"({', '.join(cols)}) {op} ({', '.join(key)})"

    def _cursor(self, last: list[str] | None, prefix: str = "") -> str:
        conditions = [] if last is None else [self._compare(">", last, prefix)]
        if self.until is not None:
            conditions.append(self._compare("<=", self.until, prefix))
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def _sizes(self, prefix: str = "") -> str:
        """Bytes of a row's values (``length()`` of TEXT would stop at a NUL and count characters)."""
        sizes = [f"ifnull(length(CAST({prefix}{quote_ident(c)} AS BLOB)), 0)" for c in self.spec.columns]
        return " + ".join(sizes) or "0"

    def _select_list(self, size: str) -> str:
        keys = [f"quote(t.{k}) AS _k{i}" for i, k in enumerate(self.keys)]
        reals = [f"typeof(t.{quote_ident(c)}) = 'real'" for c in self.real_columns]
        wanted = [f"{size} > {self.large_row_bytes}", *reals]
        values = f"CASE WHEN {' OR '.join(wanted)} THEN json_array({', '.join(self.value_exprs)}) END AS _vals"
        return ", ".join([*keys, f"{_tuple_sql(self.value_exprs)} AS _row", values])

    def page_sql(self, last: list[str] | None) -> str:
        table = quote_ident(self.spec.name)
        if not self.rowid_keyed:
            order = ", ".join(f"t.{k}" for k in self.keys)
            limit = min(self.max_rows, WITHOUT_ROWID_PAGE_ROWS)
            where = self._cursor(last, "t.")
            select = self._select_list(f"({self._sizes('t.')})")
            return f"SELECT {select} FROM {table} AS t{where} ORDER BY {order} LIMIT {limit}"
        key = self.keys[0]
        return (
            f"WITH lim AS (SELECT {key} AS _k, {self._sizes()} AS _sz FROM {table}{self._cursor(last)} "
            f"ORDER BY {key} LIMIT {self.max_rows}), "
            "page AS (SELECT _k, _sz, sum(_sz) OVER (ORDER BY _k ROWS UNBOUNDED PRECEDING) - _sz AS _before FROM lim) "
            f"SELECT {self._select_list('page._sz')} FROM page JOIN {table} AS t ON t.{key} = page._k "
            f"WHERE page._before < {self.max_bytes} ORDER BY page._k"
        )

    async def page(self, last: list[str] | None) -> list[Row]:
        """The rows after ``last`` (one query; empty when the table, or the bounded range, is done)."""
        k = self._key_count
        raw = await self.db.values(self.page_sql(last))
        self.queries += 1
        return [Row(r[:k], None if r[k + 1] is None else json.loads(r[k + 1]), r[k]) for r in raw]

    def is_last(self, rows: list[Row]) -> bool:
        """Whether no page follows ``rows`` (a short WITHOUT ROWID page; rowid tables end on an empty page)."""
        return not rows or (not self.rowid_keyed and len(rows) < min(self.max_rows, WITHOUT_ROWID_PAGE_ROWS))

    async def pages(self) -> AsyncIterator[list[Row]]:
        last = self.after
        while True:
            rows = await self.page(last)
            if not rows:
                return
            yield rows
            if self.is_last(rows):
                return
            last = rows[-1].key


async def digest_table(db: Database, spec: TableSpec, negative_zero: bool = True, **limits: int) -> TableDigest:
    """Row count and SHA-256 of one table, read exactly as a backup reads it."""
    reader = TableReader(db, spec, negative_zero, **limits)
    digest = TableDigest()
    async for page in reader.pages():
        digest.update(page)
    return digest
