"""Column changes: ADD COLUMN constraints SQLite only rejects once the table has rows, and type / default /
nullability changes (SQLite has no ALTER COLUMN, so they come from a table rebuild)."""

import re

from sqlglot import exp

from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, rule
from devkit.lint.replay import probe_add_column
from devkit.lint.statements import Analyzed
from edgenotify.db.catalog import Column, Table

NOT_NULL_NO_DEFAULT = rule(
    "add-column-not-null-no-default",
    "error",
    "medium",
    "ALTER TABLE ... ADD COLUMN ... NOT NULL without a DEFAULT.",
    "Give the column a constant DEFAULT, or add it nullable, backfill it, and enforce NOT NULL in code. SQLite "
    "accepts this on an empty table (so local tests pass) and fails on a table with rows (production).",
)
ADD_COLUMN_REJECTED = rule(
    "add-column-rejected",
    "error",
    "medium",
    "ADD COLUMN that SQLite rejects once the table has rows (non-constant DEFAULT, REFERENCES with a DEFAULT, "
    "STORED generated column, CHECK failing for the default).",
    "Use a constant DEFAULT (no CURRENT_TIMESTAMP, no expression in parentheses) and backfill with UPDATE, or "
    "rebuild the table.",
)
TYPE_CHANGE = rule(
    "column-type-change",
    "warning",
    "medium",
    "A column's declared type changes (SQLite: only by rebuilding the table).",
    "Make sure every existing value converts (type affinity), and that code reading the column copes with both "
    "types during the deploy.",
    ackable=True,
)
DEFAULT_CHANGE = rule(
    "default-change",
    "warning",
    "medium",
    "A column's DEFAULT changes (SQLite: only by rebuilding the table).",
    "Code inserting without the column gets the new default after this migration; existing rows keep their values.",
    ackable=True,
)
NOT_NULL_ADDED = rule(
    "not-null-added",
    "warning",
    "medium",
    "A nullable column becomes NOT NULL in a rebuild: the copy fails if any row holds NULL.",
    "Backfill NULLs first (UPDATE ... SET col = ... WHERE col IS NULL), or COALESCE in the INSERT ... SELECT.",
    ackable=True,
)
UNIQUE_ON_DATA = rule(
    "unique-index-on-data",
    "warning",
    "medium",
    "CREATE UNIQUE INDEX on a table that earlier migrations created: fails if existing rows hold duplicates.",
    "Check for duplicates first (SELECT cols, count(*) ... GROUP BY cols HAVING count(*) > 1) and clean them up in "
    "this migration before creating the index.",
    ackable=True,
)


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for a in ctx.statements:
        if a.kind == "create_index" and a.unique and ctx.existed_before(a.table) and not a.sqlite_error:
            message = f"UNIQUE index {a.target} on {a.table}: the migration fails if existing rows are duplicates"
            out.append(ctx.finding(UNIQUE_ON_DATA, a.line, message))
        if a.kind == "add_column" and not a.sqlite_error:
            out.extend(_add_column(ctx, a))
        elif a.kind == "alter_column":
            message = f"ALTER COLUMN {a.target}.{a.column}: SQLite cannot change a column in place"
            out.append(ctx.finding(TYPE_CHANGE, a.line, message, "Rebuild the table: " + TYPE_CHANGE.hint))
    return out


def _add_column(ctx: FileContext, a: Analyzed) -> list[Finding]:
    out: list[Finding] = []
    coldef = a.ast.find(exp.ColumnDef) if a.ast is not None else None
    if _not_null_without_default(coldef, a.column_sql or ""):
        out.append(ctx.finding(NOT_NULL_NO_DEFAULT, a.line, f"{a.target}.{a.column} is NOT NULL without a DEFAULT"))
    table = a.before.table(a.target)
    if table is not None and a.column_sql and ctx.existed_before(a.target):
        error = probe_add_column(table, a.column_sql)
        if error and "NOT NULL" not in error:
            out.append(ctx.finding(ADD_COLUMN_REJECTED, a.line, f"on a table with rows SQLite says: {error}"))
    return out


def _not_null_without_default(coldef: exp.ColumnDef | None, text: str) -> bool:
    if coldef is None:  # sqlglot kept the statement as a Command: judge the column text
        upper = " ".join(text.upper().split())
        return "NOT NULL" in upper and not re.search(r"\bDEFAULT\s+(?!NULL\b)", upper)
    kinds = [c.args.get("kind") for c in coldef.args.get("constraints") or []]
    not_null = any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null") for k in kinds)
    defaults = [k for k in kinds if isinstance(k, exp.DefaultColumnConstraint)]
    has_default = any(not isinstance(d.this, exp.Null) for d in defaults)
    return not_null and not has_default


def _norm(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split()).upper()


def diff_columns(ctx: FileContext, line: int, name: str, old: Table, new: Table) -> list[Finding]:
    """Findings for how ``new`` (the rebuilt shape of table ``name``) differs from ``old``, column by column."""
    from devkit.lint.rules.destructive import DROP_COLUMN

    out: list[Finding] = []
    for col in old.columns:
        now = new.column(col.name)
        where = f"{name}.{col.name}"
        if now is None:
            message = f"column {where} is not in the rebuilt table (dropped, or renamed by the copy)"
            out.append(ctx.finding(DROP_COLUMN, line, message))
            continue
        out.extend(_column_changes(ctx, line, where, col, now))
    return out


def _column_changes(ctx: FileContext, line: int, where: str, col: Column, now: Column) -> list[Finding]:
    out: list[Finding] = []
    if _norm(col.type) != _norm(now.type):
        out.append(ctx.finding(TYPE_CHANGE, line, f"{where}: type changes from {col.type!r} to {now.type!r}"))
    if _norm(col.default) != _norm(now.default):
        out.append(
            ctx.finding(
                DEFAULT_CHANGE,
                line,
                f"{where}: DEFAULT changes from {col.default or 'none'} to {now.default or 'none'}",
            )
        )
    if now.notnull and not col.notnull and not now.pk:
        out.append(ctx.finding(NOT_NULL_ADDED, line, f"{where}: was nullable, becomes NOT NULL"))
    return out
