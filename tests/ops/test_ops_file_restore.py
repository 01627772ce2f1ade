"""Restores of files and of format-2 backups: imported into a format-3 backup, then the restore job.

``scripts/restore --file`` of our backup (digests) and of a plain SQL export (row counts) restore
exactly; a restore from a file killed at any point (``jobs_kit.Killer``: fault injection around
the real bindings, and the embedded runtime's own limit errors, under ``LIMIT_D1_QUERIES=20``,
``LIMIT_CPU_MS=500``) leaves the old data as it was or a running job that a later step (or
``scripts/restore --continue``) completes; a format-2 backup (one gzip member, one digest per
table, no chunk list) restores as a job, continued by the cron tick as well.
"""

import asyncio
import gzip
import hashlib
import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from jobs_kit import Invocation, Killed, Killer
from ops_kit import data_of, seed, snapshot
from test_ops_jobs import _digests, _kill_plan, _step

from devkit.embedded.meter import CpuLimitExceeded
from devkit.ops.local import local_env
from devkit.ops.restore import copy_to_r2, file_chunks
from devkit.ops.restore import main as restore
from edgenotify.clock import utcnow
from edgenotify.db import D1Error, Database, Query
from edgenotify.limits import Limits
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import run_backup
from edgenotify.ops.backups.dump import digest_table
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.backups.source import ReadStats, bytes_chunks, located
from edgenotify.ops.jobs import imports, marker, sourceplan, store, usecases
from edgenotify.ops.maintenance import retention

ROOT = Path(__file__).resolve().parents[2]


async def _source_data(env) -> None:
    """Every value kind (ops_kit.seed) and 1,500 log rows: the import and the restore take many steps."""
    db = Database(env.DB)
    await seed(db, env.DB)
    insert = "INSERT INTO notification_logs (message_id, user_id, channel_type, status, content, created_at) "
    rows = [
        Query.of(insert + "VALUES (?, 'u', 'webhook', 'success', ?, '2026-01-01T00:00:00.000Z')", f"m{i}", "x" * i)
        for i in range(2, 1500)
    ]
    await db.batch(rows)


async def _old_data(env) -> None:
    """What the target holds before: rows the restore must not lose unless it completes."""
    await automigrate.ensure_migrated(env.DB)
    db = Database(env.DB)
    await db.run("INSERT INTO system_configs (config_key, config_value) VALUES ('old', 'data')")
    await db.run("CREATE TABLE old_only (id INTEGER PRIMARY KEY, v TEXT)")  # not in the backup: kept
    await db.run("INSERT INTO old_only (v) VALUES ('kept')")


async def _backup_file(env, path: Path) -> dict:
    """What ``scripts/backup --output FILE`` writes: the SQL (gzip when FILE ends in .gz) and FILE.manifest.json."""
    manifest = await run_backup(Database(env.DB), env.BACKUPS)
    data = await (await env.BACKUPS.get(mf.data_key(manifest["id"]))).bytes()
    path.write_bytes(data if path.name.endswith(".gz") else gzip.decompress(data))
    Path(f"{path}.manifest.json").write_bytes(mf.encode(manifest))
    return manifest


async def _start_file_import(env, path: Path, manifest: dict | None, force: bool, **options) -> store.Job:
    """The CLI's ``--file --apply`` up to the import job (scan, checks, copy to R2), killed before its first step."""
    stats = ReadStats()
    plan = await sourceplan.scan(file_chunks(path), count_rows=manifest is None, stats=stats)
    report, refusals = await sourceplan.report(Database(env.DB), "file", plan, stats, manifest, force)
    assert not refusals, report["refusals"]
    key = imports.source_key(mf.new_backup_id(utcnow()))
    assert await copy_to_r2(env.BACKUPS, path, key) == stats.sha256
    source = {"key": key, "label": f"file {path.name}", "manifest": manifest, "owned": True}
    killer = Killer(3, "before")  # the marker read, the job row written, then its first step dies at once
    try:
        context = Invocation(env, killer).context()
        await usecases.start_import(
            context, source, plan=plan, force=force, quiesce_seconds=0, trigger="test", **options
        )
    except Killed:
        pass
    jobs = await store.running(Database(env.DB), store.IMPORT)
    assert len(jobs) == 1 and jobs[0].steps == 0
    return jobs[0]


async def _old_or_detected(env, old: dict) -> None:
    """After any kill: the old data untouched, or a running job that says where it is (the marker
    once the restore job may replace data); until a restore completes, always a running job."""
    db = Database(env.DB)
    if any(j.status == store.COMPLETE for j in await store.recent(db, store.RESTORE, 5)):
        return
    running = await store.running(db)
    assert running, "a restore that did not complete must leave a running job"
    if await marker.current(db) is None:
        assert data_of(snapshot(env.DB.path)) == old


async def _drive_chain(env, job_id: str, killed: list[str], old: dict) -> store.Job:
    """Continue the job (an import, then the restore it hands over to) to its end. Every import step
    is killed at each of its calls in turn (before it, after it) and by the runtime's CPU and query
    limits, the old data checked after each kill, until it runs through; every restore step dies once
    inside and then runs cleanly within the real limits (``test_ops_jobs._drive``'s plan)."""
    kills, planned = _kill_plan(), Limits.from_env(env)
    while True:
        job = await store.get(Database(env.DB), job_id)
        assert job is not None and job.failures == 0, job and job.last_error
        if not job.running:
            follow = job.state.get("restore_job") if job.kind == store.IMPORT else None
            if follow is None:
                return job
            job_id = follow
        elif job.kind == store.IMPORT:
            await _kill_everywhere(env, job_id, killed, old, planned)
        else:
            kind, n, mode = next(kills)
            limits = planned if kind == "call" else replace(planned, **{kind: n})
            try:
                await _step(env, job_id, Killer(n, mode) if kind == "call" else Killer(), limits)
            except (Killed, CpuLimitExceeded, D1Error):
                killed.append(f"restore {kind} {n} {mode}".strip())
            await _old_or_detected(env, old)
            await _step(env, job_id, Killer(), planned)


async def _kill_everywhere(env, job_id: str, killed: list[str], old: dict, planned: Limits) -> None:
    for kind, n in (("cpu_ms", 1), ("d1_queries", 3)):
        try:
            await _step(env, job_id, Killer(), replace(planned, **{kind: n}))
        except (CpuLimitExceeded, D1Error):
            killed.append(f"import {kind} {n}")
        await _old_or_detected(env, old)
    n = 1
    while True:
        for mode in ("before", "after"):
            killer = Killer(n, mode)
            try:
                await _step(env, job_id, killer, planned)
            except Killed:
                killed.append(f"import call {n} {mode}")
            await _old_or_detected(env, old)
            if not killer.fired:  # the step ran through: it made its progress
                return
        n += 1


async def _file_import_over_old_data(source, target, path) -> tuple[dict, Any, Any]:
    """A backup of the source as a file, old data in the target, and a forced import of the file started."""
    await _source_data(source)
    manifest = await _backup_file(source, path)
    await _old_data(target)
    old = data_of(snapshot(target.DB.path))
    return manifest, old, await _start_file_import(target, path, manifest, force=True)


def test_a_file_restore_killed_anywhere_keeps_the_old_data_or_a_continuable_job(limited_envs, tmp_path) -> None:
    source, target = limited_envs
    path = tmp_path / "backup.sql"

    async def run():
        manifest, old, job = await _file_import_over_old_data(source, target, path)
        killed: list[str] = []
        done = await _drive_chain(target, job.id, killed, old)
        return manifest, job, done, killed, await store.get(Database(target.DB), job.id)

    manifest, job, done, killed, imported = asyncio.run(run())
    assert imported.status == "complete" and imported.state["restore_job"] == done.id and imported.steps >= 3
    assert done.kind == "restore" and done.status == "complete" and done.state["verification"]["ok"], done.state
    import_kills = [k for k in killed if k.startswith("import call")]
    assert len(import_kills) >= 3 * imported.steps and any(k.startswith("restore") for k in killed), killed
    assert _restored(target) == _digests(source)  # exact, table by table
    assert done.state["kept"] == ["old_only"]
    new = asyncio.run(_load_manifest(target, done.subject))
    assert new["format_version"] == 3 and new["imported_from"]["backup"] == manifest["id"]
    assert [(t["name"], t["sha256"]) for t in new["tables"]] == [(t["name"], t["sha256"]) for t in manifest["tables"]]
    keys = asyncio.run(_keys(target))
    assert not [k for k in keys if k.startswith("imports/") or "carry-" in k]  # the copy and the carries are gone


def test_an_import_whose_restore_is_refused_fails_and_says_so(limited_envs, tmp_path) -> None:
    """Rows written to an empty target while its import ran: the hand-over's restore (no force) is refused,
    the import fails with the reason, its events are written, the database is untouched."""
    source, target = limited_envs
    path = tmp_path / "backup.sql"

    async def run():
        await _source_data(source)
        manifest = await _backup_file(source, path)
        await automigrate.ensure_migrated(target.DB)
        job = await _start_file_import(target, path, manifest, force=False)
        await Database(target.DB).run("INSERT INTO system_configs (config_key, config_value) VALUES ('new', 'row')")
        before = data_of(snapshot(target.DB.path))
        done = await usecases.run_to_end(Invocation(target).context(), job)
        audit = await Database(target.DB).all("SELECT action FROM audit_logs ORDER BY id")
        return job, done, before, audit

    job, done, before, audit = asyncio.run(run())
    assert done.kind == "import" and done.status == "failed" and "target_not_empty" in done.last_error
    assert job.subject in done.last_error  # the imported backup stays, restorable by id
    assert [a["action"] for a in audit] == ["import.start", "import.complete", "import.failed"]
    assert data_of(snapshot(target.DB.path)) == before


def test_retention_keeps_the_backup_a_running_import_writes(limited_envs, tmp_path) -> None:
    """However long an import waits for its next step, its half-written backup is not an old failed one."""
    source, target = limited_envs
    path = tmp_path / "backup.sql"

    async def run():
        await _source_data(source)
        await _backup_file(source, path)
        await _old_data(target)
        job = await _start_file_import(target, path, None, force=True)
        await usecases.continue_job(Invocation(target).context(), job.id)  # one step: data written, no manifest
        later = utcnow() + timedelta(days=30)
        policy = retention.RetentionPolicy(incomplete_grace_hours=1)
        running = await store.backups_in_progress(Database(target.DB))
        kept = await retention.enforce(target.BACKUPS, policy, later, dry_run=True, running=running)
        unprotected = await retention.enforce(target.BACKUPS, policy, later, dry_run=True)
        return job, running, kept, unprotected

    job, running, kept, unprotected = asyncio.run(run())
    assert job.subject in running
    assert job.subject not in [d["id"] for d in kept["delete"]]
    assert job.subject in [d["id"] for d in unprotected["delete"]]  # what it would be without the job


def _restored(env) -> dict:
    """The target's digests but for the table the backup does not have, which keeps its row."""
    digests = _digests(env)
    assert digests.pop("old_only")[0] == 1
    return digests


def test_a_multipart_import_killed_around_its_parts_restores_exactly(limited_envs, tmp_path) -> None:
    """~6 MB of gzip (incompressible BLOBs): the import's object is a multipart upload created, filled and
    completed across steps, each step killed at every call, the upload id recorded at once."""
    source, target = limited_envs
    path = tmp_path / "blobs.sql"

    async def run():
        await automigrate.ensure_migrated(source.DB)
        db = Database(source.DB)
        await db.run("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        await db.batch([Query("INSERT INTO blobs (data) VALUES (randomblob(45000))") for _ in range(125)])
        manifest = await _backup_file(source, path)
        await _old_data(target)
        old = data_of(snapshot(target.DB.path))
        job = await _start_file_import(target, path, manifest, force=True, part_size=5 * 1024 * 1024)
        killed: list[str] = []
        done = await _drive_chain(target, job.id, killed, old)
        return job, done, killed

    job, done, killed = asyncio.run(run())
    assert done.status == "complete" and done.state["verification"]["ok"], done.state
    new = asyncio.run(_load_manifest(target, done.subject))
    assert new["object"]["parts"] >= 2 and new["object"]["size"] > 5 * 1024 * 1024
    assert _restored(target) == _digests(source)


def test_a_local_import_runs_in_one_step_checkpointing_as_it_goes(limited_envs, tmp_path, monkeypatch) -> None:
    """The CLI runs an import without a Worker's limits (one step, no re-reading of the source), saving a
    checkpoint every ``CHECKPOINT_SQL_BYTES`` (lowered here): killed at each of its calls in turn, each
    run goes on from the last checkpoint, and the result is exact."""
    monkeypatch.setattr(imports, "UNIT_SQL_BYTES", 16 * 1024)
    monkeypatch.setattr(imports, "CHECKPOINT_SQL_BYTES", 64 * 1024)
    source, target = limited_envs
    path = tmp_path / "backup.sql"

    async def run():
        manifest, old, job = await _file_import_over_old_data(source, target, path)
        runs, n = 0, 0
        while (await store.get(Database(target.DB), job.id)).phase not in ("restore", "done"):
            n += 1
            for mode in ("before", "after"):
                runs += 1
                try:
                    await usecases.continue_job(Invocation(target, Killer(n, mode)).context(), job.id, None, True)
                except Killed:
                    pass
                await _old_or_detected(target, old)
        imported = await store.get(Database(target.DB), job.id)
        done = await usecases.run_to_end(Invocation(target).context(), imported)
        return imported, done, runs

    imported, done, runs = asyncio.run(run())
    assert imported.steps >= 10 and runs >= 20  # many checkpoints, each run killed further on
    assert done.kind == "restore" and done.status == "complete" and done.state["verification"]["ok"], done.state
    assert _restored(target) == _digests(source)


RESUMABLE = (
    "-- a header; with a ; inside\nCREATE TABLE t (a, b);\nINSERT INTO t VALUES ('é;😀', 'it''s');  \n"
    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET b = 'x;y'; END;\n"
    "INSERT INTO t VALUES (1, /* c; */ 2) -- trailing; comment\n;\nINSERT INTO t VALUES (3, 4)"
)


def test_reading_resumes_after_any_statement_of_plain_or_gzip_text() -> None:
    """Where an import step stops: the text offset past a statement; read from there, exactly the
    statements after it come (multi-byte characters, quotes, comments, a trigger body, gzip members)."""
    data = RESUMABLE.encode("utf-8")
    at = data.index("é".encode()) + 1  # members split inside a statement and inside a character
    members = gzip.compress(data[:40]) + gzip.compress(data[40:at]) + gzip.compress(data[at:])

    async def read(raw: bytes, skip: int) -> list:
        return [found async for found in located(bytes_chunks(raw, 7), skip)]

    for raw in (data, members):
        whole = asyncio.run(read(raw, 0))
        assert [s for s, _ in whole][-1] == "INSERT INTO t VALUES (3, 4)" and len(whole) == 5
        for i, (_, end) in enumerate(whole):
            assert asyncio.run(read(raw, end)) == whole[i + 1 :]


async def _load_manifest(env, backup_id: str) -> dict:
    return mf.parse(await (await env.BACKUPS.get(mf.manifest_key(backup_id))).bytes())


async def _keys(env) -> list[str]:
    return sorted(str(o.key) for o in (await env.BACKUPS.list())["objects"])


PLAIN_EXPORT = """PRAGMA defer_foreign_keys=TRUE;
CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id), note TEXT);
INSERT INTO child VALUES(1,2,'it''s; a note');
INSERT INTO child VALUES(2,1,NULL);
CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, data BLOB);
INSERT INTO parent VALUES(1,'a',X'00ff');
INSERT INTO parent VALUES(2,'b',NULL);
INSERT INTO parent VALUES(3,replace('x\\ny','\\n',char(10)),NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('parent',7);
CREATE INDEX child_parent ON child (parent_id);
CREATE VIEW named AS SELECT c.id, p.name FROM child c JOIN parent p ON p.id = c.parent_id;
"""


def test_a_plain_sql_export_restores_exactly_by_row_counts(tmp_path: Path, capsys) -> None:
    """A ``wrangler d1 export``-style file (no manifest, children before their parents, a counter):
    scripts/restore --file imports it (one pass per table, parents first) and the job restores it;
    the result equals what sqlite3 makes of the same file."""
    path = tmp_path / "export.sql"
    path.write_text(PLAIN_EXPORT, encoding="utf-8")
    expected_db = tmp_path / "sqlite3.sqlite"
    with sqlite3.connect(expected_db) as conn:
        conn.executescript(PLAIN_EXPORT)
    state = tmp_path / "state"
    assert restore(["--file", str(path), "--state-dir", str(state), "--json"]) == 0  # dry run: nothing changes
    dry = _json(capsys)
    assert dry["dry_run"] and dry["would"]["insert_rows"] == {"child": 2, "parent": 3}
    assert dry["would"]["verify"] == "row counts" and snapshot(state / "d1" / "DB.sqlite3") == {"schema": []}
    assert restore(["--file", str(path), "--state-dir", str(state), "--apply", "--json"]) == 0
    job = _json(capsys)["job"]
    assert job["kind"] == "restore" and job["status"] == "complete", job
    assert {c["table"]: (c["rows"], c["ok"]) for c in job["checks"]} == {"child": (2, True), "parent": (3, True)}
    mine, theirs = snapshot(state / "d1" / "DB.sqlite3"), snapshot(expected_db)
    for table in ("child", "parent"):
        assert mine[table] == theirs[table]
    assert [s for s in mine["schema"] if s[1] in ("child", "parent", "child_parent", "named")] == theirs["schema"]
    assert ("parent", 7) in mine["sqlite_sequence"] and [r[0] for r in mine["sqlite_sequence"]].count("parent") == 1
    env = local_env(state, ROOT / "wrangler.toml")
    try:
        imported = asyncio.run(_load_manifest(env, job["subject"]))
    finally:
        env.close()
    assert {t["name"]: t["verify"] for t in imported["tables"]} == {"child": "rows", "parent": "rows"}
    assert imported["imported_from"]["verify"].startswith("row counts")


def test_refusals_of_a_file_and_an_interrupted_import_continued_by_the_cli(tmp_path: Path, capsys) -> None:
    state = tmp_path / "state"
    env = local_env(state, ROOT / "wrangler.toml")
    path = tmp_path / "backup.sql.gz"  # the stored object itself, gzip members and all
    try:

        async def prepare():
            await _source_data(env)
            manifest = await _backup_file(env, path)
            before = data_of(snapshot(env.DB.path))
            first = Killer(3, "after")  # dies inside the import's next step
            job = await _start_file_import(env, path, manifest, force=True)
            try:
                await usecases.continue_job(Invocation(env, first).context(), job.id)
            except Killed:
                pass
            return before, job

        before, job = asyncio.run(prepare())
    finally:
        env.close()
    assert restore(["--file", str(path), "--state-dir", str(state), "--apply", "--json"]) == 1  # no force
    assert _json(capsys)["error"]["code"] == "target_not_empty"
    script = tmp_path / "script.sql"
    script.write_text("CREATE TABLE t (a);\nALTER TABLE t ADD b;\n")
    assert restore(["--file", str(script), "--state-dir", str(state), "--json"]) == 1
    assert [r["code"] for r in _json(capsys)["refusals"]] == ["unsupported_statements", "target_not_empty"]
    assert data_of(snapshot(state / "d1" / "DB.sqlite3")) == before  # nothing replaced so far
    assert restore(["--continue", "--state-dir", str(state), "--json"]) == 0  # the interrupted import, then its restore
    done = _json(capsys)["job"]
    assert done["kind"] == "restore" and done["status"] == "complete" and done["id"] == f"restore-{job.subject}"
    assert done["verification"]["ok"]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


async def _format_2(env) -> dict:
    """A format-2 backup of ``env``, as older code wrote it: the whole SQL as one gzip member, one
    digest per table over all its rows, the object's SHA-256, no chunk list."""
    current = await run_backup(Database(env.DB), env.BACKUPS)
    sql = gzip.decompress(await (await env.BACKUPS.get(mf.data_key(current["id"]))).bytes())
    await env.BACKUPS.delete([mf.data_key(current["id"]), mf.manifest_key(current["id"])])
    backup_id = mf.new_backup_id(utcnow())
    data = gzip.compress(sql)
    stored = await env.BACKUPS.put(mf.data_key(backup_id), data)
    db = Database(env.DB)
    schema = await inspect(db)
    tables = []
    for entry in current["tables"]:
        digest = await digest_table(db, schema.table(entry["name"]), schema.negative_zero) if entry["sha256"] else None
        tables.append({**{k: entry[k] for k in ("name", "kind", "rows")}, "sha256": digest and digest.sha256})
    old = {**current, "id": backup_id, "format_version": 2, "tables": tables}
    old["object"] = {
        "key": mf.data_key(backup_id),
        "size": len(data),
        "etag": str(stored.etag),
        "sha256": hashlib.sha256(data).hexdigest(),
        "compression": "gzip",
        "sql_bytes": len(sql),
    }
    await env.BACKUPS.put(mf.manifest_key(backup_id), mf.encode(old))
    return old


def test_a_format_2_backup_restores_as_a_job(limited_envs) -> None:
    source, target = limited_envs

    async def run():
        await _source_data(source)
        old = await _format_2(source)
        await _old_data(target)
        before = data_of(snapshot(target.DB.path))
        dry = await usecases.start_restore(Invocation(target).context(), old["id"], force=True)
        started = await usecases.start_restore(
            Invocation(target).context(), old["id"], force=True, dry_run=False, quiesce_seconds=0, trigger="test"
        )
        killed: list[str] = []
        ticked = await usecases.tick(Invocation(target).context())  # the cron continues imports too
        done = await _drive_chain(target, started["job"]["id"], killed, before)
        return old, dry, started, ticked, done, killed

    old, dry, started, ticked, done, killed = asyncio.run(run())
    assert ticked["job"]["id"] == started["job"]["id"] and ticked["job"]["steps"] > started["job"]["steps"]
    assert dry["ok"] and dry["would"]["import"] and dry["would"]["chunks"] == 0
    assert started["job"]["kind"] == "import" and started["job"]["phase"] in ("scan", "schema", "data")
    assert done.kind == "restore" and done.status == "complete" and done.state["verification"]["ok"], done.state
    assert any(k.startswith("import") for k in killed) and any(k.startswith("restore") for k in killed)
    assert _restored(target) == _digests(source)
    checks = {c["table"]: c for c in done.state["verify"]["checks"]}
    assert checks["notification_logs"]["ok"] and checks["notification_logs"]["rows"] == 1499
    new = asyncio.run(_load_manifest(target, done.subject))
    assert new["imported_from"] == {
        "label": f"backup {old['id']}",
        "backup": old["id"],
        "format_version": 2,
        "verify": "digests",
    }
    assert asyncio.run(_keys(target)).count(mf.data_key(old["id"])) == 1  # the old backup itself is kept
