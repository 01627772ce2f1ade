"""The streaming splitter agrees with the whole-text splitter whatever the chunk boundaries."""

import random

import pytest

from edgenotify.db.sqlsplit import StatementSplitter, split_sql
from edgenotify.ops.backups.sqlstream import split_top_level, values_tuples

SCRIPT = """-- header comment; with a semicolon
PRAGMA defer_foreign_keys = TRUE;
CREATE TABLE "a;b" (x TEXT DEFAULT 'x;y', [c;d] INT, `e;f` BLOB); /* block; comment */
INSERT INTO "a;b" VALUES ('it''s; fine
on two lines', 1, X'00'), ('''', 2, NULL);
CREATE TRIGGER tr AFTER INSERT ON "a;b" BEGIN
  UPDATE "a;b" SET x = CASE WHEN 1 THEN 'end;' ELSE 'begin;' END;
  SELECT 1;
END;
INSERT INTO t VALUES ('BEGIN'), ('END;');
CREATE VIEW v AS SELECT 1 -- trailing comment
;
SELECT 'last statement without semicolon'"""


def _stream(text: str, cuts: list[int]) -> list[str]:
    splitter = StatementSplitter()
    out: list[str] = []
    prev = 0
    for cut in [*cuts, len(text)]:
        out += splitter.feed(text[prev:cut])
        prev = cut
    return out + splitter.close()


def test_whole_text_matches_the_reference_splitter() -> None:
    expected = [s.sql for s in split_sql(SCRIPT)]
    assert _stream(SCRIPT, []) == expected
    assert len(expected) == 7


def test_every_single_cut_position_gives_the_same_statements() -> None:
    expected = _stream(SCRIPT, [])
    for cut in range(1, len(SCRIPT)):
        assert _stream(SCRIPT, [cut]) == expected, cut


@pytest.mark.parametrize("seed", range(20))
def test_random_chunking_gives_the_same_statements(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(SCRIPT)), 25))
    assert _stream(SCRIPT, cuts) == _stream(SCRIPT, [])


def test_values_tuples_and_items() -> None:
    stmt = 'INSERT INTO "d1_migrations" ("id","name","values") ' + "VALUES(1,'0001_a.sql','x,(y)'),\n(2,'b''c',f(1, 2))"
    groups = values_tuples(stmt)
    assert groups == ["1,'0001_a.sql','x,(y)'", "2,'b''c',f(1, 2)"]
    assert split_top_level(groups[1]) == ["2", "'b''c'", "f(1, 2)"]
