"""The SQLite table rebuild on D1 (FK actions fire because foreign_keys cannot be turned off) and trigger bodies."""

import sqlite3

from lint_helpers import BASE, finding, rules

REBUILD_PARENT = """\
PRAGMA foreign_keys = OFF;
CREATE TABLE IF NOT EXISTS parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, kind INTEGER DEFAULT 'b');
INSERT INTO parent_new (id, name, kind) SELECT id, name, kind FROM parent;
DROP TABLE parent;
ALTER TABLE parent_new RENAME TO parent;
PRAGMA foreign_keys = ON;
"""


def test_rebuild_of_a_table_with_cascading_children_is_a_high_risk_error(mdir):
    result = mdir.lint(REBUILD_PARENT)
    f = finding(result, "rebuild-cascade")
    assert (f.severity, f.risk, f.line) == ("error", "high", 4)
    assert "child(parent_id) ON DELETE CASCADE" in f.message
    assert result.exit_code == 1
    assert {
        "table-rebuild",
        "pragma-foreign-keys-off",
        "column-type-change",
        "default-change",
        "not-null-added",
    } <= rules(result)
    assert "drop-table" not in rules(result) and "rename-table" not in rules(result)


def test_what_the_rule_protects_against_really_happens_in_sqlite():
    """The same file, applied the way D1 applies it (one transaction, FKs on), deletes the child rows."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(BASE + "INSERT INTO parent (id, name) VALUES (1, 'p'); INSERT INTO child VALUES (1, 1);")
    conn.executescript("BEGIN;" + REBUILD_PARENT + "COMMIT;")
    assert conn.execute("SELECT count(*) FROM child").fetchone() == (0,)


def test_the_same_rebuild_without_cascading_children_is_only_medium(mdir):
    sql = """\
CREATE TABLE IF NOT EXISTS plain_new (id INTEGER PRIMARY KEY, name TEXT, note TEXT);
INSERT INTO plain_new (id, name, note) SELECT id, name, note FROM plain;
DROP TABLE plain;
ALTER TABLE plain_new RENAME TO plain;
CREATE INDEX IF NOT EXISTS idx_plain_name ON plain (name);
"""
    result = mdir.lint(sql)
    assert finding(result, "table-rebuild").risk == "medium"
    assert rules(result, file="0002_change.sql") == {"table-rebuild"}  # same columns, index re-created, no children
    assert result.exit_code == 0


def test_set_null_children_are_rewritten_too(mdir):
    mdir.add(
        "CREATE TABLE IF NOT EXISTS tag (\n"
        "  id INTEGER PRIMARY KEY, plain_id INTEGER REFERENCES plain ON DELETE SET NULL\n"
        ");\n"
    )
    result = mdir.lint(
        "CREATE TABLE IF NOT EXISTS plain_new (id INTEGER PRIMARY KEY, name TEXT, note TEXT);\n"
        "INSERT INTO plain_new SELECT * FROM plain;\nDROP TABLE plain;\nALTER TABLE plain_new RENAME TO plain;\n"
    )
    assert "ON DELETE SET NULL" in finding(result, "rebuild-cascade").message


def test_rebuild_drops_indexes_it_does_not_recreate(mdir):
    result = mdir.lint(
        "CREATE TABLE IF NOT EXISTS plain_new (id INTEGER PRIMARY KEY, name TEXT, note TEXT);\n"
        "INSERT INTO plain_new SELECT * FROM plain;\nDROP TABLE plain;\nALTER TABLE plain_new RENAME TO plain;\n"
    )
    assert "idx_plain_name" in finding(result, "rebuild-lost-objects").message


def test_rename_away_spelling_leaves_children_pointing_at_the_dropped_table(mdir):
    result = mdir.lint(
        "ALTER TABLE parent RENAME TO parent_old;\n"
        "CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY, name TEXT, kind TEXT DEFAULT 'a');\n"
        "INSERT INTO parent SELECT * FROM parent_old;\n"
        "DROP TABLE parent_old;\n"
    )
    assert finding(result, "rebuild-cascade").line == 4
    dangling = finding(result, "dangling-foreign-key")
    assert "references parent_old" in dangling.message and dangling.severity == "error"


def test_no_action_children_need_deferred_foreign_keys(mdir):
    mdir.add("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, plain_id INTEGER REFERENCES plain (id));\n")
    rebuild = (
        "CREATE TABLE IF NOT EXISTS plain_new (id INTEGER PRIMARY KEY, name TEXT, note TEXT);\n"
        "INSERT INTO plain_new SELECT * FROM plain;\nDROP TABLE plain;\nALTER TABLE plain_new RENAME TO plain;\n"
        "CREATE INDEX IF NOT EXISTS idx_plain_name ON plain (name);\n"
    )
    name = mdir.add(rebuild)
    assert "rebuild-blocked-by-fk" in rules(mdir.lint(), file=name)
    (mdir.path / name).write_text("PRAGMA defer_foreign_keys = ON;\n" + rebuild)
    assert "rebuild-blocked-by-fk" not in rules(mdir.lint(), file=name)


def test_plain_drop_of_a_parent_with_cascading_children(mdir):
    result = mdir.lint("DROP TABLE parent;\n")
    assert finding(result, "drop-cascade").severity == "error"
    assert "drop-table" in rules(result)


def test_plain_drop_of_a_table_nobody_references_is_not_a_cascade(mdir):
    assert rules(mdir.lint("DROP TABLE child;\n"), file="0002_change.sql") == {"drop-table"}


def test_drop_and_recreate_without_copy_is_a_drop_not_a_rebuild(mdir):
    result = mdir.lint(
        "CREATE TABLE IF NOT EXISTS plain_new (id INTEGER PRIMARY KEY);\nDROP TABLE plain;\n"
        "ALTER TABLE plain_new RENAME TO plain;\n"
    )
    assert finding(result, "drop-table").line == 2  # the rows are not copied: they are gone
    assert not rules(result) & {"table-rebuild", "rename-table"}  # plain_new is new: renaming it breaks nothing


TRIGGER = """\
CREATE TRIGGER IF NOT EXISTS plain_touch AFTER UPDATE ON plain
BEGIN
  UPDATE plain SET note = 'touched' WHERE id = NEW.id;
  DELETE FROM child;
END;
CREATE INDEX IF NOT EXISTS idx_plain_note ON plain (note);
"""


def test_trigger_body_is_not_a_transaction_nor_a_mass_delete(mdir):
    result = mdir.lint(TRIGGER)
    assert not rules(result, file="0002_change.sql")
    assert [(g.kind, g.line) for g in result.statements[-2:]] == [("create_trigger", 1), ("create_index", 6)]


def test_parse_error_inside_a_trigger_body_points_at_its_line(mdir):
    result = mdir.lint(TRIGGER.replace("DELETE FROM child;", "DELETE FROM child WHERE;"))
    f = finding(result, "parse-error")
    assert f.line == 4
