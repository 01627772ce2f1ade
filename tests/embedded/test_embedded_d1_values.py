"""The embedded D1's fast value paths give what the per-value JS conversion gives.

Reading converts column by column (``d1._convert_rows``) and decodes TEXT with sqlite3's strict C
decoder, redoing the call with a replacing decoder only when TEXT is not UTF-8. These tests pin
that the shortcuts change nothing a caller can see.
"""

import asyncio

import pytest

from devkit.embedded.d1 import D1Database, _cell, _convert_rows


@pytest.fixture
def d1(tmp_path):
    db = D1Database(tmp_path / "DB.sqlite3")
    yield db
    db.close()


def run(coro):
    return asyncio.run(coro)


def test_column_wise_conversion_equals_converting_every_value():
    big = 2**53 + 1
    rows = [
        ("text", None, 1, 1.0, 2.5, b"\x00\x01", 7, big, None, "mixed"),
        ("more", None, None, 3.0, None, None, 0, 5, -(2**60), 4.0),
        (None, None, -(2**53 - 1), -0.0, 1e300, b"", None, None, 2**63 - 1, b"x"),
    ]
    expected = [tuple(_cell(v) for v in row) for row in rows]
    converted = _convert_rows(rows)
    assert converted == expected
    assert [[type(v) for v in row] for row in converted] == [[type(v) for v in row] for row in expected]
    untouched = [("a", None, 1), ("b", 2, None)]
    assert _convert_rows(untouched) is untouched  # nothing to convert: the fetched rows as they are


def test_numbers_and_blobs_read_back_as_js_values(d1):
    run(d1.prepare("CREATE TABLE t (i INTEGER, r REAL, b BLOB, x)").run())
    run(d1.prepare("INSERT INTO t VALUES (9007199254740993, 2.0, X'0001', 'a'), (NULL, 2.5, NULL, 3)").run())
    rows = run(d1.prepare("SELECT * FROM t").all())["results"]
    assert rows == [{"i": 9007199254740992.0, "r": 2, "b": [0, 1], "x": "a"}, {"i": None, "r": 2.5, "b": None, "x": 3}]
    assert isinstance(rows[0]["i"], float) and isinstance(rows[0]["r"], int)


def test_invalid_utf8_text_reads_with_replacement_characters(d1):
    """As V8 decodes it on the edge (observed on Miniflare: 'a\\ufffdb'); the first, strict attempt
    is rolled back, so a write with RETURNING happens once."""
    run(d1.prepare("CREATE TABLE t (x)").run())
    inserted = run(d1.prepare("INSERT INTO t VALUES (CAST(X'61ff62' AS TEXT)), ('ok') RETURNING x").all())
    assert [r["x"] for r in inserted["results"]] == ["a\ufffdb", "ok"] and inserted["meta"]["changes"] == 2
    batch = run(d1.batch([d1.prepare("SELECT CAST(X'c3' AS TEXT) AS u"), d1.prepare("INSERT INTO t VALUES ('z')")]))
    assert batch[0]["results"] == [{"u": "\ufffd"}]
    assert run(d1.prepare("SELECT x FROM t ORDER BY rowid").raw()) == [["a\ufffdb"], ["ok"], ["z"]]
    assert run(d1.prepare("SELECT 'valid é' AS v").first("v")) == "valid é"  # strict decoding is back


def test_facade_values_are_rows_as_lists_with_blobs_as_bytes(d1):
    """``Database.values`` (D1 ``raw()``), the bulk read of backups and restore checks."""
    from edgenotify.db import D1Error, Database

    db = Database(d1)
    run(db.run("CREATE TABLE t (a TEXT, b BLOB)"))
    run(db.run("INSERT INTO t VALUES ('x', X'00ff'), (NULL, NULL)"))
    assert run(db.values("SELECT a, b FROM t ORDER BY rowid")) == [["x", b"\x00\xff"], [None, None]]
    assert run(db.values("SELECT a, quote(b) FROM t WHERE a = ?", "x")) == [["x", "X'00FF'"]]
    assert db.round_trips == 4
    with pytest.raises(D1Error, match="no such table"):
        run(db.values("SELECT * FROM nope"))
