"""Acknowledgement comments: `-- lint: allow[-file] high-risk <rule> because <reason>`."""

from lint_helpers import finding, rules

from devkit.lint.acks import line_comments, parse_acks


def test_acknowledged_high_risk_is_reported_but_does_not_fail(mdir):
    result = mdir.lint(
        "-- lint: allow high-risk drop-table because plain was replaced by notes in 0007\nDROP TABLE plain;\n"
    )
    f = finding(result, "drop-table")
    assert f.acknowledged and f.reason == "plain was replaced by notes in 0007"
    assert not f.blocking
    assert result.exit_code == 0


def test_acknowledgement_without_reason_is_an_error_and_accepts_nothing(mdir):
    result = mdir.lint("-- lint: allow high-risk drop-table\nDROP TABLE plain;\n")
    assert finding(result, "ack-missing-reason").severity == "error"
    assert not finding(result, "drop-table").acknowledged
    assert result.exit_code == 1


def test_empty_reason_is_missing_too(mdir):
    result = mdir.lint("-- lint: allow high-risk drop-table because  \nDROP TABLE plain;\n")
    assert "ack-missing-reason" in rules(result)
    assert result.exit_code == 1


def test_trailing_comment_on_the_statement_line_counts(mdir):
    result = mdir.lint("DROP TABLE plain; -- lint: allow high-risk drop-table because it is unused since 0005\n")
    assert finding(result, "drop-table").acknowledged


def test_statement_ack_covers_only_the_next_statement(mdir):
    result = mdir.lint(
        "-- lint: allow high-risk delete-without-where because the cache table is rebuilt nightly\n"
        "DELETE FROM plain;\nUPDATE plain SET note = 'x';\n"
    )
    assert finding(result, "delete-without-where").acknowledged
    assert not finding(result, "update-without-where").acknowledged
    assert result.exit_code == 1


def test_ack_before_the_wrong_statement_is_unused(mdir):
    result = mdir.lint("-- lint: allow high-risk drop-table because obsolete\nSELECT 1;\nDROP TABLE plain;\n")
    assert not finding(result, "drop-table").acknowledged
    assert finding(result, "ack-unused").line == 1


def test_file_wide_ack_anywhere_in_the_file(mdir):
    result = mdir.lint(
        "DELETE FROM plain;\nDELETE FROM child;\n"
        "-- lint: allow-file high-risk delete-without-where, drop-table because test fixtures reset\n"
        "DROP TABLE plain;\n"
    )
    assert all(f.acknowledged for f in result.findings if f.rule in ("delete-without-where", "drop-table"))
    assert result.exit_code == 0


def test_unknown_and_non_ackable_rules_are_reported(mdir):
    result = mdir.lint(
        "-- lint: allow high-risk no-such-rule because why not\n"
        "-- lint: allow transaction-control because we like it\nBEGIN;\n"
    )
    assert {"ack-unknown-rule", "ack-not-allowed"} <= rules(result)
    assert not finding(result, "transaction-control").acknowledged
    assert result.exit_code == 1


def test_malformed_lint_comment(mdir):
    result = mdir.lint("-- lint: please allow everything\nSELECT 1;\n")
    assert finding(result, "ack-malformed").line == 1


def test_comments_inside_strings_are_not_acknowledgements():
    text = "INSERT INTO t VALUES ('-- lint: allow drop-table because x');\n-- real\n/* -- not a line comment */"
    assert line_comments(text) == [(2, " real")]
    assert parse_acks(text) == ([], [])


def test_rebuild_cascade_can_be_acknowledged_when_children_are_known_empty(mdir):
    result = mdir.lint(
        "CREATE TABLE IF NOT EXISTS parent_new (id INTEGER PRIMARY KEY, name TEXT, kind TEXT DEFAULT 'a');\n"
        "INSERT INTO parent_new SELECT * FROM parent;\n"
        "-- lint: allow high-risk rebuild-cascade because child is empty in every environment (checked 0004)\n"
        "DROP TABLE parent;\nALTER TABLE parent_new RENAME TO parent;\n"
    )
    assert finding(result, "rebuild-cascade").acknowledged
    assert result.exit_code == 0
