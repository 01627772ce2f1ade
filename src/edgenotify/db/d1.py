"""One thin facade over the D1 binding, identical on the edge and in the embedded runtime.

Why a facade: the binding speaks JavaScript types. On the edge (SDK wrapper mode) BLOBs come
back as ``list[int]``, integers beyond 2**53 cannot be bound, and errors surface as
``JsException``. The facade normalises those once, so query code sees Python values and a
single ``D1Error``, and it counts round trips so tests and benchmarks can hold hot paths to
their budget (one ``batch`` per send), and reports them with their rows to the invocation's
log line (:mod:`edgenotify.usage`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from edgenotify import usage, webapi

MAX_BOUND_PARAMS = 100
# Pyodide sends an int as a JS number only when |v| < 2**53 - 1; from there on it becomes a BigInt,
# which D1 refuses (seen on Miniflare: 2**53 - 1 -> "D1_TYPE_ERROR: Type 'bigint' not supported").
MAX_BINDABLE_INTEGER = 2**53 - 2

Param = None | bool | int | float | str | bytes


class D1Error(Exception):
    """A query D1 refused or failed. ``message`` is the runtime's text (e.g. ``D1_ERROR: ...``)."""

    def __init__(self, message: str, sql: str | None = None):
        super().__init__(message)
        self.message = message
        self.sql = sql


@dataclass(frozen=True)
class Query:
    """A statement and its bound parameters, to run alone or inside a batch."""

    sql: str
    params: tuple[Param, ...] = ()

    @classmethod
    def of(cls, sql: str, *params: Param) -> "Query":
        return cls(sql, tuple(params))


@dataclass
class Result:
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return int(self.meta.get("changes") or 0)

    @property
    def last_row_id(self) -> int:
        return int(self.meta.get("last_row_id") or 0)

    @property
    def rows_read(self) -> int:
        return int(self.meta.get("rows_read") or 0)

    @property
    def rows_written(self) -> int:
        return int(self.meta.get("rows_written") or 0)


def bind_value(value: Any) -> Param:
    """Convert a Python value to one D1 accepts, or raise a clear error before the round trip."""
    if value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) > MAX_BINDABLE_INTEGER:
            raise D1Error(f"D1_TYPE_ERROR: integer {value} is beyond 2**53 - 2 and cannot be bound; bind it as text")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise D1Error(f"D1_TYPE_ERROR: cannot bind a value of type {type(value).__name__}")


def _row(raw: Any) -> dict[str, Any]:
    # BLOBs arrive as list[int] (JS Array.from of the bytes); SQLite has no other list type.
    row = dict(raw)
    if list in map(type, row.values()):  # C-speed scan: most rows hold no BLOB and are returned as is
        row = {k: bytes(v) if isinstance(v, list) else v for k, v in row.items()}
    return row


def _result(raw: Any) -> Result:
    rows = raw["results"] if "results" in raw else None
    meta = raw["meta"] if "meta" in raw else None
    return Result([_row(r) for r in rows or []], dict(meta or {}))


class Database:
    """The D1 binding with Python types in and out. One per request; counts round trips."""

    def __init__(self, binding: Any):
        self.binding = binding
        self.round_trips = 0

    def _prepare(self, query: Query) -> Any:
        if len(query.params) > MAX_BOUND_PARAMS:
            raise D1Error(f"D1_ERROR: too many SQL variables ({len(query.params)} > {MAX_BOUND_PARAMS})", query.sql)
        values = [bind_value(p) for p in query.params]
        try:  # the JS bind() refuses some values synchronously: still a D1Error, never a raw JsException
            stmt = self.binding.prepare(query.sql)
            return stmt.bind(*values) if values else stmt
        except Exception as exc:
            raise D1Error(str(exc), query.sql) from exc

    async def execute(self, query: Query) -> Result:
        stmt = self._prepare(query)
        self.round_trips += 1
        usage.count_d1()
        try:
            result = _result(await stmt.all())
        except D1Error:
            raise
        except Exception as exc:  # JsException on the edge, the embedded runtime's error locally
            raise D1Error(str(exc), query.sql) from exc
        usage.count_rows(result.rows_read, result.rows_written)
        return result

    async def all(self, sql: str, *params: Param) -> list[dict[str, Any]]:
        return (await self.execute(Query(sql, params))).rows

    async def values(self, sql: str, *params: Param) -> list[list[Any]]:
        """Rows as lists in column order (D1's ``raw()``): no object per row, for bulk reads
        (a backup page is 2,000 rows; building and copying a dict per row was a tenth of its time)."""
        query = Query(sql, params)
        stmt = self._prepare(query)
        self.round_trips += 1
        usage.count_d1()
        try:
            rows = await stmt.raw()
        except Exception as exc:  # JsException on the edge, the embedded runtime's error locally
            raise D1Error(str(exc), query.sql) from exc
        rows = list(rows)
        usage.count_rows(len(rows), 0)  # raw() has no meta: the rows returned
        if not set(map(type, rows)) <= {list}:  # lists already, both on the edge and embedded: no copy
            rows = [list(r) for r in rows]
        if list in set(map(type, chain.from_iterable(rows))):  # C-speed scan; BLOBs arrive as list[int]
            rows = [[bytes(v) if isinstance(v, list) else v for v in r] for r in rows]
        return rows

    async def first_utf8(self, sql: str, column: int) -> tuple[list[Any], bytes] | None:
        """The first row of ``sql`` with its TEXT ``column`` as UTF-8 bytes (``webapi.first_row_utf8``):
        for a bulk text (a backup page, ~1 MB) that on the edge must not be converted to a Python str."""
        try:
            stmt = webapi.unwrapped(self.binding).prepare(sql)
        except Exception as exc:
            raise D1Error(str(exc), sql) from exc
        self.round_trips += 1
        usage.count_d1()
        try:
            row = await webapi.first_row_utf8(stmt, column)
        except Exception as exc:  # JsException on the edge, the embedded runtime's error locally
            raise D1Error(str(exc), sql) from exc
        usage.count_rows(1 if row else 0, 0)
        return row

    async def first(self, sql: str, *params: Param) -> dict[str, Any] | None:
        rows = await self.all(sql, *params)
        return rows[0] if rows else None

    async def run(self, sql: str, *params: Param) -> Result:
        return await self.execute(Query(sql, params))

    async def write(self, queries: Sequence[Query]) -> None:
        """``batch`` for statements run only for their effect (a restore's INSERTs), results unread.

        On the edge the SDK converts every result to Python, recursively, meta and all; for a
        restore's thousands of batches that conversion cost more CPU than our code. Here the
        statements go to the JS binding as JS objects and only the rows written are read back.
        """
        if not queries:
            return
        binding = webapi.unwrapped(self.binding)
        stmts = [self._prepare(q) for q in queries]
        if binding is not self.binding:  # JS objects in, JS results out; else the binding converts
            stmts = webapi.to_js([webapi.unwrapped(s) for s in stmts])
        self.round_trips += 1
        usage.count_d1()
        try:
            raw = await binding.batch(stmts)
        except Exception as exc:
            raise D1Error(str(exc)) from exc
        written = 0
        for result in raw:
            written += int(getattr(result.meta, "rows_written", 0) or 0)
        usage.count_rows(0, written)

    async def batch(self, queries: Sequence[Query]) -> list[Result]:
        """Run statements as one atomic transaction in one round trip (D1's only transaction)."""
        if not queries:
            return []
        stmts = [self._prepare(q) for q in queries]
        self.round_trips += 1
        usage.count_d1()
        try:
            raw = await self.binding.batch(stmts)
        except Exception as exc:
            raise D1Error(str(exc)) from exc
        results = [_result(r) for r in raw]
        usage.count_rows(sum(r.rows_read for r in results), sum(r.rows_written for r in results))
        return results


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """Split bound values so that no statement exceeds D1's 100-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
