"""Syntax and D1-compatibility rules: each with a failing and a passing example."""

import pytest
from lint_helpers import finding, rules


def test_repository_migrations_lint_clean():
    from pathlib import Path

    from devkit.lint.engine import run

    result = run(Path(__file__).resolve().parents[2] / "migrations")
    assert result.blocking == [], [f.as_dict() for f in result.blocking]
    assert result.exit_code == 0


def test_parse_error_reports_the_line_of_the_bad_token(mdir):
    result = mdir.lint("-- comment\nCREATE TABLE IF NOT EXISTS a (id INTEGER);\nSELECT\n  1 +;\n")
    f = finding(result, "parse-error")
    assert (f.severity, f.line) == ("error", 4)
    assert "SQLite" in f.message
    assert result.exit_code == 1


def test_valid_statement_has_no_parse_error(mdir):
    assert not rules(mdir.lint("SELECT 1 + 1;\n")) & {"parse-error", "parse-unsupported", "sqlite-error"}


def test_statement_sqlglot_cannot_parse_but_sqlite_accepts_is_only_a_warning(mdir):
    result = mdir.lint("UPDATE OR IGNORE plain SET name = 'x' WHERE id = 1;\n")
    assert finding(result, "parse-unsupported").severity == "warning"
    assert "parse-error" not in rules(result)
    assert result.exit_code == 0


def test_sqlite_error_when_statement_fails_on_replay(mdir):
    result = mdir.lint("ALTER TABLE missing ADD COLUMN x TEXT;\n")
    assert "no such table" in finding(result, "sqlite-error").message
    assert result.exit_code == 1


def test_statements_are_judged_against_earlier_files_in_wrangler_order(mdir):
    mdir.add("ALTER TABLE created_in_9 ADD COLUMN x TEXT;\n", name="10_use.sql")
    mdir.add("CREATE TABLE IF NOT EXISTS created_in_9 (id INTEGER PRIMARY KEY);\n", name="9_create.sql")
    result = mdir.lint()
    assert result.files == ["0001_base.sql", "9_create.sql", "10_use.sql"]
    assert "sqlite-error" not in rules(result)


def test_statement_over_100000_bytes(mdir):
    values = ",".join(["('" + "x" * 90 + "')"] * 1100)
    result = mdir.lint(f"INSERT INTO plain (name) VALUES {values};\n")
    assert finding(result, "statement-too-large").severity == "error"


def test_statement_under_limit_is_fine(mdir):
    values = ",".join(["('" + "x" * 90 + "')"] * 900)
    assert "statement-too-large" not in rules(mdir.lint(f"INSERT INTO plain (name) VALUES {values};\n"))


@pytest.mark.parametrize(
    "sql", ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "END TRANSACTION", "ROLLBACK", "SAVEPOINT s1", "RELEASE s1"]
)
def test_transaction_control_is_an_error(mdir, sql):
    result = mdir.lint(f"{sql};\n")
    f = finding(result, "transaction-control")
    assert (f.severity, f.line) == ("error", 1)
    assert result.exit_code == 1


def test_no_transaction_control_without_it(mdir):
    assert "transaction-control" not in rules(mdir.lint("INSERT INTO plain (name) VALUES ('begin');\n"))


@pytest.mark.parametrize("sql", ["ATTACH DATABASE 'other.db' AS other", "DETACH DATABASE other"])
def test_attach_detach(mdir, sql):
    assert finding(mdir.lint(f"{sql};\n"), "attach-detach").severity == "error"


def test_vacuum_is_an_error_and_optimize_is_allowed(mdir):
    assert finding(mdir.lint("VACUUM;\n"), "vacuum").severity == "error"
    assert not rules(mdir.lint("PRAGMA optimize;\n"), file="0003_change.sql")


@pytest.mark.parametrize("sql", ["PRAGMA journal_mode = WAL", "PRAGMA integrity_check", "PRAGMA page_size = 8192"])
def test_pragma_outside_allow_list(mdir, sql):
    assert finding(mdir.lint(f"{sql};\n"), "pragma-not-allowed").severity == "error"


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA defer_foreign_keys = ON",
        "PRAGMA table_info(plain)",
        "PRAGMA main.index_list('plain')",
        "PRAGMA page_size",
    ],
)
def test_allowed_pragmas(mdir, sql):
    assert not rules(mdir.lint(f"{sql};\n"), file="0002_change.sql")


@pytest.mark.parametrize("value", ["OFF", "off", "0", "false"])
def test_foreign_keys_off_has_no_effect_on_d1(mdir, value):
    f = finding(mdir.lint(f"PRAGMA foreign_keys = {value};\n"), "pragma-foreign-keys-off")
    assert (f.severity, f.risk) == ("warning", "medium")
    assert "no effect on D1" in f.message and "CASCADE" in f.hint


def test_foreign_keys_on_is_fine(mdir):
    assert not rules(mdir.lint("PRAGMA foreign_keys = ON;\n"), file="0002_change.sql")


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TEMP TABLE IF NOT EXISTS scratch (a)",
        "CREATE TABLE IF NOT EXISTS _cf_mine (a)",
        "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts4(body)",
    ],
)
def test_objects_denied_on_d1(mdir, sql):
    assert finding(mdir.lint(f"{sql};\n"), "d1-denied-object").severity == "error"


def test_fts5_virtual_table_is_allowed(mdir):
    result = mdir.lint("CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(body);\n")
    assert not rules(result, file="0002_change.sql")


def test_writing_the_ledger_is_an_error(mdir):
    f = finding(mdir.lint("DROP TABLE IF EXISTS d1_migrations;\n"), "ledger-table")
    assert (f.severity, f.risk) == ("error", "high")


def test_reading_other_tables_is_not_ledger(mdir):
    assert "ledger-table" not in rules(mdir.lint("DELETE FROM plain WHERE id = 1;\n"))


def test_odd_files_are_findings_not_crashes(mdir):
    mdir.add("", name="0002_empty.sql")
    mdir.add("-- only a comment\n/* and a block */\n", name="0003_comments.sql")
    mdir.add("INSERT INTO plain (name) VALUES ('unterminated\n", name="0004_unterminated.sql")
    (mdir.path / "0005_binary.sql").write_bytes(b"\xff\xfe not utf-8")
    result = mdir.lint()
    assert rules(result, file="0004_unterminated.sql") == {"parse-error"}
    assert rules(result, file="0005_binary.sql") == {"parse-error"}
    assert not rules(result, file="0002_empty.sql") | rules(result, file="0003_comments.sql")
