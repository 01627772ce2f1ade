"""Fixtures for the migration lifecycle tests: private migration directories and CLI runs.

Every test works on its own tmp migrations directory holding the repository's FIRST migration
only, so tests can add, edit or break migrations (0002, 0003, ...) without touching the repository
or each other, and without depending on how many migrations the repository has grown.
"""

import shutil
from pathlib import Path

import pytest
from migrate_helpers import FIRST, REPO_MIGRATIONS, CliRun

from devkit.lint.sumfile import write_sum
from devkit.migrate.cli import main


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A private migrations directory: the repository's first migration and its sum file."""
    target = tmp_path / "migrations"
    target.mkdir()
    shutil.copy(REPO_MIGRATIONS / FIRST, target / FIRST)
    write_sum(target)
    return target


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "d1" / "DB.sqlite3"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], migrations: Path, db_path: Path):
    """Run ``python -m devkit.migrate`` in-process against the private directory and database."""

    def run(*args: str, target: bool = True) -> CliRun:
        extra = ["--migrations", str(migrations), "--database", str(db_path)] if target else []
        code = main([*args, *extra])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
