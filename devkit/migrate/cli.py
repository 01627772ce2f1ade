"""``python -m devkit.migrate <command>`` (``scripts/migrate``): the migration lifecycle on a local D1 file.

Human output by default, ``--json`` for machines (one JSON document on stdout, also for
errors: ``{"error": {"code", "message"}}``). Exit codes are shared by all subcommands and
listed in ``--help``. ``lint`` is handed over, arguments untouched, to ``devkit.lint``.
"""

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devkit.migrate import commands
from devkit.migrate.commands import Outcome, Target, UsageError
from devkit.migrate.source import DEFAULT_DIR
from devkit.migrate.target import DEFAULT_STATE_DIR, database_path
from edgenotify.db import D1Error

EXIT_CODES = """exit codes:
  0  ok: nothing to report
  1  problems found: pending or edited migrations, migrations.sum out of date, schema drift,
     a migration that failed (rolled back together with its ledger row)
  2  usage or I/O error: bad arguments, unknown migration name, missing database or directory"""

COMMANDS: dict[str, tuple[str, str]] = {
    "status": (
        "applied / pending / edited / unknown / unverified migrations, and migrations.sum drift",
        "edited: changed after it was applied (checksum side table); unknown: in the ledger, no file;\n"
        "unverified: applied without a checksum (by wrangler). Read-only: creates nothing.\n"
        "Exit 1 unless the database is current and migrations.sum is up to date.",
    ),
    "apply": (
        "apply pending migrations (all, or up to --to NAME)",
        "Each file runs in one D1 batch together with its d1_migrations row (wrangler's ledger) and\n"
        "its checksum: a failing file changes nothing. Same code as the worker's auto-migrator.\n"
        "Creates the database file if it does not exist.",
    ),
    "new": (
        "create the next migration file NNNN_<name>.sql (wrangler's naming), not yet released",
        "Spaces become underscores; '/' and '\\' are refused. The file is not in migrations.sum, so it can be\n"
        "edited freely (lint checks it); `scripts/migrate hash` releases it once it is final.",
    ),
    "baseline": (
        "mark every migration up to NAME as applied without running it (existing databases)",
        "Checks first that the live schema is what those files produce (--force skips the check),\n"
        "then records ledger rows and checksums in one batch. Files already in the ledger without\n"
        "a checksum (applied by wrangler) get their checksum recorded.",
    ),
    "verify": (
        "compare the live schema with the schema the migrations produce on an empty database",
        "Tables, columns (type, NOT NULL, default, primary key), indexes (incl. UNIQUE constraints and\n"
        "partial WHERE), foreign keys, views and triggers. Ignores d1_migrations*, sqlite_* and _cf_*.\n"
        "Exit 1 on drift.",
    ),
    "hash": (
        "rewrite migrations/migrations.sum from the files (releases new files)",
        "Use when a new migration is final, or after an intended change to a file.",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output (one JSON document)")
    common.add_argument(
        "--migrations",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help="migrations directory (default: %(default)s)",
    )
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"embedded runtime state; the database is DIR/d1/DB.sqlite3 (default: {DEFAULT_STATE_DIR})",
    )
    where.add_argument(
        "--database", type=Path, default=None, metavar="PATH", help="any SQLite file, e.g. wrangler's local D1 file"
    )
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="migrate", description="D1 migration lifecycle for edgenotify.", epilog=EXIT_CODES, formatter_class=fmt
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, details) in COMMANDS.items():
        p = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=f"{summary}.\n\n{details}",
            epilog=EXIT_CODES,
            formatter_class=fmt,
        )
        if name == "apply":
            p.add_argument("--to", metavar="NAME", help="stop after this migration (file name, or its number)")
        elif name == "new":
            p.add_argument("name", help="what the migration does, e.g. 'add user locale'")
        elif name == "baseline":
            p.add_argument("name", help="last migration the database already has (file name, or its number)")
            p.add_argument("--force", action="store_true", help="record even if the live schema differs")
    sub.add_parser("lint", help="lint the migrations (devkit.lint; arguments are passed through)", add_help=False)
    return parser


async def _run(args: argparse.Namespace) -> Outcome:
    target = Target(args.migrations, database_path(args.state_dir, args.database))
    if args.command == "status":
        return await commands.status(target)
    if args.command == "apply":
        return await commands.apply(target, args.to)
    if args.command == "new":
        return await commands.new(target, args.name)
    if args.command == "baseline":
        return await commands.baseline(target, args.name, args.force)
    if args.command == "verify":
        return await commands.verify(target)
    return await commands.hash_(target)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lint"]:
        return run_lint(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        outcome = asyncio.run(_run(args))
    except UsageError as exc:
        return _fail(args.json, "usage", str(exc), commands.USAGE)
    except commands.MigrationsBroken as exc:
        return _fail(args.json, "migration_failed", str(exc), commands.PROBLEMS)
    except D1Error as exc:  # not a database, locked for too long, a table D1 refuses to read...
        return _fail(args.json, "database", f"{exc.message} ({args.command} on {exc.sql or 'the database'})", 2)
    except OSError as exc:
        return _fail(args.json, "io", str(exc), commands.USAGE)
    _print(outcome, args.json)
    return outcome.code


def _print(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        data: dict[str, Any] = dict(outcome.data)
        data["warnings"] = outcome.warnings
        data["exit_code"] = outcome.code
        print(json.dumps(data, indent=2))
        return
    for line in outcome.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print("\n".join(outcome.lines))


def _fail(as_json: bool, code: str, message: str, exit_code: int) -> int:
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}, "exit_code": exit_code}, indent=2))
    else:
        print(f"migrate: {message}", file=sys.stderr)
    return exit_code


def lint_argv(argv: list[str]) -> list[str]:
    """The linter's own arguments, with ``--migrations DIR`` (as for the other commands) as its DIR.

    Without a directory the linter would read ``./migrations`` relative to the working
    directory; the CLI's default is the repository's, wherever it is run from.
    """
    out: list[str] = []
    directory: str | None = None
    items = iter(argv)
    for arg in items:
        if arg == "--migrations":
            directory = next(items, None)
        elif arg.startswith("--migrations="):
            directory = arg.split("=", 1)[1]
        else:
            out.append(arg)
    if directory is None and any(not a.startswith("-") for a in out):
        return out  # a directory given the linter's way
    return [*out, directory or str(DEFAULT_DIR)]


def run_lint(argv: list[str]) -> int:
    """Delegate to the linter's ``main(argv)`` (package ``devkit.lint`` or its ``cli`` module)."""
    argv = lint_argv(argv)
    for module in ("devkit.lint", "devkit.lint.cli"):
        try:
            entry = getattr(importlib.import_module(module), "main", None)
        except ImportError:
            entry = None
        if callable(entry):
            return int(entry(argv) or 0)
    print("migrate: the linter (devkit.lint main(argv)) is not available", file=sys.stderr)
    return commands.USAGE
