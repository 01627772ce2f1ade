"""Lint a migrations directory: replay every file in wrangler order and run each rule family on it."""

from dataclasses import dataclass, field
from pathlib import Path

from devkit.d1_policy import pragma_allowed
from devkit.lint import sumfile
from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, StatementGrade, max_risk
from devkit.lint.replay import Replay
from devkit.lint.rules import FAMILIES, acknowledgements, integrity
from devkit.lint.rules.rebuild import find_rebuilds
from devkit.lint.statements import Analyzed, analyze
from edgenotify.db.sqlsplit import split_sql

_DML = ("insert", "update", "delete", "select")
_NOT_REPLAYED = ("transaction", "attach", "vacuum")  # D1 rejects them; running them would corrupt the replay


@dataclass
class LintResult:
    directory: str
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    statements: list[StatementGrade] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def exit_code(self) -> int:
        return 1 if self.blocking else 0


def lint_directory(path: str | Path) -> list[Finding]:
    """All findings for the migrations in ``path`` (acknowledged ones included, marked)."""
    return run(path).findings


def run(path: str | Path) -> LintResult:
    directory = Path(path)
    display = str(path).rstrip("/") or "."
    names = sumfile.migration_names(directory)
    result = LintResult(display, names, integrity.check_directory(directory, display, names))
    replay = Replay()
    try:
        for name in names:
            ctx = _context(replay, directory / name, f"{display}/{name}")
            findings = [f for family in FAMILIES for f in family.check(ctx)]
            findings += acknowledgements.apply(ctx, findings)
            findings.sort(key=lambda f: (f.line, f.rule))
            result.findings.extend(findings)
            result.statements.extend(_grades(ctx, findings))
    finally:
        replay.close()
    return result


def _context(replay: Replay, path: Path, display: str) -> FileContext:
    text = path.read_bytes().decode("utf-8", errors="replace")  # a bad byte is reported by SQLite, not a crash
    start = replay.schema()
    replay.begin_file()
    statements = [analyze(stmt, i) for i, stmt in enumerate(split_sql(text))]
    for a in statements:
        _replay(replay, a)
    commit_error = replay.end_file()
    ctx = FileContext(path.name, display, text, statements, start, replay.schema(), commit_error)
    ctx.rebuilds = find_rebuilds(statements)
    return ctx


def _replay(replay: Replay, a: Analyzed) -> None:
    a.before = replay.schema()
    skip = a.kind in _NOT_REPLAYED or (a.kind == "pragma" and (not a.pragma or not pragma_allowed(*a.pragma)))
    if not skip:
        a.sqlite_error = replay.execute(a.stmt.sql, changes_schema=a.kind not in _DML)
        a.executed = True
    a.after = replay.schema()


def _grades(ctx: FileContext, findings: list[Finding]) -> list[StatementGrade]:
    by_statement: dict[int, list[Finding]] = {}
    for f in findings:
        index = ctx.statement_at(f.line)
        if index is not None:
            by_statement.setdefault(index, []).append(f)
    grades = []
    for a in ctx.statements:
        mine = by_statement.get(a.index, [])
        risk = max_risk("low", *(f.risk for f in mine))
        rules = sorted({f.rule for f in mine})
        grades.append(StatementGrade(ctx.display, a.line, a.kind, a.target, risk, rules))
    return grades
