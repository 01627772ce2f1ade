"""Replay the migrations on an empty in-memory SQLite database, the way D1 applies them.

Each file runs inside one transaction with ``foreign_keys`` on, as wrangler's batch does on D1. That reproduces the
D1 quirk the linter exists for: inside a transaction ``PRAGMA foreign_keys = OFF`` is a no-op, so a table rebuild's
``DROP TABLE`` fires ``ON DELETE CASCADE``. The replay gives (a) SQLite's own verdict on every statement, with its
exact error message, and (b) the schema after every statement (:func:`snapshot`, read by the project's one
catalog reader, ``edgenotify.db.catalog``, as the backup and ``migrate verify`` read D1).

An empty database cannot show data-dependent failures; ``probe_add_column`` covers the common one by repeating an
``ADD COLUMN`` on a one-row copy of the table.
"""

import sqlite3

from edgenotify.db.catalog import CATALOG_QUERIES, Catalog, Table, parse, quote_ident


def snapshot(conn: sqlite3.Connection) -> Catalog:
    """The whole schema of the replay database, as SQLite itself sees it now.

    Read back rather than simulated from the AST, so SQLite's own semantics come for free:
    ``ALTER TABLE ... RENAME`` rewrites the foreign keys of child tables, ``DROP TABLE`` takes its
    indexes and triggers with it, and statements sqlglot cannot parse (``WITHOUT ROWID``, triggers)
    still count.
    """
    results = []
    for sql in CATALOG_QUERIES:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        results.append([dict(zip(names, row, strict=True)) for row in cursor])
    return parse(*results)


class Replay:
    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self._schema: Catalog | None = None

    def close(self) -> None:
        self.conn.close()

    def begin_file(self) -> None:
        self.conn.execute("BEGIN")

    def end_file(self) -> str | None:
        """Commit the file's transaction; returns SQLite's error (e.g. a deferred FK violation) or None."""
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
            return None
        except sqlite3.Error as exc:
            self.conn.execute("ROLLBACK")
            self._schema = None
            return str(exc)

    def execute(self, sql: str, changes_schema: bool = True) -> str | None:
        """Run one statement; returns SQLite's error message or None. The file's transaction stays open.

        ``changes_schema=False`` (plain DML) keeps the cached schema snapshot: files full of INSERTs stay cheap.
        """
        if changes_schema:
            self._schema = None
        try:
            cursor = self.conn.execute(sql)
            cursor.fetchall()
            return None
        except (sqlite3.Error, sqlite3.Warning) as exc:  # Warning: "You can only execute one statement at a time."
            return str(exc)
        finally:
            if not self.conn.in_transaction:  # an error that rolled back the whole transaction: keep going
                self.conn.execute("BEGIN")

    def schema(self) -> Catalog:
        if self._schema is None:
            self._schema = snapshot(self.conn)
        return self._schema


def probe_add_column(table: Table, column_sql: str) -> str | None:
    """SQLite's error for ``ALTER TABLE ... ADD COLUMN column_sql`` on a table that has one row, else None.

    SQLite only rejects a NOT NULL column without default, a non-constant default, a REFERENCES column with a
    default, a STORED column or a failing CHECK when the table has rows, so the empty replay passes and production
    fails. The probe table has the real column names (so CHECKs resolve) and one row of NULLs.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        names = ", ".join(quote_ident(c.name) for c in table.columns) or '"_"'
        conn.execute(f"CREATE TABLE probe ({names})")
        conn.execute("INSERT INTO probe DEFAULT VALUES")
        try:
            conn.execute(f"ALTER TABLE probe ADD COLUMN {column_sql}")
        except sqlite3.Error as exc:
            message = str(exc)
            return None if message.startswith("no such") else message
        return None
    finally:
        conn.close()
