"""``python -m devkit.ops.restore`` (``scripts/restore``): restore the local D1 database.

A backup id in the local R2 bucket (``latest`` for the newest complete one) is restored by the
worker's own restore job (``edgenotify.ops.jobs.usecases``): a dry run by default; ``--apply``
starts the job and continues it step after step until it has replaced, verified and unmarked the
database; ``--force`` replaces a database that has rows (or supersedes a stuck restore).
``--continue [JOB_ID]`` continues the newest (or the named) restore job, e.g. after the CLI was
killed, or reports how it ended. ``--file`` restores a file instead (our backup, gzip or not, or a
``wrangler d1 export`` file): the dry run reads it once and reports; ``--apply`` copies it into
local R2 and runs an import job (``edgenotify.ops.jobs.imports``: the file becomes a format-3
backup, the database untouched; here in one pass that checkpoints as it goes, as no Worker limit
applies) that hands over to the same restore job, which runs step by step within the limits. A manifest next to the
file (FILE.manifest.json, or ``--manifest``) gives the digests to verify, otherwise row counts are
checked. ``--continue`` also continues an interrupted import. ``--list`` shows the backups in local R2.
Exit codes: 0 ok (dry run without refusals, or restored and verified), 1 refused or failed,
2 usage error.
"""

import argparse
import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from devkit.ops.local import add_target_options, emit, human_size, local_context, local_env
from devkit.ops.progress import Progress
from edgenotify.clock import utcnow
from edgenotify.migrations import automigrate
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.source import CHUNK_BYTES, ReadStats, SourceError
from edgenotify.ops.bucket import MIN_PART_SIZE, Bucket
from edgenotify.ops.jobs import imports, sourceplan, store, usecases
from edgenotify.ops.jobs.upload import ResumableUpload, new_state
from edgenotify.ops.jobs.usecases import INVALID, JobError


class UsageError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/restore",
        description="Restore the local D1 database from a backup in local R2 or a file (dry run by default).",
        epilog="exit codes: 0 ok, 1 refused or failed, 2 usage error",
    )
    p.add_argument("backup_id", nargs="?", help="backup id in local R2, or 'latest'")
    p.add_argument("--file", help="a backup file (.sql or .sql.gz) or a `wrangler d1 export` file")
    p.add_argument("--manifest", help="manifest of --file (default: FILE.manifest.json when present)")
    p.add_argument("--apply", action="store_true", help="restore for real (default: dry run)")
    p.add_argument("--force", action="store_true", help="replace a database that has rows")
    p.add_argument("--continue", dest="resume", nargs="?", const="", metavar="JOB_ID", help="continue a restore job")
    p.add_argument("--list", action="store_true", help="list the backups in local R2 and exit")
    add_target_options(p)
    return p


def file_chunks(path: Path):
    def chunks() -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk

        return gen()

    return chunks


def _file_source(args: argparse.Namespace) -> tuple[Path, dict[str, Any] | None]:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    manifest_path = Path(args.manifest) if args.manifest else Path(f"{path}.manifest.json")
    manifest = None
    if manifest_path.is_file():
        manifest = mf.parse(manifest_path.read_bytes())
    elif args.manifest:
        raise UsageError(f"no such manifest: {manifest_path}")
    return path, manifest


async def copy_to_r2(binding: Any, path: Path, key: str) -> str:
    """The file into local R2 (parts of 5 MiB: memory stays flat); returns the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    upload = ResumableUpload(Bucket(binding), key, new_state(), MIN_PART_SIZE, content_type="application/octet-stream")
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            await upload.write(chunk)
    await upload.complete()
    return digest.hexdigest()


async def _file(args: argparse.Namespace, env: Any, progress: Progress) -> dict[str, Any]:
    """Dry run: the file read once, the report. ``--apply``: the same checks, then the import job
    and the restore job it hands over to, run to the end."""
    path, manifest = _file_source(args)
    if args.apply:
        await _jobs_table(env)
    stats = ReadStats()
    try:
        plan = await sourceplan.scan(file_chunks(path), count_rows=manifest is None, stats=stats)
    except SourceError as exc:
        raise JobError(INVALID, "backup_unreadable", str(exc)) from exc
    label = f"file {path}"
    report, refusals = await sourceplan.report(local_context(env).db, label, plan, stats, manifest, args.force)
    report["dry_run"] = not args.apply
    if not args.apply:
        return report
    if refusals:
        raise usecases.refused(refusals[0])
    key = imports.source_key(mf.new_backup_id(utcnow()))
    if await copy_to_r2(env.BACKUPS, path, key) != stats.sha256:
        await Bucket(env.BACKUPS).delete([key])
        raise UsageError(f"{path} changed while it was read; try again")
    source = {"key": key, "label": label, "manifest": manifest, "owned": True}
    job = await usecases.start_import(
        local_context(env), source, plan=plan, force=args.force, quiesce_seconds=0, trigger="cli"
    )
    done = await usecases.run_to_end(local_context(env), job, _drawer(progress), unbounded_import=True)
    return {**report, "job": usecases.describe(done)}


def _drawer(progress: Progress):
    def draw(event: dict[str, Any]) -> None:
        if event["phase"] == "import":
            progress.draw(event["statements"], None, "statements imported")
        else:
            progress.draw(event["chunk"] - 1, event["chunks"] - 1, "chunks")

    return draw


async def _latest(db: Any, job_id: str) -> store.Job | None:
    """The job named, or the newest restore or import job (an interrupted ``--file`` restore)."""
    if job_id:
        return await store.get(db, job_id)
    jobs = [j for kind in (store.RESTORE, store.IMPORT) for j in await store.recent(db, kind, 1)]
    return max(jobs, key=lambda j: (j.created_at, j.id), default=None)


async def _backup_id(args: argparse.Namespace, env: Any) -> str:
    if args.backup_id != "latest":
        if not mf.is_backup_id(args.backup_id) or await catalog.load_manifest(env.BACKUPS, args.backup_id) is None:
            raise UsageError(f"no complete backup {args.backup_id} in local R2 (see --list)")
        return args.backup_id
    complete = [b for b in await catalog.list_backups(env.BACKUPS) if b.complete]
    if not complete:
        raise UsageError("no complete backup in local R2")
    return complete[0].id


async def _jobs_table(env: Any) -> None:
    """A brand-new local database gets the migrations first (as the dev server would): the restore
    job keeps its checkpoint in ``ops_jobs``. A database with tables is never changed here."""
    db = local_context(env).db
    if not await db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        await automigrate.ensure_migrated(env.DB)


async def _job(args: argparse.Namespace, env: Any, progress: Progress) -> dict[str, Any]:
    report = _drawer(progress)
    if args.resume is not None:
        job = await _latest(local_context(env).db, args.resume)
        if job is None:
            raise UsageError(f"no restore job {args.resume}".strip())
        done = await usecases.run_to_end(local_context(env), job, report, unbounded_import=True)
        return {"job": usecases.describe(done)}
    backup_id = await _backup_id(args, env)
    await _jobs_table(env)
    started = await usecases.start_restore(
        local_context(env), backup_id, force=args.force, dry_run=not args.apply, quiesce_seconds=0, trigger="cli"
    )
    if "job" not in started:
        return started
    job = await store.get(local_context(env).db, started["job"]["id"])
    assert job is not None
    return {**started, "job": usecases.describe(await usecases.run_to_end(local_context(env), job, report))}


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    env = local_env(args.state_dir, args.config)
    progress = Progress("chunks", args.quiet)
    try:
        if args.list:
            now = utcnow()
            return {"backups": [b.as_dict(now) for b in await catalog.list_backups(env.BACKUPS)]}
        if args.file:
            return await _file(args, env, progress)
        return await _job(args, env, progress)
    finally:
        progress.finish()
        env.close()


def _human_list(backups: list[dict[str, Any]]) -> str:
    lines = [
        f"{b['id']}  {'complete  ' if b['complete'] else 'INCOMPLETE'}  {human_size(b['size']):>9}  "
        f"{(b.get('totals') or {}).get('rows', '?')} rows  {b['age_hours']} h ago"
        for b in backups
    ]
    return "\n".join(lines) or "no backups in local R2"


def _human_job(report: dict[str, Any]) -> str:
    job = report["job"]
    what = f"import job {job['id']} of {job['source']}" if job["kind"] == store.IMPORT else f"restore job {job['id']}"
    lines = [f"{what} of backup {job['subject']}: {job['status']} (phase {job['phase']})"]
    lines.append(f"  steps: {job['steps']}, failures: {job['failures']}")
    if job.get("verification"):
        v = job["verification"]
        lines.append(f"  verification: {'ok' if v['ok'] else 'MISMATCH ' + ', '.join(v['mismatches'])}")
    if job.get("kept_tables"):
        lines.append(f"  kept (not in the backup): {', '.join(job['kept_tables'])}")
    if job["last_error"]:
        lines.append(f"  last error: {job['last_error']}")
    if job["status"] == "running":
        lines.append("  continue it: scripts/restore --continue " + job["id"])
    return "\n".join(lines)


def _human_plan(report: dict[str, Any]) -> str:
    lines = [f"{'DRY RUN: ' if report['dry_run'] else ''}restore of backup {report['backup']}"]
    would = report["would"]
    lines.append(f"  clear: {len(would['clear'])} statement(s); create: {len(would['create'])} table(s)")
    lines.append(f"  rows: {sum(would['insert_rows'].values()):,} in {len(would['insert_rows'])} table(s)")
    for refusal in report["refusals"]:
        lines.append(f"  REFUSED {refusal['code']}: {refusal['message']}")
    if report["dry_run"] and not report["refusals"]:
        lines.append("  ok: run again with --apply to restore")
    return "\n".join(lines)


def _human_file(report: dict[str, Any]) -> str:
    lines = [f"{'DRY RUN: ' if report['dry_run'] else ''}restore from {report['source']}"]
    would = report["would"]
    lines.append(f"  file: {report['file']['statements']:,} statements, {human_size(report['object']['size'])}")
    lines.append(f"  clear: {len(would['clear'])} statement(s); create: {len(would['create'])} table(s)")
    lines.append(f"  rows: {sum(would['insert_rows'].values()):,} in {len(would['insert_rows'])} table(s)")
    for refusal in report["refusals"]:
        lines.append(f"  REFUSED {refusal['code']}: {refusal['message']}")
    lines.append(f"  verify: {would['verify']}")
    if report["dry_run"] and not report["refusals"]:
        lines.append("  ok: run again with --apply to restore")
    return "\n".join(lines)


def _human(report: dict[str, Any]) -> str:
    if "backups" in report:
        return _human_list(report["backups"])
    if "job" in report:
        prefix = _human_file(report) + "\n" if "source" in report else ""
        return prefix + _human_job(report)
    return _human_plan(report) if "backup" in report else _human_file(report)


def _ok(report: dict[str, Any]) -> bool:
    if "job" in report:
        return report["job"]["status"] == store.COMPLETE
    return bool(report.get("ok", True))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    sources = [bool(args.file), bool(args.backup_id), args.resume is not None]
    if not args.list and sum(sources) != 1:
        print("give exactly one source: a backup id (or 'latest'), --file, or --continue", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run(args))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except mf.ManifestError as exc:
        emit({"error": {"code": "manifest_invalid", "message": str(exc)}}, args.json, f"invalid manifest: {exc}")
        return 1
    except JobError as exc:
        emit({"error": exc.as_dict()}, args.json, f"refused ({exc.code}): {exc.message}")
        return 1
    emit(report, args.json, _human(report))
    return 0 if _ok(report) else 1


if __name__ == "__main__":
    sys.exit(main())
