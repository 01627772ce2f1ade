"""Entry points, exit codes, output formats, migrations.sum integrity, and sqlglot staying off the request path."""

import json
import subprocess
import sys
from pathlib import Path

from lint_helpers import finding, rules

from devkit.lint import lint_directory, main, sumfile

ROOT = Path(__file__).resolve().parents[2]


def test_main_exit_codes(mdir, capsys):
    assert main([str(mdir.path)]) == 0
    mdir.add("CREATE TABLE IF NOT EXISTS t (a);\nBEGIN;\n")
    assert main([str(mdir.path)]) == 1
    out = capsys.readouterr().out
    assert f"{mdir.path}/0002_change.sql:2 transaction-control error/medium" in out
    assert "fix:" in out and out.rstrip().splitlines()[-1].startswith("FAIL:")
    assert main([str(mdir.path / "missing")]) == 2


def test_warnings_alone_exit_zero(mdir):
    mdir.add("CREATE TABLE t (a);\n")
    assert main([str(mdir.path)]) == 0


def test_json_output_shape(mdir, capsys):
    mdir.add("DROP TABLE plain;\n")
    assert main([str(mdir.path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1 and doc["ok"] is False and doc["exit_code"] == 1
    assert doc["files"] == ["0001_base.sql", "0002_change.sql"]
    f = next(f for f in doc["findings"] if f["rule"] == "drop-table")
    assert set(f) == {
        "file",
        "line",
        "rule",
        "severity",
        "risk",
        "message",
        "hint",
        "acknowledged",
        "reason",
        "blocking",
    }
    assert (f["line"], f["severity"], f["risk"], f["blocking"]) == (1, "warning", "high", True)
    assert doc["summary"]["high_risk_unacknowledged"] == 1 and doc["summary"]["blocking"] == 1
    grade = doc["statements"][-1]
    assert grade == {
        "file": f["file"],
        "line": 1,
        "kind": "drop_table",
        "target": "plain",
        "risk": "high",
        "rules": ["drop-table"],
    }


def test_lint_directory_returns_findings(mdir):
    mdir.add("VACUUM;\n")
    assert [f.rule for f in lint_directory(mdir.path) if f.severity == "error"] == ["vacuum"]


def test_module_entry_point_and_rule_list():
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "devkit.lint", "--list-rules"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "rebuild-cascade" in done.stdout and "edited-after-release" in done.stdout


def test_edit_of_a_released_migration(mdir):
    (mdir.path / "0001_base.sql").write_text("-- edited\n" + (mdir.path / "0001_base.sql").read_text())
    result = mdir.lint()
    f = finding(result, "edited-after-release")
    assert (f.file.endswith("0001_base.sql"), f.severity, f.risk) == (True, "error", "high")
    assert result.exit_code == 1


def test_new_unlisted_file_is_not_an_edit(mdir):
    result = mdir.lint("CREATE TABLE IF NOT EXISTS t (a);\n")
    assert not rules(result) & {"edited-after-release", "sum-mismatch", "sum-missing"}
    assert result.exit_code == 0


def test_tampered_sum_file(mdir):
    path = mdir.path / sumfile.SUM_NAME
    path.write_text(path.read_text() + "0002_other.sql h1:AAAA\n")
    result = mdir.lint()
    assert finding(result, "sum-mismatch").file.endswith("migrations.sum")
    assert "released-file-removed" in rules(result)
    assert result.exit_code == 1


def test_invalid_and_missing_sum_file(mdir):
    path = mdir.path / sumfile.SUM_NAME
    path.write_text("garbage\n")
    assert finding(mdir.lint(), "sum-invalid").severity == "error"
    path.unlink()
    result = mdir.lint()
    assert finding(result, "sum-missing").severity == "warning"
    assert result.exit_code == 0


def test_file_order_and_naming(mdir):
    mdir.add("SELECT 1;\n", name="0000_early.sql")
    mdir.add("SELECT 1;\n", name="0003_a.sql")
    mdir.add("SELECT 1;\n", name="0003_b.sql")
    mdir.add("SELECT 1;\n", name="cleanup.sql")
    result = mdir.lint()
    assert finding(result, "out-of-order").file.endswith("0000_early.sql")
    assert finding(result, "duplicate-number").file.endswith("0003_b.sql")
    assert finding(result, "file-name").file.endswith("cleanup.sql")
    assert result.files[-1] == "cleanup.sql"


def test_request_path_never_imports_sqlglot():
    code = "import sys, edgenotify.app, edgenotify.routes; print('sqlglot' in sys.modules)"
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_readme_documents_every_rule():
    from devkit.lint.cli import list_rules

    readme = (ROOT / "devkit" / "lint" / "README.md").read_text()
    ids = [line.split()[0] for line in list_rules().splitlines()]
    assert len(ids) > 40
    assert [i for i in ids if f"`{i}`" not in readme] == []
