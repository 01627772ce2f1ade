"""D1-aware migration linter (sqlglot, SQLite dialect) and the migrations.sum integrity file.

Library entry points: ``lint_directory(path) -> list[Finding]`` and ``main(argv) -> int`` (the CLI). Imported lazily
so that ``devkit.lint.sumfile`` stays cheap (it does not need sqlglot).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devkit.lint.findings import Finding


def lint_directory(path) -> "list[Finding]":
    from devkit.lint.engine import lint_directory as _lint

    return _lint(path)


def main(argv: list[str] | None = None) -> int:
    from devkit.lint.cli import main as _main

    return _main(argv)
