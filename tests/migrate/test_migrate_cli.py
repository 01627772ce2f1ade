"""Every ``migrate`` subcommand, human and ``--json`` output, and its exit codes (0 ok, 1 problems, 2 usage/IO)."""

import sqlite3
import subprocess
from pathlib import Path

import pytest
from migrate_helpers import (
    ADD_LOCALE,
    ADD_NOTES,
    BROKEN,
    FIRST,
    REPO_MIGRATIONS,
    ROOT,
    add_migration,
    ledger_names,
    query,
    table_names,
)

from devkit.lint import sumfile
from devkit.migrate.cli import main


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_command_and_the_exit_codes(capsys):
    top = _help(capsys)
    for command in ("status", "apply", "new", "baseline", "lint", "verify", "hash"):
        assert command in top
    assert "exit codes" in top
    for command in ("status", "apply", "new", "baseline", "verify", "hash"):
        sub = _help(capsys, command)
        assert "--json" in sub and "0  ok" in sub and "1  problems found" in sub and "2  usage" in sub, command
    assert "--to NAME" in _help(capsys, "apply") and "--force" in _help(capsys, "baseline")
    assert "usage: python -m devkit.lint" in _help(capsys, "lint")  # the linter's own help


def test_scripts_migrate_wrapper_runs_the_cli(migrations, db_path, tmp_path):
    """The bash wrapper sets up the environment and keeps the caller's directory for relative paths."""
    run = subprocess.run(
        [str(ROOT / "scripts" / "migrate"), "apply", "--json", "--migrations", "migrations", "--state-dir", "state"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert '"applied": [\n    "0001_initial_schema.sql"' in run.stdout
    assert ledger_names(db_path) == [FIRST]  # tmp_path/state/d1/DB.sqlite3


def test_status_on_a_missing_database_creates_nothing(cli, db_path):
    human = cli("status")
    assert human.code == 1
    assert "does not exist yet" in human.out and f"pending   {FIRST}" in human.out
    data = cli("status", "--json").json
    assert data["exists"] is False and data["pending"] == [FIRST] and data["ok"] is False
    assert not db_path.exists()


def test_apply_then_status_is_current(cli, db_path):
    human = cli("apply")
    assert human.code == 0 and f"applied  {FIRST}" in human.out
    assert ledger_names(db_path) == [FIRST]
    status = cli("status", "--json")
    assert status.code == 0
    assert status.json["applied"] == [FIRST] and status.json["current"] and status.json["sum"]["up_to_date"]
    again = cli("apply", "--json")
    assert again.code == 0 and again.json["applied"] == []
    assert "current: 1 applied, 0 pending" in cli("status").out


def test_apply_to_stops_at_the_named_migration(cli, migrations, db_path):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_notes.sql", ADD_NOTES)
    run = cli("apply", "--to", "0002", "--json")
    assert (
        run.code == 0
        and run.json["applied"] == [FIRST, "0002_add_locale.sql"]
        and run.json["to"] == "0002_add_locale.sql"
    )
    assert cli("status", "--json").json["pending"] == ["0003_notes.sql"]
    assert cli("apply", "--to", "0003_notes", "--json").json["applied"] == ["0003_notes.sql"]


def test_apply_to_an_unknown_name_is_a_usage_error(cli, db_path):
    run = cli("apply", "--to", "0099_nope.sql", "--json")
    assert run.code == 2 and run.json["error"]["code"] == "usage" and "0099_nope.sql" in run.json["error"]["message"]
    human = cli("apply", "--to", "nope")
    assert human.code == 2 and "no migration file 'nope'" in human.err
    assert not db_path.exists() or ledger_names(db_path) == []


def test_apply_failure_names_the_file_and_rolls_it_back(cli, migrations, db_path):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_broken.sql", BROKEN)
    add_migration(migrations, "0004_notes.sql", ADD_NOTES)
    run = cli("apply", "--json")
    assert run.code == 1
    assert run.json["applied"] == [FIRST, "0002_add_locale.sql"]
    assert run.json["failed"]["name"] == "0003_broken.sql" and "no_such_table" in run.json["failed"]["message"]
    assert ledger_names(db_path) == [FIRST, "0002_add_locale.sql"]
    assert "half_done" not in table_names(db_path) and "notes" not in table_names(db_path)
    human = cli("apply")
    assert human.code == 1 and "FAILED   0003_broken.sql" in human.out


def test_status_reports_edited_unknown_and_unverified(cli, migrations, db_path):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    cli("hash")
    assert cli("apply").code == 0
    # wrangler applies without a checksum; a ledger row with no file is "unknown"
    query(db_path, "DELETE FROM d1_migrations_checksums WHERE name = ?", FIRST)
    query(db_path, "INSERT INTO d1_migrations (name) VALUES ('0009_gone.sql')")
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE + "-- edited after apply\n")
    run = cli("status", "--json")
    assert run.code == 1
    data = run.json
    assert data["edited"] == ["0002_add_locale.sql"]
    assert data["unverified"] == [FIRST]
    assert data["unknown"] == ["0009_gone.sql"]
    assert data["sum"]["changed"] == ["0002_add_locale.sql"] and not data["sum"]["up_to_date"]
    human = cli("status").out
    assert "edited    0002_add_locale.sql" in human and "EDITED" in human
    assert "unverified" in human and "unknown   0009_gone.sql" in human
    assert "changed   0002_add_locale.sql" in human


def test_status_reports_a_stale_sum_file(cli, migrations, db_path):
    cli("apply")
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    (migrations / FIRST).write_bytes((migrations / FIRST).read_bytes() + b"\n")
    data = cli("status", "--json").json
    assert data["sum"]["changed"] == [FIRST] and data["sum"]["unlisted"] == ["0002_add_locale.sql"]
    assert data["edited"] == [FIRST] and data["pending"] == ["0002_add_locale.sql"]
    (migrations / "migrations.sum").write_text("garbage\n", encoding="utf-8")
    broken = cli("status", "--json").json["sum"]
    assert broken["error"] and not broken["up_to_date"]


def test_new_uses_wranglers_naming_and_leaves_the_file_unreleased(cli, migrations):
    before = sumfile.read_sum(migrations)
    run = cli("new", "add user locale", "--json")
    assert run.code == 0 and run.json["created"] == "0002_add_user_locale.sql"
    created = migrations / "0002_add_user_locale.sql"
    assert created.read_text(encoding="utf-8").startswith("-- Migration number: 0002 \t ")
    assert sumfile.read_sum(migrations) == before  # unreleased until `hash`: editing it must not be an error
    created.write_text(created.read_text(encoding="utf-8") + "ALTER TABLE t ADD COLUMN locale TEXT;\n")
    assert "0002_add_user_locale.sql" not in sumfile.changed_files(migrations)
    assert cli("hash").code == 0 and cli("status", "--json").json["sum"]["up_to_date"]
    human = cli("new", "second")
    assert human.code == 0 and "0003_second.sql" in human.out
    add_migration(migrations, "10_late.sql", "")  # numbers, not text, decide: 10 > 9 > 3
    assert cli("new", "after", "--json").json["created"] == "0011_after.sql"


def test_new_refuses_path_separators_and_empty_names(cli, migrations):
    before = sorted(p.name for p in migrations.iterdir())
    for bad in ("a/b", "a\\b", "  "):
        run = cli("new", bad, "--json")
        assert run.code == 2 and run.json["error"]["code"] == "usage", bad
    assert sorted(p.name for p in migrations.iterdir()) == before


def test_hash_rewrites_the_sum_file(cli, migrations):
    assert cli("hash", "--json").json == {
        "path": str(migrations / "migrations.sum"),
        "changed": False,
        "warnings": [],
        "exit_code": 0,
    }
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    run = cli("hash")
    assert run.code == 0 and run.out.startswith("wrote")
    assert sumfile.read_sum(migrations) == sumfile.file_hashes(migrations)
    assert (migrations / "migrations.sum").read_text(encoding="utf-8") == sumfile.compute_sum(migrations)


def test_the_committed_sum_file_is_current():
    assert (ROOT / "migrations" / "migrations.sum").read_text(encoding="utf-8") == sumfile.compute_sum(
        ROOT / "migrations"
    )


def _plain_sqlite_database(path: Path, *scripts: Path) -> None:
    """An existing database built without any ledger (e.g. by hand, before adopting migrations)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for script in scripts:
        conn.executescript(script.read_text(encoding="utf-8"))
    conn.close()


def test_baseline_marks_applied_without_running(cli, migrations, db_path):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_notes.sql", ADD_NOTES)
    _plain_sqlite_database(db_path, migrations / FIRST, migrations / "0002_add_locale.sql")
    query(db_path, "INSERT INTO system_configs (config_key, config_value) VALUES ('k', 'v')")
    run = cli("baseline", "0002", "--json")
    assert run.code == 0 and run.json["baselined"] == [FIRST, "0002_add_locale.sql"]
    assert ledger_names(db_path) == [FIRST, "0002_add_locale.sql"]
    sums = {r["name"] for r in query(db_path, "SELECT name FROM d1_migrations_checksums")}
    assert sums == {FIRST, "0002_add_locale.sql"}
    assert query(db_path, "SELECT config_value FROM system_configs") == [{"config_value": "v"}]  # nothing re-ran
    status = cli("status", "--json").json
    assert status["pending"] == ["0003_notes.sql"] and status["unverified"] == [] and status["edited"] == []
    assert cli("baseline", "0002").out.startswith("nothing to do")


def test_baseline_refuses_when_the_schema_differs_unless_forced(cli, migrations, db_path):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    _plain_sqlite_database(db_path, migrations / FIRST)  # 0002 was never run
    run = cli("baseline", "0002_add_locale.sql", "--json")
    assert run.code == 1 and run.json["baselined"] == []
    assert {"kind": "column", "name": "user_configs.locale", "problem": "missing", "expected": "TEXT"} in run.json[
        "drift"
    ]
    assert "d1_migrations" not in table_names(db_path) or ledger_names(db_path) == []
    assert "refusing" in cli("baseline", "0002").out
    forced = cli("baseline", "0002", "--force", "--json")
    assert forced.code == 0 and forced.json["baselined"] == [FIRST, "0002_add_locale.sql"]


def test_baseline_records_checksums_for_rows_wrangler_wrote(cli, db_path):
    cli("apply")
    query(db_path, "DELETE FROM d1_migrations_checksums")
    assert cli("status", "--json").json["unverified"] == [FIRST]
    run = cli("baseline", FIRST, "--json")
    assert run.code == 0 and run.json["checksummed"] == [FIRST] and run.json["baselined"] == []
    assert cli("status", "--json").json["unverified"] == []


def test_baseline_usage_errors(cli, db_path):
    assert cli("baseline", "0001", "--json").json["error"]["message"].startswith("no database at")
    cli("apply")
    run = cli("baseline", "0042")
    assert run.code == 2 and "no migration file '0042'" in run.err


def test_verify_clean_then_drift(cli, migrations, db_path):
    add_migration(migrations, "0002_notes.sql", ADD_NOTES)
    cli("apply")
    clean = cli("verify", "--json")
    assert clean.code == 0 and clean.json["ok"] and clean.json["drift"] == []
    assert cli("verify").out.strip() == "schema matches the migrations"
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        CREATE TABLE stray (a INTEGER);
        DROP INDEX idx_notes_body;
        CREATE INDEX idx_stray ON notes (id);
        ALTER TABLE audit_logs ADD COLUMN oops TEXT NOT NULL DEFAULT 'x';
        DROP INDEX idx_pending_notifications;
        CREATE INDEX idx_pending_notifications ON notification_logs (next_attempt_at) WHERE status = 'failed';
        """
    )
    conn.close()
    run = cli("verify", "--json")
    assert run.code == 1 and not run.json["ok"]
    drift = {(d["kind"], d["name"], d["problem"]) for d in run.json["drift"]}
    assert drift == {
        ("table", "stray", "extra"),
        ("index", "idx_notes_body", "missing"),
        ("index", "idx_stray", "extra"),
        ("column", "audit_logs.oops", "extra"),
        ("index", "idx_pending_notifications", "changed"),
    }
    human = cli("verify")
    assert human.code == 1 and "5 differences" in human.out
    assert "extra    column audit_logs.oops: TEXT NOT NULL DEFAULT 'x'" in human.out


def test_verify_sees_column_details_and_constraints(cli, migrations, db_path):
    add_migration(migrations, "0002_notes.sql", ADD_NOTES)
    _plain_sqlite_database(db_path, migrations / FIRST)
    conn = sqlite3.connect(db_path)
    conn.executescript(  # notes as someone made it by hand: wrong default, no index, no NOT NULL elsewhere
        """
        CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL DEFAULT 'none');
        DROP TABLE template_contents;
        CREATE TABLE template_contents (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          template_key TEXT NOT NULL REFERENCES notification_templates_v2 (template_key),
          channel_type TEXT,
          content_type TEXT NOT NULL DEFAULT 'text',
          subject_template TEXT,
          content_template TEXT NOT NULL,
          created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
          updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """
    )
    conn.close()
    drift = {(d["kind"], d["name"], d["problem"]): d for d in cli("verify", "--json").json["drift"]}
    assert drift[("column", "notes.body", "changed")]["actual"] == "TEXT NOT NULL DEFAULT 'none'"
    assert ("index", "idx_notes_body", "missing") in drift
    assert drift[("column", "template_contents.channel_type", "changed")]["expected"] == "TEXT NOT NULL"
    assert ("index", "template_contents(UNIQUE template_key, channel_type)", "missing") in drift
    assert "ON DELETE CASCADE" in drift[("foreign_key", "template_contents", "missing")]["expected"]
    assert "ON DELETE NO ACTION" in drift[("foreign_key", "template_contents", "extra")]["actual"]


def test_verify_ignores_ledgers_and_internal_tables(cli, db_path):
    cli("apply")
    conn = sqlite3.connect(db_path)
    conn.executescript("CREATE TABLE _cf_METADATA (key INTEGER PRIMARY KEY, value BLOB);")
    conn.close()
    assert cli("verify", "--json").json["drift"] == []


def test_verify_and_status_errors(cli, migrations, db_path, tmp_path):
    run = cli("verify", "--json")
    assert run.code == 2 and run.json["error"]["message"].startswith("no database at")
    missing_dir = cli("status", "--json", "--migrations", str(tmp_path / "nowhere"), target=False)
    assert missing_dir.code == 2 and "no migrations directory" in missing_dir.json["error"]["message"]
    cli("apply")
    add_migration(migrations, "0002_broken.sql", BROKEN)
    broken = cli("verify", "--json")
    assert broken.code == 1 and broken.json["error"]["code"] == "migration_failed"
    assert "0002_broken.sql fails on an empty database" in broken.json["error"]["message"]


def test_a_file_that_is_not_a_database_is_an_io_error(cli, db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"not a database, just bytes" * 100)
    for command in ("status", "apply", "verify"):
        run = cli(command, "--json")
        assert run.code == 2 and run.json["error"]["code"] == "database", command
        assert "not a database" in run.json["error"]["message"]
    assert "migrate: file is not a database" in cli("status").err


def test_state_dir_selects_the_embedded_runtime_database(cli, migrations, tmp_path):
    state = tmp_path / "somestate"
    run = cli("apply", "--json", "--migrations", str(migrations), "--state-dir", str(state), target=False)
    assert run.json["database"] == str(state / "d1" / "DB.sqlite3")
    assert ledger_names(state / "d1" / "DB.sqlite3") == [FIRST]


def test_lint_is_delegated_to_the_linter(cli, migrations, monkeypatch):
    import devkit.lint

    seen = []
    monkeypatch.setattr(devkit.lint, "main", lambda argv: seen.append(argv) or 3)
    assert cli("lint", "--json", "--migrations", str(migrations), target=False).code == 3
    assert cli("lint", "-v", str(migrations), target=False).code == 3
    assert cli("lint", target=False).code == 3
    assert seen == [["--json", str(migrations)], ["-v", str(migrations)], [str(REPO_MIGRATIONS)]]


def test_lint_runs_the_real_linter(cli, migrations):
    clean = cli("lint", "--migrations", str(migrations), target=False)
    assert clean.code == 0, clean.out
    add_migration(migrations, "0002_drop_audit.sql", "DROP TABLE IF EXISTS audit_logs;\n")
    risky = cli("lint", "--json", "--migrations", str(migrations), target=False)
    assert risky.code == 1 and "0002_drop_audit.sql" in risky.out
    risky.json  # noqa: B018 (it is one JSON document)
