"""The schema as SQLite itself sees it after each statement: tables, columns, FKs (with ON DELETE), indexes, triggers.

The model is read back from the replay database (``replay.py``) rather than simulated from the AST, so SQLite's own
semantics come for free: ``ALTER TABLE ... RENAME`` rewrites the foreign keys of child tables, ``DROP TABLE`` takes
its indexes and triggers with it, and statements sqlglot cannot parse (``WITHOUT ROWID``, triggers) still count.
"""

import sqlite3
from dataclasses import dataclass, field


def key(name: str) -> str:
    """SQLite compares identifiers case-insensitively (ASCII)."""
    return name.lower()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    notnull: bool
    default: str | None  # the DEFAULT expression's SQL text, as SQLite stores it
    pk: bool


@dataclass(frozen=True)
class ForeignKey:
    table: str  # the child (referencing) table
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str  # CASCADE / SET NULL / SET DEFAULT / RESTRICT / NO ACTION
    on_update: str

    @property
    def rewrites_children(self) -> bool:
        """Deleting a parent row changes child rows (the data loss a rebuild's DROP causes on D1)."""
        return self.on_delete in ("CASCADE", "SET NULL", "SET DEFAULT")

    def describe(self) -> str:
        return f"{self.table}({', '.join(self.columns)}) ON DELETE {self.on_delete}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...]
    sql: str | None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if key(c.name) == key(name)), None)


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    sql: str | None


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)  # keyed by key(name)
    indexes: dict[str, Index] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)  # key -> name

    def table(self, name: str | None) -> Table | None:
        return self.tables.get(key(name)) if name else None

    def has(self, name: str) -> bool:
        k = key(name)
        return k in self.tables or k in self.indexes or k in self.triggers or k in self.views

    def children_of(self, table: str) -> list[ForeignKey]:
        """Foreign keys of OTHER tables that reference ``table``."""
        k = key(table)
        return [fk for t in self.tables.values() if key(t.name) != k for fk in t.foreign_keys if key(fk.ref_table) == k]

    def indexes_on(self, table: str) -> list[Index]:
        return [i for i in self.indexes.values() if key(i.table) == key(table)]

    def triggers_on(self, table: str) -> list[Trigger]:
        return [t for t in self.triggers.values() if key(t.table) == key(table)]

    def dangling_foreign_keys(self) -> list[ForeignKey]:
        """FKs whose parent table does not exist: every insert into the child then fails on D1."""
        return [fk for t in self.tables.values() for fk in t.foreign_keys if key(fk.ref_table) not in self.tables]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _foreign_keys(conn: sqlite3.Connection, table: str) -> tuple[ForeignKey, ...]:
    groups: dict[int, list[tuple]] = {}
    for row in conn.execute(f"PRAGMA foreign_key_list({_quote(table)})"):
        groups.setdefault(row[0], []).append(row)
    fks = []
    for rows in groups.values():
        rows.sort(key=lambda r: r[1])
        ref_cols = tuple(r[4] for r in rows if r[4] is not None)
        fks.append(ForeignKey(table, tuple(r[3] for r in rows), rows[0][2], ref_cols, rows[0][6], rows[0][5]))
    return tuple(fks)


def _columns(conn: sqlite3.Connection, table: str) -> tuple[Column, ...]:
    rows = conn.execute(f"PRAGMA table_xinfo({_quote(table)})").fetchall()
    return tuple(Column(r[1], r[2] or "", bool(r[3]), r[4], bool(r[5])) for r in rows if r[6] in (0, 2, 3))


def snapshot(conn: sqlite3.Connection) -> Schema:
    """Read the whole schema of the replay database (user objects only)."""
    schema = Schema()
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    for kind, name, tbl_name, sql in rows:
        if kind == "table":
            schema.tables[key(name)] = Table(name, _columns(conn, name), _foreign_keys(conn, name), sql)
        elif kind == "index":
            schema.indexes[key(name)] = Index(name, tbl_name, sql)
        elif kind == "trigger":
            schema.triggers[key(name)] = Trigger(name, tbl_name)
        elif kind == "view":
            schema.views[key(name)] = name
    return schema
