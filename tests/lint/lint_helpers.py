"""Helpers for the linter tests (a unique module name: the test dirs have no __init__.py)."""

from devkit.lint import sumfile
from devkit.lint.engine import LintResult, run

BASE = """\
CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY, name TEXT, kind TEXT DEFAULT 'a');
CREATE TABLE IF NOT EXISTS child (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS plain (id INTEGER PRIMARY KEY, name TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS idx_plain_name ON plain (name);
"""


class MigrationDir:
    """``0001_base.sql`` is released (listed in migrations.sum); ``add`` writes new files after it."""

    def __init__(self, path):
        self.path = path
        self.count = 1
        (path / "0001_base.sql").write_text(BASE)
        sumfile.write_sum(path)

    def add(self, sql: str, name: str | None = None) -> str:
        self.count += 1
        name = name or f"{self.count:04d}_change.sql"
        (self.path / name).write_text(sql)
        return name

    def lint(self, sql: str | None = None) -> LintResult:
        if sql is not None:
            self.add(sql)
        return run(self.path)


def rules(result: LintResult, *, file: str | None = None) -> set[str]:
    return {f.rule for f in result.findings if file is None or f.file.endswith(file)}


def finding(result: LintResult, rule: str):
    found = [f for f in result.findings if f.rule == rule]
    assert len(found) == 1, (rule, found)
    return found[0]
