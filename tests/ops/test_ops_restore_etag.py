"""A restore hashes each chunk once: the check phase's SHA-256, then reads conditional on the checked etag.

On the embedded runtime, whose R2 implements ``onlyIf`` as R2 does (contract ``r2_conditional_ranged_get``).
The job reports how many chunks it hashed again after the check (``progress.rehashed``), counted where the
data phase decides to hash. Jobs are stopped between phases the way a real one pauses: a long quiesce
ends the first step after the check; the test then moves ``quiesce_until`` into the past (as time would)
or edits the checkpoint the way an older version would have written it.
"""

import asyncio
from typing import Any

from ops_kit import data_of, restore_job, seed, snapshot

from edgenotify.clock import iso, utcnow
from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.migrations.automigrate import ensure_migrated
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.backup import BackupOptions, run_backup
from edgenotify.ops.jobs import store, usecases

HOUR = 3600.0


async def _backup(source, target) -> dict[str, Any]:
    """The seeded source (plus enough rows for several chunks) backed up into the bucket both share."""
    db = Database(source.DB)
    await seed(db, source.DB)
    insert = "INSERT INTO notification_logs (message_id, user_id, channel_type, status, content, created_at) "
    rows = [
        (f"etag{i}", f"u{i % 7}", "webhook", "success", "x" * (i % 300), "2026-01-01T00:00:00.000Z")
        for i in range(1500)
    ]
    await db.batch([Query.of(insert + "VALUES (?, ?, ?, ?, ?, ?)", *row) for row in rows])
    target.BACKUPS = source.BACKUPS
    options = BackupOptions(chunk_sql_bytes=50_000, page_rows=100)
    manifest = await run_backup(db, source.BACKUPS, trigger="test", database="edgenotify", options=options)
    assert len(manifest["object"]["chunks"]) >= 3 and manifest["object"]["parts"] == 0, manifest["object"]
    return manifest


async def _start_paused(target, backup_id: str, force: bool = False) -> tuple[Context, store.Job]:
    """A restore started with an hour's quiesce: its steps check every chunk and stop before the replace."""
    await ensure_migrated(target.DB)
    context = Context.create(target, None)
    started = await usecases.start_restore(
        context, backup_id, force=force, dry_run=False, quiesce_seconds=HOUR, trigger="test"
    )
    job = await store.get(context.db, started["job"]["id"])
    while job is not None and job.phase == "check" and job.running:  # a limited step checks some chunks
        job = await usecases.continue_job(Context.create(target, None), job.id)
    assert job is not None and job.phase == "quiesce", job
    return context, job


async def _edit(context: Context, job: store.Job, **state: Any) -> store.Job:
    """The checkpoint with ``state`` changed (None removes a key) and the quiesce over."""
    job = await store.get(context.db, job.id)
    for key, value in state.items():
        job.state.pop(key) if value is None else job.state.__setitem__(key, value)
    job.state["quiesce_until"] = iso(utcnow())
    await store.save(context.db, job)
    return job


async def _finish(context: Context, job: store.Job) -> store.Job:
    return await usecases.run_to_end(context, await store.get(context.db, job.id))


async def _object(env, manifest) -> Any:
    return await env.BACKUPS.head(mf.data_key(manifest["id"]))


def test_a_restore_verifies_with_the_data_phase_hashing_nothing_again(embedded_env, target_env) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        report = await restore_job(target_env, manifest["id"])
        job = await store.get(Database(target_env.DB), report["job"]["id"])
        return manifest, report, job, await _object(embedded_env, manifest)

    manifest, report, job, stored = asyncio.run(run())
    assert report["job"]["status"] == "complete" and report["job"]["verification"]["ok"], report["job"]
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))
    assert job.state["etag"] == stored.etag  # recorded by the check, from its reads
    assert job.state["progress"].get("rehashed", 0) == 0  # replace (chunk 0) and data read on it, no SHA-256
    assert report["job"]["progress"]["chunk"] == len(manifest["object"]["chunks"])


def test_an_object_replaced_after_the_check_fails_before_the_replace_and_the_database_keeps_its_data(
    embedded_env, target_env
) -> None:
    async def run():
        manifest = await _backup(embedded_env, target_env)
        await ensure_migrated(target_env.DB)
        await Database(target_env.DB).run("CREATE TABLE mine (v TEXT)")
        await Database(target_env.DB).run("INSERT INTO mine VALUES ('kept')")
        context, job = await _start_paused(target_env, manifest["id"], force=True)
        before = snapshot(target_env.DB.path)
        key = mf.data_key(manifest["id"])
        original = await (await embedded_env.BACKUPS.get(key)).bytes()
        await embedded_env.BACKUPS.put(key, original[:-1] + bytes([original[-1] ^ 1]))  # another object
        await _edit(context, job)
        return before, await _finish(context, job)

    before, job = asyncio.run(run())
    assert job.status == "failed" and job.phase == "quiesce", job
    assert "changed since it was checked" in job.last_error and "RestoreCorrupt" in job.last_error
    assert data_of(snapshot(target_env.DB.path)) == data_of(before)  # nothing dropped or replaced
    assert [row[-1] for row in before["mine"]] == [("str", "kept")]  # the target had data of its own


def test_an_object_replaced_during_the_data_phase_stops_it_until_the_checked_object_is_back(
    limited_envs,
) -> None:
    """Under LIMIT_D1_QUERIES=20 the data phase spans steps; between two of them the object is replaced by
    other bytes (the step fails, clearly, the job stays running as a replaced database must), then written
    again with the checked bytes (a single-part etag is the bytes' MD5 in R2: the same etag), and the job
    completes and verifies."""
    source, target = limited_envs

    async def run():
        manifest = await _backup(source, target)
        context, job = await _start_paused(target, manifest["id"])
        await _edit(context, job)
        key = mf.data_key(manifest["id"])
        original = await (await source.BACKUPS.get(key)).bytes()
        while job.phase != "data" or job.state["chunk"] < 2:
            job = await usecases.continue_job(Context.create(target, None), job.id)
            assert job.running and job.failures == 0, job.last_error
        await source.BACKUPS.put(key, original[:-1] + bytes([original[-1] ^ 1]))
        failed = await usecases.continue_job(Context.create(target, None), job.id)
        put_back = await source.BACKUPS.put(key, original)
        done = await _finish(Context.create(target, None), failed)
        return manifest, failed, put_back.etag, done

    manifest, failed, etag, done = asyncio.run(run())
    assert failed.running and failed.phase == "data" and failed.failures == 1
    assert "changed since it was checked" in failed.last_error and "put the checked object back" in failed.last_error
    assert etag == done.state["etag"]
    assert done.status == "complete" and done.state["verification"]["ok"], done.last_error
    assert done.state["progress"].get("rehashed", 0) == 0
    assert data_of(snapshot(target.DB.path)) == data_of(snapshot(source.DB.path))


def test_a_check_begun_by_an_older_version_records_no_etag_and_the_data_phase_hashes_again(
    embedded_env, target_env
) -> None:
    """An older version's checkpoint: check at chunk 1 and no etag. The check goes on unconditionally (its
    first chunk was read by a version that recorded no etag), so every later chunk is hashed again."""

    async def run():
        manifest = await _backup(embedded_env, target_env)
        context, job = await _start_paused(target_env, manifest["id"])
        job = await _edit(context, job, etag=None, check=1)
        job.phase = "check"
        await store.save(context.db, job)
        return manifest, await _finish(context, job)

    manifest, job = asyncio.run(run())
    assert job.status == "complete" and job.state["verification"]["ok"], job.last_error
    assert "etag" not in job.state
    assert job.state["progress"]["rehashed"] == len(manifest["object"]["chunks"])  # chunk 0 in replace, then data
    assert data_of(snapshot(target_env.DB.path)) == data_of(snapshot(embedded_env.DB.path))


def test_a_legacy_job_with_corrupt_data_is_still_caught_by_the_second_hash(embedded_env, target_env) -> None:
    """Without an etag nothing proves the data phase reads the checked bytes: the SHA-256 does, and refuses
    a replaced chunk 0 before anything is dropped."""

    async def run():
        manifest = await _backup(embedded_env, target_env)
        context, job = await _start_paused(target_env, manifest["id"])
        key = mf.data_key(manifest["id"])
        original = await (await embedded_env.BACKUPS.get(key)).bytes()
        await embedded_env.BACKUPS.put(key, bytes([original[0] ^ 1]) + original[1:])
        job = await _edit(context, job, etag=None)
        return await _finish(context, job)

    job = asyncio.run(run())
    assert job.status == "failed" and job.phase == "quiesce"
    assert "does not match the manifest's digest" in job.last_error


def test_an_object_replaced_between_check_reads_fails_the_check(embedded_env, target_env) -> None:
    """A check resumed in a later invocation reads on the first read's etag: another object fails it."""

    async def run():
        manifest = await _backup(embedded_env, target_env)
        context, job = await _start_paused(target_env, manifest["id"])
        key = mf.data_key(manifest["id"])
        original = await (await embedded_env.BACKUPS.get(key)).bytes()
        await embedded_env.BACKUPS.put(key, original + b"\x00")  # same chunks, another object
        job = await _edit(context, job, check=1)
        job.phase = "check"
        await store.save(context.db, job)
        return await _finish(context, job)

    job = asyncio.run(run())
    assert job.status == "failed" and job.phase == "check"
    assert "changed during the check" in job.last_error and "nothing was replaced" in job.last_error
