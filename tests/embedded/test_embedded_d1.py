"""The embedded D1 binding: API shape, Miniflare semantics, D1's refusals and limits."""

import asyncio
import math

import pytest

from devkit.embedded.d1 import D1Database, split_statements
from devkit.embedded.jsvalues import JsDict, JsException

SCHEMA = (
    "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, b BLOB, r REAL, n INTEGER)\n"
    "CREATE TABLE child (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t(id))"
)


@pytest.fixture
def db(tmp_path):
    database = D1Database(tmp_path / "d1" / "DB.sqlite3")
    asyncio.run(database.exec(SCHEMA))
    database.calls = 0
    yield database
    database.close()


def run(coro):
    return asyncio.run(coro)


def insert(db, name, **extra):
    cols = ["name", *extra]
    sql = f"INSERT INTO t ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    return run(db.prepare(sql).bind(name, *extra.values()).run())


def test_run_returns_d1_result_with_miniflare_meta(db):
    result = insert(db, "a")
    assert isinstance(result, JsDict)
    assert result.success is True and result["results"] == []
    meta = result.meta
    assert set(meta) == {
        "served_by",
        "served_by_primary",
        "total_attempts",
        "timings",
        "duration",
        "changes",
        "last_row_id",
        "changed_db",
        "size_after",
        "rows_read",
        "rows_written",
    }
    assert meta["served_by"] == "miniflare.db" and meta.served_by_primary is True and meta.total_attempts == 1
    assert meta.timings.sql_duration_ms == meta.duration
    assert meta["changes"] == 1 and meta["rows_written"] == 1 and meta["changed_db"] is True
    assert meta["last_row_id"] == 1 and meta["size_after"] > 0 and meta["duration"] >= 0


def test_all_returns_rows_as_attribute_dicts_and_counts_rows_read(db):
    for name in "abc":
        insert(db, name)
    result = run(db.prepare("SELECT id, name FROM t WHERE name <> ?1 ORDER BY id").bind("b").all())
    assert [row.name for row in result.results] == ["a", "c"]
    assert result.meta.rows_read == 2 and result.meta.changes == 0 and result.meta.changed_db is False


def test_update_counts_changed_rows_as_read_and_written(db):
    for name in "abc":
        insert(db, name)
    meta = run(db.prepare("UPDATE t SET n = 1 WHERE name <> 'a'").run()).meta
    assert (meta.changes, meta.rows_read, meta.rows_written) == (2, 2, 2)


def test_first_returns_row_column_or_none(db):
    insert(db, "a")
    stmt = db.prepare("SELECT id, name FROM t WHERE name = ?")
    assert run(stmt.bind("a").first()) == {"id": 1, "name": "a"}
    assert run(stmt.bind("a").first("name")) == "a"
    assert run(stmt.bind("zz").first()) is None
    assert run(stmt.bind("zz").first("name")) is None


def test_first_with_unknown_column_is_column_not_found(db):
    insert(db, "a")
    with pytest.raises(JsException, match=r"^Error: D1_COLUMN_NOTFOUND: Column not found \(nope\)$"):
        run(db.prepare("SELECT name FROM t").first("nope"))


def test_raw_with_and_without_column_names(db):
    insert(db, "a")
    stmt = db.prepare("SELECT name, name AS again FROM t")
    assert run(stmt.raw()) == [["a", "a"]]
    assert run(stmt.raw(columnNames=True)) == [["name", "again"], ["a", "a"]]
    assert run(stmt.raw({"columnNames": True})) == [["name", "again"], ["a", "a"]]
    assert run(stmt.raw(None)) == [["a", "a"]]
    assert run(db.prepare("SELECT name FROM t WHERE 0").raw(columnNames=True)) == [["name"]]


def test_bind_value_conversions_like_the_sdk_wrapper(db):
    insert(db, "types", b=b"\x00\xff", r=3.0, n=True)
    insert(db, "nulls", b=None, r=math.nan, n=False)
    rows = run(db.prepare("SELECT name, b, r, n, typeof(b) AS tb FROM t ORDER BY id").all()).results
    assert rows[0] == {"name": "types", "b": [0, 255], "r": 3, "n": 1, "tb": "blob"}  # BLOB → list[int]
    assert isinstance(rows[0]["r"], int)  # a JS number that is integral arrives as int
    assert rows[1] == {"name": "nulls", "b": None, "r": None, "n": 0, "tb": "null"}  # NaN → null
    insert(db, "bytes-list", b=[1, 2, 3])
    assert run(db.prepare("SELECT b FROM t WHERE name = 'bytes-list'").first("b")) == [1, 2, 3]


def test_ints_cross_as_js_numbers_real_until_column_affinity(db):
    expr = run(db.prepare("SELECT typeof(?1) AS t, ?1 / 2 AS half, CAST(?1 AS TEXT) AS s").bind(7).first())
    assert expr == {"t": "real", "half": 3.5, "s": "7.0"}
    assert run(db.prepare("SELECT typeof(?1) AS t").bind(True).first("t")) == "real"
    insert(db, "affinity", n=7, r=7)
    row = run(db.prepare("SELECT typeof(n) AS tn, typeof(r) AS tr, n FROM t WHERE name = 'affinity'").first())
    assert row == {"tn": "integer", "tr": "real", "n": 7}


def test_bigint_is_refused_at_bind_and_big_numbers_read_back_as_js_numbers(db):
    for value in (2**53 - 1, -(2**53 - 1), 2**63 - 1):
        refused = rf"^Error: D1_TYPE_ERROR: Type 'bigint' not supported for value '{value}'"
        with pytest.raises(JsException, match=refused):
            db.prepare("SELECT ?").bind(value)
    assert run(db.prepare("SELECT CAST(CAST(?1 AS INTEGER) AS TEXT) AS v").bind(2**53 - 2).first("v")) == str(2**53 - 2)
    value = run(db.prepare("SELECT 9007199254740993 AS v").first("v"))
    assert value == float(2**53) and isinstance(value, float)  # precision lost, as a JS number
    assert run(db.prepare("SELECT 9007199254740991 AS v").first("v")) == 2**53 - 1  # still a safe integer


def test_unsupported_bind_types(db):
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        db.prepare("SELECT ?").bind((1, 2))
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        db.prepare("SELECT ?").bind(bytearray(b"x"))
    with pytest.raises(JsException, match=r"^Error: D1_TYPE_ERROR: Type 'object' not supported"):
        db.prepare("SELECT ?").bind({"a": 1})
    with pytest.raises(JsException, match=r"^Error: D1_TYPE_ERROR"):
        db.prepare("SELECT ?").bind([1, 300])


def test_sql_errors_read_like_miniflare(db):
    insert(db, "a")
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: no such table: nope: SQLITE_ERROR$"):
        run(db.prepare("SELECT * FROM nope").all())
    unique = r"^Error: D1_ERROR: UNIQUE constraint failed: t.name: SQLITE_CONSTRAINT"
    unique += r" \(extended: SQLITE_CONSTRAINT_UNIQUE\)$"
    with pytest.raises(JsException, match=unique):
        insert(db, "a")
    with pytest.raises(JsException, match="syntax error"):
        run(db.prepare("INVALID SQL GIBBERISH").run())
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: Wrong number of parameter bindings"):
        run(db.prepare("SELECT ?, ?").bind(1).all())


def test_foreign_keys_are_enforced(db):
    with pytest.raises(JsException, match="FOREIGN KEY constraint failed"):
        run(db.prepare("INSERT INTO child (t_id) VALUES (42)").run())


@pytest.mark.parametrize(
    "sql",
    ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "END"],
)
def test_transactions_are_refused(db, sql):
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: To execute a transaction, please use the state.storage"):
        run(db.prepare(sql).run())


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE 'other.db' AS other",
        "DETACH DATABASE other",
        "VACUUM",
        "PRAGMA journal_mode = WAL",
        "PRAGMA integrity_check",
        "PRAGMA page_count",
        "PRAGMA page_size = 8192",
        "CREATE TABLE _cf_mine (a)",
        "CREATE TEMP TABLE scratch (a)",
        "CREATE VIRTUAL TABLE v USING dbstat",
        "SELECT sqlite_version()",
    ],
)
def test_refused_statements(db, sql):
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: "):
        run(db.prepare(sql).run())


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA table_list",
        "PRAGMA table_info(t)",
        "PRAGMA index_list(t)",
        "PRAGMA foreign_key_check",
        "PRAGMA foreign_keys",
        "PRAGMA defer_foreign_keys = on",
        "PRAGMA quick_check",
        "PRAGMA optimize",
        "PRAGMA page_size",
        "PRAGMA data_version",
        "CREATE VIRTUAL TABLE docs USING fts5(body)",
    ],
)
def test_allowed_pragmas_and_fts5(db, sql):
    assert run(db.prepare(sql).run()).success is True


def test_more_than_100_bound_parameters_are_refused(db):
    ok = "SELECT " + ", ".join("?" * 100)
    assert len(run(db.prepare(ok).bind(*range(100)).raw())[0]) == 100
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: too many SQL variables"):
        run(db.prepare(ok + ", ?").bind(*range(101)).raw())


def test_statement_over_100_kb_is_refused(db):
    literal = "x" * 100_000
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: statement too long"):
        run(db.prepare(f"SELECT '{literal}'").all())


def test_batch_returns_results_in_order(db):
    results = run(
        db.batch(
            [
                db.prepare("INSERT INTO t (name) VALUES (?)").bind("a"),
                db.prepare("INSERT INTO t (name) VALUES (?)").bind("b"),
                db.prepare("SELECT count(*) AS n FROM t"),
            ]
        )
    )
    assert [r.meta.changes for r in results] == [1, 1, 0]
    assert results[2].results == [{"n": 2}]
    assert db.calls == 1


def test_batch_is_all_or_nothing(db):
    insert(db, "taken")
    statements = [
        db.prepare("INSERT INTO t (name) VALUES ('fresh')"),
        db.prepare("INSERT INTO t (name) VALUES ('taken')"),
    ]
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: UNIQUE constraint failed"):
        run(db.batch(statements))
    assert run(db.prepare("SELECT count(*) AS n FROM t").first("n")) == 1


def test_empty_batch_and_comment_only_statement_are_refused(db):
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: No SQL statements detected\.$"):
        run(db.batch([]))
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: No SQL statements detected\.$"):
        run(db.prepare("-- just a comment").run())


def test_several_statements_in_one_prepare_run_in_order(db):
    result = run(db.prepare("INSERT INTO t (name) VALUES ('x'); SELECT name FROM t WHERE name = ?").bind("x").all())
    assert result.results == [{"name": "x"}]
    with pytest.raises(JsException, match="only the last statement can have parameters"):
        run(db.prepare("SELECT ?; SELECT 1").bind(1).all())


def test_exec_runs_one_statement_per_line(db):
    out = run(db.exec("INSERT INTO t (name) VALUES ('l1');\n\nINSERT INTO t (name) VALUES ('l2');"))
    assert out.count == 2 and out.duration >= 0
    assert run(db.prepare("SELECT count(*) AS n FROM t").first("n")) == 2


def test_exec_error_names_line_one_and_rolls_back_like_miniflare(db):
    incomplete = r"^Error: D1_EXEC_ERROR: Error in line 1: CREATE TABLE x \(: incomplete input"
    with pytest.raises(JsException, match=incomplete):
        run(db.exec("CREATE TABLE x (\n  a INTEGER\n)"))
    with pytest.raises(JsException, match=r"^Error: D1_EXEC_ERROR: Error in line 1: .*UNIQUE constraint failed"):
        run(db.exec("INSERT INTO t (name) VALUES ('y');\nINSERT INTO t (name) VALUES ('y');"))
    assert run(db.prepare("SELECT count(*) AS n FROM t").first("n")) == 0


def test_sessions_and_bookmarks(db):
    session = db.withSession("first-primary")
    assert session.getBookmark() is None
    run(session.prepare("INSERT INTO t (name) VALUES (?)").bind("s").run())
    first = session.getBookmark()
    assert isinstance(first, str) and first
    run(session.batch([session.prepare("SELECT 1")]))
    assert session.getBookmark() > first
    assert db.withSession(first).getBookmark() == first  # a session started from a bookmark
    assert db.withSession().getBookmark() is None
    assert run(db.withSession().prepare("SELECT name FROM t").first("name")) == "s"


def test_calls_count_round_trips(db):
    stmt = db.prepare("SELECT 1 AS one")
    run(stmt.all())
    run(stmt.run())
    run(stmt.first())
    run(stmt.raw())
    run(db.batch([stmt, stmt]))
    run(db.exec("SELECT 1"))
    assert db.calls == 6
    with pytest.raises(JsException):
        run(db.prepare("SELECT * FROM nope").all())
    assert db.calls == 7  # a failed query is still a round trip


def test_two_bindings_on_one_file_are_two_isolates(tmp_path):
    path = tmp_path / "shared.sqlite3"
    a, b = D1Database(path), D1Database(path)
    run(a.exec("CREATE TABLE c (k TEXT PRIMARY KEY, v INTEGER NOT NULL)\nINSERT INTO c VALUES ('n', 0)"))

    async def bump(binding, times):
        for _ in range(times):
            await binding.prepare("UPDATE c SET v = v + 1 WHERE k = 'n'").run()
            await asyncio.sleep(0)  # interleave the two "isolates"

    async def race():
        await asyncio.gather(bump(a, 25), bump(b, 25))

    run(race())
    assert run(b.prepare("SELECT v FROM c").first("v")) == 50
    assert a._conn is not b._conn
    a.close()
    b.close()


def test_split_statements_honours_quotes_comments_and_triggers():
    sql = (
        "CREATE TABLE a (x TEXT DEFAULT ';');\n"
        "-- a comment; with a semicolon\n"
        "CREATE TRIGGER tr AFTER INSERT ON a BEGIN UPDATE a SET x = 'y;'; END;\n"
        "SELECT 1"
    )
    parts = split_statements(sql)
    assert len(parts) == 3
    assert parts[1].strip().startswith("-- a comment") and parts[1].rstrip().endswith("END;")


def test_statement_without_sql_is_refused(db):
    with pytest.raises(JsException, match=r"^Error: D1_ERROR: SQL code did not contain a statement\.$"):
        run(db.prepare("/* only a comment */").all())
