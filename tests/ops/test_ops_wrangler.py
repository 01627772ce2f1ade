"""Interoperability with the real pinned wrangler (offline, local D1 in Miniflare).

* our backup of the embedded database, gunzipped, is restored by ``wrangler d1 execute DB --local
  --file`` and the data wrangler's SQLite file then holds is identical to the source;
* a real ``wrangler d1 export --local`` file (full, and ``--no-schema``) is restored by ours
  (``scripts/restore --file``: imported into a format-3 backup, then the restore job).

Each test works in a tmp copy of the project config with wrangler's default local state there.
"""

import asyncio
import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ops_kit import data_of, seed, snapshot

from devkit.nodejs import node_env
from devkit.nodejs import wrangler as wrangler_bin
from devkit.ops.restore import main as restore
from edgenotify.db import Database
from edgenotify.migrations import _bundle, automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import run_backup

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


def test_a_wrangler_export_is_restored_by_ours(project: Path, tmp_path: Path, capsys) -> None:
    wrangler(project, "d1", "migrations", "apply", "DB", "--local")
    (project / "rows.sql").write_text(ROWS_SQL, encoding="utf-8")
    wrangler(project, "d1", "execute", "DB", "--local", "--file", "rows.sql", "--yes")
    wrangler(project, "d1", "export", "DB", "--local", "--output", "full.sql", "-y")
    wrangler(project, "d1", "export", "DB", "--local", "--output", "data.sql", "--no-schema", "-y")
    assert b"replace(" in (project / "full.sql").read_bytes()  # the export's own idioms
    assert b"sqlite_sequence" in (project / "full.sql").read_bytes()
    state = tmp_path / "state"
    database = state / "d1" / "DB.sqlite3"

    def run(*args: str) -> tuple[int, dict]:
        code = restore([*args, "--state-dir", str(state), "--json"])
        return code, json.loads(capsys.readouterr().out)

    code, first = run("--file", str(project / "full.sql"), "--apply")
    full_snapshot = snapshot(database)
    # --no-schema: the target keeps its schema; force replaces its rows (ledger included)
    code_data, second = run("--file", str(project / "data.sql"), "--apply", "--force")
    data_snapshot = snapshot(database)
    applied_again = asyncio.run(automigrate.ensure_migrated(_target_binding(state)))
    source = data_of(snapshot(wrangler_db_file(project)))
    assert code == 0 and first["job"]["status"] == "complete" and first["would"]["verify"] == "row counts"
    assert first["job"]["verification"]["ok"] and {c["table"] for c in first["job"]["checks"]} >= {
        "extra",
        "d1_migrations",
    }
    assert first["file"]["migrations"] == [name for name, _ in _bundle.MIGRATIONS]
    # the restore job keeps what the file does not recreate: the migration checksums the CLI's
    # migration of the brand-new database wrote (next to the job table), which the export lacks
    assert first["job"]["kept_tables"] == ["d1_migrations_checksums"]
    assert _without(full_snapshot, "d1_migrations_checksums") == source
    assert code_data == 0 and second["job"]["status"] == "complete" and second["would"]["create"] == []
    # counters replaced, not duplicated (the --no-schema file only INSERTs them)
    assert _without(data_snapshot, "d1_migrations_checksums") == source
    assert applied_again == []  # the restored ledger lists every file: nothing runs twice


def _without(snap: dict, table: str) -> dict:
    out = {k: v for k, v in data_of(snap).items() if k != table}
    out["schema"] = [s for s in out["schema"] if s[1] != table]
    return out


def _target_binding(state: Path):
    from devkit.ops.local import local_env

    return local_env(state, ROOT / "wrangler.toml").DB
