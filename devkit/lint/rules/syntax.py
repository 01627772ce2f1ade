"""Does each statement parse, does SQLite accept it, and does it fit D1's statement size limit."""

from devkit.d1_policy import MAX_STATEMENT_BYTES
from devkit.lint.context import FileContext
from devkit.lint.findings import Finding, rule

PARSE_ERROR = rule(
    "parse-error",
    "error",
    "medium",
    "The statement does not parse (sqlglot, SQLite dialect) and SQLite rejects it too.",
    "Fix the syntax; the line points at the offending token.",
)
PARSE_UNSUPPORTED = rule(
    "parse-unsupported",
    "warning",
    "low",
    "sqlglot cannot parse a statement that SQLite accepts: only the SQLite replay checked it.",
    "Nothing to fix if the SQL is intended; the linter's AST rules could not inspect this statement.",
)
SQLITE_ERROR = rule(
    "sqlite-error",
    "error",
    "medium",
    "SQLite rejects the statement when the migrations are replayed on an empty database (D1 would too).",
    "Fix the statement so it applies on top of the earlier migrations; the message is SQLite's own.",
)
TOO_LARGE = rule(
    "statement-too-large",
    "error",
    "medium",
    f"A statement is longer than D1's limit of {MAX_STATEMENT_BYTES:,} bytes.",
    "Split the statement (e.g. one multi-row INSERT into several), or load bulk data outside migrations.",
)


def check(ctx: FileContext) -> list[Finding]:
    out: list[Finding] = []
    for a in ctx.statements:
        if a.parse_error:
            line, message = a.parse_error
            if a.sqlite_error or not a.executed:
                extra = f"; SQLite: {a.sqlite_error}" if a.sqlite_error else ""
                out.append(ctx.finding(PARSE_ERROR, line, f"cannot parse statement: {message}{extra}"))
            else:
                out.append(ctx.finding(PARSE_UNSUPPORTED, line, f"sqlglot cannot parse this ({message})"))
        elif a.sqlite_error:
            out.append(ctx.finding(SQLITE_ERROR, a.line, f"SQLite rejects this {_what(a.kind)}: {a.sqlite_error}"))
        for line, message in a.body_errors:
            if a.sqlite_error:
                out.append(ctx.finding(PARSE_ERROR, line, f"cannot parse trigger body statement: {message}"))
            else:
                out.append(ctx.finding(PARSE_UNSUPPORTED, line, f"sqlglot cannot parse trigger body ({message})"))
        if a.nbytes > MAX_STATEMENT_BYTES:
            out.append(
                ctx.finding(TOO_LARGE, a.line, f"statement is {a.nbytes:,} bytes; D1 rejects over 100,000 bytes")
            )
    if ctx.commit_error:
        out.append(ctx.finding(SQLITE_ERROR, 1, f"the file's transaction fails to commit: {ctx.commit_error}"))
    return out


def _what(kind: str) -> str:
    return kind.replace("_", " ").upper() if kind not in ("other", "unparsed") else "statement"
