"""One migration statement, classified and parsed with sqlglot (SQLite dialect).

Statements that decide D1 compatibility (transaction control, ATTACH, VACUUM, PRAGMA) and triggers are recognised by
their leading keywords before sqlglot sees them: sqlglot reads ``SAVEPOINT a`` as a column alias and ``END`` as a
column, and has no trigger grammar. A trigger's body is split and parsed statement by statement, so its
``BEGIN ... END`` is never mistaken for a transaction.
"""

import logging
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from edgenotify.db.catalog import Catalog, key
from edgenotify.db.sqlsplit import Statement, split_sql

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is expected for some SQLite DDL

_NAME = r'(?:"(?:[^"]|"")+"|\[[^\]]+\]|`[^`]+`|[A-Za-z_][\w$]*)'
_QNAME = rf"(?:{_NAME}\s*\.\s*)?({_NAME})"
_CREATE = re.compile(
    rf"CREATE\s+(?:(TEMP|TEMPORARY)\s+)?(?:(UNIQUE|VIRTUAL)\s+)?(TABLE|INDEX|VIEW|TRIGGER)\s+(IF\s+NOT\s+EXISTS\s+)?{_QNAME}",
    re.IGNORECASE,
)
_TRIGGER_TABLE = re.compile(rf"\bON\s+{_QNAME}", re.IGNORECASE)
_TRIGGER_BODY = re.compile(r"\bBEGIN\b(.*)\bEND\s*$", re.IGNORECASE | re.DOTALL)
_PRAGMA = re.compile(rf"PRAGMA\s+(?:{_NAME}\s*\.\s*)?({_NAME})\s*(?:=\s*(.+?)|\(\s*(.*?)\s*\))?\s*$", re.I | re.S)
_ADD_COLUMN = re.compile(r"\bADD\s+(?:COLUMN\s+)?(.*)$", re.IGNORECASE | re.DOTALL)
_WORDS = re.compile(r"[A-Za-z_]+")

TRANSACTION_WORDS = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def unquote(name: str) -> str:
    if len(name) >= 2 and name[0] in '"[`' and name[-1] in '"]`':
        return name[1:-1].replace('""', '"') if name[0] == '"' else name[1:-1]
    return name


@dataclass
class Analyzed:
    """A statement plus what the rules need: kind, names, AST, and the replay's verdict and schemas."""

    stmt: Statement
    index: int
    kind: str  # e.g. create_table, drop_table, add_column, rename_table, update, pragma, transaction, trigger
    ast: exp.Expression | None = None
    parse_error: tuple[int, str] | None = None  # (absolute line, message)
    target: str | None = None  # the object created / dropped / altered / written
    table: str | None = None  # the table an index or trigger belongs to
    new_name: str | None = None  # rename target
    column: str | None = None
    if_not_exists: bool = False
    temporary: bool = False
    unique: bool = False  # CREATE UNIQUE INDEX
    module: str | None = None  # virtual table module
    pragma: tuple[str, str | None] | None = None  # (lower-cased name, value)
    copy_from: list[str] = field(default_factory=list)  # INSERT ... SELECT source tables
    has_where: bool = True
    column_sql: str | None = None  # ADD COLUMN definition text
    body: list[Statement] = field(default_factory=list)  # trigger body statements (absolute lines)
    body_errors: list[tuple[int, str]] = field(default_factory=list)
    sqlite_error: str | None = None  # set by the replay
    executed: bool = False
    before: Catalog = field(default_factory=Catalog)
    after: Catalog = field(default_factory=Catalog)

    @property
    def line(self) -> int:
        return self.stmt.line

    @property
    def end_line(self) -> int:
        return self.stmt.line + self.stmt.sql.count("\n")

    @property
    def nbytes(self) -> int:
        return len(self.stmt.sql.encode("utf-8"))


def _leading_words(sql: str, n: int) -> list[str]:
    return [w.upper() for w in _WORDS.findall(sql[:200])[:n]]


def _parse_error(stmt: Statement, exc: SqlglotError) -> tuple[int, str]:
    errors = getattr(exc, "errors", None)  # ParseError has structured errors; TokenError does not
    info = errors[0] if errors else {}
    line = stmt.line + max(int(info.get("line") or 1), 1) - 1
    desc = str(info.get("description") or exc).splitlines()[0]
    return line, desc


def analyze(stmt: Statement, index: int) -> Analyzed:
    words = _leading_words(stmt.sql, 4)
    first = words[0] if words else ""
    if first in TRANSACTION_WORDS:
        return Analyzed(stmt, index, "transaction", target=first)
    if first in ("ATTACH", "DETACH"):
        return Analyzed(stmt, index, "attach", target=first)
    if first == "VACUUM":
        return Analyzed(stmt, index, "vacuum")
    if first == "PRAGMA":
        return _pragma(stmt, index)
    if first == "CREATE" and "TRIGGER" in words[1:4]:
        return _trigger(stmt, index)
    try:
        trees = sqlglot.parse(stmt.sql, read="sqlite")
    except SqlglotError as exc:
        return _unparsed(stmt, index, first, _parse_error(stmt, exc))
    trees = [t for t in trees if t is not None]
    a = Analyzed(stmt, index, "other", ast=trees[0] if trees else None)
    if a.ast is not None:
        _classify(a)
    if first == "CREATE":
        _create_head(a)
    elif first == "ALTER" and a.kind in ("other", "alter_other"):
        _alter_head(a)
    return a


_ALTER = re.compile(rf"ALTER\s+TABLE\s+{_QNAME}\s+(.*)$", re.IGNORECASE | re.DOTALL)
_ALTER_ACTIONS = (
    ("rename_table", re.compile(rf"RENAME\s+TO\s+{_QNAME}", re.I)),
    ("rename_column", re.compile(rf"RENAME\s+(?:COLUMN\s+)?({_NAME})\s+TO\s+({_NAME})", re.I)),
    ("drop_column", re.compile(rf"DROP\s+(?:COLUMN\s+)?({_NAME})", re.I)),
    ("add_column", re.compile(rf"ADD\s+(?:COLUMN\s+)?(({_NAME}).*)$", re.I | re.S)),
)


def _alter_head(a: Analyzed) -> None:
    """ALTER TABLE that sqlglot kept as a Command (e.g. ``ADD COLUMN c`` without a type): classify from the text."""
    m = _ALTER.match(a.stmt.sql)
    if not m:
        return
    a.target = unquote(m.group(1))
    for kind, pattern in _ALTER_ACTIONS:
        action = pattern.match(m.group(2))
        if not action:
            continue
        a.kind = kind
        if kind == "rename_table":
            a.new_name = unquote(action.group(1))
        elif kind == "rename_column":
            a.column, a.new_name = unquote(action.group(1)), unquote(action.group(2))
        elif kind == "drop_column":
            a.column = unquote(action.group(1))
        else:
            a.column_sql, a.column = action.group(1).strip(), unquote(action.group(2))
        return


_DML_HEAD = re.compile(rf"(?:UPDATE(?:\s+OR\s+[A-Z]+)?|DELETE\s+FROM)\s+{_QNAME}", re.IGNORECASE)


def _unparsed(stmt: Statement, index: int, first: str, error: tuple[int, str]) -> Analyzed:
    """sqlglot failed (e.g. ``UPDATE OR IGNORE``): keep what the head says, so unfiltered writes still count."""
    a = Analyzed(stmt, index, "unparsed", parse_error=error)
    m = _DML_HEAD.match(stmt.sql)
    if first in ("UPDATE", "DELETE") and m:
        a.kind, a.target = first.lower(), unquote(m.group(1))
        a.has_where = re.search(r"\bWHERE\b", stmt.sql, re.IGNORECASE) is not None
    return a


def _pragma(stmt: Statement, index: int) -> Analyzed:
    m = _PRAGMA.match(stmt.sql)
    a = Analyzed(stmt, index, "pragma")
    if m:
        value = m.group(2) if m.group(2) is not None else m.group(3)
        a.pragma = (unquote(m.group(1)).lower(), unquote(value.strip()) if value else None)
        a.target = a.pragma[0]
    else:
        a.parse_error = (stmt.line, "malformed PRAGMA")
    return a


def _trigger(stmt: Statement, index: int) -> Analyzed:
    a = Analyzed(stmt, index, "create_trigger")
    _create_head(a)
    on = _TRIGGER_TABLE.search(stmt.sql)
    a.table = unquote(on.group(1)) if on else None
    body = _TRIGGER_BODY.search(stmt.sql)
    if body is None:
        a.parse_error = (stmt.line, "trigger without BEGIN ... END body")
        return a
    offset = stmt.sql.count("\n", 0, body.start(1))
    for inner in split_sql(body.group(1)):
        line = stmt.line + offset + inner.line - 1
        a.body.append(Statement(inner.sql, line))
        try:
            sqlglot.parse(inner.sql, read="sqlite")
        except SqlglotError as exc:
            a.body_errors.append(_parse_error(Statement(inner.sql, line), exc))
    return a


def _create_head(a: Analyzed) -> None:
    """Kind, name and IF NOT EXISTS of any CREATE from its head: works when sqlglot fell back to a Command."""
    m = _CREATE.match(a.stmt.sql)
    if not m:
        return
    a.temporary = bool(m.group(1))
    a.unique = (m.group(2) or "").upper() == "UNIQUE"
    a.kind = "create_" + m.group(3).lower()
    a.if_not_exists = bool(m.group(4))
    a.target = unquote(m.group(5))
    if m.group(2) and m.group(2).upper() == "VIRTUAL":
        using = re.search(r"\bUSING\s+([A-Za-z_]\w*)", a.stmt.sql, re.IGNORECASE)
        a.module = using.group(1).lower() if using else None


def _table_name(node: exp.Expression | None) -> str | None:
    if isinstance(node, exp.Schema):
        node = node.this
    return node.name if isinstance(node, exp.Table) else None


def _classify(a: Analyzed) -> None:
    node = a.ast
    if isinstance(node, exp.Create):
        kind = str(node.args.get("kind") or "").lower()
        a.kind = f"create_{kind}" if kind else "create"
        if isinstance(node.this, exp.Index):
            a.table = _table_name(node.this.args.get("table"))
    elif isinstance(node, exp.Drop):
        a.kind = "drop_" + str(node.args.get("kind") or "").lower()
        targets = node.args.get("tables") or [node.this]
        a.target = targets[0].name if targets and targets[0] is not None else None
        a.if_not_exists = bool(node.args.get("exists"))  # IF EXISTS
    elif isinstance(node, exp.Alter):
        _classify_alter(a, node)
    elif isinstance(node, exp.Insert):
        a.kind = "insert"
        a.target = _table_name(node.this)
        select = node.expression
        if isinstance(select, exp.Query):
            a.copy_from = [t.name for t in select.find_all(exp.Table)]
    elif isinstance(node, (exp.Update, exp.Delete)):
        a.kind = "update" if isinstance(node, exp.Update) else "delete"
        a.target = _table_name(node.this)
        a.has_where = node.args.get("where") is not None
    elif isinstance(node, exp.Query):
        a.kind = "select"


def _classify_alter(a: Analyzed, node: exp.Alter) -> None:
    a.target = _table_name(node.this)
    actions = node.args.get("actions") or []
    action = actions[0] if actions else None
    if isinstance(action, exp.ColumnDef):
        a.kind, a.column = "add_column", action.name
        m = _ADD_COLUMN.search(a.stmt.sql)
        a.column_sql = m.group(1).strip() if m else action.sql(dialect="sqlite")
    elif isinstance(action, exp.AlterRename):
        a.kind, a.new_name = "rename_table", _table_name(action.this)
    elif isinstance(action, exp.RenameColumn):
        a.kind, a.column = "rename_column", action.this.name
        a.new_name = action.args["to"].name
    elif isinstance(action, exp.Drop):
        a.kind = "drop_column"
        cols = action.args.get("tables") or [action.this]
        a.column = cols[0].name if cols and cols[0] is not None else None
    elif isinstance(action, exp.AlterColumn):
        a.kind, a.column = "alter_column", action.name
    else:
        a.kind = "alter_other"


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and key(a) == key(b)
