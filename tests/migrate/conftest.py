"""Fixtures for the migration lifecycle tests: private migration directories and CLI runs.

Every test works on a copy of ``migrations/`` in its own tmp dir, so tests can add, edit or
break migrations without touching the repository or each other.
"""

import shutil
from pathlib import Path

import pytest
from migrate_helpers import REPO_MIGRATIONS, CliRun

from devkit.migrate.cli import main


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A private copy of the repository's migrations directory (sum file included)."""
    target = tmp_path / "migrations"
    shutil.copytree(REPO_MIGRATIONS, target)
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
