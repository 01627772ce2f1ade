"""The schema of a database as structured facts, and the drift between two of them (``verify``).

Read through the D1 binding with what D1 allows: ``sqlite_master`` and the table-valued
``pragma_table_xinfo`` (``table_info`` plus generated columns) / ``pragma_index_list`` / ``pragma_index_info`` /
``pragma_foreign_key_list`` functions, all in one ``batch`` (one round trip, one consistent
snapshot). Objects that are bookkeeping rather than schema are left out: wrangler's ledger
and our checksum side table (``d1_migrations*``), SQLite's own ``sqlite_*`` tables and
auto-indexes by name, and D1's reserved ``_cf_*`` objects.

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

import re
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db import Database, Query

# Bookkeeping, not schema: d1_migrations*, sqlite_*, _cf_* ("_" escaped: it is a LIKE wildcard).
_IGNORED = " OR ".join(f"name LIKE '{p}' ESCAPE '!'" for p in ("d1!_migrations%", "sqlite!_%", "!_cf!_%"))
_IGNORED = f"({_IGNORED})"
_TABLES = f"SELECT name FROM sqlite_master WHERE type = 'table' AND NOT {_IGNORED}"

QUERIES = [
    Query(f"SELECT type, name, tbl_name, sql FROM sqlite_master WHERE NOT {_IGNORED.replace('name', 'tbl_name')}"),
    Query(f"SELECT t.name AS tbl, c.* FROM ({_TABLES}) t JOIN pragma_table_xinfo(t.name) c"),
    Query(f"SELECT t.name AS tbl, i.* FROM ({_TABLES}) t JOIN pragma_index_list(t.name) i"),
    Query(
        f"SELECT t.name AS tbl, i.name AS idx, c.seqno, c.name AS col FROM ({_TABLES}) t "
        "JOIN pragma_index_list(t.name) i JOIN pragma_index_info(i.name) c"
    ),
    Query(f"SELECT t.name AS tbl, f.* FROM ({_TABLES}) t JOIN pragma_foreign_key_list(t.name) f"),
]


def _norm(text: Any) -> str | None:
    return None if text is None else re.sub(r"\s+", " ", str(text)).strip()


@dataclass(frozen=True)
class Column:
    type: str
    notnull: bool
    default: str | None
    pk: int  # position in the primary key, 0 when not part of it
    generated: str = ""  # "", "VIRTUAL" or "STORED" (pragma_table_xinfo hidden = 2 / 3)

    def describe(self) -> str:
        parts = [self.type or "(no type)"]
        if self.notnull:
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.pk:
            parts.append(f"PRIMARY KEY#{self.pk}")
        if self.generated:
            parts.append(f"GENERATED {self.generated}")
        return " ".join(parts)


@dataclass(frozen=True)
class Index:
    table: str
    unique: bool
    columns: tuple[str, ...]  # "<expr>" for an expression column
    where: str | None  # partial index condition, whitespace-normalised

    def describe(self) -> str:
        text = f"{'UNIQUE ' if self.unique else ''}ON {self.table} ({', '.join(self.columns)})"
        return f"{text} WHERE {self.where}" if self.where else text


@dataclass
class Schema:
    tables: dict[str, dict[str, Column]] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)  # auto-indexes keyed "table(UNIQUE a, b)"
    foreign_keys: dict[str, set[str]] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": {t: {c: col.describe() for c, col in cols.items()} for t, cols in self.tables.items()},
            "indexes": {name: index.describe() for name, index in self.indexes.items()},
            "foreign_keys": {t: sorted(fks) for t, fks in self.foreign_keys.items() if fks},
            "views": self.views,
            "triggers": self.triggers,
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


_WHERE = re.compile(r"\bWHERE\b(.*)$", re.IGNORECASE | re.DOTALL)


async def read_schema(db: Database) -> Schema:
    master, columns, index_list, index_columns, fks = (r.rows for r in await db.batch(QUERIES))
    schema = Schema()
    sql_of = {row["name"]: row["sql"] for row in master}
    for row in master:
        if row["type"] == "view":
            schema.views[row["name"]] = _norm(row["sql"]) or ""
        elif row["type"] == "trigger":
            schema.triggers[row["name"]] = _norm(row["sql"]) or ""
        elif row["type"] == "table":
            schema.tables.setdefault(row["name"], {})
            schema.foreign_keys.setdefault(row["name"], set())
    for row in columns:
        generated = {2: "VIRTUAL", 3: "STORED"}.get(int(row["hidden"]), "")
        schema.tables.setdefault(row["tbl"], {})[row["name"]] = Column(
            (_norm(row["type"]) or "").upper(),
            bool(row["notnull"]),
            _norm(row["dflt_value"]),
            int(row["pk"]),
            generated,
        )
    cols: dict[str, list[tuple[int, str]]] = {}
    for row in index_columns:
        cols.setdefault(row["idx"], []).append((int(row["seqno"]), row["col"] or "<expr>"))
    for row in index_list:
        names = tuple(name for _, name in sorted(cols.get(row["name"], [])))
        where = None
        if row["partial"]:
            m = _WHERE.search(sql_of.get(row["name"]) or "")
            where = _norm(m.group(1)) if m else "?"
        index = Index(row["tbl"], bool(row["unique"]), names, where)
        key = row["name"]
        if row["origin"] in ("u", "pk"):  # constraint auto-index: its name depends on declaration order
            key = f"{row['tbl']}({'PRIMARY KEY' if row['origin'] == 'pk' else 'UNIQUE'} {', '.join(names)})"
        schema.indexes[key] = index
    for row in _group_foreign_keys(fks):
        schema.foreign_keys.setdefault(row[0], set()).add(row[1])
    return schema


def _group_foreign_keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """One description per foreign key (a composite key spans several rows with the same id)."""
    keys: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        keys.setdefault((row["tbl"], int(row["id"])), []).append(row)
    out = []
    for (table, _), parts in keys.items():
        parts.sort(key=lambda r: int(r["seq"]))
        first = parts[0]
        text = (
            f"({', '.join(p['from'] for p in parts)}) REFERENCES {first['table']} "
            f"({', '.join(p['to'] or '<primary key>' for p in parts)}) "
            f"ON UPDATE {first['on_update']} ON DELETE {first['on_delete']}"
        )
        out.append((table, text))
    return out


def diff(expected: Schema, actual: Schema) -> list[Drift]:
    """What the live schema (``actual``) lacks, adds or changes against the migrations' schema."""
    drift: list[Drift] = []
    drift += _diff_named("table", set(expected.tables), set(actual.tables))
    for table in sorted(set(expected.tables) & set(actual.tables)):
        want, have = expected.tables[table], actual.tables[table]
        for name in sorted(set(want) | set(have)):
            w, h = want.get(name), have.get(name)
            if w != h:
                drift.append(
                    Drift(
                        "column",
                        f"{table}.{name}",
                        "missing" if h is None else "extra" if w is None else "changed",
                        w.describe() if w else None,
                        h.describe() if h else None,
                    )
                )
        want_fks, have_fks = expected.foreign_keys.get(table, set()), actual.foreign_keys.get(table, set())
        drift += [Drift("foreign_key", table, "missing", expected=fk) for fk in sorted(want_fks - have_fks)]
        drift += [Drift("foreign_key", table, "extra", actual=fk) for fk in sorted(have_fks - want_fks)]
    tables_in_both = set(expected.tables) & set(actual.tables)
    for name in sorted(set(expected.indexes) | set(actual.indexes)):
        w, h = expected.indexes.get(name), actual.indexes.get(name)
        if w == h or (w or h).table not in tables_in_both:  # type: ignore[union-attr]
            continue  # a missing/extra table already says it all
        problem = "missing" if h is None else "extra" if w is None else "changed"
        drift.append(Drift("index", name, problem, w.describe() if w else None, h.describe() if h else None))
    for kind in ("view", "trigger"):
        want, have = getattr(expected, kind + "s"), getattr(actual, kind + "s")
        for name in sorted(set(want) | set(have)):
            if want.get(name) != have.get(name):
                problem = "missing" if name not in have else "extra" if name not in want else "changed"
                drift.append(Drift(kind, name, problem, want.get(name), have.get(name)))
    return drift


def _diff_named(kind: str, want: set[str], have: set[str]) -> list[Drift]:
    missing = [Drift(kind, n, "missing") for n in sorted(want - have)]
    return missing + [Drift(kind, n, "extra") for n in sorted(have - want)]
