"""``POST /admin/query-plan``: EXPLAIN QUERY PLAN of one read-only SELECT, scans, index advice.

Only a single SELECT (or WITH ... SELECT, or a compound SELECT) is accepted: the statement is
split with our lexical splitter (exactly one statement), parsed with sqlglot's SQLite dialect,
and refused when its tree holds anything but a query (INSERT/UPDATE/DELETE, also inside a
CTE; PRAGMA, ATTACH/DETACH, DDL, transaction control, commands sqlglot cannot parse).
Parameters are bound, never interpolated. ``EXPLAIN QUERY PLAN`` does not run the query.

sqlglot is imported inside the functions that need it, never at module import: this module is
loaded only by the admin handler, and even then the import is paid per use, not per request path.

Advice improves on seed 000's analyzer: it reads the plan (``SCAN t`` without an index is a
full scan; ``USE TEMP B-TREE`` is a sort) and proposes an index per scanned table from the
query itself: equality columns first, then one range column, else the ORDER BY columns.
"""

import re
from dataclasses import dataclass
from typing import Any

from edgenotify.db import D1Error, Database, Query
from edgenotify.db.d1 import MAX_BOUND_PARAMS
from edgenotify.db.sqlsplit import split_sql
from edgenotify.ops.backups.schema import quote_ident

_SCAN = re.compile(r"^SCAN (?:TABLE )?(\S+)(?: AS (\S+))?(.*)$")
_SEARCH = re.compile(r"^SEARCH (?:TABLE )?(\S+)(?: AS (\S+))?(.*)$")
_LEADING = re.compile(r"^\s*(SELECT|WITH|VALUES)\b", re.I)


class QueryRefused(Exception):
    def __init__(self, code: str, message: str, field: str = "sql"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass
class Validated:
    sql: str  # the single statement, without a trailing semicolon
    tree: Any  # sqlglot expression


def validate(sql: str) -> Validated:
    import sqlglot
    from sqlglot import exp

    statements = split_sql(sql or "")
    if not statements:
        raise QueryRefused("empty_query", "sql is empty")
    if len(statements) > 1:
        raise QueryRefused("multiple_statements", f"exactly one statement is allowed, got {len(statements)}")
    text = statements[0].sql
    if not _LEADING.match(text):
        word = text.split(None, 1)[0].upper()
        raise QueryRefused("not_a_select", f"only a read-only SELECT is allowed, not {word}")
    try:
        trees = [t for t in sqlglot.parse(text, read="sqlite") if t is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryRefused("invalid_sql", f"cannot parse the query: {str(exc).splitlines()[0]}") from exc
    if len(trees) != 1:
        raise QueryRefused("multiple_statements", "exactly one statement is allowed")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        raise QueryRefused("not_a_select", f"only a read-only SELECT is allowed, not {type(tree).__name__.upper()}")
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Pragma)
    for node in tree.walk():
        if isinstance(node, writes) or type(node).__name__ in ("Attach", "Detach", "Transaction", "Commit"):
            raise QueryRefused("not_read_only", f"the query contains {type(node).__name__.upper()}")
    return Validated(text, tree)


def check_params(params: list[Any]) -> list[Any]:
    if len(params) > MAX_BOUND_PARAMS:
        raise QueryRefused("too_many_params", f"at most {MAX_BOUND_PARAMS} parameters", "params")
    for p in params:
        if not (p is None or isinstance(p, (str, int, float, bool))):
            raise QueryRefused("invalid_param", "parameters must be strings, numbers, booleans or null", "params")
    return params


def read_plan(rows: list[dict[str, Any]]) -> dict[str, Any]:
    full: list[str] = []
    index_scans: list[str] = []
    searches: list[dict[str, str]] = []
    sorts: list[str] = []
    for r in rows:
        detail = str(r.get("detail", ""))
        if m := _SCAN.match(detail):
            (index_scans if "INDEX" in m.group(3) else full).append(m.group(1))
        elif m := _SEARCH.match(detail):
            searches.append({"table": m.group(1), "how": m.group(3).strip()})
        elif detail.startswith("USE TEMP B-TREE"):
            sorts.append(detail[len("USE TEMP B-TREE FOR ") :])
    return {"full_scans": full, "index_scans": index_scans, "searches": searches, "temp_btree": sorts}


def _predicates(tree: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """(equality columns, range columns, LIKE nodes) from WHERE and JOIN ON conditions."""
    from sqlglot import exp

    eq, rng, likes = [], [], []
    conditions = [w.this for w in tree.find_all(exp.Where)] + [
        j.args["on"] for j in tree.find_all(exp.Join) if j.args.get("on")
    ]
    for cond in conditions:
        for node in cond.walk():
            if isinstance(node, (exp.EQ, exp.In, exp.Is)):
                eq.extend(c for c in (node.this, node.args.get("expression")) if isinstance(c, exp.Column))
            elif isinstance(node, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)):
                rng.extend(c for c in (node.this, node.args.get("expression")) if isinstance(c, exp.Column))
            elif isinstance(node, exp.Like):
                likes.append(node)
    return eq, rng, likes


def suggestions(tree: Any, plan: dict[str, Any], columns: dict[str, set[str]]) -> list[dict[str, Any]]:
    """One CREATE INDEX proposal per fully scanned table, and notes on sorts and LIKE."""
    from sqlglot import exp

    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}

    def owner(col: Any) -> str | None:
        if col.table:
            return aliases.get(col.table, col.table)
        owners = [t for t, cols in columns.items() if col.name in cols]
        return owners[0] if len(owners) == 1 else None

    eq, rng, likes = _predicates(tree)
    order = [o.this for o in tree.find_all(exp.Ordered) if isinstance(o.this, exp.Column)]
    out: list[dict[str, Any]] = []
    for table in dict.fromkeys(aliases.get(t, t) for t in plan["full_scans"]):
        cols: list[str] = []
        for group in (eq, rng[:1] if rng else [c for c in order if owner(c) == table]):
            for c in group:
                if owner(c) == table and c.name not in cols:
                    cols.append(c.name)
        if cols:
            name = f"idx_{table}_{'_'.join(cols)}"
            listed = ", ".join(map(quote_ident, cols))
            ddl = f"CREATE INDEX IF NOT EXISTS {quote_ident(name)} ON {quote_ident(table)} ({listed})"
            out.append({"table": table, "reason": f"full scan of {table}", "columns": cols, "create_index": ddl})
        else:
            out.append({"table": table, "reason": f"full scan of {table} with no filter an index could serve"})
    if plan["temp_btree"] and order:
        out.append({"reason": "sorts in a temporary B-tree: an index ending with the ORDER BY columns avoids it"})
    for like in likes:
        pattern = like.args.get("expression")
        if isinstance(pattern, exp.Literal) and pattern.is_string and pattern.this.startswith("%"):
            out.append({"reason": "LIKE with a leading wildcard cannot use an index; consider FTS5"})
    return out


async def analyze(db: Database, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
    from sqlglot import exp

    query = validate(sql)
    values = check_params(list(params or []))
    try:
        rows = await db.all(f"EXPLAIN QUERY PLAN {query.sql}", *values)
    except D1Error as exc:
        raise QueryRefused("invalid_query", f"SQLite refused the query: {exc.message}") from exc
    plan = read_plan(rows)
    names = sorted({t.name for t in query.tree.find_all(exp.Table)})
    infos = await db.batch([Query(f"PRAGMA table_info({quote_ident(n)})") for n in names]) if names else []
    columns = {n: {str(r["name"]) for r in res.rows} for n, res in zip(names, infos, strict=True)}
    return {
        "sql": query.sql,
        "plan": [{"id": r.get("id"), "parent": r.get("parent"), "detail": r.get("detail")} for r in rows],
        **plan,
        "scans": bool(plan["full_scans"]),
        "uses_index": any("INDEX" in s["how"] for s in plan["searches"]) or bool(plan["index_scans"]),
        "suggestions": suggestions(query.tree, plan, columns),
    }
