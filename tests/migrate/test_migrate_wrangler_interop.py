"""Interop with REAL wrangler: wrangler and our tools each finish what the other started.

A copy of the project's ``wrangler.toml`` in a tmp dir, with a migrations directory the test
controls, and ``--persist-to`` a tmp state dir (wrangler's local D1 file is then
``<persist>/v3/d1/miniflare-D1DatabaseObject/<hash>.sqlite``).

* wrangler first: ``wrangler d1 migrations apply`` runs 0001-0002, ``migrate apply`` (our
  CLI) finishes with 0003, and ``wrangler d1 migrations list`` has nothing left to apply.
* ours first: the worker's auto-migrator applies 0001-0002 on the first request into the
  file wrangler created, then ``wrangler d1 migrations apply`` applies only 0003.

Both end with the same ledger names in the same order and the same schema — which is also
the schema the migrations produce on an empty database. Four wrangler runs (~3 s each).
"""

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

from migrate_helpers import ADD_LOCALE, ADD_NOTES, REPO_MIGRATIONS, ROOT, add_migration, ledger_names

from devkit.embedded.d1 import D1Database
from devkit.embedded.runtime import Runtime
from devkit.embedded.workers_shim import Request
from devkit.migrate import source
from devkit.migrate.cli import main
from devkit.migrate.commands import expected_schema
from devkit.migrate.schema import as_dict, diff, read_schema
from devkit.migrate.target import opened
from devkit.nodejs import node_env
from devkit.nodejs import wrangler as wrangler_bin
from edgenotify.migrations import _bundle, automigrate

NAMES = ["0001_initial_schema.sql", "0002_add_locale.sql", "0003_notes.sql"]


def wrangler(project: Path, command: str) -> str:
    env = node_env() | {"CI": "1", "WRANGLER_LOG_PATH": str(project / "logs")}
    args = [str(wrangler_bin()), "d1", "migrations", command, "DB", "--local", "--persist-to", str(project / "persist")]
    run = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"wrangler {command} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def wrangler_db(project: Path) -> Path:
    found = [
        p
        for p in (project / "persist" / "v3" / "d1" / "miniflare-D1DatabaseObject").glob("*.sqlite")
        if p.name != "metadata.sqlite"
    ]
    assert len(found) == 1, found
    return found[0]


async def schema_of(path: Path):
    async with opened(path) as db:
        return await read_schema(db)


def test_wrangler_then_ours_and_ours_then_wrangler(tmp_path, monkeypatch, capsys):
    # --- wrangler first, our CLI finishes -----------------------------------------------
    first = tmp_path / "a"
    first.mkdir()
    a = _project(first)
    out = wrangler(a, "apply")
    assert NAMES[0] in out and NAMES[1] in out
    a_db = wrangler_db(a)
    assert ledger_names(a_db) == NAMES[:2]
    add_migration(a / "migrations", NAMES[2], ADD_NOTES)
    target = ["--json", "--migrations", str(a / "migrations"), "--database", str(a_db)]
    capsys.readouterr()
    assert main(["apply", *target]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == [NAMES[2]]
    assert main(["hash", *target[:3]]) == 0
    capsys.readouterr()
    assert main(["status", *target]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["current"] and status["unverified"] == NAMES[:2]  # wrangler records no checksum
    assert "No migrations to apply" in wrangler(a, "list")  # wrangler agrees: nothing left

    # --- ours first (the worker's auto-migrator), wrangler finishes ----------------------
    second = tmp_path / "b"
    second.mkdir()
    b = _project(second)
    listed = wrangler(b, "list")  # creates wrangler's D1 file (and its ledger table)
    assert NAMES[0] in listed and NAMES[1] in listed
    b_db = wrangler_db(b)
    monkeypatch.setattr(_bundle, "MIGRATIONS", [(f.name, f.sql) for f in source.load(b / "migrations")])
    binding = D1Database(b_db)
    env = SimpleNamespace(DB=binding, ENVIRONMENT="development")
    try:
        response = asyncio.run(Runtime(env).fetch(Request("http://localhost/health")))
        assert response.status == 200
    finally:
        automigrate.forget(binding)
        binding.close()
    assert ledger_names(b_db) == NAMES[:2]
    add_migration(b / "migrations", NAMES[2], ADD_NOTES)
    applied = wrangler(b, "apply")  # lists what it applies: only the file our side had not
    assert NAMES[2] in applied and NAMES[0] not in applied and NAMES[1] not in applied

    # --- same ledger, same schema, and it is the migrations' schema ----------------------
    assert ledger_names(a_db) == ledger_names(b_db) == NAMES
    schema_a, schema_b = asyncio.run(schema_of(a_db)), asyncio.run(schema_of(b_db))
    expected = asyncio.run(expected_schema(source.load(a / "migrations")))
    assert diff(schema_a, schema_b) == [] and diff(expected, schema_a) == []
    assert as_dict(schema_a) == as_dict(schema_b)


def _project(base: Path) -> Path:
    root = base / "project"
    (root / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "wrangler.toml", root / "wrangler.toml")
    shutil.copy(REPO_MIGRATIONS / NAMES[0], root / "migrations" / NAMES[0])
    add_migration(root / "migrations", NAMES[1], ADD_LOCALE)
    return root
