"""The pure parts of a backup file: literals, D1-sized statements, schema classification, FK order."""

import sqlite3

import pytest

from edgenotify.ops.backups.schema import (
    FTS5,
    FTS5_CONTENTLESS,
    FTS5_EXTERNAL,
    RTREE,
    TableSpec,
    affinity_may_hold_negative_zero,
    fk_order,
    references,
    table_kind,
)
from edgenotify.ops.backups.sqlwriter import (
    WRANGLER_TRAPS,
    Row,
    RowTooLarge,
    TableWriter,
    nbytes,
    safe_literal,
    split_literal,
)


def _eval(literal: str) -> object:
    return sqlite3.connect(":memory:").execute(f"SELECT {literal}").fetchone()[0]


def test_safe_literal_splits_transaction_words_and_keeps_the_value() -> None:
    value = "Run BEGIN TRANSACTION; then commit; done it''s"
    lit = "'" + value.replace("'", "''") + "'"
    safe = safe_literal(lit)
    assert not WRANGLER_TRAPS.search(safe)
    assert "TRANSACTION" not in safe and "commit" not in safe
    assert _eval(safe) == value
    assert safe_literal("X'00FF'") == "X'00FF'" and safe_literal("12") == "12" and safe_literal("'plain'") == "'plain'"


@pytest.mark.parametrize("raw", ["x" * 100_001, "é'" * 60_000, "COMMIT;" * 30_000, "a\nb" * 50_000])
def test_split_text_literal_pieces_concatenate_to_the_value(raw: str) -> None:
    empty, pieces = split_literal("'" + raw.replace("'", "''") + "'")
    assert empty == "''" and len(pieces) > 1
    assert all(nbytes(p) <= 80_000 for p in pieces)
    assert "".join(_eval(p) for p in pieces) == raw
    assert not any(WRANGLER_TRAPS.search(p) for p in pieces)


def test_split_blob_literal_is_hex_pieces() -> None:
    data = bytes(range(256)) * 1000
    empty, pieces = split_literal("X'" + data.hex().upper() + "'")
    assert empty == "X''" and b"".join(_eval(p) for p in pieces) == data


def test_split_hex_text_literal_keeps_nul_characters() -> None:
    raw = ("a\x00b" * 50_000).encode()
    empty, pieces = split_literal("CAST(X'" + raw.hex() + "' AS TEXT)", piece_bytes=10_000)
    conn = sqlite3.connect(":memory:")
    value = conn.execute("SELECT hex(" + " || ".join([empty, *pieces]) + ")").fetchone()[0]
    assert empty == "''" and len(pieces) == 15 and bytes.fromhex(value) == raw


def _spec() -> TableSpec:
    return TableSpec("t", "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b)", columns=["id", "a", "b"], key=["rowid"])


def test_rows_are_grouped_into_multi_row_inserts_under_the_budget() -> None:
    rows = [Row([str(i)], [str(i), f"'{'v' * 500}'", "NULL"]) for i in range(1, 1001)]
    statements = list(TableWriter(_spec(), budget=20_000).statements(rows))
    assert len(statements) > 1
    assert all(nbytes(s) <= 20_000 for s in statements)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b)")
    for s in statements:
        conn.execute(s)
    assert conn.execute("SELECT count(*), sum(length(a)) FROM t").fetchone() == (1000, 500_000)


def test_a_row_over_the_budget_is_inserted_then_appended_in_pieces() -> None:
    text = "é" * 150_000
    blob = bytes(range(256)) * 600
    row = Row(["7"], ["7", "'" + text + "'", "X'" + blob.hex() + "'"])
    statements = list(TableWriter(_spec()).statements([row]))
    assert statements[0].startswith('INSERT INTO "t"') and all(s.startswith('UPDATE "t"') for s in statements[1:])
    assert all(nbytes(s) <= 98_000 for s in statements)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b)")
    for s in statements:
        conn.execute(s)
    assert conn.execute("SELECT a, b, typeof(b) FROM t WHERE id = 7").fetchone() == (text, blob, "blob")


def test_a_row_that_cannot_be_addressed_in_pieces_is_refused() -> None:
    spec = TableSpec("w", "CREATE TABLE w (k TEXT PRIMARY KEY) WITHOUT ROWID", columns=["k"], key=["k"])
    big = "'" + "k" * 120_000 + "'"
    with pytest.raises(RowTooLarge):
        list(TableWriter(spec).statements([Row([big], [big])]))


def test_table_kinds_from_ddl() -> None:
    assert table_kind("CREATE TABLE t (a)") == "table"
    assert table_kind("CREATE VIRTUAL TABLE f USING fts5(a, b)") == FTS5
    assert table_kind("CREATE VIRTUAL TABLE f USING fts5(a, content='docs', content_rowid='id')") == FTS5_EXTERNAL
    assert table_kind("CREATE VIRTUAL TABLE f USING fts5(a, content='')") == FTS5_CONTENTLESS
    assert table_kind("CREATE VIRTUAL TABLE f USING fts5(a, content='', contentless_delete=1)") == FTS5_CONTENTLESS
    assert table_kind("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)") == RTREE


def test_references_and_negative_zero_affinity() -> None:
    ddl = 'CREATE TABLE c (a REFERENCES "p q"(id), b TEXT REFERENCES [r], FOREIGN KEY (x) REFERENCES s(y))'
    assert references(ddl) == ["p q", "r", "s"]
    assert [affinity_may_hold_negative_zero(t) for t in ("", "BLOB", "ANY", "REAL", "INTEGER", "TEXT", "NUMERIC")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_fk_order_puts_parents_first_and_keeps_a_safe_order() -> None:
    parents = {"child": ["parent"], "grandchild": ["child"], "self": ["self"], "a": ["b"], "b": ["a"]}
    assert fk_order(["grandchild", "child", "parent", "self"], parents) == ["parent", "child", "grandchild", "self"]
    assert fk_order(["parent", "child", "other"], parents) == ["parent", "child", "other"]
    assert sorted(fk_order(["a", "b"], parents)) == ["a", "b"]  # a cycle still yields every table once


def test_digest_text_is_the_same_whatever_sqlite_prints_for_a_real() -> None:
    from edgenotify.ops.backups.dump import canonical, row_text

    # CPython's SQLite 3.40 and workerd's newer SQLite print these doubles differently
    assert canonical("3.00000000000000044408e-01") == canonical("0.30000000000000004") == "0.30000000000000004"
    assert canonical("1.0e+308") == canonical("1e+308") and canonical("-0.0") == "-0.0"
    assert canonical("9.0e+999") == "inf" and canonical("-9223372036854775808") == "-9223372036854775808"
    assert row_text(["1", "'0.5'", "0.5", "NULL"]) == "(1,'0.5',0.5,NULL)\n"


def test_a_tuple_read_as_text_is_made_safe_like_its_literals() -> None:
    values = ["1", "'it''s a COMMIT;'", "X'00ff'", "CAST(X'00' AS TEXT)", "'a,''BEGIN TRANSACTION'", "NULL", "'x'"]
    as_values = list(TableWriter(_spec()).statements([Row(["1"], values)]))
    as_text = list(TableWriter(_spec()).statements([Row(["1"], None, "(" + ",".join(values) + ")")]))
    assert as_text == as_values and not WRANGLER_TRAPS.search(as_text[0])
