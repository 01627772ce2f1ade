"""The data layer through our own code: the ``Database`` facade and the auto-migrator.

These contracts call ``src/edgenotify`` exactly as handlers and cron tasks do, so what they prove on
Miniflare + Pyodide is what the edge will do with our code, not just with the bindings.
"""

from typing import Any

from edgenotify.db import D1Error, Database, Query
from edgenotify.db.d1 import chunked
from edgenotify.migrations import automigrate, ledger
from edgenotify.migrations.files import MigrationFile
from edgenotify.migrations.status import compare
from tests.contract.contracts import contract
from tests.contract.support import fresh_table, raises, reset_database, typed, user_tables


class CountingBinding:
    """A D1 binding that counts round trips (statement executions, batches, execs) and forwards them."""

    def __init__(self, binding: Any):
        self.inner = binding
        self.calls = 0

    def prepare(self, sql: str) -> "_CountingStatement":
        return _CountingStatement(self, self.inner.prepare(sql))

    async def batch(self, statements: list["_CountingStatement"]) -> Any:
        self.calls += 1
        return await self.inner.batch([s.inner for s in statements])

    async def exec(self, sql: str) -> Any:
        self.calls += 1
        return await self.inner.exec(sql)


class _CountingStatement:
    def __init__(self, owner: CountingBinding, inner: Any):
        self.owner = owner
        self.inner = inner

    def bind(self, *values: Any) -> "_CountingStatement":
        return _CountingStatement(self.owner, self.inner.bind(*values))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.owner.calls += 1
            return await method(*args, **kwargs)

        return call


@contract
async def data_facade_values_round_trip(env: Any) -> Any:
    db = Database(env.DB)
    await fresh_table(env.DB, "c_facade", "id INTEGER PRIMARY KEY, n, b INTEGER, i INTEGER, f REAL, s TEXT, x BLOB")
    result = await db.run(
        "INSERT INTO c_facade (n, b, i, f, s, x) VALUES (?, ?, ?, ?, ?, ?)",
        None,
        True,
        2**53 - 2,
        0.1,
        "é\n'",
        b"\x00\xff",
    )
    row = await db.first("SELECT n, b, i, f, s, x FROM c_facade WHERE id = ?", result.last_row_id)
    assert row is not None and row["x"] == b"\x00\xff" and row["i"] == 2**53 - 2 and row["n"] is None, row
    none = await db.first("SELECT * FROM c_facade WHERE id = ?", -1)
    rows = await db.all("SELECT id FROM c_facade")
    assert db.round_trips == 4
    return {
        "changes": result.changes,
        "last_row_id": result.last_row_id,
        "row": {k: typed(v) for k, v in row.items()},
        "none": none,
        "rows": rows,
    }


@contract
async def data_facade_refuses_what_d1_refuses(env: Any) -> Any:
    """Every refusal surfaces as ``D1Error`` (never a raw JsException), before a round trip when possible."""
    db = Database(env.DB)
    errors = {}
    for label, value in (("2**53-1", 2**53 - 1), ("2**53", 2**53), ("-2**63", -(2**63))):
        errors[label] = await raises(lambda v=value: db.run("SELECT ?", v), "D1_TYPE_ERROR", kind=D1Error)
    too_many = await raises(
        lambda: db.run("SELECT " + ",".join("?" * 101), *range(101)), "too many SQL variables", kind=D1Error
    )
    trips_before_sql_errors = db.round_trips
    syntax = await raises(lambda: db.all("SELEC 1"), "D1_ERROR", kind=D1Error)
    begin = await raises(lambda: db.run("BEGIN"), "state.storage.transaction()", kind=D1Error)
    assert trips_before_sql_errors == 0, trips_before_sql_errors
    return {
        "refused_before_round_trip": sorted(errors),
        "too_many": too_many.startswith("D1_ERROR"),
        "syntax": "syntax error" in syntax,
        "begin": "D1_ERROR" in begin,
    }


@contract
async def data_facade_batch_atomic(env: Any) -> Any:
    db = Database(env.DB)
    await fresh_table(env.DB, "c_fbatch", "id INTEGER PRIMARY KEY, k TEXT UNIQUE NOT NULL, v BLOB")
    results = await db.batch(
        [
            Query.of("INSERT INTO c_fbatch (k, v) VALUES (?, ?)", "a", b"\x01"),
            Query.of("INSERT INTO c_fbatch (k, v) VALUES (?, ?)", "b", b""),
            Query.of("SELECT k, v FROM c_fbatch ORDER BY k"),
        ]
    )
    failing = [Query.of("INSERT INTO c_fbatch (k) VALUES (?)", "c"), Query.of("INSERT INTO c_fbatch (k) VALUES ('a')")]
    failed = await raises(lambda: db.batch(failing), "UNIQUE constraint failed", kind=D1Error)
    keys = [r["k"] for r in await db.all("SELECT k FROM c_fbatch ORDER BY k")]
    chunks = [list(c) for c in chunked(list(range(250)), 100)]
    assert keys == ["a", "b"] and db.round_trips == 3
    assert [len(c) for c in chunks] == [100, 100, 50]
    return {
        "changes": [r.changes for r in results],
        "rows": results[2].rows,
        "failed": failed.split(": ")[-2:],
        "keys": keys,
        "empty_batch": await db.batch([]),
    }


@contract
async def data_automigrate_fresh_then_current(env: Any) -> Any:
    """Fresh database: every bundled file applied with its ledger row; once current, zero D1 queries."""
    await reset_database(env.DB)
    automigrate.forget(env.DB)
    counting = CountingBinding(env.DB)
    files = automigrate.bundled_files()
    applied = await automigrate.ensure_migrated(counting, files)
    first_calls = counting.calls
    again = await automigrate.ensure_migrated(counting, files)
    assert again == [] and counting.calls == first_calls, (again, counting.calls, first_calls)
    db = Database(env.DB)
    rows = await ledger.read(db)
    status = compare(files, rows)
    tables = await user_tables(env.DB)
    # The real binding (a new identity for the migrator): reads the ledger once, applies nothing.
    automigrate.forget(env.DB)
    real_first = await automigrate.ensure_migrated(env.DB)
    real_again = await automigrate.ensure_migrated(env.DB)
    assert applied == [f.name for f in files] and status.current, (applied, status.as_dict())
    assert all(r.sha256 == f.sha256 for r, f in zip(rows, files, strict=True))
    assert first_calls == 1 + len(files), first_calls  # one ledger read, one batch per file
    return {
        "applied": applied,
        "calls": [first_calls, counting.calls - first_calls],
        "ledger": [[r.id, r.name, len(r.applied_at) > 0] for r in rows],
        "status": status.as_dict(),
        "tables": tables,
        "real_binding": [real_first, real_again],
    }


@contract
async def data_automigrate_failing_file_changes_nothing(env: Any) -> Any:
    """A failing file leaves schema and ledger unchanged; the next good file still applies after a fix."""
    db = Database(env.DB)
    files = automigrate.bundled_files()
    await automigrate.apply_pending(db, files)
    before = await user_tables(env.DB)
    bad = MigrationFile(
        "9001_contract_bad.sql",
        "CREATE TABLE c_mig_new (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO c_mig_new VALUES (1);\n"
        "INSERT INTO c_nope VALUES (1);\n",
    )
    try:
        await automigrate.apply_pending(db, files + [bad])
    except automigrate.MigrationFailed as exc:
        failure = [exc.name, "no such table: c_nope" in exc.message]
    else:
        raise AssertionError("the failing migration was applied")
    after = await user_tables(env.DB)
    ledger_names = [r.name for r in await ledger.read(db)]
    good = MigrationFile("9001_contract_bad.sql", "CREATE TABLE c_mig_new (id INTEGER PRIMARY KEY);\n")
    applied = await automigrate.apply_pending(db, files + [good])
    # Leave the database as the bundled migrations define it, for the contracts that follow.
    await db.batch(
        [
            Query('DROP TABLE "c_mig_new"'),
            Query.of(f'DELETE FROM "{ledger.LEDGER}" WHERE name = ?', good.name),
            Query.of(f'DELETE FROM "{ledger.CHECKSUMS}" WHERE name = ?', good.name),
        ]
    )
    assert before == after and "c_mig_new" not in after and good.name not in ledger_names
    return {"failure": failure, "unchanged": before == after, "ledger": ledger_names, "then_applied": applied}
