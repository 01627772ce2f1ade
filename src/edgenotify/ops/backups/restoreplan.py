"""What a restore file contains, from one streaming pass: the plan a restore (or dry run) follows.

Accepted files: our backups, ``wrangler d1 export`` output (with or without schema) and plain
SQL of the same statement kinds. Every statement is classified:

* ``table``: CREATE [VIRTUAL] TABLE, run first (kept in memory: DDL is small);
* ``data``: INSERT/REPLACE/UPDATE of one table, run in foreign-key order;
* ``sequence``: writes to ``sqlite_sequence`` (AUTOINCREMENT counters), after all data;
* ``post``: CREATE INDEX/VIEW/TRIGGER, run last so triggers never fire on restored rows;
* ``skip``: transaction control (BEGIN/COMMIT, from ``sqlite3 .dump``), PRAGMAs (a restore
  defers foreign keys itself, per batch), ANALYZE, and anything on SQLite/D1 internals
  (``sqlite_stat*``, ``_cf_*``, ``sqlite_schema``) that D1 would refuse;
* anything else (DROP, DELETE of user rows, ALTER, ...) makes the file unsupported: a restore
  replays data, it does not run arbitrary scripts.
"""

import re
from dataclasses import dataclass, field

from edgenotify.migrations.ledger import LEDGER
from edgenotify.ops.backups.schema import fk_order, is_excluded, references, unquote_ident
from edgenotify.ops.backups.sqlstream import split_top_level, values_tuples

_NAME = r"""("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|'(?:[^']|'')+'|[A-Za-z_][\w$]*)"""
_CREATE_TABLE = re.compile(rf"^CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", re.I)
_CREATE_POST = re.compile(
    rf"^CREATE\s+(?:UNIQUE\s+)?(INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}(?:\s+ON\s+{_NAME})?", re.I
)
_CREATE_TEMP = re.compile(r"^CREATE\s+TEMP(?:ORARY)?\b", re.I)
_INSERT = re.compile(rf"^(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO)\s+{_NAME}", re.I)
_UPDATE = re.compile(rf"^UPDATE\s+(?:OR\s+\w+\s+)?{_NAME}", re.I)
_DELETE = re.compile(rf"^DELETE\s+FROM\s+{_NAME}", re.I)
_COLUMNS = re.compile(r"^[^(]*?\(\s*(.*?)\)\s*VALUES", re.I | re.S)
_SKIP = re.compile(r"^(?:BEGIN|COMMIT|END|ROLLBACK|PRAGMA|ANALYZE|SAVEPOINT|RELEASE)\b", re.I)
SEQUENCE = "sqlite_sequence"


@dataclass
class Classified:
    kind: str  # table, data, sequence, post, skip, unsupported
    table: str | None = None
    name: str | None = None  # object name for post DDL
    what: str = ""  # INDEX, VIEW or TRIGGER for post DDL


def classify(statement: str) -> Classified:
    if _SKIP.match(statement):
        return Classified("skip")
    m = _CREATE_TABLE.match(statement)
    if m:
        name = unquote_ident(m.group(1))
        return Classified("skip" if is_excluded(name) else "table", name, name)
    m = _CREATE_POST.match(statement)
    if m:
        table = unquote_ident(m.group(3)) if m.group(3) else None
        kind = "skip" if table and is_excluded(table) else "post"
        return Classified(kind, table, unquote_ident(m.group(2)), m.group(1).upper())
    if _CREATE_TEMP.match(statement):
        return Classified("unsupported")
    for pattern in (_INSERT, _UPDATE):
        m = pattern.match(statement)
        if m:
            return _target(unquote_ident(m.group(1)))
    m = _DELETE.match(statement)
    if m and unquote_ident(m.group(1)) == SEQUENCE:
        return Classified("sequence", SEQUENCE)
    return Classified("unsupported")


def _target(table: str) -> Classified:
    if table == SEQUENCE:
        return Classified("sequence", table)
    if is_excluded(table):
        return Classified("skip", table)
    return Classified("data", table)


def insert_columns(statement: str) -> list[str] | None:
    m = _COLUMNS.match(statement)
    if not m or not _INSERT.match(statement):
        return None
    return [unquote_ident(c) for c in split_top_level(m.group(1))]


def literal_text(item: str) -> str | None:
    item = item.strip()
    if len(item) >= 2 and item[0] == "'" and item[-1] == "'":
        return item[1:-1].replace("''", "'")
    return None


def ledger_names(statement: str) -> list[str]:
    """Migration names inserted by one ``INSERT INTO d1_migrations`` statement."""
    columns = insert_columns(statement) or ["id", "name", "applied_at"]
    at = columns.index("name") if "name" in columns else 1
    names = []
    for group in values_tuples(statement):
        items = split_top_level(group)
        if at < len(items):
            name = literal_text(items[at])
            if name is not None:
                names.append(name)
    return names


@dataclass
class Plan:
    statements: int = 0
    tables: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE statement)
    post: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, statement)
    data_tables: list[str] = field(default_factory=list)  # first-appearance order in the file
    rows: dict[str, int] = field(default_factory=dict)  # VALUES tuples inserted per table
    updated: set[str] = field(default_factory=set)  # tables with UPDATE statements (pieces of large values)
    commands: set[str] = field(default_factory=set)  # FTS5 tables given commands: INSERT INTO f(f) VALUES(...)
    ledger: list[str] = field(default_factory=list)  # migration names the file inserts
    sequence: bool = False
    skipped: dict[str, int] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)  # first few offending statements
    counted: bool = False  # whether ``rows`` counts every table (files without a manifest)

    @property
    def has_schema(self) -> bool:
        return bool(self.tables)

    def add(self, statement: str, count_rows: bool) -> None:
        self.statements += 1
        self.counted = self.counted or count_rows
        c = classify(statement)
        if c.kind == "table":
            self.tables.append((c.table or "", statement))
        elif c.kind == "post":
            self.post.append((c.what, c.name or "", statement))
        elif c.kind == "data":
            self._data(c.table or "", statement, count_rows)
        elif c.kind == "sequence":
            self.sequence = True
        elif c.kind == "skip":
            label = statement.split(None, 1)[0].upper() + (f" {c.table}" if c.table else "")
            self.skipped[label] = self.skipped.get(label, 0) + 1
        elif len(self.unsupported) < 5:
            self.unsupported.append(statement[:200])
        elif self.unsupported[-1] != "...":
            self.unsupported.append("...")

    def _data(self, table: str, statement: str, count_rows: bool) -> None:
        if table not in self.rows:
            self.data_tables.append(table)
            self.rows[table] = 0
        if statement[:6].upper() == "UPDATE":
            self.updated.add(table)
        elif insert_columns(statement) == [table]:  # 'rebuild' and friends: not rows
            self.commands.add(table)
        elif count_rows or table == LEDGER:
            self.rows[table] += len(values_tuples(statement))
        if table == LEDGER:
            self.ledger.extend(ledger_names(statement))

    def data_order(self, parents: dict[str, list[str]] | None = None) -> list[str]:
        """Tables with data, parents first (FKs from the file's DDL, or ``parents`` from the target)."""
        if parents is None:
            parents = {name: references(sql) for name, sql in self.tables}
        virtual = {name for name, sql in self.tables if re.match(r"^CREATE\s+VIRTUAL\b", sql, re.I)}
        ordinary = [t for t in self.data_tables if t not in virtual]
        return fk_order(ordinary, parents) + [t for t in self.data_tables if t in virtual]

    def file_order_is_safe(self, parents: dict[str, list[str]] | None = None) -> bool:
        """Whether executing data in file order already puts every parent before its children."""
        return self.data_order(parents) == self.data_tables

    def summary(self) -> dict:
        return {
            "statements": self.statements,
            "tables": [name for name, _ in self.tables],
            "indexes_views_triggers": [f"{kind.lower()} {name}" for kind, name, _ in self.post],
            "rows": dict(self.rows) if self.counted else None,
            "tables_with_updates": sorted(self.updated),
            "fts_commands": sorted(self.commands),
            "migrations": list(self.ledger),
            "sequence": self.sequence,
            "skipped": dict(self.skipped),
            "unsupported": list(self.unsupported),
        }
