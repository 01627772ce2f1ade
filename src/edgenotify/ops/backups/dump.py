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
carry, and for rowid tables a whole page into one text (``TableReader.block``): Python then handles
a few strings per page instead of values per row, which matters most on Pyodide, where every value
a D1 result holds is converted from JavaScript one by one. Building literals with one ``printf``
per row (``%Q`` for TEXT) instead of ``quote()`` per value halves SQLite's share; a row whose
values are not of the expected types (or hold a NUL) takes the exact general form instead.

The digest of a table is SHA-256 over its rows in key order, each row being that tuple (UTF-8;
REALs in Python's shortest repr, see ``canonical``) followed by a newline. Backup and restore
verification compute it with this same reader, so equal digests mean equal data.
"""

import asyncio
import json
from bisect import bisect_right
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from edgenotify.db import D1Error, Database
from edgenotify.hashing import Sha256
from edgenotify.ops.backups import bigvalues
from edgenotify.ops.backups.schema import (
    ROWID_ALIASES,
    TableSpec,
    affinity_may_hold_negative_zero,
    key_compare,
    quote_ident,
)
from edgenotify.ops.backups.sqlwriter import STATEMENT_BUDGET, Row

MAX_PAGE_ROWS = 2000
MAX_PRINTF_ARGS = 100  # SQLite allows 127 function arguments by default; wider tables use ``||`` only
MAX_PAGE_BYTES = 2_000_000
# A block is one TEXT value and D1 refuses strings over 2,000,000 bytes: a block whose text passes this
# is read again with fewer rows (the margin covers what the embedded runtime and Miniflare let through).
BLOCK_TEXT_BYTES = 1_700_000
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
    """Row count and SHA-256 of a table's pages; ``sha256`` is set by ``finish``."""

    rows: int = 0
    sha256: str | None = None
    _hash: Sha256 = field(default_factory=Sha256)

    async def add(self, page: "Block | list[Row]") -> None:
        """A page's rows; a block's text already is the page's digest text, less the final newline."""
        if isinstance(page, Block):
            self.rows += page.rows
            await self._hash.update(page.data)
            await self._hash.update(b"\n")
        else:
            self.rows += len(page)
            await self._hash.update(page_text(page).encode("utf-8"))

    async def finish(self) -> str:
        self.sha256 = await self._hash.hexdigest()
        return self.sha256


def _tuple_sql(literals: list[str]) -> str:
    return "'(' || " + " || ',' || ".join(literals) + " || ')'" if literals else "'()'"


def _is_text_affinity(decl_type: str) -> bool:
    t = decl_type.upper()
    return "INT" not in t and ("CHAR" in t or "CLOB" in t or "TEXT" in t)


def fast_tuple_sql(
    columns: list[str],
    decl_types: list[str],
    general: list[str],
    rowid: str | None,
    unless: tuple[str, str] | None = None,
) -> str:
    """The row's tuple text, by one ``printf`` when its values have their columns' usual types.

    ``printf('%Q')`` renders TEXT (and NULL) byte for byte as ``quote()`` does, without a
    ``quote()`` call and a ``||`` copy per value; INTEGER columns take ``quote()`` (cheap: no
    scan). The fast form applies when every TEXT-affinity value is TEXT or NULL, every INTEGER one
    INTEGER or NULL, and no TEXT holds a NUL (``%s`` stops at a NUL, so the bytes ``printf`` copies
    fall short of the values' lengths exactly when one does); any other row takes ``general``.
    ``unless=(condition, instead)``: rows meeting ``condition`` give ``instead``, tested first in the
    same CASE (a CASE around this one cost the page query ~10 % more, measured).
    """
    first = f"WHEN {unless[0]} THEN {unless[1]} " if unless else ""
    formats, args, guards, texts = [], [], [], []
    if rowid is not None:
        formats.append("%d")
        args.append(f"t.{rowid}")
    for column, decl, literal in zip(columns, decl_types, general[len(general) - len(columns) :], strict=True):
        expr = f"t.{quote_ident(column)}"
        if "INT" in decl.upper():
            formats.append("%s")
            args.append(f"quote({expr})")
            guards.append(f"typeof({expr}) IN ('integer', 'null')")
        elif _is_text_affinity(decl):
            formats.append("%Q")
            args.append(expr)
            guards.append(f"typeof({expr}) IN ('text', 'null')")
            texts.append(expr)
        else:
            formats.append("%s")
            args.append(literal)
    if not args or len(args) > MAX_PRINTF_ARGS or not guards:
        return f"CASE {first}ELSE {_tuple_sql(general)} END" if first else _tuple_sql(general)
    if texts:
        sizes = " + ".join(f"ifnull(length(CAST({e} AS BLOB)), 0)" for e in texts)
        copied = f"printf('{'%s' * len(texts)}', {', '.join(texts)})"
        guards.append(f"length(CAST({copied} AS BLOB)) = {sizes}")
    fast = f"printf('({','.join(formats)})', {', '.join(args)})"
    return f"CASE {first}WHEN {' AND '.join(guards)} THEN {fast} ELSE {_tuple_sql(general)} END"


@dataclass
class Block:
    """A page of a rowid table read as one text: its rows' tuples joined by newlines (the digest
    text, less its final newline), UTF-8 encoded, with each tuple's byte length."""

    data: bytes
    sizes: list[int]
    key: list[str]  # the last row's key literal: the keyset cursor

    @property
    def rows(self) -> int:
        return len(self.sizes)

    def spans(self) -> list[tuple[int, int]]:
        """Each tuple's (start, end) in ``data``."""
        ends = list(accumulate(map((1).__add__, self.sizes)))
        return [(e - s - 1, e - 1) for s, e in zip(self.sizes, ends, strict=True)]

    def as_rows(self) -> list[Row]:
        """The tuples as rows without keys or separate literals (enough to rewrite their text)."""
        return [Row([], None, self.data[s:e].decode("utf-8")) for s, e in self.spans()]

    def groups(self, head_bytes: int, budget: int) -> Iterator[tuple[int, int]]:
        """Row ranges ``[i, j)`` whose INSERT (head, tuples joined by ``,\n``, ``;\n``) fits ``budget``."""
        ends = list(accumulate(map((2).__add__, self.sizes)))
        i = 0
        while i < len(ends):
            before = ends[i - 1] if i else 0
            j = max(i + 1, bisect_right(ends, before + budget - head_bytes, i))
            yield i, j
            i = j


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
        self._blocks = self.rowid_keyed
        self.text_cap = min(BLOCK_TEXT_BYTES, self.max_bytes)  # a block's text, at most (one D1 string)
        self._block_rows = self.max_rows
        self._ahead: tuple[list[str] | None, asyncio.Future[Page]] | None = None
        self.most_queries_per_page = 1  # a page's pieces of large values, or a block read again, add some
        self._rowid = self.keys[0] if spec.explicit_rowid else None
        limit = bigvalues.inline_bytes(len(self.value_exprs))
        offset = len(self.value_exprs) - len(spec.columns)  # the explicit rowid, never large
        self.row_literals = self.value_exprs[:offset] + [
            bigvalues.guarded_sql(f"t.{quote_ident(c)}", lit, limit)
            for c, lit in zip(spec.columns, self.value_exprs[offset:], strict=True)
        ]
        self.literal_columns = [self.keys[0]] * offset + list(spec.columns)

    def tuple_sql(self, unless: tuple[str, str] | None = None) -> str:
        """The row's tuple text (``fast_tuple_sql``); see there for ``unless``."""
        spec = self.spec
        return fast_tuple_sql(spec.columns, spec.decl_types, self.value_exprs, self._rowid, unless)

    def _compare(self, op: str, key: list[str], prefix: str) -> str:
        return key_compare([f"{prefix}{k}" for k in self.keys], op, key)

    def _cursor(self, last: list[str] | None, prefix: str = "") -> str:
        conditions = [] if last is None else [self._compare(">", last, prefix)]
        if self.until is not None:
            conditions.append(self._compare("<=", self.until, prefix))
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def _sizes(self, prefix: str = "") -> str:
        """Bytes of a row's values (``length()`` of TEXT would stop at a NUL and count characters)."""
        sizes = [f"ifnull(length(CAST({prefix}{quote_ident(c)} AS BLOB)), 0)" for c in self.spec.columns]
        return " + ".join(sizes) or "0"

    def _special(self, size: str) -> str:
        """Whether a row needs its literals one by one: it holds a REAL (the digest canonicalises
        it) or is large (the writer may split it)."""
        reals = [f"typeof(t.{quote_ident(c)}) = 'real'" for c in self.real_columns]
        return " OR ".join([f"{size} > {self.large_row_bytes}", *reals])

    def _select_list(self, size: str) -> str:
        keys = [f"quote(t.{k}) AS _k{i}" for i, k in enumerate(self.keys)]
        special = self._special(size)
        values = f"CASE WHEN {special} THEN json_array({', '.join(self.row_literals)}) END AS _vals"
        text = f"{self.tuple_sql((special, 'NULL'))} AS _row"  # not a special row's: it may pass one D1 string
        return ", ".join([*keys, text, values])

    def _window(self, last: list[str] | None) -> str:
        """The page's keys: at most ``max_rows`` (the byte cut is the caller's, on ``page._before``)."""
        key, table = self.keys[0], quote_ident(self.spec.name)
        return (
            f"WITH lim AS (SELECT {key} AS _k, {self._sizes()} AS _sz FROM {table}{self._cursor(last)} "
            f"ORDER BY {key} LIMIT {self.max_rows}), "
            "page AS (SELECT _k, _sz, sum(_sz) OVER (ORDER BY _k ROWS UNBOUNDED PRECEDING) - _sz AS _before FROM lim)"
        )

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
            f"{self._window(last)} "
            f"SELECT {self._select_list('page._sz')} FROM page JOIN {table} AS t ON t.{key} = page._k "
            f"WHERE page._before < {self.max_bytes} ORDER BY page._k"
        )

    def block_sql(self, last: list[str] | None, rows: int) -> str:
        """One result row for the next ``rows`` rows: last key, whether a row is special, the tuples'
        byte lengths and the tuples joined by newlines. One ordered scan that builds each tuple once:
        no window and no join back (they cost SQLite ~40 % more per row); the text is kept within one
        D1 string by the row count, which ``block`` adapts. The ordered, limited subquery feeds the
        aggregate in key order (SQLite never flattens it into an aggregate); the digest would show
        any other order."""
        key, table = self.keys[0], quote_ident(self.spec.name)
        special = self._special(f"({self._sizes('t.')})")
        text = self.tuple_sql((special, "''"))  # not a special row's: it may pass one D1 string
        where = self._cursor(last, "t.")
        rows_sql = f"SELECT t.{key} AS _k, {text} AS _row FROM {table} AS t{where} ORDER BY t.{key} LIMIT {rows}"
        # A tuple is never empty: an empty one marks a special row (no second test of the row).
        return (
            "SELECT quote(max(_k)), max(_tb = 0), ifnull(group_concat(_tb, ','), ''), "
            "ifnull(group_concat(_row, char(10)), '') "
            f"FROM (SELECT _k, _row, length(CAST(_row AS BLOB)) AS _tb FROM ({rows_sql}))"
        )

    async def block(self, last: list[str] | None) -> Block | None:
        before = self.queries
        try:
            return await self._block(last)
        finally:
            self.most_queries_per_page = max(self.most_queries_per_page, self.queries - before)

    async def _block(self, last: list[str] | None) -> Block | None:
        """The page after ``last`` as a ``Block`` (rowid tables; one query, rarely more). An empty
        page gives a block of no rows; a page with a special row gives None: read it with ``page()``.

        A text over ``text_cap`` (which D1 may refuse as one string) is read again with fewer rows,
        the count the lengths say would have fitted (or a quarter, when D1 refused it); the next
        page's row count follows from this one's bytes per row."""
        while True:
            try:
                row = await self.db.first_utf8(self.block_sql(last, self._block_rows), 3)
            except D1Error as exc:
                if "too big" not in exc.message.lower():
                    raise
                if not self._fewer(self._block_rows // 4):
                    return None  # one row alone is too big for a block: read rows
                continue
            finally:
                self.queries += 1
            (last_key, special, sizes), data = row if row else ([None, None, ""], b"")
            if special:
                return None
            if not data:
                return Block(b"", [], last or [])
            lengths = list(map(int, sizes.split(",")))
            if len(data) > self.text_cap:
                if not self._fewer(bisect_right(list(accumulate(n + 1 for n in lengths)), self.text_cap)):
                    return None
                continue
            self._block_rows = max(1, min(self.max_rows, self.text_cap * 3 // 4 * len(lengths) // len(data)))
            return Block(data, lengths, [last_key])

    def _fewer(self, rows: int) -> bool:
        """Read blocks of at most ``rows`` rows from now on; False when a block is down to one row."""
        if self._block_rows <= 1:
            return False
        self._block_rows = max(1, min(rows, self._block_rows - 1))
        return True

    async def read_ahead(self, last: list[str] | None) -> None:
        """Start reading the page after ``last`` now; ``next(last)`` takes it. The query then runs
        while the caller works on the page before (D1 is I/O on the edge, a worker thread in the
        embedded runtime). Yields once, so that the query is under way when this returns."""
        self.drop_ahead()
        self._ahead = (last, asyncio.ensure_future(self._next(last)))
        await asyncio.sleep(0)

    def drop_ahead(self) -> None:
        """Forget a page read ahead and not taken (its query may still finish; nothing uses it). An
        error it ended with is the caller's no more: it is retrieved, so asyncio does not report it."""
        if self._ahead is not None:
            task = self._ahead[1]
            if task.done() and not task.cancelled():
                task.exception()
            task.cancel()
            self._ahead = None

    @property
    def reading_ahead(self) -> bool:
        return self._ahead is not None

    async def next(self, last: list[str] | None) -> "Page":
        """The page after ``last`` (the one read ahead, if it is that one)."""
        if self._ahead is not None and self._ahead[0] == last:
            task, self._ahead = self._ahead[1], None
            return await task
        self.drop_ahead()
        return await self._next(last)

    async def _next(self, last: list[str] | None) -> "Page":
        """A ``Block`` while the table's pages allow it, else its rows. After a page with a special
        row the reader stays with rows (no second query per page)."""
        if self._blocks:
            block = await self.block(last)
            if block is not None:
                return block
            self._blocks = False
        return await self.page(last)

    async def page(self, last: list[str] | None) -> list[Row]:
        """The rows after ``last`` (one query; empty when the table, or the bounded range, is done)."""
        k = self._key_count
        raw = await self.db.values(self.page_sql(last))
        self.queries += 1
        rows = [Row(r[:k], None if r[k + 1] is None else json.loads(r[k + 1]), r[k]) for r in raw]
        key_sql = [f"t.{key}" for key in self.keys]
        pieces = await bigvalues.fill(self.db, self.spec.name, self.literal_columns, key_sql, rows)
        self.queries += pieces
        self.most_queries_per_page = max(self.most_queries_per_page, 1 + pieces)
        return rows

    def is_last(self, page: "Page") -> bool:
        """Whether no page follows (a short WITHOUT ROWID page; rowid tables end on an empty page)."""
        if isinstance(page, Block):
            return not page.rows
        return not page or (not self.rowid_keyed and len(page) < min(self.max_rows, WITHOUT_ROWID_PAGE_ROWS))

    async def pages(self) -> AsyncIterator["Page"]:
        """Every page to the end, each read while the caller works on the one before."""
        last = self.after
        try:
            while True:
                page = await self.next(last)
                if not page_rows(page):
                    return
                if not self.is_last(page):
                    await self.read_ahead(page_key(page))
                yield page
                if self.is_last(page):
                    return
                last = page_key(page)
        finally:
            self.drop_ahead()


Page = Block | list[Row]


def page_rows(page: Page) -> int:
    return page.rows if isinstance(page, Block) else len(page)


def page_key(page: Page) -> list[str]:
    """The keyset cursor after ``page``: its last row's key."""
    return page.key if isinstance(page, Block) else page[-1].key


async def digest_table(db: Database, spec: TableSpec, negative_zero: bool = True, **limits: int) -> TableDigest:
    """Row count and SHA-256 of one table, read exactly as a backup reads it."""
    reader = TableReader(db, spec, negative_zero, **limits)
    digest = TableDigest()
    async for page in reader.pages():
        await digest.add(page)
    await digest.finish()
    return digest
