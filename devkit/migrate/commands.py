"""One coroutine per subcommand. Each returns an ``Outcome``: exit code, JSON data, human lines.

Exit codes (the same for every subcommand): 0 nothing to report, 1 problems found (pending or
edited migrations, sum file out of date, schema drift, a migration that failed), 2 usage or
I/O error (bad name, missing database or directory, unreadable file).

Commands mirror the library one to one, as sqlite-utils' CLI mirrors its Python API:
``apply`` is ``automigrate.apply_pending`` and ``status`` is ``status.compare`` over
``ledger`` — the functions the worker's auto-migrator runs.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.migrate import source, sums
from devkit.migrate.schema import Drift, diff, read_schema
from devkit.migrate.target import MEMORY, opened
from edgenotify.db import Query
from edgenotify.db.catalog import Catalog
from edgenotify.migrations import ledger
from edgenotify.migrations.automigrate import MigrationFailed, apply_pending
from edgenotify.migrations.files import MigrationFile
from edgenotify.migrations.status import MigrationStatus, compare

OK, PROBLEMS, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input or an unusable target: reported as exit code 2."""


@dataclass
class Outcome:
    code: int
    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)  # human output
    warnings: list[str] = field(default_factory=list)  # stderr in human mode, "warnings" in JSON


@dataclass(frozen=True)
class Target:
    migrations: Path
    database: Path

    def files(self) -> list[MigrationFile]:
        try:
            return source.load(self.migrations)
        except source.SourceError as exc:
            raise UsageError(str(exc)) from exc

    def require_database(self) -> None:
        if not self.database.is_file():
            raise UsageError(f"no database at {self.database} (run `migrate apply` to create it)")

    def resolve(self, name: str, files: list[MigrationFile]) -> str:
        """A file name from NAME, NAME + ".sql", or a unique migration number ("2", "0002")."""
        by_name = [f.name for f in files]
        for candidate in (name, f"{name}.sql"):
            if candidate in by_name:
                return candidate
        if name.isdigit():
            hits = [f.name for f in files if f.number == int(name)]
            if len(hits) == 1:
                return hits[0]
        raise UsageError(f"no migration file {name!r} in {self.migrations}")


# -- status ----------------------------------------------------------------------------
async def status(target: Target) -> Outcome:
    files = target.files()
    exists = target.database.is_file()
    rows: list[ledger.AppliedMigration] = []
    if exists:
        async with opened(target.database) as db:
            rows = await ledger.read_if_present(db)
    state = compare(files, rows)
    sum_report = sums.report(target.migrations)
    data = {"database": str(target.database), "exists": exists, "migrations_dir": str(target.migrations)}
    data |= state.as_dict() | {"sum": sum_report.as_dict(), "ok": state.current and sum_report.ok}
    lines = [f"database    {target.database}{'' if exists else '  (does not exist yet)'}"]
    lines += [f"migrations  {target.migrations}  ({len(files)} files)"]
    lines += _status_lines(state, rows) + sum_report.lines()
    return Outcome(OK if data["ok"] else PROBLEMS, data, lines)


def _status_lines(state: MigrationStatus, rows: list[ledger.AppliedMigration]) -> list[str]:
    applied_at = {r.name: r.applied_at for r in rows}
    out = []
    for name in state.applied:
        note = ""
        if name in state.edited:
            note = "  EDITED: the file changed after it was applied"
        elif name in state.unverified:
            note = "  (unverified: applied without a checksum, e.g. by wrangler)"
        out.append(f"  {'edited' if name in state.edited else 'applied':9} {name}  {applied_at[name]}{note}")
    out += [f"  {'pending':9} {name}" for name in state.pending]
    out += [f"  {'unknown':9} {name}  (in the ledger, no such file)" for name in state.unknown]
    summary = "current" if state.current else "NOT current"
    counts = f"{len(state.applied)} applied, {len(state.pending)} pending"
    return out + [f"{summary}: {counts}, {len(state.edited)} edited, {len(state.unknown)} unknown"]


# -- apply -----------------------------------------------------------------------------
async def apply(target: Target, to: str | None) -> Outcome:
    files = target.files()
    to_name = target.resolve(to, files) if to else None
    async with opened(target.database) as db:
        before = {r.name for r in await ledger.read_if_present(db)}
        failed: MigrationFailed | None = None
        try:
            applied = await apply_pending(db, files, to_name)
        except MigrationFailed as exc:
            failed = exc
            applied = [r.name for r in await ledger.read(db) if r.name not in before]
        state = compare(files, await ledger.read(db))
    data: dict[str, Any] = {"database": str(target.database), "applied": applied, "to": to_name}
    data["failed"] = {"name": failed.name, "message": failed.message} if failed else None
    data["status"] = state.as_dict()
    lines = [f"applied  {name}" for name in applied] or ["nothing to apply"]
    if failed:
        lines.append(f"FAILED   {failed.name}: {failed.message}")
        lines.append("         (that file's statements and ledger row were rolled back together)")
    lines.append(f"head     {state.head or '(none)'}; {len(state.pending)} pending")
    warnings = [f"{n} was edited after it was applied (checksum differs)" for n in state.edited]
    warnings += [f"{n} is in the ledger but has no file" for n in state.unknown]
    return Outcome(PROBLEMS if failed else OK, data, lines, warnings)


# -- new / hash ------------------------------------------------------------------------
async def new(target: Target, message: str) -> Outcome:
    try:
        path = source.create(target.migrations, message)
    except (source.SourceError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    sums.rewrite(target.migrations)
    data = {"created": path.name, "path": str(path), "sum": str(target.migrations / sums.SUM_NAME)}
    lines = [f"created  {path}", f"hashed   {data['sum']} (run `migrate hash` again after editing the file)"]
    return Outcome(OK, data, lines)


async def hash_(target: Target) -> Outcome:
    target.files()  # the directory must exist and be readable
    changed = sums.rewrite(target.migrations)
    path = target.migrations / sums.SUM_NAME
    return Outcome(OK, {"path": str(path), "changed": changed}, [f"{'wrote' if changed else 'unchanged'}  {path}"])


# -- baseline --------------------------------------------------------------------------
async def baseline(target: Target, name: str, force: bool) -> Outcome:
    """Record files up to NAME as applied without running them, after checking the schema agrees."""
    files = target.files()
    upto = target.resolve(name, files)
    included = files[: [f.name for f in files].index(upto) + 1]
    target.require_database()
    async with opened(target.database) as db:
        drift = diff(await expected_schema(included), await read_schema(db))
        if drift and not force:
            lines = [f"refusing: the live schema is not what {upto} and earlier produce (--force to override)"]
            return Outcome(
                PROBLEMS, {"baselined": [], "drift": [d.as_dict() for d in drift]}, lines + _drift_lines(drift)
            )
        rows = {r.name: r for r in await ledger.read(db)}
        marked = [f for f in included if f.name not in rows]
        verified = [f for f in included if f.name in rows and rows[f.name].sha256 is None]
        queries: list[Query] = []
        for f in marked:
            queries += ledger.record_queries(f.name, f.sha256)
        for f in verified:
            queries += ledger.checksum_queries(f.name, f.sha256)
        await db.batch(queries)  # all or nothing
    data = {"baselined": [f.name for f in marked], "checksummed": [f.name for f in verified], "to": upto}
    data["drift"] = [d.as_dict() for d in drift]
    lines = [f"marked applied  {f.name}" for f in marked] + [f"checksum        {f.name}" for f in verified]
    return Outcome(OK, data, lines or [f"nothing to do: everything up to {upto} is already recorded"])


# -- verify ----------------------------------------------------------------------------
async def verify(target: Target) -> Outcome:
    files = target.files()
    target.require_database()
    expected = await expected_schema(files)
    async with opened(target.database) as db:
        live = await read_schema(db)
        state = compare(files, await ledger.read_if_present(db))
    drift = diff(expected, live)
    data = {"database": str(target.database), "ok": not drift, "drift": [d.as_dict() for d in drift]}
    data["pending"] = state.pending
    lines = ["schema matches the migrations"] if not drift else _drift_lines(drift)
    warnings = []
    if state.pending and drift:
        warnings.append(f"{len(state.pending)} migrations are pending: expect drift until `migrate apply`")
    return Outcome(PROBLEMS if drift else OK, data, lines, warnings)


async def expected_schema(files: list[MigrationFile]) -> Catalog:
    """The schema ``files`` produce on an empty database, built with the auto-migrator's own code."""
    async with opened(MEMORY) as scratch:
        try:
            await apply_pending(scratch, files)
        except MigrationFailed as exc:
            raise MigrationsBroken(exc) from exc
        return await read_schema(scratch)


class MigrationsBroken(Exception):
    """A migration fails even on an empty database (exit code 1: a problem in the files)."""

    def __init__(self, failed: MigrationFailed):
        super().__init__(f"{failed.name} fails on an empty database: {failed.message}")
        self.failed = failed


def _drift_lines(drift: list[Drift]) -> list[str]:
    return [f"  {d.describe()}" for d in drift] + [f"{len(drift)} differences"]
