"""Backup to R2 and restore by the restore job, on the embedded runtime: exact round trips, refusals,
fault injection. (Restores of files and of format-2 backups: ``test_ops_file_restore``.)"""

import asyncio
import copy
import gzip
import hashlib
import re

import pytest
from ops_kit import KINDS, FaultInjectingR2, data_of, object_keys, restore_job, seed, snapshot

from edgenotify.db import Database, Query
from edgenotify.migrations import automigrate, ledger
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import BackupFailed, BackupOptions, run_backup
from edgenotify.ops.backups.dump import TableReader, page_rows
from edgenotify.ops.backups.schema import inspect
from edgenotify.ops.backups.source import SourceError, bytes_chunks
from edgenotify.ops.backups.sqlwriter import WRANGLER_TRAPS
from edgenotify.ops.jobs import sourceplan
from edgenotify.ops.jobs.usecases import JobError


async def _sql_text(env, manifest) -> str:
    body = await env.BACKUPS.get(mf.data_key(manifest["id"]))
    return gzip.decompress(await body.bytes()).decode("utf-8")


async def _backup(embedded_env, target_env) -> dict:
    """The seeded source backed up; the target restores from the same bucket."""
    db = Database(embedded_env.DB)
    await seed(db, embedded_env.DB)
    target_env.BACKUPS = embedded_env.BACKUPS
    return await run_backup(db, embedded_env.BACKUPS, trigger="test", database="edgenotify")


async def _replace_manifest(env, manifest) -> None:
    await env.BACKUPS.put(mf.manifest_key(manifest["id"]), mf.encode(manifest))


def test_round_trip_restores_every_value_exactly(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        report = await restore_job(target_env, manifest["id"])
        return manifest, report, await _sql_text(embedded_env, manifest)

    manifest, report, sql = asyncio.run(run())
    job = report["job"]
    assert job["status"] == "complete" and job["verification"]["ok"], job
    assert job["verification"]["sequences_ok"] and all(c["ok"] for c in job["checks"])
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))
    # the manifest: format, schema version, per-table rows and digests, the object as stored
    assert manifest["format_version"] == mf.FORMAT_VERSION and manifest["database"] == "edgenotify"
    assert manifest["migration"]["last_applied"] == automigrate.bundled_files()[-1].name
    tables = {t["name"]: t for t in manifest["tables"]}
    assert tables["kinds"]["rows"] == len(KINDS) + 2 and tables["docs"]["kind"] == "fts5"
    assert tables["articles_fts"]["kind"] == "fts5-external" and tables["articles_fts"]["rows"] == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", t["sha256"]) for t in manifest["tables"])
    assert manifest["sequences"]["kinds"] == str(len(KINDS) + 3)  # the deleted top row's id is not reused
    assert not any(name.startswith(("sqlite_", "_cf_", "docs_", "articles_fts_")) for name in tables)
    # the file: D1-sized statements, nothing wrangler would rewrite, triggers after the data
    statements = [s for s in sql.split(";\n") if s.strip()]
    assert max(len(s.encode()) for s in statements) <= 100_000
    assert not WRANGLER_TRAPS.search(sql) and "BEGIN TRANSACTION" not in sql
    assert "CREATE TABLE 'docs_data'" not in sql and "_cf_" not in sql
    assert sql.index("CREATE TRIGGER articles_ai") > sql.index('INSERT INTO "articles"')
    assert 'UPDATE "kinds" SET "v" = "v" || \'' in sql  # the 150 KB value went in pieces
    assert manifest["object"]["statements"] >= 20 and manifest["object"]["parts"] == 0


def test_restored_ledger_matches_the_schema_and_nothing_is_reapplied(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        report = await restore_job(target_env, manifest["id"])
        applied_again = await automigrate.ensure_migrated(target_env.DB)
        return (
            await ledger.read(Database(embedded_env.DB)),
            await ledger.read(Database(target_env.DB)),
            report,
            applied_again,
        )

    source_ledger, target_ledger, report, applied_again = asyncio.run(run())
    assert report["job"]["status"] == "complete"
    assert target_ledger == source_ledger and applied_again == []


def test_a_large_backup_streams_as_a_multipart_upload_and_restores(embedded_env, target_env) -> None:
    async def run():
        db = Database(embedded_env.DB)
        await automigrate.ensure_migrated(embedded_env.DB)
        await db.run("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        for _ in range(6):  # random bytes as hex: ~6 MB of gzip, two 5 MiB parts
            await db.run("INSERT INTO blobs (data) VALUES (randomblob(1000000))")
        options = BackupOptions(part_size=5 * 1024 * 1024)
        manifest = await run_backup(db, embedded_env.BACKUPS, options=options)
        stored = await (await embedded_env.BACKUPS.get(mf.data_key(manifest["id"]))).bytes()
        target_env.BACKUPS = embedded_env.BACKUPS
        report = await restore_job(target_env, manifest["id"])
        return manifest, stored, report

    manifest, stored, report = asyncio.run(run())
    assert manifest["object"]["parts"] >= 2
    assert manifest["object"]["size"] == len(stored)
    chunks = manifest["object"]["chunks"]
    assert [hashlib.sha256(stored[c["offset"] : c["offset"] + c["size"]]).hexdigest() for c in chunks] == [
        c["sha256"] for c in chunks
    ]
    assert sum(c["size"] for c in chunks) == len(stored) and len(chunks) >= 3  # schema, data, tail
    assert report["job"]["verification"]["ok"]
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))


def test_pages_are_bounded_by_rows_and_by_bytes(embedded_env) -> None:
    async def run():
        db = Database(embedded_env.DB)
        await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        await db.batch([Query.of("INSERT INTO t (v) VALUES (?)", f"row {i}") for i in range(95)])
        await db.run("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
        for _ in range(6):
            await db.run("INSERT INTO big (v) VALUES (printf('%.*c', 400000, 'x'))")
        schema = await inspect(db)
        small = TableReader(db, schema.table("t"), max_rows=10)
        sizes = [page_rows(p) async for p in small.pages()]
        large = TableReader(db, schema.table("big"), max_rows=1000, max_bytes=1_000_000)
        big_sizes = [page_rows(p) async for p in large.pages()]
        return sizes, small.queries, big_sizes

    sizes, queries, big_sizes = asyncio.run(run())
    assert sizes == [10] * 9 + [5] and queries == 11  # the last, empty page ends the table
    assert big_sizes == [3, 3]  # 400 KB rows under a 1 MB budget: the row that crosses it is the last one


def test_dry_run_reports_what_would_happen_and_changes_nothing(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        await automigrate.ensure_migrated(target_env.DB)
        before = snapshot(target_env.DB.path)
        return manifest, await restore_job(target_env, manifest["id"], dry_run=True), before

    manifest, report, before = asyncio.run(run())
    assert report["dry_run"] and report["ok"] and report["refusals"] == [] and "job" not in report
    assert report["would"]["create"][:2] == ["d1_migrations", "d1_migrations_checksums"]
    assert report["would"]["insert_rows"]["kinds"] == len(KINDS) + 2
    assert report["would"]["chunks"] == len(manifest["object"]["chunks"]) and not report["would"]["import"]
    assert 'DROP TABLE IF EXISTS "notification_logs"' in report["would"]["clear"]
    assert snapshot(target_env.DB.path) == before


def test_a_non_empty_target_is_refused_unless_forced(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        await automigrate.ensure_migrated(target_env.DB)
        await Database(target_env.DB).run(
            "INSERT INTO system_configs (config_key, config_value) VALUES ('doomed', 'x')"
        )
        with pytest.raises(JobError) as refused:
            await restore_job(target_env, manifest["id"])
        dry = await restore_job(target_env, manifest["id"], dry_run=True)
        forced = await restore_job(target_env, manifest["id"], force=True)
        return refused.value, dry, forced

    refused, dry, forced = asyncio.run(run())
    assert refused.code == "target_not_empty" and "system_configs" in refused.message
    assert not dry["ok"] and dry["refusals"][0]["code"] == "target_not_empty"
    assert 'DROP TABLE IF EXISTS "system_configs"' in dry["would"]["clear"]
    assert forced["job"]["status"] == "complete"
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))


def test_a_backup_from_a_newer_schema_is_refused(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        newer = copy.deepcopy(manifest)
        newer["migration"]["applied"].append("0099_future_table.sql")
        await _replace_manifest(embedded_env, newer)
        with pytest.raises(JobError) as refused:
            await restore_job(target_env, manifest["id"])
        # a file without a manifest: the migration ledger rows it inserts are checked instead
        sql = (await _sql_text(embedded_env, manifest)).replace("'0001_initial_schema.sql'", "'0002_future.sql'", 1)
        plan = await sourceplan.scan(bytes_chunks(sql.encode()), count_rows=True)
        return refused.value, sourceplan.source_refusals(plan, None, None)

    refused, refused_file = asyncio.run(run())
    assert refused.code == "backup_schema_newer" and "0099_future_table.sql" in refused.message
    assert [r.code for r in refused_file] == ["backup_schema_newer"] and "0002_future.sql" in refused_file[0].message


def test_a_corrupt_object_and_foreign_statements_are_refused(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        tampered = copy.deepcopy(manifest)
        tampered["object"]["size"] += 1
        await _replace_manifest(embedded_env, tampered)
        with pytest.raises(JobError) as corrupt:
            await restore_job(target_env, manifest["id"])
        script = await sourceplan.scan(bytes_chunks(b"CREATE TABLE t (a);\nDROP TABLE users;\nDELETE FROM t;"), True)
        with pytest.raises(SourceError) as unreadable:
            await sourceplan.scan(bytes_chunks(gzip.compress(b"CREATE TABLE t (a);" * 1000)[:-20]), True)
        return corrupt.value, sourceplan.source_refusals(script, None, None), unreadable.value

    corrupt, foreign, unreadable = asyncio.run(run())
    assert corrupt.code == "backup_corrupt"
    assert [r.code for r in foreign] == ["unsupported_statements"] and "DROP TABLE users" in foreign[0].message
    assert "truncated" in str(unreadable)


def test_a_verification_mismatch_is_a_failure(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        wrong = copy.deepcopy(manifest)
        next(t for t in wrong["tables"] if t["name"] == "kinds")["segments"][0]["sha256"] = "f" * 64
        await _replace_manifest(embedded_env, wrong)
        return await restore_job(target_env, manifest["id"])

    job = asyncio.run(run())["job"]
    assert job["status"] == "failed" and "does not match the backup: kinds" in job["last_error"]
    assert job["verification"]["mismatches"] == ["kinds"]


@pytest.mark.parametrize("fail_on", ["upload_part", "complete", "put_manifest", "put_data"])
def test_a_failure_during_upload_leaves_no_backup_and_earlier_ones_intact(embedded_env, fail_on) -> None:
    """Uses FaultInjectingR2, a fault-injection wrapper around the real embedded R2 binding."""

    async def run():
        db = Database(embedded_env.DB)
        await seed(db, embedded_env.DB)
        earlier = await run_backup(db, embedded_env.BACKUPS)
        before = await object_keys(embedded_env.BACKUPS)
        if fail_on in ("upload_part", "complete"):  # make the next backup large enough for multipart
            await db.run("CREATE TABLE noise (data BLOB)")
            for _ in range(6):
                await db.run("INSERT INTO noise VALUES (randomblob(1000000))")
        faulty = FaultInjectingR2(embedded_env.BACKUPS, fail_on)
        with pytest.raises(BackupFailed) as failed:
            await run_backup(db, faulty, options=BackupOptions(part_size=5 * 1024 * 1024))
        after = await object_keys(embedded_env.BACKUPS)
        listed = await catalog.list_backups(embedded_env.BACKUPS)
        aborted = [u.uploadId for u in faulty.uploads]
        states = [
            embedded_env.BACKUPS._db().execute("SELECT state FROM uploads WHERE upload_id = ?", (u,)).fetchone()[0]
            for u in aborted
        ]
        intact = await restore_job(embedded_env, earlier["id"], dry_run=True)
        return failed.value, before, after, listed, states, intact

    failed, before, after, listed, states, intact = asyncio.run(run())
    assert "injected failure" in failed.message
    assert after == before  # nothing of the failed backup remains: no manifest, no data object
    assert [b.id for b in listed] == [before[0].split("/")[1]] and listed[0].complete
    assert all(state == "aborted" for state in states)
    assert [r["code"] for r in intact["refusals"]] == ["target_not_empty"]  # readable, uncorrupted


def test_values_too_big_for_one_d1_literal_are_read_in_pieces(embedded_env, target_env) -> None:
    """The embedded D1 refuses strings over 2,000,000 bytes as D1 does: a 1.9 MB BLOB, a 1.2 MB TEXT full
    of quotes (2.4 MB quoted), a TEXT holding a NUL, six 300 KB values in one row (3.6 MB of literals
    together) and a WITHOUT ROWID table with a composite key all back up, restore and verify exactly."""

    async def run():
        db = Database(embedded_env.DB)
        await automigrate.ensure_migrated(embedded_env.DB)
        cols = ", ".join(f"b{i} BLOB" for i in range(6))
        await db.run(f"CREATE TABLE wide (id INTEGER PRIMARY KEY, t TEXT, {cols})")
        await db.run("INSERT INTO wide (t, b0) VALUES ('small', randomblob(1900000))")
        await db.run("INSERT INTO wide (t) VALUES (replace(printf('%.*c', 1200000, 'x'), 'x', ''''))")
        await db.run("INSERT INTO wide (t) VALUES ('a' || char(0) || printf('%.*c', 700000, 'z') || 'é')")
        blobs = ", ".join("randomblob(300000)" for _ in range(6))
        await db.run(f"INSERT INTO wide (t, {', '.join(f'b{i}' for i in range(6))}) VALUES ('six', {blobs})")
        await db.run("CREATE TABLE pairs (a TEXT, b INTEGER, v BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID")
        await db.run("INSERT INTO pairs VALUES ('k''1', 1, randomblob(1500000)), ('k''1', 2, x'00')")
        manifest = await run_backup(db, embedded_env.BACKUPS)
        target_env.BACKUPS = embedded_env.BACKUPS
        return manifest, await restore_job(target_env, manifest["id"])

    manifest, report = asyncio.run(run())
    assert {t["name"]: t["rows"] for t in manifest["tables"] if t["name"] in ("wide", "pairs")} == {
        "wide": 4,
        "pairs": 2,
    }
    assert report["job"]["verification"]["ok"]
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))
