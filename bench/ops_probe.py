"""Child process of the backup benchmark: our backup / restore on the embedded bindings.

Used when the operators' CLIs (``scripts/backup``/``scripts/restore``) are not available, and
always for ``extract`` (write a stored backup out as plain SQL for ``wrangler d1 execute``).
Running in its own process lets ``/usr/bin/time -v`` measure its peak memory alone.

    python bench/ops_probe.py backup  <state_dir> <wrangler.toml> [embedded|disk]
    python bench/ops_probe.py restore <source_state_dir> <backup_id> <target_state_dir> <wrangler.toml> [embedded|disk]
    python bench/ops_probe.py extract <state_dir> <backup_id> <out.sql> <wrangler.toml>

``disk`` swaps the embedded R2 for ``bench.disk_r2.DiskR2`` (bodies streamed to files under
``<state_dir>/r2-disk``), to measure our code's memory without the local R2 emulation's.

Prints one JSON line (manifest summary or restore report summary).
"""

import asyncio
import json
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT / "src"), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)


def _env(state: str, config: str, r2: str = "embedded"):
    from devkit.embedded.env import build_env

    env = build_env(state, config, dev_vars_path=Path(config).parent / ".dev.vars")
    if r2 == "disk":
        from bench.disk_r2 import DiskR2

        env.BACKUPS = DiskR2(Path(state) / "r2-disk")
    return env


async def backup(state: str, config: str, r2: str = "embedded") -> dict:
    from edgenotify.db import Database
    from edgenotify.ops.backups.backup import run_backup

    env = _env(state, config, r2)
    try:
        manifest = await run_backup(Database(env.DB), env.BACKUPS, trigger="bench")
    finally:
        env.close()
    return {"id": manifest["id"], "object": manifest["object"], "totals": manifest["totals"]}


async def restore(source_state: str, backup_id: str, target_state: str, config: str, r2: str = "embedded") -> dict:
    """The restore job (as ``scripts/restore --apply`` runs it) into the target, reading the source's bucket."""
    from edgenotify.context import Context
    from edgenotify.migrations import automigrate
    from edgenotify.ops.jobs import store, usecases

    source_env, target_env = _env(source_state, config, r2), _env(target_state, config)
    try:
        target_env.BACKUPS = source_env.BACKUPS
        await automigrate.ensure_migrated(target_env.DB)  # the job's checkpoint table; empty tables need no force
        context = Context.create(target_env, None)
        started = await usecases.start_restore(context, backup_id, dry_run=False, quiesce_seconds=0, trigger="bench")
        job = await usecases.run_to_end(context, await store.get(context.db, started["job"]["id"]))
    finally:
        source_env.close()
        target_env.close()
    verification = job.state.get("verification") or {}
    return {"ok": verification.get("ok", False), "status": job.status, "verification": verification.get("ok")}


async def extract(state: str, backup_id: str, out: str, config: str) -> dict:
    """Gunzip the stored object to a plain SQL file (streamed, range by range)."""
    from edgenotify.ops.backups import manifest as mf
    from edgenotify.ops.backups.source import r2_chunks

    env = _env(state, config)
    inflater = zlib.decompressobj(wbits=31)
    size = 0
    try:
        with open(out, "wb") as fh:
            async for chunk in r2_chunks(env.BACKUPS, mf.data_key(backup_id))():
                data = inflater.decompress(chunk)
                size += len(data)
                fh.write(data)
            tail = inflater.flush()
            fh.write(tail)
            size += len(tail)
    finally:
        env.close()
    return {"sql_bytes": size}


def main() -> None:
    command, *args = sys.argv[1:]
    work = {"backup": backup, "restore": restore, "extract": extract}[command]
    print(json.dumps(asyncio.run(work(*args))))


if __name__ == "__main__":
    main()
