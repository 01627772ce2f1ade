"""Fixtures for the linter tests: a tmp migrations directory with a small released base schema."""

import pytest
from lint_helpers import MigrationDir


@pytest.fixture
def mdir(tmp_path) -> MigrationDir:
    return MigrationDir(tmp_path)
