"""``python -m devkit.ops.backup`` (``scripts/backup``): back up the local D1 database to local R2.

Exactly the worker's backup (``edgenotify.ops.backup``) run on the embedded runtime's bindings:
the gzip SQL and its manifest land in the local ``BACKUPS`` bucket under ``backups/<id>/``.
``--output FILE`` also writes the SQL to a file (gzip when FILE ends in .gz) with the manifest
next to it (FILE.manifest.json); an uncompressed file is what ``wrangler d1 execute --file``
takes. Exit codes: 0 done, 1 the backup failed (nothing was kept), 2 usage error.
"""

import argparse
import asyncio
import gzip
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devkit.ops.local import ProgressBar, add_target_options, emit, human_size, local_env
from edgenotify.db import Database
from edgenotify.ops import manifest as mf
from edgenotify.ops.backup import BackupFailed, BackupOptions, run_backup


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/backup",
        description="Back up the local D1 database (embedded runtime state) into the local R2 bucket.",
        epilog="exit codes: 0 done, 1 backup failed (nothing kept), 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_options(p)
    p.add_argument("--output", help="also write the SQL here (.gz: compressed) and FILE.manifest.json")
    p.add_argument("--page-rows", type=int, default=2000, help="rows per keyset page (default 2000)")
    return p


async def _backup(args: argparse.Namespace) -> dict[str, Any]:
    env = local_env(args.state_dir, args.config)
    bar = ProgressBar(not args.quiet)

    def progress(event: dict[str, Any]) -> None:
        bar.draw(event["rows_done"], event["rows_total"], f"rows  {event['table']}")

    try:
        options = BackupOptions(count_rows=True, page_rows=args.page_rows)
        manifest = await run_backup(Database(env.DB), env.BACKUPS, trigger="cli", options=options, progress=progress)
        total = manifest["totals"]["rows"]
        bar.draw(total, total or None, "rows  done", force=True)
        if args.output:
            body = await env.BACKUPS.get(mf.data_key(manifest["id"]))
            data = await body.bytes()
            out = Path(args.output)
            out.write_bytes(data if out.name.endswith(".gz") else gzip.decompress(data))
            Path(f"{out}.manifest.json").write_bytes(mf.encode(manifest))
        return manifest
    finally:
        bar.finish()
        env.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.page_rows < 1:
        print("--page-rows must be at least 1", file=sys.stderr)
        return 2
    try:
        manifest = asyncio.run(_backup(args))
    except BackupFailed as exc:
        emit({"error": {"code": "backup_failed", "message": exc.message}}, args.json, f"backup failed: {exc.message}")
        return 1
    obj = manifest["object"]
    human = (
        f"backup {manifest['id']}: {manifest['totals']['rows']:,} rows in {manifest['totals']['tables']} tables, "
        f"{human_size(obj['size'])} gzip ({human_size(obj['sql_bytes'])} SQL), {manifest['duration_ms']} ms\n"
        f"  migration: {manifest['migration']['last_applied']}\n  object: {obj['key']}  sha256 {obj['sha256']}"
    )
    if manifest["warnings"]:
        human += "\n  warnings:\n    " + "\n    ".join(manifest["warnings"])
    if args.output:
        human += f"\n  written: {args.output} (+ .manifest.json)"
    emit(json.loads(mf.encode(manifest)), args.json, human)
    return 0


if __name__ == "__main__":
    sys.exit(main())
