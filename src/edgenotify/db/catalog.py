"""A database's schema as SQLite reports it: tables, columns, indexes, foreign keys, views, triggers.

One reader for every tool that needs the schema: the backup (``ops.backups.schema``) on D1, ``migrate
verify`` (``devkit.migrate.schema``) and the linter's replay database (``devkit.lint``). Read with
what D1 allows, in one ``batch`` (one round trip, one consistent snapshot): ``sqlite_master`` and
the table-valued pragma functions ``pragma_table_list`` / ``pragma_table_xinfo`` /
``pragma_index_list`` / ``pragma_index_info`` / ``pragma_foreign_key_list`` (all accepted by
workerd's authorizer, checked on Miniflare). :data:`CATALOG_QUERIES` are plain SQL, so a
``sqlite3`` connection runs them as well, and :func:`parse` turns either's rows into a
:class:`Catalog`.

Names are compared as SQLite compares identifiers, case-insensitively (ASCII): the dicts are keyed
by :func:`key`. SQLite's own ``sqlite_*`` objects and D1's reserved ``_cf_*`` ones are not read;
each tool drops what else it does not want (the migration ledger, virtual tables' shadow tables).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db.d1 import Database, Query

INTERNAL_PREFIXES = ("sqlite_", "_cf_")
# Tables whose columns, indexes and keys are read: all but SQLite's and D1's internals ("_" is a LIKE wildcard).
_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' AND name NOT LIKE '!_cf!_%' ESCAPE '!'"
)
CATALOG_QUERIES: tuple[str, ...] = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid",
    "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'",
    f"SELECT t.name AS tbl, c.* FROM ({_TABLES}) t JOIN pragma_table_xinfo(t.name) c ORDER BY 1, c.cid",
    f"SELECT t.name AS tbl, i.* FROM ({_TABLES}) t JOIN pragma_index_list(t.name) i",
    f"SELECT i.name AS idx, c.seqno, c.name AS col FROM ({_TABLES}) t "
    "JOIN pragma_index_list(t.name) i JOIN pragma_index_info(i.name) c ORDER BY 1, c.seqno",
    f"SELECT t.name AS tbl, f.* FROM ({_TABLES}) t JOIN pragma_foreign_key_list(t.name) f ORDER BY 1, f.id, f.seq",
)
_WHERE = re.compile(r"\bWHERE\b(.*)$", re.IGNORECASE | re.DOTALL)


def key(name: str) -> str:
    """SQLite compares identifiers case-insensitively (ASCII)."""
    return name.lower()


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier, exact for any name."""
    return '"' + name.replace('"', '""') + '"'


def is_internal(name: str) -> bool:
    return name.lower().startswith(INTERNAL_PREFIXES)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the declared type as written, "" when none
    notnull: bool
    default: str | None  # the DEFAULT expression's SQL text, as SQLite stores it
    pk: int  # position in the primary key, 0 when not part of it
    hidden: int = 0  # pragma_table_xinfo: 1 a virtual table's hidden column, 2 generated VIRTUAL, 3 STORED

    @property
    def generated(self) -> str:
        return {2: "VIRTUAL", 3: "STORED"}.get(self.hidden, "")


@dataclass(frozen=True)
class ForeignKey:
    table: str  # the child (referencing) table
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]  # empty: the parent's primary key
    on_delete: str  # CASCADE / SET NULL / SET DEFAULT / RESTRICT / NO ACTION
    on_update: str

    @property
    def rewrites_children(self) -> bool:
        """Deleting a parent row changes child rows (the data loss a rebuild's DROP causes on D1)."""
        return self.on_delete in ("CASCADE", "SET NULL", "SET DEFAULT")

    def describe(self) -> str:
        return f"{self.table}({', '.join(self.columns)}) ON DELETE {self.on_delete}"


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    unique: bool
    origin: str  # "c" CREATE INDEX, "u" a UNIQUE constraint, "pk" the PRIMARY KEY
    columns: tuple[str, ...]  # "<expr>" for an expression column
    sql: str | None  # None for the auto-indexes behind constraints
    partial: bool = False

    @property
    def where(self) -> str | None:
        """A partial index's condition as written (whitespace-normalised), "?" if unreadable."""
        if not self.partial:
            return None
        m = _WHERE.search(self.sql or "")
        return normalise(m.group(1)) if m else "?"


@dataclass(frozen=True)
class Table:
    name: str
    sql: str | None
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    kind: str = "table"  # pragma_table_list: "table", "virtual" or "shadow" (a virtual table's storage)
    without_rowid: bool = False
    strict: bool = False

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if key(c.name) == key(name)), None)


@dataclass(frozen=True)
class SchemaObject:
    """One ``sqlite_master`` row: a table, index, view or trigger."""

    type: str
    name: str
    table: str
    sql: str | None


@dataclass
class Catalog:
    tables: dict[str, Table] = field(default_factory=dict)  # creation order, keyed by key(name)
    indexes: dict[str, Index] = field(default_factory=dict)  # auto-indexes included
    views: dict[str, SchemaObject] = field(default_factory=dict)
    triggers: dict[str, SchemaObject] = field(default_factory=dict)
    objects: list[SchemaObject] = field(default_factory=list)  # every sqlite_master row, creation order

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

    def triggers_on(self, table: str) -> list[SchemaObject]:
        return [t for t in self.triggers.values() if key(t.table) == key(table)]

    def dangling_foreign_keys(self) -> list[ForeignKey]:
        """FKs whose parent table does not exist: every insert into the child then fails on D1."""
        return [fk for t in self.tables.values() for fk in t.foreign_keys if key(fk.ref_table) not in self.tables]


def normalise(text: Any) -> str | None:
    return None if text is None else re.sub(r"\s+", " ", str(text)).strip()


Rows = Sequence[dict[str, Any]]


def _foreign_keys(rows: Rows) -> dict[str, list[ForeignKey]]:
    """Per table key; a composite key spans several rows with the same id."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["tbl"]), int(row["id"])), []).append(row)
    out: dict[str, list[ForeignKey]] = {}
    for (table, _), parts in groups.items():
        parts.sort(key=lambda r: int(r["seq"]))
        first = parts[0]
        fk = ForeignKey(
            table,
            tuple(str(p["from"]) for p in parts),
            str(first["table"]),
            tuple(str(p["to"]) for p in parts if p["to"] is not None),
            str(first["on_delete"]),
            str(first["on_update"]),
        )
        out.setdefault(key(table), []).append(fk)
    return out


def parse(master: Rows, table_list: Rows, columns: Rows, index_list: Rows, index_columns: Rows, fks: Rows) -> Catalog:
    """A :class:`Catalog` from the rows of :data:`CATALOG_QUERIES`, in that order."""
    catalog = Catalog(objects=[SchemaObject(r["type"], r["name"], r["tbl_name"], r["sql"]) for r in master])
    listed = {key(str(r["name"])): r for r in table_list}
    cols: dict[str, list[Column]] = {}
    for r in columns:
        name, declared, default = str(r["name"]), str(r["type"] or ""), r["dflt_value"]
        column = Column(name, declared, bool(r["notnull"]), default, int(r["pk"]), int(r["hidden"] or 0))
        cols.setdefault(key(str(r["tbl"])), []).append(column)
    foreign = _foreign_keys(fks)
    sql_of = {key(o.name): o.sql for o in catalog.objects}
    for o in catalog.objects:
        k = key(o.name)
        if is_internal(o.name):
            continue
        if o.type == "table":
            info = listed.get(k, {})
            catalog.tables[k] = Table(
                o.name,
                o.sql,
                tuple(cols.get(k, ())),
                tuple(foreign.get(k, ())),
                str(info.get("type") or "table"),
                bool(int(info.get("wr") or 0)),
                bool(int(info.get("strict") or 0)),
            )
        elif o.type == "view":
            catalog.views[k] = o
        elif o.type == "trigger":
            catalog.triggers[k] = o
    index_cols: dict[str, list[str]] = {}
    for r in index_columns:
        index_cols.setdefault(key(str(r["idx"])), []).append(str(r["col"]) if r["col"] is not None else "<expr>")
    for r in index_list:
        name = str(r["name"])
        catalog.indexes[key(name)] = Index(
            name,
            str(r["tbl"]),
            bool(int(r["unique"])),
            str(r["origin"]),
            tuple(index_cols.get(key(name), ())),
            sql_of.get(key(name)),
            bool(int(r["partial"])),
        )
    return catalog


async def read_catalog(db: Database) -> Catalog:
    """The schema of the database behind ``db``: one batch, one round trip."""
    results = await db.batch([Query(sql) for sql in CATALOG_QUERIES])
    return parse(*(r.rows for r in results))
