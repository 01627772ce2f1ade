"""A backup and a restore of a large database as a chain of invocations under the paid limits.

Each step is one invocation of the embedded runtime (``Runtime.invoke``), which enforces the paid
plan's limits (1,000 D1 queries, 30 s CPU of CPython, 10,000 subrequests): the job's own use cases
(``start_backup`` / ``start_restore`` then ``continue_job``) exactly as the cron tick or the admin API
drive them. Recorded per direction: invocations, the most D1 queries / subrequests / CPU of any one
invocation, total time, peak memory (max RSS of this process), and the exact digests: the backup's
per-table SHA-256 and the restore's verification of every segment against it.

The extrapolation to 10 GB (≈ 11.7M log rows at 856 MB of D1 per million rows) is arithmetic on the
measured figures, stated as such; Pyodide CPU on the edge is not measured here (see the budget's
per-row figures in ``edgenotify.ops.jobs.budget``).
"""

import asyncio
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from bench import datagen, report
from bench.options import Options, say
from devkit.embedded.env import build_env
from devkit.embedded.runtime import Invocation, Runtime
from edgenotify.context import Context
from edgenotify.migrations import automigrate
from edgenotify.ops.jobs import store, usecases

TITLE = "Backup and restore as a chain of invocations (paid limits, enforced)"
DEFAULT_ROWS = [300_000]
SMOKE_ROWS = [3_000]
TEN_GB_ROWS = 11_700_000


def _env(state: Path) -> Any:
    return build_env(state, dev_vars_path=state / "no.dev.vars", overrides={"ENVIRONMENT": "production"})


async def _chain(env: Any, first: Any, label: str) -> dict[str, Any]:
    seen: list[Invocation] = []
    runtime = Runtime(env, report=seen.append)
    started = time.perf_counter()
    job_id = await runtime.invoke(f"{label} start", lambda ctx: first(Context.create(env, ctx)))
    while True:
        job = await store.get(Context.create(env, None).db, job_id)
        if job is None or not job.running:
            break
        await runtime.invoke(f"{label} step", lambda ctx: usecases.continue_job(Context.create(env, ctx), job_id))
    return {
        "job": job,
        "seconds": time.perf_counter() - started,
        "invocations": len(seen),
        "d1": max(i.usage.d1_queries for i in seen),
        "subrequests": max(i.usage.subrequests for i in seen),
        "cpu_ms": max(i.usage.cpu_ms for i in seen),
        "outcomes": sorted({i.outcome for i in seen}),
    }


async def _backup(env: Any) -> dict[str, Any]:
    async def start(context: Context) -> str:
        return (await usecases.start_backup(context, "bench")).id

    return await _chain(env, start, "backup")


async def _restore(env: Any, backup_id: str) -> dict[str, Any]:
    await automigrate.ensure_migrated(env.DB)

    async def start(context: Context) -> str:
        started = await usecases.start_restore(context, backup_id, dry_run=False, quiesce_seconds=0, trigger="bench")
        return started["job"]["id"]

    return await _chain(env, start, "restore")


def _one(opts: Options, rows: int) -> list[list[object]]:
    work = opts.work("jobs_chain") / str(rows)
    shutil.rmtree(work, ignore_errors=True)
    source_state, target_state = work / "source", work / "target"
    (source_state / "d1").mkdir(parents=True)
    shutil.copyfile(datagen.cached(rows, opts.out), source_state / "d1" / "DB.sqlite3")
    source, target = _env(source_state), _env(target_state)
    target.BACKUPS = source.BACKUPS
    try:
        say(f"jobs_chain: backup of {rows:,} rows")
        backup = asyncio.run(_backup(source))
        manifest = backup["job"].state["manifest"]
        logs = next(t for t in backup["job"].state["tables"] if t["name"] == "notification_logs")
        say(f"jobs_chain: restore of {rows:,} rows")
        restore = asyncio.run(_restore(target, backup["job"].id))
    finally:
        for env in (source, target):
            automigrate.forget(env.DB)
            env.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    verified = restore["job"].state["verification"]["ok"]
    tables = len(restore["job"].state["verify"]["checks"])
    stored = f"{manifest['size'] / 2**20:.1f} MiB gzip, {manifest['chunks']} chunks, {manifest['parts']} parts"
    out = []
    for name, run, extra in (
        ("backup", backup, stored),
        ("restore", restore, f"verification {'ok' if verified else 'FAILED'} ({tables} tables)"),
    ):
        per_rows = run["invocations"] / rows
        out.append(
            [
                f"{rows:,}",
                name,
                run["job"].status,
                run["invocations"],
                run["d1"],
                run["subrequests"],
                f"{run['cpu_ms'] / 1000:.2f} s",
                f"{run['seconds']:.1f} s",
                report.mib(peak),
                extra,
                f"≈ {per_rows * TEN_GB_ROWS:,.0f} invocations, "
                f"≈ {run['seconds'] / rows * TEN_GB_ROWS / 60:,.0f} min here",
            ]
        )
    out.append([f"{rows:,}", "digest", "notification_logs", logs["rows"], "", "", "", "", "", logs["sha256"], ""])
    return out


def run(opts: Options) -> str:
    rows_table: list[list[object]] = []
    for rows in opts.sizes(DEFAULT_ROWS, SMOKE_ROWS):
        rows_table += _one(opts, rows)
    headers = [
        "rows",
        "job",
        "status",
        "invocations",
        "most D1 queries in one",
        "most subrequests in one",
        "most CPU in one (CPython)",
        "total time",
        "peak RSS",
        "result",
        "extrapolated to 10 GB (11.7M rows)",
    ]
    notes = (
        "\n\nEach invocation stays within half of every limit by design (ops.jobs.budget: SHARE = 0.5; its row cap "
        "assumes Pyodide's CPU per row, ~3x CPython on a backup and ~6x on a restore, so a step sized here for "
        "≤ 15 s of edge CPU uses far less CPython CPU). The extrapolation scales this run's invocations and time "
        "linearly with rows; the edge's wall time also includes the 5-minute wait between cron ticks unless the "
        "job is continued by POST /admin/jobs/<id>/continue or the CLI."
    )
    return report.table(headers, rows_table) + notes
