"""Statements D1 rejects or silently ignores, which local SQLite (and every other linter) happily accepts."""

from devkit.d1_policy import ALLOWED_PRAGMAS, ALLOWED_VIRTUAL_MODULES, pragma_allowed
from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, rule
from edgenotify.migrations.ledger import CHECKSUMS, LEDGER

LEDGER_TABLES = frozenset({LEDGER, CHECKSUMS})
_OFF = {"off", "0", "false", "no"}

TRANSACTION = rule(
    "transaction-control",
    "error",
    "medium",
    "BEGIN / COMMIT / END / ROLLBACK / SAVEPOINT / RELEASE in a migration.",
    "Remove it: D1 already runs each migration file as one transaction and rejects nested ones. For foreign keys "
    "that may be violated until the end of the file, use PRAGMA defer_foreign_keys = ON.",
)
ATTACH = rule(
    "attach-detach",
    "error",
    "medium",
    "ATTACH / DETACH DATABASE (D1 denies both).",
    "Remove it: a D1 database cannot see other database files.",
)
VACUUM = rule(
    "vacuum",
    "error",
    "medium",
    "VACUUM (not authorized on D1).",
    "Remove it: D1 manages storage itself; PRAGMA optimize is the allowed maintenance statement.",
)
PRAGMA_NOT_ALLOWED = rule(
    "pragma-not-allowed",
    "error",
    "medium",
    "A PRAGMA outside D1's allow-list (D1 answers SQLITE_AUTH).",
    "Remove it. D1 allows: " + ", ".join(sorted(ALLOWED_PRAGMAS)) + ", and reading page_size.",
)
FK_OFF = rule(
    "pragma-foreign-keys-off",
    "warning",
    "medium",
    "PRAGMA foreign_keys = OFF, which has no effect on D1.",
    "Remove it. D1 runs the file in a transaction, where SQLite ignores foreign_keys changes, so foreign keys stay "
    "enforced: a table rebuild's DROP TABLE still fires ON DELETE CASCADE / SET NULL on child tables. Use "
    "PRAGMA defer_foreign_keys = ON for NO ACTION keys, and avoid rebuilding tables that children cascade from.",
    ackable=True,
)
DENIED_OBJECT = rule(
    "d1-denied-object",
    "error",
    "medium",
    "TEMP objects, virtual tables other than fts5/fts5vocab/rtree, or names starting with _cf_ (denied on D1).",
    "Use a regular table (drop it at the end of the file if it is scratch space) and a name without the _cf_ prefix.",
)
LEDGER = rule(
    "ledger-table",
    "error",
    "high",
    "A migration writes to the migration ledger (d1_migrations / d1_migrations_checksums).",
    "Never touch the ledger from a migration (some generators emit DROP TABLE d1_migrations); use "
    "`python -m devkit.migrate baseline` to mark migrations applied.",
)

_LEDGER_KINDS = ("create_table", "drop_table", "insert", "update", "delete", "add_column", "rename_table")


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for a in ctx.statements:
        if a.kind == "transaction":
            what = a.target or "transaction control"
            out.append(ctx.finding(TRANSACTION, a.line, f"{what}: D1 rejects explicit transactions in migrations"))
        elif a.kind == "attach":
            out.append(ctx.finding(ATTACH, a.line, f"{a.target} DATABASE is denied on D1"))
        elif a.kind == "vacuum":
            out.append(ctx.finding(VACUUM, a.line, "VACUUM is not authorized on D1"))
        elif a.kind == "pragma" and a.pragma:
            out.extend(_pragma(ctx, a.line, *a.pragma))
        if a.kind.startswith("create_") and a.target:
            out.extend(_denied(ctx, a.line, a.kind, a.target, a.temporary, a.module))
        if a.kind in _LEDGER_KINDS and a.target and a.target.lower() in LEDGER_TABLES:
            out.append(ctx.finding(LEDGER, a.line, f"{a.kind.replace('_', ' ').upper()} on ledger table {a.target}"))
    return out


def _pragma(ctx: FileContext, line: int, name: str, value: str | None) -> list[Finding]:
    if name == "foreign_keys" and value is not None and value.lower() in _OFF:
        return [ctx.finding(FK_OFF, line, "PRAGMA foreign_keys = OFF has no effect on D1: foreign keys stay enforced")]
    if pragma_allowed(name, value):
        return []
    return [ctx.finding(PRAGMA_NOT_ALLOWED, line, f"PRAGMA {name} is not allowed on D1 (SQLITE_AUTH)")]


def _denied(ctx: FileContext, line: int, kind: str, name: str, temporary: bool, module: str | None) -> list[Finding]:
    what = kind.removeprefix("create_").upper()
    if temporary:
        return [ctx.finding(DENIED_OBJECT, line, f"TEMP {what} {name}: temporary objects are denied on D1")]
    if name.lower().startswith("_cf_"):
        return [ctx.finding(DENIED_OBJECT, line, f"{what} {name}: names starting with _cf_ are reserved on D1")]
    if module is not None and module not in ALLOWED_VIRTUAL_MODULES:
        return [ctx.finding(DENIED_OBJECT, line, f"virtual table module {module} is denied on D1 (fts5/rtree only)")]
    return []
