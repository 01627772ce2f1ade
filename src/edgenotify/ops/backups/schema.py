"""What a backup contains: the database's own objects, classified, with keys and FK order.

Read by the shared catalog reader (``edgenotify.db.catalog``: ``sqlite_master`` and the pragma
functions on D1's allow-list, one batch) plus a probe for ``atan2``: two round trips. Excluded:
SQLite's and D1's internals (``sqlite_*``, ``_cf_*``) and the shadow tables of virtual tables,
which are rebuilt by recreating the virtual table and refilling it. The migration ledger
(``d1_migrations`` and our checksum side table) IS included: it states which migrations produced
the schema in the backup, so a restored database has a ledger that matches its schema and neither
wrangler nor the auto-migrator re-applies anything.
"""

import re
from dataclasses import dataclass, field

from edgenotify.db import D1Error, Database
from edgenotify.db.catalog import SchemaObject, Table, is_internal, quote_ident, read_catalog

# Tables describing this database instance, not its data: the job checkpoints (and the restore
# marker) must survive a restore of older data, so backups never carry them and restores never touch them.
INSTANCE_TABLES = ("ops_jobs",)
ROWID_ALIASES = ("rowid", "_rowid_", "oid")

# Table kinds. Rows are dumped for "table", "fts5" (own content) and "rtree"; an external-content
# FTS5 table is refilled with its 'rebuild' command; the others carry no data of their own.
TABLE = "table"
FTS5 = "fts5"
FTS5_EXTERNAL = "fts5-external"
FTS5_CONTENTLESS = "fts5-contentless"
FTS5_VOCAB = "fts5vocab"
RTREE = "rtree"
VIRTUAL_OTHER = "virtual"
DUMPED_KINDS = (TABLE, FTS5, RTREE)

_VIRTUAL = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+(\w+)\s*\((.*)\)\s*$", re.I | re.S)
_CONTENT_OPTION = re.compile(r"""\bcontent\s*=\s*('(?:[^']|'')*'|"(?:[^"]|"")*"|[^,\s)]+)""", re.I)
_CONTENTLESS_DELETE = re.compile(r"\bcontentless_delete\s*=\s*'?1", re.I)
_REFERENCES = re.compile(r"""\bREFERENCES\s+("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|'(?:[^']|'')+'|[A-Za-z_][\w$]*)""", re.I)
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*(?:,|$)", re.I)


def key_compare(columns: list[str], op: str, key: list[str]) -> str:
    """SQL comparing a row's key ``columns`` (SQL expressions) with ``key`` (literals): ``c op k``, or
    row values ``(c1, c2) op (k1, k2)`` for a composite key (SQLite orders them column by column)."""
    if len(columns) == 1:
        return f"{columns[0]} {op} {key[0]}"
    return f"({', '.join(columns)}) {op} ({', '.join(key)})"


def unquote_ident(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'`":
        return token[1:-1].replace(token[0] * 2, token[0])
    if len(token) >= 2 and token[0] == "[" and token[-1] == "]":
        return token[1:-1]
    return token


def is_excluded(name: str) -> bool:
    """SQLite's and D1's own objects, and this instance's job tables: never backed up or restored."""
    return is_internal(name) or name.lower() in INSTANCE_TABLES


def virtual_module(sql: str) -> tuple[str, str] | None:
    """(module, argument text) of a CREATE VIRTUAL TABLE statement, or None for ordinary DDL."""
    m = _VIRTUAL.match(sql or "")
    return (m.group(1).lower(), m.group(2)) if m else None


def fts5_kind(args: str) -> str:
    """Own content, external content (``content=tbl``) or contentless (``content=''``)."""
    if _CONTENTLESS_DELETE.search(args):
        return FTS5_CONTENTLESS
    m = _CONTENT_OPTION.search(args)
    if not m:
        return FTS5
    return FTS5_CONTENTLESS if unquote_ident(m.group(1)) == "" else FTS5_EXTERNAL


def table_kind(sql: str) -> str:
    virtual = virtual_module(sql)
    if virtual is None:
        return TABLE
    module, args = virtual
    if module == "fts5":
        return fts5_kind(args)
    if module == "fts5vocab":
        return FTS5_VOCAB
    if module == "rtree" or module.startswith("rtree"):
        return RTREE
    return VIRTUAL_OTHER


def references(sql: str) -> list[str]:
    """Parent tables named by REFERENCES clauses of a CREATE TABLE statement."""
    seen: list[str] = []
    for m in _REFERENCES.finditer(sql or ""):
        name = unquote_ident(m.group(1))
        if name not in seen:
            seen.append(name)
    return seen


def affinity_may_hold_negative_zero(decl_type: str) -> bool:
    """SQLite keeps -0.0 only where no numeric/text affinity converts it (BLOB affinity, STRICT ANY).

    INTEGER and NUMERIC affinity store it as integer 0, REAL affinity stores integral reals as
    integers, TEXT affinity renders it as text: in those columns -0.0 cannot exist.
    """
    t = decl_type.upper()
    if "INT" in t or "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return False
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return False
    return t == "" or "BLOB" in t or t == "ANY"


@dataclass
class TableSpec:
    name: str
    sql: str
    kind: str = TABLE
    columns: list[str] = field(default_factory=list)  # written columns (no hidden/generated ones)
    decl_types: list[str] = field(default_factory=list)
    key: list[str] = field(default_factory=lambda: ["rowid"])  # keyset order: rowid or the PK columns
    explicit_rowid: str | None = None  # rowid alias written as the first column (no INTEGER PRIMARY KEY)
    references: list[str] = field(default_factory=list)

    @property
    def dumps_rows(self) -> bool:
        return self.kind in DUMPED_KINDS

    @property
    def virtual(self) -> bool:
        return self.kind != TABLE

    @property
    def insert_columns(self) -> list[str]:
        """SQL fragments of the INSERT column list (the rowid alias bare, names quoted)."""
        cols = [quote_ident(c) for c in self.columns]
        return [self.explicit_rowid, *cols] if self.explicit_rowid else cols


@dataclass
class Schema:
    tables: list[TableSpec]  # creation order
    others: list[SchemaObject]  # indexes, views, triggers in creation order
    has_sequence: bool = False
    negative_zero: bool = True  # whether atan2() is available to tell -0.0 from 0.0

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]

    def data_order(self) -> list[TableSpec]:
        """Ordinary tables parents first, then virtual tables (their content tables are filled by then)."""
        ordinary = [t for t in self.tables if not t.virtual]
        ordered = fk_order([t.name for t in ordinary], {t.name: t.references for t in ordinary})
        return [self.table(n) for n in ordered] + [t for t in self.tables if t.virtual]

    def objects(self, kind: str) -> list[SchemaObject]:
        return [o for o in self.others if o.type == kind]


def fk_order(names: list[str], parents: dict[str, list[str]]) -> list[str]:
    """Parents before children, otherwise creation order; a cycle is broken where it closes.

    Depth-first: each table is placed right after its (recursively placed) parents, so an order
    that is already safe comes back unchanged. Pure, so the dump and the restore of a foreign
    file order tables identically.
    """
    known = set(names)
    done: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name in visiting:
            return
        visiting.add(name)
        for parent in parents.get(name, []):
            if parent in known and parent != name:
                place(parent)
        visiting.discard(name)
        placed.add(name)
        done.append(name)

    for name in names:
        place(name)
    return done


def _rowid_alias(columns: list[str]) -> str | None:
    lowered = {c.lower() for c in columns}
    return next((a for a in ROWID_ALIASES if a not in lowered), None)


def build_table(table: Table) -> TableSpec:
    """Classify one table and decide its keyset key and written columns from its catalog columns."""
    name, sql = table.name, table.sql or ""
    kind = table_kind(sql)
    visible = [c for c in table.columns if c.hidden == 0]
    spec = TableSpec(name, sql, kind, [c.name for c in visible], [c.type for c in visible])
    if kind == TABLE:
        spec.references = references(sql)
        pk = sorted((c for c in table.columns if c.pk > 0), key=lambda c: c.pk)
        if table.without_rowid or _WITHOUT_ROWID.search(sql):
            spec.key = [c.name for c in pk]
        elif not (len(pk) == 1 and pk[0].type.upper() == "INTEGER"):
            alias = _rowid_alias(spec.columns)
            if alias is None:
                raise D1Error(f"table {name} hides its rowid behind columns named rowid, _rowid_ and oid")
            spec.key = [alias]
            spec.explicit_rowid = alias
        else:
            spec.key = ["rowid"] if "rowid" not in {c.lower() for c in spec.columns} else [pk[0].name]
    elif kind == FTS5:
        spec.explicit_rowid = "rowid"
    return spec


async def _has_atan2(db: Database) -> bool:
    try:
        await db.all("SELECT atan2(0.0, -1.0) AS probe")
        return True
    except D1Error:
        return False


async def inspect(db: Database) -> Schema:
    """The database's schema in two round trips (the catalog, a function probe)."""
    catalog = await read_catalog(db)
    shadow = {t.name for t in catalog.tables.values() if t.kind == "shadow"}
    specs = [
        build_table(t) for t in catalog.tables.values() if t.kind != "shadow" and t.sql and not is_excluded(t.name)
    ]
    has_sequence = any(o.name == "sqlite_sequence" for o in catalog.objects)
    others = [
        o
        for o in catalog.objects
        if o.type in ("index", "view", "trigger")
        and o.sql
        and not is_excluded(o.name)
        and o.table not in shadow
        and not is_excluded(o.table)
    ]
    return Schema(specs, others, has_sequence, await _has_atan2(db))
