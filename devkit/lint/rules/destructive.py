"""Drops, renames and unfiltered writes on tables that earlier migrations created (so they may hold rows).

Objects created earlier in the same file hold no released data and are not reported; the drop and rename inside a
recognised table rebuild are judged by the rebuild family instead.
"""

from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, rule
from devkit.lint.statements import Analyzed
from edgenotify.db.catalog import key

DROP_TABLE = rule(
    "drop-table",
    "warning",
    "high",
    "DROP TABLE of a table that may hold data.",
    "Back up first (scripts/backup), make sure no deployed code still reads the table, then acknowledge with "
    "-- lint: allow high-risk drop-table because <reason>.",
    ackable=True,
)
DROP_COLUMN = rule(
    "drop-column",
    "warning",
    "medium",
    "A column is dropped (ALTER TABLE DROP COLUMN, or left out of a rebuilt table).",
    "Deploy code that no longer reads the column first; the data is gone after this migration.",
    ackable=True,
)
DROP_INDEX = rule(
    "drop-index",
    "warning",
    "medium",
    "DROP INDEX: queries that used it fall back to scans (rows read are billed on D1).",
    "Check the query plans that used the index (admin query-plan endpoint) before dropping it.",
    ackable=True,
)
RENAME_TABLE = rule(
    "rename-table",
    "warning",
    "medium",
    "ALTER TABLE ... RENAME TO: deployed code using the old name breaks.",
    "Deploy code that accepts both names first, or add a compatibility VIEW with the old name.",
    ackable=True,
)
RENAME_COLUMN = rule(
    "rename-column",
    "warning",
    "medium",
    "ALTER TABLE ... RENAME COLUMN: deployed code using the old name breaks.",
    "Add the new column, backfill and switch code over, then drop the old one in a later migration.",
    ackable=True,
)
UPDATE_ALL = rule(
    "update-without-where",
    "warning",
    "high",
    "UPDATE without WHERE rewrites every row (one D1 query, 30 s limit, every row billed as written).",
    "Add a WHERE clause (e.g. WHERE col IS NULL for a backfill) or acknowledge the mass update.",
    ackable=True,
)
DELETE_ALL = rule(
    "delete-without-where",
    "warning",
    "high",
    "DELETE without WHERE empties the table (and fires ON DELETE actions in child tables).",
    "Add a WHERE clause, or acknowledge that the table is meant to be emptied.",
    ackable=True,
)


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for a in ctx.statements:
        if a.sqlite_error:
            continue
        finding = _check(ctx, a)
        if finding:
            out.append(finding)
    return out


def _check(ctx: FileContext, a: Analyzed) -> Finding | None:
    old = ctx.existed_before(a.target)
    if a.kind == "drop_table" and a.before.table(a.target) and old and not ctx.rebuild_at(a.index):
        return ctx.finding(DROP_TABLE, a.line, f"DROP TABLE {a.target} deletes the table and every row in it")
    if a.kind == "drop_column" and old:
        return ctx.finding(DROP_COLUMN, a.line, f"column {a.target}.{a.column} and its data are dropped")
    if a.kind == "drop_index" and a.target and key(a.target) in ctx.start.indexes:
        return ctx.finding(DROP_INDEX, a.line, f"index {a.target} is dropped")
    if a.kind == "rename_table" and old and not ctx.rebuild_at(a.index):
        return ctx.finding(RENAME_TABLE, a.line, f"table {a.target} is renamed to {a.new_name}")
    if a.kind == "rename_column" and old:
        return ctx.finding(RENAME_COLUMN, a.line, f"column {a.target}.{a.column} is renamed to {a.new_name}")
    if a.kind == "update" and not a.has_where and old:
        return ctx.finding(UPDATE_ALL, a.line, f"UPDATE {a.target} without WHERE rewrites every row")
    if a.kind == "delete" and not a.has_where and old:
        return ctx.finding(DELETE_ALL, a.line, f"DELETE FROM {a.target} without WHERE deletes every row")
    return None
