"""Interoperability with the real pinned wrangler (offline, local D1 in Miniflare).

* our backup of the embedded database, gunzipped, is restored by ``wrangler d1 execute DB --local
  --file`` and the data wrangler's SQLite file then holds is identical to the source;
* a real ``wrangler d1 export --local`` file (full, and ``--no-schema``) is restored by ours.

Each test works in a tmp copy of the project config with wrangler's default local state there.
"""

import asyncio
import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from ops_kit import seed, snapshot

from devkit.nodejs import node_env
from devkit.nodejs import wrangler as wrangler_bin
from edgenotify.db import Database
from edgenotify.migrations import _bundle, automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import run_backup
from edgenotify.ops.backups.restore import RestoreOptions, RestoreSource, restore
from edgenotify.ops.backups.source import bytes_chunks

ROOT = Path(__file__).resolve().parents[2]

# Values wrangler's export carries exactly (it loses integers beyond 2**53, a documented limit).
ROWS_SQL = """
CREATE TABLE extra (id INTEGER PRIMARY KEY, t TEXT, n, b BLOB);
INSERT INTO extra (t, n, b) VALUES ('line one
line two', 9007199254740991, X'00FF'), ('it''s "quoted" ✓', -0.5, NULL), ('', 1e308, X'');
INSERT INTO notification_templates_v2 (template_key, template_name) VALUES ('t', 'T');
INSERT INTO template_contents (template_key, channel_type, content_template) VALUES ('t', 'webhook', 'hi {{name}}');
INSERT INTO notification_logs (message_id, user_id, channel_type, status, created_at)
  VALUES ('m1', 'u1', 'webhook', 'success', '2026-01-01T00:00:00.000Z');
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tmp copy of the project config (and migrations): wrangler's local state goes there."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy2(ROOT / "wrangler.toml", root / "wrangler.toml")
    shutil.copytree(ROOT / "migrations", root / "migrations")
    return root


def wrangler(project: Path, *args: str) -> str:
    env = node_env() | {"CI": "1"}
    argv = [str(wrangler_bin()), *args]
    result = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def wrangler_db_file(project: Path) -> Path:
    folder = project / ".wrangler" / "state" / "v3" / "d1" / "miniflare-D1DatabaseObject"
    files = [p for p in folder.glob("*.sqlite") if p.name != "metadata.sqlite"]
    assert len(files) == 1, files
    return files[0]


def test_our_backup_is_restored_exactly_by_wrangler_d1_execute(embedded_env, project: Path) -> None:
    async def backup() -> bytes:
        db = Database(embedded_env.DB)
        await seed(db, embedded_env.DB)
        manifest = await run_backup(db, embedded_env.BACKUPS)
        body = await embedded_env.BACKUPS.get(mf.data_key(manifest["id"]))
        return gzip.decompress(await body.bytes())

    sql_file = project / "backup.sql"
    sql_file.write_bytes(asyncio.run(backup()))
    wrangler(project, "d1", "execute", "DB", "--local", "--file", str(sql_file), "--yes")
    assert snapshot(wrangler_db_file(project)) == snapshot(embedded_env.DB.path)


def test_a_wrangler_export_is_restored_by_ours(project: Path, target_env) -> None:
    wrangler(project, "d1", "migrations", "apply", "DB", "--local")
    (project / "rows.sql").write_text(ROWS_SQL, encoding="utf-8")
    wrangler(project, "d1", "execute", "DB", "--local", "--file", "rows.sql", "--yes")
    wrangler(project, "d1", "export", "DB", "--local", "--output", "full.sql", "-y")
    wrangler(project, "d1", "export", "DB", "--local", "--output", "data.sql", "--no-schema", "-y")
    full = (project / "full.sql").read_bytes()
    data = (project / "data.sql").read_bytes()
    assert b"replace(" in full and b"sqlite_sequence" in full  # the export's own idioms

    async def run():
        target = Database(target_env.DB)
        first = await restore(target, RestoreSource("file full.sql", bytes_chunks(full)), RestoreOptions(dry_run=False))
        full_snapshot = snapshot(target_env.DB.path)
        # --no-schema: the target keeps its schema; force replaces its rows (ledger included)
        only = RestoreSource("file data.sql", bytes_chunks(data))
        second = await restore(target, only, RestoreOptions(dry_run=False, force=True))
        data_snapshot = snapshot(target_env.DB.path)
        applied_again = await automigrate.ensure_migrated(target_env.DB)
        return first, full_snapshot, second, data_snapshot, applied_again

    first, full_snapshot, second, data_snapshot, applied_again = asyncio.run(run())
    source = snapshot(wrangler_db_file(project))
    assert first["status"] == "restored" and first["verification"]["basis"] == "file row counts"
    assert first["verification"]["ok"] and first["file"]["migrations"] == [name for name, _ in _bundle.MIGRATIONS]
    assert full_snapshot == source
    assert second["status"] == "restored" and second["would"]["create"] == []
    assert data_snapshot == source  # counters replaced, not duplicated (the --no-schema file only INSERTs them)
    assert applied_again == []  # the restored ledger lists every file: nothing runs twice
