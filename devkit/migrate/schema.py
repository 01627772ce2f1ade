"""The schema of a database as structured facts, and the drift between two of them (``verify``).

Read through the D1 binding by the shared catalog reader (``edgenotify.db.catalog``, the one the
backup uses: one ``batch``, one consistent snapshot). Objects that are bookkeeping rather than
schema are left out: wrangler's ledger and our checksum side table (``d1_migrations*``), SQLite's
own ``sqlite_*`` tables and D1's reserved ``_cf_*`` objects.

Comparison is by meaning, not by text: columns by name (order is ignored: a table rebuilt
with the same columns is the same table) with type, NOT NULL, default and primary-key
position; indexes by name, except the auto-indexes behind UNIQUE / PRIMARY KEY constraints,
whose names depend on declaration order and which are compared by their columns instead;
foreign keys as sets; views and triggers by their whitespace-normalised SQL.

Not compared, because no pragma reports them and comparing CREATE TABLE text would flag
every equivalent spelling: CHECK constraints, COLLATE clauses, AUTOINCREMENT, STRICT and
WITHOUT ROWID, and a generated column's expression (``pragma_table_xinfo`` only says that
it is generated, stored or virtual).
"""

from dataclasses import dataclass, replace
from typing import Any

from edgenotify.db import Database
from edgenotify.db.catalog import Catalog, Column, ForeignKey, Index, is_internal, key, normalise, read_catalog
from edgenotify.migrations.ledger import LEDGER


def is_bookkeeping(name: str) -> bool:
    """The ledger (``d1_migrations`` and its ``d1_migrations_*`` side tables) and SQLite's / D1's internals."""
    return is_internal(name) or key(name).startswith(LEDGER)


async def read_schema(db: Database) -> Catalog:
    """The live schema without bookkeeping objects."""
    catalog = await read_catalog(db)
    return replace(
        catalog,
        tables={k: t for k, t in catalog.tables.items() if not is_bookkeeping(t.name)},
        indexes={k: i for k, i in catalog.indexes.items() if not is_bookkeeping(i.table)},
        views={k: v for k, v in catalog.views.items() if not is_bookkeeping(v.name)},
        triggers={k: t for k, t in catalog.triggers.items() if not is_bookkeeping(t.table)},
        objects=[o for o in catalog.objects if not is_bookkeeping(o.table)],
    )


def describe_column(column: Column) -> str:
    parts = [(normalise(column.type) or "").upper() or "(no type)"]
    if column.notnull:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {normalise(column.default)}")
    if column.pk:
        parts.append(f"PRIMARY KEY#{column.pk}")
    if column.generated:
        parts.append(f"GENERATED {column.generated}")
    return " ".join(parts)


def describe_index(index: Index) -> str:
    text = f"{'UNIQUE ' if index.unique else ''}ON {index.table} ({', '.join(index.columns)})"
    return f"{text} WHERE {index.where}" if index.where else text


def describe_foreign_key(fk: ForeignKey) -> str:
    return (
        f"({', '.join(fk.columns)}) REFERENCES {fk.ref_table} ({', '.join(fk.ref_columns) or '<primary key>'}) "
        f"ON UPDATE {fk.on_update} ON DELETE {fk.on_delete}"
    )


def index_key(index: Index) -> str:
    """Its name; a constraint's auto-index (whose name depends on declaration order) by what it covers."""
    if index.origin in ("u", "pk"):
        kind = "PRIMARY KEY" if index.origin == "pk" else "UNIQUE"
        return f"{index.table}({kind} {', '.join(index.columns)})"
    return index.name


def as_dict(schema: Catalog) -> dict[str, Any]:
    """The schema as comparable text, keyed by name (what ``verify`` compares, for reports and tests)."""
    return {
        "tables": {t.name: {c.name: describe_column(c) for c in t.columns} for t in schema.tables.values()},
        "indexes": {index_key(i): describe_index(i) for i in schema.indexes.values()},
        "foreign_keys": {
            t.name: sorted(describe_foreign_key(fk) for fk in t.foreign_keys)
            for t in schema.tables.values()
            if t.foreign_keys
        },
        "views": {v.name: normalise(v.sql) or "" for v in schema.views.values()},
        "triggers": {t.name: normalise(t.sql) or "" for t in schema.triggers.values()},
    }


@dataclass(frozen=True)
class Drift:
    kind: str  # table / column / index / foreign_key / view / trigger
    name: str  # "table", "table.column", index name...
    problem: str  # missing (expected, not live) / extra (live, not expected) / changed
    expected: str | None = None
    actual: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def describe(self) -> str:
        text = f"{self.problem:8} {self.kind} {self.name}"
        if self.problem == "changed":
            return f"{text}: expected {self.expected}, live {self.actual}"
        return f"{text}: {self.expected or self.actual}" if (self.expected or self.actual) else text


def diff(expected: Catalog, actual: Catalog) -> list[Drift]:
    """What the live schema (``actual``) lacks, adds or changes against the migrations' schema."""
    want, have = as_dict(expected), as_dict(actual)
    drift: list[Drift] = []
    drift += _diff_named("table", set(want["tables"]), set(have["tables"]))
    tables_in_both = set(want["tables"]) & set(have["tables"])
    for table in sorted(tables_in_both):
        w_cols, h_cols = want["tables"][table], have["tables"][table]
        for name in sorted(set(w_cols) | set(h_cols)):
            w, h = w_cols.get(name), h_cols.get(name)
            if w != h:
                problem = "missing" if h is None else "extra" if w is None else "changed"
                drift.append(Drift("column", f"{table}.{name}", problem, w, h))
        want_fks = set(want["foreign_keys"].get(table, []))
        have_fks = set(have["foreign_keys"].get(table, []))
        drift += [Drift("foreign_key", table, "missing", expected=fk) for fk in sorted(want_fks - have_fks)]
        drift += [Drift("foreign_key", table, "extra", actual=fk) for fk in sorted(have_fks - want_fks)]
    index_tables = {index_key(i): i.table for c in (expected, actual) for i in c.indexes.values()}
    for name in sorted(set(want["indexes"]) | set(have["indexes"])):
        w, h = want["indexes"].get(name), have["indexes"].get(name)
        if w == h or index_tables[name] not in tables_in_both:
            continue  # a missing/extra table already says it all
        problem = "missing" if h is None else "extra" if w is None else "changed"
        drift.append(Drift("index", name, problem, w, h))
    for kind in ("view", "trigger"):
        w_all, h_all = want[kind + "s"], have[kind + "s"]
        for name in sorted(set(w_all) | set(h_all)):
            if w_all.get(name) != h_all.get(name):
                problem = "missing" if name not in h_all else "extra" if name not in w_all else "changed"
                drift.append(Drift(kind, name, problem, w_all.get(name), h_all.get(name)))
    return drift


def _diff_named(kind: str, want: set[str], have: set[str]) -> list[Drift]:
    missing = [Drift(kind, n, "missing") for n in sorted(want - have)]
    return missing + [Drift(kind, n, "extra") for n in sorted(have - want)]
