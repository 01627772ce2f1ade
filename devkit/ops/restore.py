"""``python -m devkit.ops.restore`` (``scripts/restore``): restore the local D1 database.

The source is a backup id in the local R2 bucket (``latest`` for the newest complete one), or
``--file`` (our backup file, gzip or not, or a ``wrangler d1 export`` file). A manifest next to
the file (FILE.manifest.json, or ``--manifest``) enables digest verification; without one the
restore is verified by row counts. Dry run by default: ``--apply`` restores, ``--force``
allows replacing a database that has rows. ``--list`` shows the backups in local R2.
Exit codes: 0 ok (dry run without refusals, or restored and verified), 1 refused or failed,
2 usage error.
"""

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from devkit.ops.local import ProgressBar, add_target_options, emit, human_size, local_env
from edgenotify.clock import utcnow
from edgenotify.db import Database
from edgenotify.ops import catalog
from edgenotify.ops import manifest as mf
from edgenotify.ops.restore import RestoreFailed, RestoreOptions, RestoreRefused, RestoreSource, restore
from edgenotify.ops.source import CHUNK_BYTES, r2_chunks


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


async def _source(args: argparse.Namespace, env: Any) -> RestoreSource:
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
        manifest_path = Path(args.manifest) if args.manifest else Path(f"{path}.manifest.json")
        manifest = None
        if manifest_path.is_file():
            manifest = mf.parse(manifest_path.read_bytes())
        elif args.manifest:
            raise UsageError(f"no such manifest: {manifest_path}")
        return RestoreSource(f"file {path}", file_chunks(path), manifest)
    backup_id = args.backup_id
    if backup_id == "latest":
        complete = [b for b in await catalog.list_backups(env.BACKUPS) if b.complete]
        if not complete:
            raise UsageError("no complete backup in local R2")
        backup_id = complete[0].id
    manifest = await catalog.load_manifest(env.BACKUPS, backup_id)
    if manifest is None:
        raise UsageError(f"no complete backup {backup_id} in local R2 (see --list)")
    return RestoreSource(f"backup {backup_id}", r2_chunks(env.BACKUPS, mf.data_key(backup_id)), manifest)


async def _list(env: Any) -> list[dict[str, Any]]:
    now = utcnow()
    return [b.as_dict(now) for b in await catalog.with_manifests(env.BACKUPS, await catalog.list_backups(env.BACKUPS))]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    env = local_env(args.state_dir, args.config)
    bar = ProgressBar(not args.quiet and args.apply)

    def progress(event: dict[str, Any]) -> None:
        bar.draw(event["statements"], None, f"statements  {event['phase']}")

    try:
        if args.list:
            return {"backups": await _list(env)}
        source = await _source(args, env)
        options = RestoreOptions(dry_run=not args.apply, force=args.force)
        return await restore(Database(env.DB), source, options, progress=progress)
    finally:
        bar.finish()
        env.close()


def _human(report: dict[str, Any]) -> str:
    if "backups" in report:
        lines = [
            f"{b['id']}  {'complete  ' if b['complete'] else 'INCOMPLETE'}  {human_size(b['size']):>9}  "
            f"{(b.get('totals') or {}).get('rows', '?')} rows  {b['age_hours']} h ago"
            for b in report["backups"]
        ]
        return "\n".join(lines) or "no backups in local R2"
    lines = [f"{'DRY RUN: ' if report['dry_run'] else ''}restore from {report['source']}"]
    would = report["would"]
    lines.append(f"  file: {report['file']['statements']:,} statements, {human_size(report['object']['size'])}")
    lines.append(f"  clear: {len(would['clear'])} statement(s); create: {len(would['create'])} table(s)")
    lines.append(f"  rows: {sum(would['insert_rows'].values()):,} in {len(would['insert_rows'])} table(s)")
    for refusal in report["refusals"]:
        lines.append(f"  REFUSED {refusal['code']}: {refusal['message']}")
    if "verification" in report:
        v = report["verification"]
        lines.append(f"  verification ({v['basis']}): {'ok' if v['ok'] else 'MISMATCH ' + ', '.join(v['mismatches'])}")
        lines.append(f"  migrations: head {report['migrations']['head']}, pending {report['migrations']['pending']}")
    elif report["dry_run"] and not report["refusals"]:
        lines.append("  ok: run again with --apply to restore")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.list and bool(args.file) == bool(args.backup_id):
        print("give exactly one source: a backup id (or 'latest') or --file", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run(args))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except mf.ManifestError as exc:
        emit({"error": {"code": "manifest_invalid", "message": str(exc)}}, args.json, f"invalid manifest: {exc}")
        return 1
    except RestoreRefused as exc:
        emit({"error": exc.as_dict()}, args.json, f"refused ({exc.code}): {exc.message}")
        return 1
    except RestoreFailed as exc:
        details = _human(exc.report) if "verification" in exc.report else ""
        human = f"{exc.message}\n{details}".rstrip()
        emit({"error": {"code": exc.code, "message": exc.message}, "report": exc.report}, args.json, human)
        return 1
    emit(report, args.json, _human(report))
    return 0 if report.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
