"""One catalog reader (``edgenotify.db.catalog``) for the backup, ``migrate verify`` and the linter.

The same SQL runs through the D1 facade (the embedded D1, as the backup and verify read it) and
on a plain ``sqlite3`` connection (as the linter's replay reads it); both must give the same
:class:`Catalog`, and it must state what SQLite knows about every kind of object.
"""

import asyncio
import sqlite3
from pathlib import Path

from devkit.embedded.d1 import D1Database
from devkit.lint.replay import snapshot
from devkit.migrate.schema import read_schema
from edgenotify.db import Database
from edgenotify.db.catalog import Catalog, read_catalog
from edgenotify.ops.backups.schema import inspect

SCHEMA = """
CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, note TEXT DEFAULT 'n/a');
CREATE TABLE child (
  a INTEGER, b TEXT, parent_code TEXT, total REAL GENERATED ALWAYS AS (a * 2) VIRTUAL,
  PRIMARY KEY (a, b),
  FOREIGN KEY (parent_code) REFERENCES parent (code) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idx_child_open ON child (b, parent_code) WHERE a > 0;
CREATE VIEW v_parent AS SELECT id, code FROM parent;
CREATE TRIGGER t_parent AFTER DELETE ON parent BEGIN SELECT 1; END;
CREATE VIRTUAL TABLE docs USING fts5 (body);
CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE);
"""


def build(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    return path


def through_d1(path: Path) -> Catalog:
    binding = D1Database(path)
    try:
        return asyncio.run(read_catalog(Database(binding)))
    finally:
        binding.close()


def test_one_reader_gives_the_same_catalog_through_d1_and_sqlite3(tmp_path):
    path = build(tmp_path / "db.sqlite3")
    with sqlite3.connect(path) as conn:
        assert through_d1(path) == snapshot(conn)


def test_the_catalog_states_columns_keys_indexes_and_objects(tmp_path):
    catalog = through_d1(build(tmp_path / "db.sqlite3"))
    child = catalog.table("CHILD")  # identifiers compare case-insensitively
    assert child is not None and child.without_rowid and child.kind == "table"
    assert [(c.name, c.pk, c.generated) for c in child.columns] == [
        ("a", 1, ""),
        ("b", 2, ""),
        ("parent_code", 0, ""),
        ("total", 0, "VIRTUAL"),
    ]
    [fk] = child.foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns, fk.on_delete, fk.rewrites_children) == (
        ("parent_code",),
        "parent",
        ("code",),
        "CASCADE",
        True,
    )
    assert catalog.children_of("parent") == [fk] and catalog.dangling_foreign_keys() == []
    partial = catalog.indexes["idx_child_open"]
    assert (partial.columns, partial.where, partial.origin) == (("b", "parent_code"), "a > 0", "c")
    unique = next(i for i in catalog.indexes_on("parent") if i.origin == "u")
    assert unique.columns == ("code",) and unique.unique and unique.sql is None
    assert catalog.table("parent").column("note").default == "'n/a'"
    assert set(catalog.views) == {"v_parent"} and [t.name for t in catalog.triggers_on("parent")] == ["t_parent"]
    assert catalog.table("docs").kind == "virtual"
    assert {t.name for t in catalog.tables.values() if t.kind == "shadow"} >= {"docs_data", "docs_config"}
    assert not any(name.startswith("sqlite_") for name in catalog.tables)


def test_each_tool_keeps_what_it_needs_from_the_one_catalog(tmp_path):
    path = build(tmp_path / "db.sqlite3")
    binding = D1Database(path)
    try:
        verify = asyncio.run(read_schema(Database(binding)))
        backup = asyncio.run(inspect(Database(binding)))
    finally:
        binding.close()
    assert "d1_migrations" not in verify.tables and "child" in verify.tables  # verify: no bookkeeping
    assert "d1_migrations" in backup.names and "docs_data" not in backup.names  # backup: ledger, no shadow tables
    assert backup.table("child").key == ["a", "b"] and backup.table("parent").key == ["rowid"]
    assert backup.table("docs").kind == "fts5" and backup.has_sequence
