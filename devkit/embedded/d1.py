"""A D1 binding on a local SQLite file, shaped like D1 seen through the Python SDK's wrapper.

What it mirrors, and from where:

* the JS binding (workerd ``src/cloudflare/internal/d1-api.ts``): ``prepare/bind/all/run/
  first/raw``, ``batch``, ``exec`` (which splits its input on newlines, one statement per
  line), ``withSession``/``getBookmark``, ``D1_TYPE_ERROR`` from ``bind``,
  ``D1_COLUMN_NOTFOUND`` from ``first(col)``, ``D1_EXEC_ERROR: Error in line ...``;
* Miniflare's database object (workers-sdk ``packages/miniflare/src/workers/d1/
  database.worker.ts``): every call, single query or batch, runs in one transaction
  (so ``batch`` is all-or-nothing; ``exec`` too), ``meta`` has Miniflare's fields:
  ``served_by="miniflare.db"``, ``served_by_primary``, ``total_attempts``,
  ``timings.sql_duration_ms``, ``duration``, ``changes`` (total_changes delta, trigger rows
  included), ``last_row_id``, ``changed_db``, ``size_after``, ``rows_read``, ``rows_written``;
  ``run()`` returns rows too; comment-only statements are dropped and an empty call fails with
  ``No SQL statements detected.``; SQLite errors read ``<message>: SQLITE_X`` plus
  `` (extended: SQLITE_X_Y)`` when there is an extended code;
* workerd's SQLite guard (``util/sqlite.c++``, ``api/sql.c++``): BEGIN/COMMIT/ROLLBACK/
  SAVEPOINT/RELEASE rejected with the Durable Object "please use state.storage.transaction()"
  message, ATTACH/DETACH/VACUUM/TEMP objects/other virtual tables refused (``not authorized``),
  PRAGMAs limited to D1's allow-list, names starting ``_cf_`` reserved, foreign keys on;
* D1's documented limits: 100 bound parameters, 100,000-byte statements (both enforced by
  SQLite limits, so the messages are SQLite's own);
* the SDK wrapper + Pyodide (``workers/rpc.py``): results are ``JsDict``/lists, errors are
  ``JsException`` whose ``str`` is ``Error: D1_ERROR: ...``; ``None`` binds as NULL, ``bytes``
  as a BLOB that reads back as ``list[int]``; ints and bools cross as JS numbers (doubles:
  REAL until column affinity makes them INTEGER), from ±(2**53 - 1) on they are BigInts and
  refused; numbers read back as JS numbers (``jsvalues.js_number``). These were checked
  against Pyodide 0.28 + Miniflare with ``python -m devkit.parity``.

Approximations (stock SQLite has no per-statement row counters; workerd patches them in):
``rows_written`` = rows changed (``total_changes`` delta, so index writes are not counted)
and ``rows_read`` = rows returned + rows changed by UPDATE/DELETE, a lower bound that does not
see rows a scan examined and filtered out.

Speed: ``synchronous=OFF`` and ``journal_mode=TRUNCATE`` bring a write call from ~13 ms (an
fsync per commit) to ~0.1 ms. A process crash still rolls back cleanly; only an OS crash can
lose the last commits of this local, disposable state. The file stays a single plain SQLite
file (no WAL), so any sqlite3 tool can read or copy it after a commit.

No threads: every call runs synchronously inside its coroutine, so a transaction never spans
an ``await`` and two bindings on one file in one event loop never wait on each other. A busy
timeout covers other threads and processes (the test server thread, the migrate CLI).
"""

import asyncio
import ctypes
import math
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from itertools import chain
from pathlib import Path
from typing import Any

from devkit.d1_policy import ALLOWED_VIRTUAL_MODULES, MAX_STATEMENT_BYTES, pragma_allowed
from devkit.embedded.jsvalues import (
    MAX_SAFE_INTEGER,
    JsDict,
    JsException,
    check_sendable,
    js_number,
    options,
    to_py,
)
from devkit.embedded.meter import binding_call
from devkit.embedded.meter import current as current_meter

SERVED_BY = "miniflare.db"


def _one_malloc_arena() -> None:
    """glibc gives each thread that allocates its own malloc arena: the worker thread reading
    pages (see ``D1PreparedStatement.raw``) kept ~11 MB more resident at 1M rows (measured: 81 MB
    vs 70 MB for a backup). One arena, as a single-threaded process has; elsewhere nothing."""
    try:
        ctypes.CDLL(None).mallopt(ctypes.c_int(-8), ctypes.c_int(1))  # M_ARENA_MAX (glibc's malloc.h)
    except (AttributeError, OSError):  # not glibc
        pass


_one_malloc_arena()
MAX_BOUND_PARAMETERS = 100
MAX_VALUE_BYTES = 2_000_000  # D1's limit on one string, BLOB or row: past it SQLite says SQLITE_TOOBIG
BUSY_TIMEOUT_SECONDS = 10.0
# sqlite3 caches compiled statements by SQL text (default 128). A restore sends hundreds of distinct
# 100 KB multi-row INSERTs, each compiling to a program of several hundred KB: at 128 entries the cache
# alone held ~80 MB. 32 still covers the statements one request or task repeats.
STATEMENT_CACHE_SIZE = 32

TRANSACTION_REFUSED = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)
NO_STATEMENTS = "No SQL statements detected."
MULTI_WITH_PARAMS = (
    "When executing multiple SQL statements in a single call, only the last statement can have parameters."
)
WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."

# Functions workerd's authorizer refuses ("not authorized to use function: X"). Observed for
# sqlite_version on Miniflare; the rest expose the host build or load code. workerd keeps an
# allow-list we cannot read, so this deny-list is a known-incomplete approximation.
DENIED_FUNCTIONS = frozenset(
    {"sqlite_version", "sqlite_source_id", "sqlite_compileoption_get", "sqlite_compileoption_used", "load_extension"}
)

_DENIED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_ATTACH,
        sqlite3.SQLITE_DETACH,
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
        sqlite3.SQLITE_DROP_TEMP_INDEX,
        sqlite3.SQLITE_DROP_TEMP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_TRIGGER,
        sqlite3.SQLITE_DROP_TEMP_VIEW,
    }
)
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.MULTILINE)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CHANGING_VERB = re.compile(r"^\s*(UPDATE|DELETE)\b", re.IGNORECASE)


class _Guard:
    """The SQLite authorizer: what D1 refuses, refused at prepare time with SQLite's own error."""

    def __init__(self) -> None:
        self.internal = False  # our own BEGIN/COMMIT and bookkeeping pass
        self.transaction_attempted = False

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None) -> int:
        if self.internal:
            return sqlite3.SQLITE_OK
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            self.transaction_attempted = True
            return sqlite3.SQLITE_DENY
        if action in _DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA:
            return sqlite3.SQLITE_OK if pragma_allowed((arg1 or "").lower(), arg2) else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_CREATE_VTABLE, sqlite3.SQLITE_DROP_VTABLE):
            if (arg2 or "").lower() not in ALLOWED_VIRTUAL_MODULES:
                return sqlite3.SQLITE_DENY
        if db == "temp" and action not in (sqlite3.SQLITE_READ, sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION):
            return sqlite3.SQLITE_DENY
        for name in (arg1, arg2):
            if isinstance(name, str) and name.startswith("_cf_"):
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK


def _without_line_comments(sql: str) -> str:
    """Miniflare's comment filter; the regex pass only when there can be a comment (a restore sends
    hundreds of 100 KB INSERTs, where it was the slowest step of the call)."""
    return _COMMENT_LINE.sub("", sql) if "--" in sql else sql


def _has_statement_text(sql: str) -> bool:
    """Miniflare keeps a query when ``sql.replace(commentRegex, "").trim()`` is not empty."""
    text = _without_line_comments(sql)
    return bool(text) and not text.isspace()  # isspace() stops at the first other character: no copy


def _is_blank(sql: str) -> bool:
    text = _without_line_comments(sql)
    text = _BLOCK_COMMENT.sub("", text) if "/*" in text else text
    head = text.lstrip()  # the same object when nothing is stripped: no copy of a 100 KB INSERT
    if head and head[0] != ";":
        return False
    return not text.replace(";", "").strip()


def split_statements(sql: str) -> list[str]:
    """Split at statement ends as SQLite sees them (quotes, comments and trigger bodies honoured)."""
    parts: list[str] = []
    start = 0
    for i, ch in enumerate(sql):
        if ch == ";" and sqlite3.complete_statement(sql[start : i + 1]):
            parts.append(sql[start : i + 1])
            start = i + 1
    parts.append(sql[start:])
    return [p for p in parts if not _is_blank(p)]


def bind_value(value: Any) -> Any:
    """One bound value as the SDK wrapper and the JS ``bind()`` pass it, or a D1_TYPE_ERROR.

    Numbers cross as JS numbers, i.e. doubles: ``7`` binds as REAL ``7.0`` (``typeof(?)`` is
    ``real``, ``?/2`` is ``3.5``) and becomes INTEGER only through column affinity. From
    ±(2**53 - 1) on, Pyodide sends a BigInt, which D1 refuses (both observed on Miniflare).
    """
    check_sendable(value)  # tuple/bytearray: TypeError from the SDK wrapper
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        if abs(value) >= MAX_SAFE_INTEGER:  # Pyodide sends it as a BigInt
            raise JsException(f"D1_TYPE_ERROR: Type 'bigint' not supported for value '{value}'")
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON.stringify(NaN/Infinity) is null
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    if isinstance(value, list) and all(type(b) is int and 0 <= b < 256 for b in value):
        return bytes(value)  # an array of bytes is a BLOB to D1
    shown = ",".join(str(v) for v in value) if isinstance(value, list) else "[object Object]"
    raise JsException(f"D1_TYPE_ERROR: Type 'object' not supported for value '{shown}'")


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return list(value)  # Array.from(Uint8Array): BLOBs arrive as list[int]
    return js_number(value)


_UNCHANGED_TYPES = frozenset({str, type(None)})
_INT_TYPES = frozenset({int, type(None)})


def _convert_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every value as the JS round trip returns it (``_cell``), decided column by column.

    Why by column: a backup page is 2,000 rows x 15 columns, and a Python call per value was a
    third of the time of reading it. Most columns need nothing (TEXT and NULL pass unchanged;
    INTEGERs within ±(2**53 - 1) too), which ``set(map(type, ...))`` and ``min``/``max`` see at C
    speed; only REAL, BLOB, mixed and out-of-range integer columns are converted value by value.
    """
    if not rows or set(map(type, chain.from_iterable(rows))) <= _UNCHANGED_TYPES:
        return rows  # only TEXT and NULL (a backup page): no need to look column by column
    columns = list(zip(*rows, strict=True))
    changed = False
    for i, column in enumerate(columns):
        kinds = set(map(type, column))
        if kinds <= _UNCHANGED_TYPES:
            continue
        if kinds <= _INT_TYPES:
            numbers = list(filter(None, column))  # drops NULL (and 0, which is safe anyway)
            if not numbers or (min(numbers) >= -MAX_SAFE_INTEGER and max(numbers) <= MAX_SAFE_INTEGER):
                continue
        columns[i] = tuple(map(_cell, column))
        changed = True
    return list(zip(*columns, strict=True)) if changed else rows


# Extended result codes that Python 3.11's sqlite3 names "unknown" (sqlite3.h: primary | n << 8).
# Seen on Miniflare: a STRICT type violation reads "SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_DATATYPE)".
_NEWER_EXTENDED_CODES = {sqlite3.SQLITE_CONSTRAINT | (12 << 8): "SQLITE_CONSTRAINT_DATATYPE"}


def _error_text(exc: Exception, guard: _Guard) -> str:
    if guard.transaction_attempted:
        return TRANSACTION_REFUSED
    message = str(exc)
    if message == "You can only execute one statement at a time.":
        return MULTI_WITH_PARAMS
    if message.startswith("Incorrect number of bindings supplied"):
        return WRONG_BINDINGS
    if message == "query string is too large":
        return "statement too long: SQLITE_TOOBIG"
    extended = getattr(exc, "sqlite_errorname", None)
    if extended == "unknown":  # a code newer than CPython's name table (e.g. STRICT's DATATYPE)
        extended = _NEWER_EXTENDED_CODES.get(getattr(exc, "sqlite_errorcode", None), extended)
    if not extended:
        return message
    primary = "_".join(extended.split("_")[:2])  # SQLITE_CONSTRAINT_UNIQUE -> SQLITE_CONSTRAINT
    suffix = f" (extended: {extended})" if extended != primary else ""
    return f"{message}: {primary}{suffix}"  # as workerd prints it


def _call(own_time: bool = True) -> AbstractContextManager[Any]:
    """One D1 call of the current invocation (counted against its limits), if there is one."""
    return binding_call("d1", own_time)


class _Query:
    """One statement and its bound values, the unit Miniflare runs inside a transaction."""

    def __init__(self, sql: str, params: Sequence[Any] = ()):
        self.sql = sql
        self.params = list(params)


class D1Database:
    """``env.DB``. One SQLite connection: a binding is one isolate's view of the database.

    ``calls`` counts round trips (all/run/first/raw/batch/exec, sessions included).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.calls = 0
        self._conn: sqlite3.Connection | None = None
        self._guard = _Guard()
        self._bookmark_seq = 0
        # raw() reads run on a worker thread (see D1PreparedStatement.raw): one statement at a time
        self._lock = threading.RLock()

    # -- the JS API ------------------------------------------------------------------
    def prepare(self, query: str) -> "D1PreparedStatement":
        return D1PreparedStatement(self, str(query))

    async def batch(self, statements: list["D1PreparedStatement"]) -> list[JsDict]:
        check_sendable(statements)
        queries = []
        for stmt in statements:
            if not isinstance(stmt, D1PreparedStatement):
                raise JsException("batch() expects D1PreparedStatement objects", "TypeError")
            queries.append(_Query(stmt.statement, stmt.params))
        with _call():
            self.calls += 1
            return [_objects(r) for r in self._run_or_throw(queries)]

    async def exec(self, query: str) -> JsDict:
        lines = str(query).strip().split("\n")
        with _call():
            self.calls += 1
            try:
                results = self._transaction([_Query(line) for line in lines])
            except _Failure as exc:
                # Miniflare answers one error for the whole call, which d1-api.ts reports as line 1.
                raise JsException(f"D1_EXEC_ERROR: Error in line 1: {lines[0]}: {exc}") from None
        return JsDict(count=len(results), duration=sum(r["meta"]["duration"] for r in results))

    def withSession(self, constraint_or_bookmark: str | None = None) -> "D1DatabaseSession":
        return D1DatabaseSession(self, constraint_or_bookmark)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- execution -------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=STATEMENT_CACHE_SIZE,
            )
            conn.text_factory = str  # the C fast path; invalid UTF-8 falls back (see _transaction)
            conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_BOUND_PARAMETERS)
            conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_STATEMENT_BYTES)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = OFF")  # local dev state: no fsync per commit
            conn.execute("PRAGMA journal_mode = TRUNCATE")  # no journal file created and deleted per commit
            self._page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.set_authorizer(self._guard)
            self._conn = conn
        return self._conn

    def _internal(self, sql: str) -> Any:
        """Run our own statement past the guard. The marker keeps it out of the user's statement
        cache entries: sqlite3 caches by SQL text, and a cached statement is not re-authorized."""
        self._guard.internal = True
        try:
            return self._connection().execute(f"{sql} /* embedded-d1 */").fetchone()
        finally:
            self._guard.internal = False

    def _state(self) -> tuple[int, int, int]:
        rowid, pages = self._internal("SELECT last_insert_rowid(), (SELECT page_count FROM pragma_page_count())")
        return self._connection().total_changes, rowid, pages * self._page_size

    def _run_or_throw(self, queries: list[_Query]) -> list[dict[str, Any]]:
        try:
            return self._transaction(queries)
        except _Failure as exc:
            raise JsException(f"D1_ERROR: {exc}") from None

    def _transaction(self, queries: list[_Query]) -> list[dict[str, Any]]:
        """Miniflare's ``#txn``: drop comment-only queries, run the rest all-or-nothing.

        TEXT is decoded by sqlite3's C decoder, which refuses invalid UTF-8; workerd's JS strings
        replace it with U+FFFD instead. On such a refusal the call is rolled back and run again with
        a replacing decoder (a Python call per value, so only when needed: it was a tenth of the
        time of reading a backup page).
        """
        queries = [q for q in queries if _has_statement_text(q.sql)]  # Miniflare's exact filter
        if not queries:
            raise _Failure(NO_STATEMENTS)
        with self._lock:
            conn = self._connection()
            try:
                return self._all_or_nothing(conn, queries)
            except _InvalidUtf8:
                pass  # rolled back; redone below, outside the handler (its traceback holds the cursor)
            conn.text_factory = _replacing_decoder
            try:
                return self._all_or_nothing(conn, queries)
            finally:
                conn.text_factory = str

    def _all_or_nothing(self, conn: sqlite3.Connection, queries: list[_Query]) -> list[dict[str, Any]]:
        self._internal("BEGIN IMMEDIATE")
        try:
            results = [self._query(conn, q) for q in queries]
        except BaseException:
            self._internal("ROLLBACK")
            raise
        self._internal("COMMIT")
        return results

    def _query(self, conn: sqlite3.Connection, query: _Query) -> dict[str, Any]:
        started = time.perf_counter()
        before_changes, before_rowid, before_size = self._state()
        self._guard.transaction_attempted = False
        cursor = None
        try:
            cursor = self._execute(conn, query)
            columns = [d[0] for d in cursor.description or ()]
            rows = _convert_rows(cursor.fetchall())
        except (sqlite3.Error, OverflowError) as exc:
            if conn.text_factory is str and str(exc).startswith(_STRICT_DECODER_REFUSAL):
                if cursor is not None:
                    cursor.close()  # reset the half-read statement, or the redo could not commit
                raise _InvalidUtf8 from None
            raise _Failure(_error_text(exc, self._guard)) from None
        duration = (time.perf_counter() - started) * 1000
        changes_after, rowid_after, size_after = self._state()
        changes = changes_after - before_changes
        read_extra = changes if _CHANGING_VERB.match(query.sql) else 0
        meter = current_meter()
        if meter is not None:  # inside an invocation: its result-size limit and row counts
            refused = meter.check_result_size(rows)
            if refused is not None:
                raise _Failure(refused)  # the call's transaction is rolled back
            meter.rows(len(rows) + read_extra, changes)
        return {
            "success": True,
            "columns": columns,
            "rows": rows,
            "meta": {
                "served_by": SERVED_BY,
                "served_by_primary": True,
                "total_attempts": 1,
                "timings": {"sql_duration_ms": duration},
                "duration": duration,
                "changes": changes,
                "last_row_id": rowid_after,
                "changed_db": bool(changes or rowid_after != before_rowid or size_after != before_size),
                "size_after": size_after,
                "rows_read": len(rows) + read_extra,
                "rows_written": changes,
            },
        }

    def _execute(self, conn: sqlite3.Connection, query: _Query) -> sqlite3.Cursor:
        if _is_blank(query.sql):  # e.g. only a /* comment */ or ";": workerd's prepare finds nothing
            raise _Failure("SQL code did not contain a statement.")
        try:
            return conn.execute(query.sql, query.params)
        except sqlite3.ProgrammingError as exc:
            if str(exc) != "You can only execute one statement at a time.":
                raise
        # Several statements in one string: the Durable Object SQL API runs them in order and
        # returns the last one's rows; only the last may have parameters.
        *head, last = split_statements(query.sql)
        for sql in head:
            try:
                conn.execute(sql).fetchall()
            except sqlite3.ProgrammingError as exc:
                if str(exc).startswith("Incorrect number of bindings supplied"):
                    raise _Failure(MULTI_WITH_PARAMS) from None
                raise
        return conn.execute(last, query.params)

    def _next_bookmark(self) -> str:
        self._bookmark_seq += 1
        return f"{time.time_ns() // 1_000_000:016x}-{self._bookmark_seq:08x}"


class _Failure(Exception):
    """A query Miniflare refused; its text becomes the binding's D1_ERROR / D1_EXEC_ERROR."""


class _InvalidUtf8(Exception):
    """The strict decoder met TEXT that is not UTF-8: the call is redone with ``_replacing_decoder``."""


_STRICT_DECODER_REFUSAL = "Could not decode to UTF-8"


def _replacing_decoder(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")  # as V8 decodes a UTF-8 string: U+FFFD for each bad sequence


def _objects(result: dict[str, Any]) -> JsDict:
    """d1-api.ts ``toArrayOfObjects``: rows as objects (a repeated column name keeps the last value)."""
    columns = result["columns"]
    rows = [JsDict(zip(columns, row, strict=True)) for row in result["rows"]]
    return JsDict(success=True, meta=to_py(result["meta"]), results=rows)


class D1PreparedStatement:
    """``db.prepare(sql)``; ``bind`` returns a new statement, as in JS."""

    def __init__(self, database: D1Database, statement: str, params: list[Any] | None = None, session: Any = None):
        self.database = database
        self.statement = statement
        self.params = params or []
        self._session = session

    def bind(self, *values: Any) -> "D1PreparedStatement":
        return D1PreparedStatement(self.database, self.statement, [bind_value(v) for v in values], self._session)

    def _send(self) -> dict[str, Any]:
        with _call():
            self.database.calls += 1
            result = self.database._run_or_throw([_Query(self.statement, self.params)])[0]
        if self._session is not None:
            self._session._advance()
        return result

    async def all(self) -> JsDict:
        return _objects(self._send())

    async def run(self) -> JsDict:
        return _objects(self._send())  # Miniflare returns rows for run() as well

    async def first(self, colName: str | None = None) -> Any:
        rows = _objects(self._send())["results"]
        if not rows:
            return None
        if colName is None:
            return rows[0]
        if colName not in rows[0]:
            raise JsException(f"D1_COLUMN_NOTFOUND: Column not found ({colName})")
        return rows[0][colName]

    async def raw(self, *args: Any, **kwargs: Any) -> list[list[Any]]:
        """On a worker thread: D1 runs a query while the isolate goes on, so a reader that asks for
        its next page before processing this one (``dump.TableReader``) overlaps the two, as on the
        edge. Counted on the calling thread; SQLite's time is on the worker's, not the invocation's CPU."""
        column_names = bool(options(args, kwargs, 0).get("columnNames"))
        with _call(own_time=False):
            self.database.calls += 1
            result = (await asyncio.to_thread(self.database._run_or_throw, [_Query(self.statement, self.params)]))[0]
        if self._session is not None:
            self._session._advance()
        return ([list(result["columns"])] if column_names else []) + [list(r) for r in result["rows"]]


class D1DatabaseSession:
    """``db.withSession(...)``: same primary here; tracks the bookmark of its latest query."""

    CONSTRAINTS = ("first-primary", "first-unconstrained")

    def __init__(self, database: D1Database, constraint_or_bookmark: str | None):
        self.database = database
        given = constraint_or_bookmark or "first-unconstrained"
        self._bookmark: str | None = None if given in self.CONSTRAINTS else str(given)

    def prepare(self, query: str) -> D1PreparedStatement:
        return D1PreparedStatement(self.database, str(query), session=self)

    async def batch(self, statements: list[D1PreparedStatement]) -> list[JsDict]:
        results = await self.database.batch(statements)
        self._advance()
        return results

    def getBookmark(self) -> str | None:
        return self._bookmark

    def _advance(self) -> None:
        self._bookmark = self.database._next_bookmark()
