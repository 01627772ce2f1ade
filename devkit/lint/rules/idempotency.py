"""Re-run safety of DDL, and the opposite trap: IF NOT EXISTS hiding a definition that is never applied."""

from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, rule

_KINDS = ("create_table", "create_index", "create_view", "create_trigger")

CREATE_IF_NOT_EXISTS = rule(
    "create-if-not-exists",
    "warning",
    "low",
    "CREATE TABLE / INDEX / VIEW / TRIGGER without IF NOT EXISTS.",
    "Write CREATE ... IF NOT EXISTS so the file can be re-run safely (baselined databases, a retried deploy, the "
    "dev auto-migrator racing wrangler).",
    ackable=True,
)
CREATE_EXISTING = rule(
    "create-existing",
    "warning",
    "medium",
    "CREATE ... IF NOT EXISTS of an object an earlier statement already created: silently skipped.",
    "The definition here is never applied. To change an existing table use ALTER TABLE or a table rebuild; to "
    "change an index, DROP INDEX it first.",
    ackable=True,
)


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for a in ctx.statements:
        if a.kind not in _KINDS or not a.target:
            continue
        what = a.kind.removeprefix("create_").upper()
        if not a.if_not_exists:
            out.append(ctx.finding(CREATE_IF_NOT_EXISTS, a.line, f"CREATE {what} {a.target} without IF NOT EXISTS"))
        elif a.before.has(a.target):
            out.append(
                ctx.finding(
                    CREATE_EXISTING,
                    a.line,
                    f"{a.target} already exists, so CREATE {what} IF NOT EXISTS does nothing: this definition is "
                    "never applied",
                )
            )
    return out
