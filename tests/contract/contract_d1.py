"""D1 binding contracts: what ``env.DB`` does with Python values, errors and results.

Seen on Miniflare through the SDK wrapper (the facts the embedded runtime must reproduce):
every JS number — so every Python ``int``, ``float`` and ``bool`` — is bound as REAL; column affinity
turns it back into INTEGER in INTEGER columns, but an expression (``?1 / 2``, ``json_object``,
``CAST(? AS TEXT)``) or a TEXT column sees the REAL. Pyodide sends ints with ``|v| >= 2**53 - 1`` as
BigInt, which D1 refuses. Numbers come back as JS numbers: a REAL ``1.0`` reads as ``int`` 1, an
INTEGER beyond 2**53 as an imprecise ``float``.
"""

import math
from typing import Any

from tests.contract.contracts import contract
from tests.contract.support import error_kind, fresh_table, raises, typed, without_offset

TXN_REFUSED = "please use the state.storage.transaction()"


async def _row(db: Any, sql: str, *params: Any) -> list[Any]:
    stmt = db.prepare(sql)
    rows = await (stmt.bind(*params) if params else stmt).raw()
    return rows[0]


@contract
async def d1_bind_none(env: Any) -> Any:
    row = await _row(env.DB, "SELECT ?1 IS NULL, typeof(?1), ?1", None)
    assert row == [1, "null", None], row
    return row


@contract
async def d1_bind_bool_is_a_js_number(env: Any) -> Any:
    row = await _row(env.DB, "SELECT ?1, typeof(?1), ?2, typeof(?2), ?1 + ?2", True, False)
    assert row[0] == 1 and row[2] == 0, row
    return [typed(v) for v in row]


@contract
async def d1_bind_int_is_real_until_affinity(env: Any) -> Any:
    """Python ints cross as JS numbers: REAL in expressions, INTEGER only via column affinity."""
    db = env.DB
    expr = await _row(db, "SELECT typeof(?1), ?1 / 2, CAST(?1 AS TEXT), json_array(?1), ?1 = 7, ?1 = '7'", 7)
    await fresh_table(db, "c_ints", "i INTEGER, r REAL, t TEXT, n NUMERIC, b BLOB, a")
    await db.prepare("INSERT INTO c_ints VALUES (?1, ?1, ?1, ?1, ?1, ?1)").bind(7).run()
    stored = await _row(
        db, "SELECT typeof(i), typeof(r), typeof(t), typeof(n), typeof(b), typeof(a), i, r, t, n, b, a FROM c_ints"
    )
    assert stored[:4] == ["integer", "real", "text", "integer"], stored
    return {"expr": [typed(v) for v in expr], "stored": [typed(v) for v in stored]}


@contract
async def d1_int_near_2_pow_53(env: Any) -> Any:
    """Up to 2**53 - 2 an int binds exactly; from 2**53 - 1 on, Pyodide sends a BigInt and D1 refuses it."""
    db = env.DB
    exact = (2**53 - 2, -(2**53 - 2), 2**31, -(2**31) - 1)
    sql = "SELECT ?1, ?2, ?3, ?4, CAST(CAST(?1 AS INTEGER) AS TEXT), CAST(CAST(?2 AS INTEGER) AS TEXT)"
    row = await _row(db, sql, *exact)
    assert row[:4] == list(exact) and row[4:] == [str(exact[0]), str(exact[1])], row
    ok = [typed(v) for v in row]
    refused = []
    for value in (2**53 - 1, -(2**53 - 1), 2**53, 2**63 - 1, -(2**63)):
        message = await raises(lambda v=value: db.prepare("SELECT ?1").bind(v).all(), "D1_TYPE_ERROR", "bigint")
        refused.append(message)
    return {"ok": ok, "refused": refused}


@contract
async def d1_read_integers_beyond_2_pow_53(env: Any) -> Any:
    """Stored int64 values read back as JS numbers (lossy floats); exact only as text or quote()."""
    db = env.DB
    await fresh_table(db, "c_bigints", "id INTEGER PRIMARY KEY, v INTEGER NOT NULL")
    await db.prepare(
        "INSERT INTO c_bigints (v) VALUES (9007199254740991), (9007199254740993), "
        "(9223372036854775807), (-9223372036854775808)"
    ).run()
    rows = await db.prepare("SELECT v, typeof(v), CAST(v AS TEXT), quote(v) FROM c_bigints ORDER BY id").raw()
    assert rows[0][0] == 2**53 - 1 and isinstance(rows[0][0], int), rows[0]
    assert isinstance(rows[1][0], float) and rows[1][2] == "9007199254740993", rows[1]
    return [[typed(r[0]), r[1], r[2], r[3]] for r in rows]


@contract
async def d1_bind_float(env: Any) -> Any:
    db = env.DB
    values = (0.1, 1.5, -2.25, 1e308, 5e-324, 1.0, -0.0, 1e20)
    cells = ", ".join(f"?{i}, typeof(?{i}), quote(?{i})" for i in range(1, len(values) + 1))
    flat = await _row(db, f"SELECT {cells}", *values)
    rows = [flat[i : i + 3] for i in range(0, len(flat), 3)]
    assert rows[0][0] == 0.1 and rows[3][0] == 1e308, rows
    # quote() is exact on both, but its text depends on the SQLite version (3.40 in CPython writes
    # 4.94065645841247e-324, workerd's newer SQLite 4.9406564584124654e-324): compare values.
    assert all(float(quoted) == value for (_, _, quoted), value in zip(rows, values, strict=True)), rows
    non_finite = await _row(db, "SELECT ?1, typeof(?1), ?2, typeof(?2), ?3, typeof(?3)", math.nan, math.inf, -math.inf)
    assert non_finite == [None, "null"] * 3, non_finite  # JSON.stringify turns them into null
    return {"finite": [[typed(r[0]), r[1]] for r in rows], "non_finite": non_finite}


@contract
async def d1_bind_str(env: Any) -> Any:
    db = env.DB
    values = ("", "plain", "é😀", "line1\nline2\r\n", 'it\'s "quoted"', "a\x00b", "x" * 5000)
    cells = ", ".join(f"?{i}, typeof(?{i}), length(?{i}), hex(?{i})" for i in range(1, len(values) + 1))
    flat = await _row(db, f"SELECT {cells}", *values)
    rows = [flat[i : i + 4] for i in range(0, len(flat), 4)]
    for value, row in zip(values, rows, strict=True):
        assert row[0] == value and row[1] == "text", (value, row)
    return [r[1:] for r in rows]


@contract
async def d1_bind_bytes_and_read_blobs(env: Any) -> Any:
    """bytes bind as BLOB; a BLOB reads back as ``list[int]`` everywhere (all, first, raw)."""
    db = env.DB
    payload = bytes(range(256))
    row = await _row(db, "SELECT ?1, typeof(?1), length(?1), hex(?1)", b"\x00\x01\xff")
    empty = await _row(db, "SELECT ?1, typeof(?1), length(?1)", b"")
    await fresh_table(db, "c_blobs", "id INTEGER PRIMARY KEY, b BLOB")
    await db.prepare("INSERT INTO c_blobs (b) VALUES (?1), (X''), (X'00FF')").bind(payload).run()
    via_all = [r["b"] for r in (await db.prepare("SELECT b FROM c_blobs ORDER BY id").all())["results"]]
    via_first = await db.prepare("SELECT b FROM c_blobs ORDER BY id").first("b")
    via_raw = [r[0] for r in await db.prepare("SELECT b FROM c_blobs ORDER BY id").raw()]
    assert row[0] == [0, 1, 255] and row[1] == "blob", row
    assert via_all == via_raw == [list(payload), [], [0, 255]], via_all
    assert via_first == list(payload)
    return {"bound": row, "empty": empty, "read": [typed(v) for v in via_raw]}


@contract
async def d1_bind_refuses_other_types(env: Any) -> Any:
    """The SDK refuses tuple/bytearray before the call; D1 refuses objects; lists of bytes are BLOBs."""
    db = env.DB
    tuple_error = await raises(lambda: db.prepare("SELECT ?1").bind((1, 2)).all(), "cannot be sent over RPC")
    bytearray_error = await raises(lambda: db.prepare("SELECT ?1").bind(bytearray(b"x")).all(), "cannot be sent")
    dict_error = await raises(lambda: db.prepare("SELECT ?1").bind({"a": 1}).all(), "D1_TYPE_ERROR", "object")
    as_blob = await _row(db, "SELECT ?1, typeof(?1)", [1, 2])
    return {"tuple": tuple_error, "bytearray": bytearray_error, "dict": dict_error, "byte_list": as_blob}


@contract
async def d1_batch_is_atomic(env: Any) -> Any:
    db = env.DB
    await fresh_table(db, "c_batch", "id INTEGER PRIMARY KEY, k TEXT UNIQUE NOT NULL")
    ok = await db.batch(
        [
            db.prepare("INSERT INTO c_batch (k) VALUES (?1)").bind("a"),
            db.prepare("INSERT INTO c_batch (k) VALUES (?1)").bind("b"),
            db.prepare("SELECT k FROM c_batch ORDER BY k"),
        ]
    )
    message = await raises(
        lambda: db.batch(
            [
                db.prepare("INSERT INTO c_batch (k) VALUES ('c')"),
                db.prepare("UPDATE c_batch SET k = 'z' WHERE k = 'a'"),
                db.prepare("INSERT INTO c_batch (k) VALUES ('b')"),  # UNIQUE violation: all of it rolls back
            ]
        ),
        "D1_ERROR",
        "UNIQUE constraint failed: c_batch.k",
    )
    after = await db.prepare("SELECT k FROM c_batch ORDER BY k").raw()
    assert after == [["a"], ["b"]], after
    return {
        "ok": [[r["meta"]["changes"], r["results"]] for r in ok],
        "error": message,
        "after": after,
    }


@contract
async def d1_transactions_rejected(env: Any) -> Any:
    db = env.DB
    messages = []
    for sql in ("BEGIN", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT s1", "RELEASE s1"):
        messages.append(await raises(lambda s=sql: db.prepare(s).run(), "D1_ERROR", TXN_REFUSED))
    in_batch = await raises(lambda: db.batch([db.prepare("SELECT 1"), db.prepare("BEGIN")]), TXN_REFUSED)
    in_exec = await raises(lambda: db.exec("BEGIN TRANSACTION"), "D1_EXEC_ERROR", TXN_REFUSED)
    return {"run": [error_kind(m) for m in messages], "batch": error_kind(in_batch), "exec": error_kind(in_exec)}


@contract
async def d1_parameter_limit(env: Any) -> Any:
    db = env.DB
    hundred = await db.prepare("SELECT " + ", ".join("?" for _ in range(100))).bind(*range(100)).raw()
    assert hundred == [list(range(100))]
    message = await raises(
        lambda: db.prepare("SELECT " + ", ".join("?" for _ in range(101))).bind(*range(101)).all(),
        "D1_ERROR",
        "too many SQL variables",
    )
    return {"hundred": len(hundred[0]), "error": without_offset(message)}


@contract
async def d1_statement_size_limit(env: Any) -> Any:
    db = env.DB
    near = await _row(db, "SELECT length('" + "x" * 99_000 + "')")
    message = await raises(lambda: db.prepare("SELECT '" + "x" * 100_001 + "'").all(), "D1_ERROR", "SQLITE_TOOBIG")
    big_param = await _row(db, "SELECT length(?1)", "y" * 200_000)  # the limit is on SQL text, not values
    return {"near": near, "error": message, "big_param": big_param}


@contract
async def d1_meta_fields(env: Any) -> Any:
    db = env.DB
    await fresh_table(db, "c_meta", "id INTEGER PRIMARY KEY, v TEXT")
    inserted = await db.prepare("INSERT INTO c_meta (v) VALUES ('a'), ('b')").run()
    selected = await db.prepare("SELECT * FROM c_meta").all()
    meta = inserted["meta"]
    required = (
        "served_by",
        "served_by_primary",
        "timings",
        "duration",
        "changes",
        "last_row_id",
        "changed_db",
        "size_after",
        "rows_read",
        "rows_written",
    )
    missing = [k for k in required if k not in meta]
    assert not missing, f"meta lacks {missing}: {dict(meta)}"
    assert "sql_duration_ms" in meta["timings"], meta["timings"]
    assert inserted["success"] is True and inserted["results"] == []
    assert meta["changes"] == 2 and meta["last_row_id"] == 2 and meta["changed_db"] is True
    assert selected["meta"]["changed_db"] is False and selected["meta"]["rows_read"] >= 2
    assert meta.served_by == meta["served_by"]  # JsDict: attribute access too
    return {
        "insert": [meta["changes"], meta["last_row_id"], meta["changed_db"], meta["rows_written"] >= 2],
        "select": [selected["meta"]["changes"], len(selected["results"])],
        "size_after_positive": meta["size_after"] > 0,
    }


@contract
async def d1_first_raw_and_run(env: Any) -> Any:
    db = env.DB
    await fresh_table(db, "c_first", "id INTEGER PRIMARY KEY, name TEXT, score REAL")
    await db.prepare("INSERT INTO c_first (name, score) VALUES ('ann', 1.5), ('bob', 2.0)").run()
    first = await db.prepare("SELECT * FROM c_first ORDER BY id").first()
    first_col = await db.prepare("SELECT name FROM c_first ORDER BY id DESC").first("name")
    none = await db.prepare("SELECT * FROM c_first WHERE id = 0").first()
    none_col = await db.prepare("SELECT * FROM c_first WHERE id = 0").first("name")
    missing = await raises(lambda: db.prepare("SELECT * FROM c_first").first("nope"), "D1_COLUMN_NOTFOUND")
    raw = await db.prepare("SELECT id, name, score FROM c_first ORDER BY id").raw()
    with_names = await db.prepare("SELECT id, name FROM c_first ORDER BY id").raw(columnNames=True)
    empty_names = await db.prepare("SELECT id, name FROM c_first WHERE 0").raw(columnNames=True)
    run_rows = (await db.prepare("SELECT name FROM c_first ORDER BY id").run())["results"]
    duplicate = await db.prepare("SELECT 1 AS a, 2 AS a").raw(columnNames=True)
    assert first.name == first["name"] == "ann"
    return {
        "first": dict(first),
        "first_col": first_col,
        "none": [none, none_col],
        "missing": missing,
        "raw": [[typed(v) for v in r] for r in raw],
        "with_names": with_names,
        "empty_names": empty_names,
        "run_rows": run_rows,
        "duplicate_columns": duplicate,
    }


@contract
async def d1_exec(env: Any) -> Any:
    db = env.DB
    await fresh_table(db, "c_exec", "id INTEGER PRIMARY KEY, v TEXT UNIQUE")
    done = await db.exec("INSERT INTO c_exec (v) VALUES ('a');\nINSERT INTO c_exec (v) VALUES ('b');")
    message = await raises(
        lambda: db.exec("INSERT INTO c_exec (v) VALUES ('c');\nINSERT INTO c_exec (v) VALUES ('a');"),
        "D1_EXEC_ERROR",
        "UNIQUE constraint failed",
    )
    after = await db.prepare("SELECT v FROM c_exec ORDER BY v").raw()
    assert done["count"] == 2 and "duration" in done, dict(done)
    return {"count": done["count"], "error": error_kind(message), "after": after}


@contract
async def d1_sessions_and_bookmarks(env: Any) -> Any:
    db = env.DB
    session = db.withSession("first-primary")
    before = session.getBookmark()
    rows = (await session.prepare("SELECT 1 AS one").all())["results"]
    after = session.getBookmark()
    batch = await session.batch([session.prepare("SELECT 2 AS two")])
    later = session.getBookmark()
    unconstrained = db.withSession()
    resumed = db.withSession(after)
    resumed_rows = await resumed.prepare("SELECT 3 AS three").raw()
    assert before is None and isinstance(after, str) and after and isinstance(later, str), (before, after)
    assert later >= after  # bookmarks are ordered
    return {
        "rows": rows,
        "batch": [r["results"] for r in batch],
        "unconstrained_bookmark": unconstrained.getBookmark(),
        "resumed": resumed_rows,
        "resumed_bookmark_is_str": isinstance(resumed.getBookmark(), str),
    }


@contract
async def d1_errors_and_guards(env: Any) -> Any:
    """What D1 refuses besides transactions: the messages code may match on."""
    db = env.DB
    checks = {
        "syntax": ("SELEC 1", "D1_ERROR"),
        "no_table": ("SELECT * FROM c_no_such_table", "no such table: c_no_such_table"),
        "attach": ("ATTACH 'x.db' AS x", "not authorized"),
        "temp": ("CREATE TEMP TABLE c_tmp (x)", "not authorized"),
        "integrity_check": ("PRAGMA integrity_check", "not authorized"),
        "page_count": ("PRAGMA page_count", "not authorized"),
        "sqlite_version": ("SELECT sqlite_version()", "not authorized to use function: sqlite_version"),
        "empty": ("-- nothing", "No SQL statements detected."),
        "params_not_last": ("SELECT ?1; SELECT 2", "only the last statement can have parameters"),
    }
    out = {}
    for key, (sql, needle) in checks.items():
        stmt = db.prepare(sql)
        message = await raises(lambda s=stmt, k=key: (s.bind(1) if k == "params_not_last" else s).all(), needle)
        out[key] = without_offset(message)
    out["wrong_count"] = await raises(lambda: db.prepare("SELECT ?1, ?2").bind(1).all(), "Wrong number")
    out["multi"] = await db.prepare("SELECT 1 AS a; SELECT 2 AS b").raw()
    out["quick_check"] = await db.prepare("PRAGMA quick_check").raw()
    out["foreign_keys"] = await db.prepare("PRAGMA foreign_keys").raw()
    return out


@contract
async def d1_foreign_keys_enforced(env: Any) -> Any:
    db = env.DB
    await db.prepare("DROP TABLE IF EXISTS c_child").run()
    await fresh_table(db, "c_parent", "id INTEGER PRIMARY KEY")
    await fresh_table(db, "c_child", "id INTEGER PRIMARY KEY, p INTEGER REFERENCES c_parent(id) ON DELETE CASCADE")
    message = await raises(lambda: db.prepare("INSERT INTO c_child (p) VALUES (5)").run(), "FOREIGN KEY constraint")
    await db.batch([db.prepare("INSERT INTO c_parent VALUES (1)"), db.prepare("INSERT INTO c_child (p) VALUES (1)")])
    off = await db.prepare("PRAGMA foreign_keys = OFF").run()  # allowed, but only for its own transaction
    await db.prepare("DELETE FROM c_parent").run()
    children = await db.prepare("SELECT count(*) FROM c_child").raw()
    assert children == [[0]], children  # the cascade fired: foreign_keys=OFF did not carry over
    return {"error": message, "off_results": off["results"], "children_after_cascade": children}


@contract
async def d1_strict_tables(env: Any) -> Any:
    """STRICT (D1's advice): an int binds as REAL 7.0 and is stored as INTEGER 7; 7.5 is refused."""
    db = env.DB
    await fresh_table(db, "c_strict", "i INTEGER, r REAL, t TEXT, a ANY", "STRICT")
    await db.prepare("INSERT INTO c_strict VALUES (?1, ?1, ?2, ?1)").bind(7, "x").run()
    stored = await db.prepare("SELECT i, typeof(i), r, typeof(r), typeof(a) FROM c_strict").raw()
    refused = await raises(lambda: db.prepare("INSERT INTO c_strict (i) VALUES (?)").bind(7.5).run(), "D1_ERROR")
    text_refused = await raises(lambda: db.prepare("INSERT INTO c_strict (i) VALUES ('x')").run(), "D1_ERROR")
    return {"stored": stored, "refused": refused, "text_refused": text_refused}
