"""Dev auto-migration through the real worker (``src/entry.py`` ``Default`` on the embedded runtime).

The SQL the worker applies comes from the generated bundle (``scripts/build_bundle``). Tests
that need other migrations render a bundle from a private directory with the build script
itself and install it as the worker's bundle, exactly what a build from that directory ships.
"""

import asyncio
import json
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from migrate_helpers import (
    ADD_LOCALE,
    ADD_NOTES,
    BROKEN,
    FIRST,
    REPO_MIGRATIONS,
    ROOT,
    add_migration,
    ledger_names,
    query,
)

from devkit.embedded.d1 import D1Database
from devkit.embedded.env import Env, build_env
from devkit.embedded.runtime import Runtime, load_entrypoint
from devkit.embedded.workers_shim import Request
from devkit.migrate import source
from edgenotify.db import Database
from edgenotify.migrations import _bundle, automigrate


# -- helpers ---------------------------------------------------------------------------
def install_bundle(monkeypatch: pytest.MonkeyPatch, directory: Path) -> list[str]:
    """Build the worker's migration bundle from ``directory`` with scripts/build_bundle."""
    build = runpy.run_path(str(ROOT / "scripts" / "build_bundle"), run_name="build_bundle")
    module = ModuleType("bundle_under_test")
    exec(build["render"](directory), module.__dict__)
    monkeypatch.setattr(_bundle, "MIGRATIONS", module.MIGRATIONS)
    return [name for name, _ in module.MIGRATIONS]


@pytest.fixture
def envs(tmp_path: Path) -> Iterator[Any]:
    """Factory of isolates' envs on one state dir; every binding is forgotten and closed at teardown."""
    made: list[Env] = []

    def make(environment: str = "development") -> Env:
        env = build_env(tmp_path / "state", dev_vars_path=tmp_path / "none", overrides={"ENVIRONMENT": environment})
        made.append(env)
        return env

    yield make
    for env in made:
        automigrate.forget(env.DB)
        env.close()


def db_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "d1" / "DB.sqlite3"


async def get(runtime: Runtime, path: str = "/health") -> tuple[int, Any]:
    response = await runtime.fetch(Request(f"http://localhost{path}"))
    return response.status, json.loads(await response.text())


def tables(path: Path) -> set[str]:
    return {r["name"] for r in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def checksums(path: Path) -> dict[str, str]:
    return {r["name"]: r["sha256"] for r in query(path, "SELECT name, sha256 FROM d1_migrations_checksums")}


class Interleaving:
    """A binding that hands control to the event loop before each round trip, as the network does.

    The embedded binding finishes every call without suspending, so ``asyncio.gather`` of two
    isolates would run them one after the other. Yielding here (``asyncio.sleep(0)``: a
    scheduling point, not a wait) makes them interleave at every D1 round trip: both read the
    empty ledger, then race to apply the same file.
    """

    def __init__(self, inner: D1Database):
        self.inner = inner
        self.failures: list[str] = []

    @property
    def calls(self) -> int:
        return self.inner.calls

    def prepare(self, sql: str) -> "_Statement":
        return _Statement(self.inner.prepare(sql))

    async def batch(self, statements: list["_Statement"]) -> Any:
        await asyncio.sleep(0)
        try:
            return await self.inner.batch([s.inner for s in statements])
        except Exception as exc:
            self.failures.append(str(exc))
            raise

    def close(self) -> None:
        self.inner.close()


class _Statement:
    def __init__(self, inner: Any):
        self.inner = inner

    def bind(self, *values: Any) -> "_Statement":
        return _Statement(self.inner.bind(*values))

    async def all(self) -> Any:
        await asyncio.sleep(0)
        return await self.inner.all()


# -- tests -----------------------------------------------------------------------------
def test_fresh_database_is_migrated_by_the_first_request(envs, tmp_path):
    env = envs()
    status, body = asyncio.run(get(Runtime(env)))
    assert status == 200 and body["status"] == "ok"
    files = source.load(REPO_MIGRATIONS)
    assert ledger_names(db_file(tmp_path)) == [f.name for f in files]
    assert checksums(db_file(tmp_path)) == {f.name: f.sha256 for f in files}
    # one round trip to read the ledger, one batch per file
    assert env.DB.calls == 1 + len(files)


def test_zero_queries_once_current(envs, tmp_path):
    env = envs()
    runtime = Runtime(env)

    async def scenario() -> list[int]:
        assert (await get(runtime))[0] == 200
        after_first = env.DB.calls
        for _ in range(5):
            assert (await get(runtime))[0] == 200
        assert await runtime.scheduled("0 0 1 1 *") == "ok"  # a cron no task listens to
        return [after_first, env.DB.calls]

    first, later = asyncio.run(scenario())
    # 5 requests and a cron event later: not one more D1 query for migrations, only the cron's
    # own (the failed task record saying no work matches it)
    assert later == first + 1


def test_cron_event_migrates_too(envs, tmp_path):
    env = envs()
    assert asyncio.run(Runtime(env).scheduled("0 0 1 1 *")) == "ok"
    assert ledger_names(db_file(tmp_path)) == [f.name for f in source.load(REPO_MIGRATIONS)]


def test_partial_database_gets_only_the_rest(envs, migrations, tmp_path, monkeypatch):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_notes.sql", ADD_NOTES)
    names = install_bundle(monkeypatch, migrations)
    first_only = source.load(migrations)[:1]

    async def earlier_tool() -> None:
        binding = D1Database(db_file(tmp_path))
        await automigrate.apply_pending(Database(binding), first_only)
        binding.close()

    asyncio.run(earlier_tool())
    env = envs()
    assert asyncio.run(get(Runtime(env)))[0] == 200
    assert ledger_names(db_file(tmp_path)) == names
    assert env.DB.calls == 1 + 2  # ledger read + the two missing files
    assert "locale" in {
        r["name"] for r in query(db_file(tmp_path), "SELECT name FROM pragma_table_info('user_configs')")
    }


def test_racing_isolates_apply_each_file_once_and_no_request_fails(envs, migrations, tmp_path, monkeypatch):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_notes.sql", ADD_NOTES)
    names = install_bundle(monkeypatch, migrations)
    isolates = []
    for _ in range(2):
        env = envs()
        env.DB = Interleaving(env.DB)
        isolates.append((env, Runtime(env)))

    async def race() -> list[tuple[int, Any]]:
        return await asyncio.gather(*(get(runtime) for _, runtime in isolates for _ in range(3)))

    results = asyncio.run(race())
    assert [status for status, _ in results] == [200] * 6
    assert ledger_names(db_file(tmp_path)) == names  # each exactly once, in wrangler's order
    assert set(checksums(db_file(tmp_path))) == set(names)
    losses = [f for env, _ in isolates for f in env.DB.failures]
    assert losses and all("UNIQUE constraint failed: d1_migrations.name" in f for f in losses)  # they did race


def test_racing_isolates_on_threads(envs, migrations, tmp_path, monkeypatch):
    """Two isolates in two threads (own loops, own SQLite connections) on one file."""
    add_migration(migrations, "0002_notes.sql", ADD_NOTES)
    names = install_bundle(monkeypatch, migrations)
    runtimes = [Runtime(envs()) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def isolate(runtime: Runtime) -> None:
        barrier.wait()
        statuses.append(asyncio.run(get(runtime))[0])

    threads = [threading.Thread(target=isolate, args=(r,)) for r in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200, 200]
    assert ledger_names(db_file(tmp_path)) == names


def test_failing_migration_answers_503_and_changes_nothing(envs, migrations, tmp_path, monkeypatch):
    add_migration(migrations, "0002_add_locale.sql", ADD_LOCALE)
    add_migration(migrations, "0003_broken.sql", BROKEN)
    add_migration(migrations, "0004_notes.sql", ADD_NOTES)
    install_bundle(monkeypatch, migrations)
    env = envs()
    runtime = Runtime(env)
    status, body = asyncio.run(get(runtime))
    assert status == 503
    error = body["error"]
    assert error["code"] == "migration_failed" and error["field"] == "0003_broken.sql"
    assert "0003_broken.sql" in error["message"] and "no_such_table" in error["message"]
    path = db_file(tmp_path)
    assert ledger_names(path) == [FIRST, "0002_add_locale.sql"]  # earlier files stay applied
    assert "half_done" not in tables(path) and "notes" not in tables(path)  # the failing file left nothing
    assert set(checksums(path)) == {FIRST, "0002_add_locale.sql"}
    assert asyncio.run(get(runtime))[0] == 503  # still failing: the isolate keeps checking
    assert asyncio.run(runtime.scheduled("0 0 1 1 *")) == "exception"  # and the cron event is refused too

    add_migration(migrations, "0003_broken.sql", "CREATE TABLE IF NOT EXISTS half_done (id INTEGER PRIMARY KEY);\n")
    names = install_bundle(monkeypatch, migrations)
    assert asyncio.run(get(runtime))[0] == 200
    assert ledger_names(path) == names


def test_never_in_production(envs, tmp_path):
    env = envs("production")
    status, _ = asyncio.run(get(Runtime(env)))
    assert status == 200
    assert env.DB.calls == 0
    path = db_file(tmp_path)
    assert not path.exists() or "d1_migrations" not in tables(path)


class _FakeJsProxy:
    """Stands in for the Pyodide JsProxy of ``env.DB``: one JS object, one stable ``js_id``."""

    def __init__(self, inner: D1Database, js_id: int):
        self.inner = inner
        self.js_id = js_id

    def prepare(self, sql: str) -> Any:
        return self.inner.prepare(sql)

    async def batch(self, statements: list[Any]) -> Any:
        return await self.inner.batch(statements)


class _PerRequestWrapper(_FakeJsProxy):
    """The SDK wraps ``env`` (and so ``env.DB``) afresh for every request."""

    def __init__(self, proxy: _FakeJsProxy):
        self._binding = proxy
        self.inner = proxy.inner


def test_isolate_memory_survives_the_sdks_per_request_wrappers(tmp_path):
    load_entrypoint()  # src/entry.py installs the SDK's notion of database identity, as on the edge
    inner = D1Database(tmp_path / "edge.sqlite3")
    proxy = _FakeJsProxy(inner, js_id=4242)

    async def requests() -> list[list[str]]:
        return [await automigrate.ensure_migrated(_PerRequestWrapper(proxy)) for _ in range(3)]

    try:
        first, second, third = asyncio.run(requests())
        names = [f.name for f in source.load(REPO_MIGRATIONS)]
        assert first == names and second == third == []
        assert inner.calls == 1 + len(names)  # ledger read + one batch per file, then nothing
    finally:
        automigrate.forget(_PerRequestWrapper(proxy))
        inner.close()
