"""``python -m devkit.ops.backup`` (``scripts/backup``): back up the local D1 database to local R2.

The worker's own use cases (``edgenotify.ops.jobs.usecases``) on the embedded runtime's bindings:
``start_backup`` then ``continue_job`` until the job ends, each call one "invocation" with the
budget the limits give it (``LIMIT_*`` in the environment lower them), exactly as the cron and the
admin API drive a backup. ``--continue [ID]`` continues a running backup job (the newest one when no
id is given) or reports it when it has ended; ``--output FILE`` also writes the SQL to a file (gzip
when FILE ends in .gz) with the manifest next to it (FILE.manifest.json); an uncompressed file is
what ``wrangler d1 execute --file`` takes.
Exit codes: 0 done, 1 the backup failed or was refused, 2 usage error.
"""

import argparse
import asyncio
import gzip
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devkit.ops.local import add_target_options, emit, find_job, human_size, local_context, local_env
from devkit.ops.progress import Progress
from edgenotify.db import D1Error, Query
from edgenotify.ops.backups import catalog
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.schema import inspect, quote_ident
from edgenotify.ops.jobs import store, usecases
from edgenotify.ops.jobs.usecases import JobError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/backup",
        description="Back up the local D1 database (embedded runtime state) into the local R2 bucket, as a job.",
        epilog="exit codes: 0 done, 1 backup failed or refused, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_options(p)
    p.add_argument("--continue", dest="resume", nargs="?", const="", metavar="JOB_ID", help="continue a backup job")
    p.add_argument("--output", help="also write the SQL here (.gz: compressed) and FILE.manifest.json")
    return p


async def _total_rows(env: Any) -> int | None:
    """Rows to back up, for the progress bar only (one count per table: cheap on a local file, which is
    why the job itself never counts: on D1 a count reads every row again)."""
    db = local_context(env).db
    schema = await inspect(db)
    tables = [t for t in schema.tables if t.dumps_rows]
    if not tables:
        return None
    results = await db.batch([Query(f"SELECT count(*) AS n FROM {quote_ident(t.name)}") for t in tables])
    return sum(int(r.rows[0]["n"]) for r in results)


async def _job(args: argparse.Namespace, env: Any, progress: Progress) -> store.Job:
    total = await _total_rows(env) if progress.enabled else None

    def report(event: dict[str, Any]) -> None:
        progress.draw(event["rows_done"], total, event["table"])

    if args.resume is None:
        job = await usecases.start_backup(local_context(env), "cli", report)
    else:
        found = await find_job(local_context(env).db, store.BACKUP, args.resume)
        if found is None:
            raise JobError(usecases.NOT_FOUND, "job_not_found", f"no backup job {args.resume}".strip())
        job = found
    return await usecases.run_to_end(local_context(env), job, report)


async def _backup(args: argparse.Namespace) -> dict[str, Any]:
    env = local_env(args.state_dir, args.config)
    progress = Progress("rows", args.quiet)
    try:
        job = await _job(args, env, progress)
        if job.status != store.COMPLETE:
            return {"job": usecases.describe(job)}
        manifest = await catalog.load_manifest(env.BACKUPS, job.id)
        if args.output:
            body = await env.BACKUPS.get(mf.data_key(job.id))
            data = await body.bytes()
            out = Path(args.output)
            out.write_bytes(data if out.name.endswith(".gz") else gzip.decompress(data))
            Path(f"{out}.manifest.json").write_bytes(mf.encode(manifest or {}))
        return {"manifest": manifest}
    finally:
        progress.finish()
        env.close()


def _human(manifest: dict[str, Any], output: str | None) -> str:
    obj = manifest["object"]
    human = (
        f"backup {manifest['id']}: {manifest['totals']['rows']:,} rows in {manifest['totals']['tables']} tables, "
        f"{human_size(obj['size'])} gzip ({human_size(obj['sql_bytes'])} SQL) in {len(obj['chunks'])} chunks, "
        f"{manifest['steps']} step(s), {manifest['duration_ms']} ms\n"
        f"  migration: {manifest['migration']['last_applied']}\n  object: {obj['key']}  etag {obj['etag']}"
    )
    if manifest["warnings"]:
        human += "\n  warnings:\n    " + "\n    ".join(manifest["warnings"])
    if output:
        human += f"\n  written: {output} (+ .manifest.json)"
    return human


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = asyncio.run(_backup(args))
    except JobError as exc:
        emit({"error": exc.as_dict()}, args.json, f"backup refused ({exc.code}): {exc.message}")
        return 1
    except D1Error as exc:
        hint = "; migrate it first: scripts/migrate apply" if "ops_jobs" in exc.message else ""
        emit({"error": {"code": "d1_error", "message": exc.message}}, args.json, f"backup failed: {exc.message}{hint}")
        return 1
    if "manifest" not in result:
        job = result["job"]
        message = f"backup job {job['id']} {job['status']} at phase {job['phase']}: {job['last_error']}"
        emit({"error": {"code": "backup_failed", "message": message}, "job": job}, args.json, message)
        return 1
    manifest = result["manifest"]
    emit(json.loads(mf.encode(manifest)), args.json, _human(manifest, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
