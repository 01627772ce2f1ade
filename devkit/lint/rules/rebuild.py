"""The SQLite table rebuild on D1, and dropping tables that other tables reference.

On D1 ``PRAGMA foreign_keys = OFF`` is a no-op, so the rebuild's ``DROP TABLE old`` runs the implicit
``DELETE FROM old`` with foreign keys enforced: ``ON DELETE CASCADE`` children lose their rows, ``SET NULL`` /
``SET DEFAULT`` children lose their links, ``RESTRICT`` (and ``NO ACTION`` without deferral) children make the
migration fail once they have rows. No other migration linter models this.
"""

from devkit.lint.context import FileContext, Rebuild
from devkit.lint.findings import Finding, rule
from devkit.lint.rules.columns import diff_columns
from devkit.lint.statements import Analyzed, same
from edgenotify.db.catalog import ForeignKey, key

TABLE_REBUILD = rule(
    "table-rebuild",
    "warning",
    "medium",
    "A table rebuild (create new shape, copy rows, drop old, rename): copies every row in one statement.",
    "Fine for small tables. D1 limits a query to 30 s and bills every row read and written; keep the rebuild in its "
    "own migration and back up first.",
    ackable=True,
)
REBUILD_CASCADE = rule(
    "rebuild-cascade",
    "error",
    "high",
    "A table rebuild drops a table that other tables reference with ON DELETE CASCADE / SET NULL / SET DEFAULT.",
    "On D1 foreign keys cannot be turned off, so the DROP deletes (or nulls) the child rows. Avoid the rebuild "
    "(ADD COLUMN instead), or rebuild the child tables in the same file (copy them aside first), or acknowledge "
    "if the child tables are known to be empty.",
    ackable=True,
)
DROP_CASCADE = rule(
    "drop-cascade",
    "error",
    "high",
    "DROP TABLE of a table that other tables reference with ON DELETE CASCADE / SET NULL / SET DEFAULT.",
    "The implicit DELETE of the DROP changes the child tables' rows. Drop or migrate the child tables first, or "
    "acknowledge that their rows are meant to go.",
    ackable=True,
)
BLOCKED_BY_FK = rule(
    "rebuild-blocked-by-fk",
    "warning",
    "medium",
    "A rebuild drops a table referenced by RESTRICT, or NO ACTION keys without PRAGMA defer_foreign_keys = ON.",
    "Put PRAGMA defer_foreign_keys = ON at the top of the file (NO ACTION keys are then checked at the end, after "
    "the rename). RESTRICT keys cannot be deferred: change them first.",
    ackable=True,
)
DANGLING_FK = rule(
    "dangling-foreign-key",
    "error",
    "high",
    "After the file, a foreign key references a table that no longer exists: every insert into the child fails.",
    "SQLite re-points child foreign keys when a parent is renamed (ALTER t RENAME TO t_old), so the rebuild "
    "spelling 'rename old away, create, copy, drop old' leaves children pointing at the dropped table. Use "
    "'create t_new, copy, drop t, rename t_new to t' instead.",
)
LOST_OBJECTS = rule(
    "rebuild-lost-objects",
    "warning",
    "medium",
    "Indexes or triggers of a rebuilt table are dropped with the old table and not re-created in the file.",
    "Re-create them after the rename (CREATE INDEX IF NOT EXISTS ...).",
    ackable=True,
)


def find_rebuilds(statements: list[Analyzed]) -> list[Rebuild]:
    found: list[Rebuild] = []
    for i, a in enumerate(statements):
        if a.kind == "drop_table" and a.target and not a.sqlite_error:
            r = _variant_a(statements, i, a.target) or _variant_b(statements, i, a.target)
            if r:
                found.append(r)
    return found


def _first(statements: list[Analyzed], start: int, stop: int, match) -> int | None:
    return next((j for j in range(start, stop) if match(statements[j])), None)


def _copies(s: Analyzed, into: str | None, source: str) -> bool:
    return s.kind == "insert" and same(s.target, into) and any(same(t, source) for t in s.copy_from)


def _variant_a(st: list[Analyzed], i: int, old: str) -> Rebuild | None:
    """CREATE new; INSERT INTO new SELECT ... FROM old; DROP old; ALTER new RENAME TO old."""
    j = _first(st, i + 1, len(st), lambda s: s.kind == "rename_table" and same(s.new_name, old))
    if j is None:
        return None
    new = st[j].target
    c = _first(st, 0, i, lambda s: s.kind == "create_table" and same(s.target, new))
    k = _first(st, 0, i, lambda s: _copies(s, into=new, source=old))
    if c is None or k is None:
        return None
    return Rebuild(old, old, new or old, c, k, i, j, "A")


def _variant_b(st: list[Analyzed], i: int, old: str) -> Rebuild | None:
    """ALTER t RENAME TO old; CREATE t; INSERT INTO t SELECT ... FROM old; DROP old."""
    r = _first(st, 0, i, lambda s: s.kind == "rename_table" and same(s.new_name, old))
    if r is None:
        return None
    table = st[r].target
    c = _first(st, r + 1, i, lambda s: s.kind == "create_table" and same(s.target, table))
    k = _first(st, r + 1, i, lambda s: _copies(s, into=table, source=old))
    if c is None or k is None:
        return None
    return Rebuild(table or old, old, table or old, c, k, i, r, "B")


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for r in ctx.rebuilds:
        out.extend(_rebuild(ctx, r))
    for a in ctx.statements:
        if a.kind == "drop_table" and not a.sqlite_error and not ctx.rebuild_at(a.index):
            out.extend(_plain_drop(ctx, a))
    out.extend(_dangling(ctx))
    return out


def _rewriting(children: list[ForeignKey]) -> str:
    return ", ".join(fk.describe() for fk in children)


def _rebuild(ctx: FileContext, r: Rebuild) -> list[Finding]:
    st = ctx.statements
    drop = st[r.drop]
    old_table = drop.before.table(r.old)
    new_table = st[r.create].after.table(r.new)
    line = drop.line
    out = [
        ctx.finding(
            TABLE_REBUILD,
            line,
            f"table {r.table} is rebuilt (statements at lines "
            f"{st[min(r.create, r.rename)].line}-{st[max(r.drop, r.rename)].line})",
        )
    ]
    children = drop.before.children_of(r.old)
    cascading = [fk for fk in children if fk.rewrites_children]
    if cascading:
        message = (
            f"rebuilding {r.table} drops {r.old} while {_rewriting(cascading)} reference it: on D1 foreign keys "
            "stay on (PRAGMA foreign_keys = OFF is ignored), so the DROP deletes or nulls those child rows"
        )
        out.append(ctx.finding(REBUILD_CASCADE, line, message))
    out.extend(_blocked(ctx, r, children))
    if old_table and new_table:
        out.extend(diff_columns(ctx, st[r.create].line, r.table, old_table, new_table))
    out.extend(_lost(ctx, r))
    return out


def _blocked(ctx: FileContext, r: Rebuild, children: list[ForeignKey]) -> list[Finding]:
    deferred = any(
        s.kind == "pragma"
        and s.pragma
        and s.pragma[0] == "defer_foreign_keys"
        and (s.pragma[1] or "").lower() in ("on", "1", "true", "yes")
        for s in ctx.statements[: r.drop]
    )
    blocking = [fk for fk in children if fk.on_delete == "RESTRICT" or (fk.on_delete == "NO ACTION" and not deferred)]
    if not blocking:
        return []
    message = (
        f"dropping {r.old} fails with 'FOREIGN KEY constraint failed' once {_rewriting(blocking)} has rows "
        "referencing it"
    )
    return [ctx.finding(BLOCKED_BY_FK, ctx.statements[r.drop].line, message)]


def _lost(ctx: FileContext, r: Rebuild) -> list[Finding]:
    drop = ctx.statements[r.drop]
    gone = [i.name for i in drop.before.indexes_on(r.old) if i.sql and key(i.name) not in ctx.end.indexes]
    gone += [t.name for t in drop.before.triggers_on(r.old) if key(t.name) not in ctx.end.triggers]
    if not gone:
        return []
    message = f"{', '.join(gone)} of {r.table} went with the old table and are not re-created in this file"
    return [ctx.finding(LOST_OBJECTS, drop.line, message)]


def _plain_drop(ctx: FileContext, a: Analyzed) -> list[Finding]:
    cascading = [fk for fk in a.before.children_of(a.target or "") if fk.rewrites_children]
    if not cascading:
        return []
    message = f"DROP TABLE {a.target} deletes or nulls the rows of {_rewriting(cascading)} (implicit DELETE)"
    return [ctx.finding(DROP_CASCADE, a.line, message)]


def _dangling(ctx: FileContext) -> list[Finding]:
    before = {(key(fk.table), key(fk.ref_table)) for fk in ctx.start.dangling_foreign_keys()}
    out = []
    for fk in ctx.end.dangling_foreign_keys():
        if (key(fk.table), key(fk.ref_table)) in before:
            continue
        gone = ("drop_table", "rename_table")
        removed = [s for s in ctx.statements if s.kind in gone and same(s.target, fk.ref_table)]
        created = [s for s in ctx.statements if s.kind == "create_table" and same(s.target, fk.table)]
        culprit = (removed[-1:] or created[:1] or [None])[0]
        line = culprit.line if culprit else 1
        message = f"{fk.table}({', '.join(fk.columns)}) references {fk.ref_table}, which does not exist after this file"
        out.append(ctx.finding(DANGLING_FK, line, message))
    return out
