"""Idempotency, destructive and column rules against the released base schema (parent, child, plain)."""

import pytest
from lint_helpers import finding, rules

NEW = "0002_change.sql"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE t2 (id INTEGER PRIMARY KEY)",
        "CREATE INDEX idx_note ON plain (note)",
        "CREATE VIEW v_plain AS SELECT name FROM plain",
        "CREATE TRIGGER trg AFTER INSERT ON plain BEGIN UPDATE plain SET note = 'x' WHERE id = NEW.id; END",
    ],
)
def test_create_without_if_not_exists(mdir, sql):
    f = finding(mdir.lint(sql + ";\n"), "create-if-not-exists")
    assert (f.severity, f.risk, f.line) == ("warning", "low", 1)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE IF NOT EXISTS t2 (id INTEGER PRIMARY KEY)",
        "CREATE INDEX IF NOT EXISTS idx_note ON plain (note)",
        "CREATE VIEW IF NOT EXISTS v_plain AS SELECT name FROM plain",
        "CREATE TRIGGER IF NOT EXISTS trg AFTER INSERT ON plain BEGIN UPDATE plain SET note = 'x' WHERE id = 1; END",
    ],
)
def test_create_with_if_not_exists_is_clean(mdir, sql):
    result = mdir.lint(sql + ";\n")
    assert not rules(result, file=NEW)
    assert result.statements[-1].risk == "low"


def test_if_not_exists_on_an_existing_table_is_a_silent_no_op(mdir):
    result = mdir.lint("CREATE TABLE IF NOT EXISTS plain (id INTEGER PRIMARY KEY, name TEXT, extra TEXT);\n")
    assert "never applied" in finding(result, "create-existing").message


def test_drop_table_is_high_risk_and_blocks(mdir):
    result = mdir.lint("DROP TABLE plain;\n")
    f = finding(result, "drop-table")
    assert (f.severity, f.risk, f.blocking) == ("warning", "high", True)
    assert result.exit_code == 1
    assert result.statements[-1].risk == "high"


def test_drop_of_a_table_created_in_the_same_file_is_fine(mdir):
    result = mdir.lint("CREATE TABLE IF NOT EXISTS scratch (a);\nDROP TABLE scratch;\n")
    assert not rules(result, file=NEW)
    assert result.exit_code == 0


def test_drop_column_is_medium(mdir):
    f = finding(mdir.lint("ALTER TABLE plain DROP COLUMN note;\n"), "drop-column")
    assert (f.severity, f.risk) == ("warning", "medium")


def test_add_nullable_column_is_low_and_clean(mdir):
    result = mdir.lint("ALTER TABLE plain ADD COLUMN extra TEXT;\n")
    assert not rules(result, file=NEW)
    assert (result.statements[-1].kind, result.statements[-1].risk) == ("add_column", "low")


def test_drop_index_is_medium(mdir):
    f = finding(mdir.lint("DROP INDEX idx_plain_name;\n"), "drop-index")
    assert f.risk == "medium"


def test_drop_of_an_index_created_in_the_same_file_is_fine(mdir):
    result = mdir.lint("CREATE INDEX IF NOT EXISTS idx_tmp ON plain (note);\nDROP INDEX idx_tmp;\n")
    assert "drop-index" not in rules(result)


def test_rename_table_and_column_are_medium(mdir):
    result = mdir.lint("ALTER TABLE plain RENAME COLUMN note TO remark;\nALTER TABLE plain RENAME TO plain2;\n")
    assert finding(result, "rename-column").line == 1
    assert finding(result, "rename-table").line == 2
    assert result.exit_code == 0


def test_rename_of_a_new_table_is_fine(mdir):
    result = mdir.lint("CREATE TABLE IF NOT EXISTS fresh (a);\nALTER TABLE fresh RENAME TO fresh2;\n")
    assert "rename-table" not in rules(result)


@pytest.mark.parametrize(
    ("sql", "rule"),
    [("UPDATE plain SET note = 'x'", "update-without-where"), ("DELETE FROM plain", "delete-without-where")],
)
def test_mass_update_and_delete_are_high_risk(mdir, sql, rule):
    result = mdir.lint(sql + ";\n")
    assert finding(result, rule).risk == "high"
    assert result.exit_code == 1


@pytest.mark.parametrize("sql", ["UPDATE plain SET note = 'x' WHERE note IS NULL", "DELETE FROM plain WHERE id = 3"])
def test_filtered_update_and_delete_are_fine(mdir, sql):
    assert not rules(mdir.lint(sql + ";\n"), file=NEW)


def test_add_not_null_column_without_default(mdir):
    result = mdir.lint("ALTER TABLE plain ADD COLUMN code TEXT NOT NULL;\n")
    f = finding(result, "add-column-not-null-no-default")
    assert f.severity == "error"
    assert "sqlite-error" not in rules(result)  # SQLite accepts it on the empty replay; production has rows
    assert result.exit_code == 1


def test_add_not_null_column_with_default(mdir):
    result = mdir.lint("ALTER TABLE plain ADD COLUMN code TEXT NOT NULL DEFAULT '';\n")
    assert not rules(result, file=NEW)


@pytest.mark.parametrize(
    "coldef",
    [
        "created TEXT DEFAULT CURRENT_TIMESTAMP",
        "n INTEGER DEFAULT (1 + 1)",
        "p INTEGER REFERENCES parent (id) DEFAULT 1",
    ],
)
def test_add_column_rejected_once_the_table_has_rows(mdir, coldef):
    f = finding(mdir.lint(f"ALTER TABLE plain ADD COLUMN {coldef};\n"), "add-column-rejected")
    assert f.severity == "error" and "SQLite says" in f.message


def test_add_column_with_constant_default_and_reference_without_default(mdir):
    sql = (
        "ALTER TABLE plain ADD COLUMN n INTEGER DEFAULT -1;\n"
        "ALTER TABLE plain ADD COLUMN p INTEGER REFERENCES parent (id);\n"
    )
    assert not rules(mdir.lint(sql), file=NEW)


def test_alter_column_type_is_flagged_and_rejected(mdir):
    result = mdir.lint("ALTER TABLE plain ALTER COLUMN note TYPE INTEGER;\n")
    assert finding(result, "column-type-change").risk == "medium"
    assert "sqlite-error" in rules(result)


def test_unique_index_on_a_table_with_data(mdir):
    result = mdir.lint("CREATE UNIQUE INDEX IF NOT EXISTS idx_plain_note ON plain (note);\n")
    assert finding(result, "unique-index-on-data").risk == "medium"


def test_unique_index_on_a_new_table_is_fine(mdir):
    sql = "CREATE TABLE IF NOT EXISTS t (a);\nCREATE UNIQUE INDEX IF NOT EXISTS idx_t_a ON t (a);\n"
    assert not rules(mdir.lint(sql), file=NEW)


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("ALTER TABLE plain ADD COLUMN untyped NOT NULL", "add-column-not-null-no-default"),
        ("ALTER TABLE plain ADD untyped DEFAULT NULL NOT NULL", "add-column-not-null-no-default"),
        ("ALTER TABLE plain ADD COLUMN untyped DEFAULT CURRENT_TIMESTAMP", "add-column-rejected"),
    ],
)
def test_typeless_add_column_that_sqlglot_keeps_as_a_command(mdir, sql, rule):
    assert finding(mdir.lint(sql + ";\n"), rule).severity == "error"


def test_typeless_add_column_with_default_is_fine(mdir):
    assert not rules(mdir.lint("ALTER TABLE plain ADD COLUMN untyped NOT NULL DEFAULT 0;\n"), file=NEW)
