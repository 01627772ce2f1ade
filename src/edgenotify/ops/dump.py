"""Reading a table as exact SQL literals, in keyset pages, with a digest of what was read.

Each page is ONE query. SQLite computes the literals itself (``quote()``), so integers beyond
2**53, REALs (``%!.15g`` or ``%!.20e``, whichever round-trips), BLOBs, NULL vs '' and any TEXT
come back as text and never pass through a JavaScript number. ``quote()`` prints -0.0 as
``0.0``; where a column can hold -0.0 at all (see ``schema.affinity_may_hold_negative_zero``)
its sign is read with ``atan2(x, -1.0)`` and written as ``-0.0``. ``quote()`` also stops at a
NUL character inside TEXT; such a value is written as ``CAST(X'<hex>' AS TEXT)``.

Pages are bounded twice: at most ``max_rows`` rows and (for rowid tables) about ``max_bytes``
of value text, measured in SQL before any literal is built: a window sum over the first
``max_rows`` keys keeps only the prefix whose cumulative ``length()`` stays under the budget
(always at least one row). Memory per page is therefore flat whatever the table size and the
row size (a D1 row is at most 2 MB). The keyset cursor is the last row's key, inlined as its
exact literal, so rowids beyond 2**53 work too.

The digest of a table is SHA-256 over its rows in key order, each row being the JSON array of
its value literals (UTF-8, no spaces; REALs in Python's shortest repr, see ``canonical``)
followed by a newline. Backup and
restore verification compute it with this same reader, so equal digests mean equal data.
"""

import hashlib
import json
import operator
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from edgenotify.db import Database
from edgenotify.ops.schema import ROWID_ALIASES, TableSpec, affinity_may_hold_negative_zero, quote_ident
from edgenotify.ops.sqlwriter import Row

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


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
    """A row's canonical text for the digest: its canonical literals as a JSON array, then a newline."""
    return _JSON([canonical(v) for v in values]) + "\n"


# What ``JSONEncoder(ensure_ascii=False)`` writes for each string of a list (C speed).
_JSON_STRING = json.encoder.encode_basestring
# An element of a JSON-encoded row holding a literal that ``canonical`` rewrites: it opens right after
# "[" or "," (inside a JSON string every '"' is escaped, so this only matches at element starts) and
# starts with a digit or "-" (text literals start with a quote, BLOBs with X, then NULL and CAST).
_REWRITTEN_ELEMENT = re.compile(r'([\[,])"([-0-9][^"]*[.eE][^"]*)"')


def _canonical_element(match: re.Match) -> str:
    return f'{match.group(1)}"{canonical(match.group(2))}"'


_FIRST_CHAR = operator.itemgetter(slice(0, 1))


def may_hold_real(decl_type: str) -> bool:
    """Not TEXT affinity (SQLite's rules: no "INT", and "CHAR", "CLOB" or "TEXT"): TEXT affinity
    stores numbers as text, so its literals are never REALs (STRICT TEXT columns neither)."""
    t = decl_type.upper()
    return "INT" in t or not ("CHAR" in t or "CLOB" in t or "TEXT" in t)


def _may_hold_reals(rows: list[Row], positions: tuple[int, ...] | None) -> bool:
    """Could a literal of the page be one that ``canonical`` rewrites? Only the columns at ``positions``
    (None: all) are looked at, each at C speed: a column whose literals never start like a number, or
    whose text has no ".", "e" or "E", has none."""
    if positions is None:
        columns: Any = zip_longest(*[r.values for r in rows], fillvalue="NULL")  # rows of a table are equally long
    else:
        columns = ([r.values[i] for r in rows] for i in positions)
    for column in columns:
        if _NUMBER_START.isdisjoint(map(_FIRST_CHAR, column)):
            continue  # TEXT, BLOB and NULL literals only
        joined = "".join(column)
        if "." in joined or "e" in joined or "E" in joined:
            return True
    return False


def page_text(rows: list[Row], real_positions: tuple[int, ...] | None = None) -> str:
    """``"".join(row_text(r.values) for r in rows)``, without a Python call per value.

    The rows are JSON-encoded string by string with the encoder's own C function; only a page
    that may hold REAL literals (in the columns at ``real_positions``; None: any) gets the regex pass
    that sends them through ``canonical``.
    """
    text = "".join(["[" + ",".join(map(_JSON_STRING, r.values)) + "]\n" for r in rows])
    return _REWRITTEN_ELEMENT.sub(_canonical_element, text) if _may_hold_reals(rows, real_positions) else text


@dataclass
class TableDigest:
    """Row count and SHA-256 of a table's pages. ``real_positions``: the value positions that can hold
    a REAL (``TableReader.real_positions``), a speed hint only: the digest is the same without it."""

    real_positions: tuple[int, ...] | None = None
    rows: int = 0
    _hash: Any = field(default_factory=hashlib.sha256)

    def update(self, rows: list[Row]) -> None:
        self.rows += len(rows)
        self._hash.update(page_text(rows, self.real_positions).encode("utf-8"))

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class TableReader:
    """Keyset pages of ``Row`` for one table; ``pages()`` is an async iterator."""

    def __init__(
        self,
        db: Database,
        spec: TableSpec,
        negative_zero: bool = True,
        max_rows: int = MAX_PAGE_ROWS,
        max_bytes: int = MAX_PAGE_BYTES,
    ):
        self.db = db
        self.spec = spec
        self.max_rows = max(1, max_rows)
        self.max_bytes = max(1, max_bytes)
        self.keys = [_key_sql(k) for k in spec.key]
        self.rowid_keyed = len(spec.key) == 1 and spec.key[0].lower() in ROWID_ALIASES
        zero = [negative_zero and affinity_may_hold_negative_zero(t) for t in spec.decl_types]
        self.value_exprs = [literal_sql(f"t.{quote_ident(c)}", z) for c, z in zip(spec.columns, zero, strict=True)]
        self.queries = 0
        self.real_positions = tuple(i for i, t in enumerate(spec.value_types) if may_hold_real(t))
        self._key_count = len(self.keys)
        self._rowid_count = 1 if spec.explicit_rowid else 0  # the rowid is also the first value

    def _cursor(self, last: list[str] | None, prefix: str = "") -> str:
        if last is None:
            return ""
        cols = [f"{prefix}{k}" for k in self.keys]
        if len(cols) == 1:
            return f" WHERE {cols[0]} > {last[0]}"
        return f" WHERE ({', '.join(cols)}) > ({', '.join(last)})"

    def _select_list(self) -> str:
        keys = [f"quote(t.{k}) AS _k{i}" for i, k in enumerate(self.keys)]
        values = [f"{e} AS _v{i}" for i, e in enumerate(self.value_exprs)]
        return ", ".join(keys + values)

    def page_sql(self, last: list[str] | None) -> str:
        table = quote_ident(self.spec.name)
        if not self.rowid_keyed:
            order = ", ".join(f"t.{k}" for k in self.keys)
            limit = min(self.max_rows, WITHOUT_ROWID_PAGE_ROWS)
            where = self._cursor(last, "t.")
            return f"SELECT {self._select_list()} FROM {table} AS t{where} ORDER BY {order} LIMIT {limit}"
        key = self.keys[0]
        sizes = " + ".join(f"ifnull(length({quote_ident(c)}), 0)" for c in self.spec.columns) or "0"
        return (
            f"WITH lim AS (SELECT {key} AS _k, {sizes} AS _sz FROM {table}{self._cursor(last)} "
            f"ORDER BY {key} LIMIT {self.max_rows}), "
            "page AS (SELECT _k, sum(_sz) OVER (ORDER BY _k ROWS UNBOUNDED PRECEDING) - _sz AS _before FROM lim) "
            f"SELECT {self._select_list()} FROM page JOIN {table} AS t ON t.{key} = page._k "
            f"WHERE page._before < {self.max_bytes} ORDER BY page._k"
        )

    def _row(self, raw: list[str]) -> Row:
        """Columns are the key literals then the value literals (``_select_list``); quote() always
        yields TEXT, so they are already str."""
        key = raw[: self._key_count]
        return Row(key, raw[: self._rowid_count] + raw[self._key_count :])

    async def pages(self) -> AsyncIterator[list[Row]]:
        last: list[str] | None = None
        while True:
            raw = await self.db.values(self.page_sql(last))
            self.queries += 1
            if not raw:
                return
            k = self._key_count
            rows = [Row(r[:k], r[k:]) for r in raw] if not self._rowid_count else [self._row(r) for r in raw]
            yield rows
            last = rows[-1].key
            if not self.rowid_keyed and len(rows) < min(self.max_rows, WITHOUT_ROWID_PAGE_ROWS):
                return


async def digest_table(db: Database, spec: TableSpec, negative_zero: bool = True, **limits: int) -> TableDigest:
    """Row count and SHA-256 of one table, read exactly as a backup reads it."""
    reader = TableReader(db, spec, negative_zero, **limits)
    digest = TableDigest(reader.real_positions)
    async for page in reader.pages():
        digest.update(page)
    return digest
