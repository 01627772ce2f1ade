"""Backup naming in R2 and the manifest, whose presence marks a backup complete.

Layout (one "directory" per backup)::

    backups/<id>/data.sql.gz      gzip SQL (one gzip member per chunk), restorable by ``wrangler d1
                                  execute --file`` once gunzipped
    backups/<id>/manifest.json    written LAST; absent = incomplete (failed or still running)
    backups/<id>/carry-<n>.bin    while the job runs: bytes waiting for the next multipart part

A backup is complete when its manifest exists and its data object has the manifest's size and etag
(``catalog``). The manifest lists the chunks (offset, size, SHA-256 of the stored bytes, SQL bytes)
and, per table, the segments (key range, rows, SHA-256 of the rows), so a restore verifies the object
chunk by chunk and the data segment by segment. A backup imported from a file or a format-2 backup
(``ops.jobs.imports``) says so in ``imported_from``; where its source had no digests, each table
carries its row count only, with ``"verify": "rows"``.

``<id>`` is ``YYYYMMDDTHHMMSSmmmZ-<6 hex>``: it sorts by creation time and carries it, so
listing and retention need no per-object metadata.
"""

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = "edgenotify-d1-backup"
FORMAT_VERSION = 3  # 3: gzip member per chunk, per-segment digests (2: one digest per table; 1: JSON arrays)
VERIFIABLE_VERSIONS = (2, 3)
PREFIX = "backups/"
DATA_NAME = "data.sql.gz"
MANIFEST_NAME = "manifest.json"
DIGEST_RULE = (
    "segment sha256 over its rows (key range after < key <= until) in key order; row = its tuple of exact "
    "SQL literals '(lit,lit,...)' (UTF-8, no spaces), REALs as Python's shortest repr, + '\\n'; table sha256 "
    "over its segments' sha256 hex digests, one per line"
)

_ID = re.compile(r"^(\d{8}T\d{6})(\d{3})Z-[0-9a-f]{6}$")


class ManifestError(ValueError):
    """A manifest that is missing, unreadable or of a format this code does not know."""


def new_backup_id(now: datetime) -> str:
    now = now.astimezone(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def id_time(backup_id: str) -> datetime:
    m = _ID.match(backup_id)
    if not m:
        raise ValueError(f"not a backup id: {backup_id!r}")
    base = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return base.replace(microsecond=int(m.group(2)) * 1000)


def data_key(backup_id: str) -> str:
    return f"{PREFIX}{backup_id}/{DATA_NAME}"


def manifest_key(backup_id: str) -> str:
    return f"{PREFIX}{backup_id}/{MANIFEST_NAME}"


def split_key(key: str) -> tuple[str, str] | None:
    """(backup id, file name) of a key under ``backups/``, or None for anything else."""
    if not key.startswith(PREFIX):
        return None
    rest = key[len(PREFIX) :]
    backup_id, sep, name = rest.partition("/")
    return (backup_id, name) if sep and is_backup_id(backup_id) else None


ROWS_ONLY = "rows"  # a table entry's "verify": the source gave no digest, only its row count is checked


def verified(entry: dict[str, Any]) -> bool:
    """Whether a restore checks this table: by its digest, or (an imported file) by its row count."""
    return entry.get("sha256") is not None or entry.get("verify") == ROWS_ONLY


@dataclass
class TableEntry:
    name: str
    kind: str
    rows: int
    sha256: str | None  # None when the table's rows are not dumped (e.g. contentless FTS5)
    segments: list[dict[str, Any]] | None = None  # [{after, until, rows, sha256}], key ranges in order

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "kind": self.kind, "rows": self.rows, "sha256": self.sha256}
        if self.segments is not None:
            out["segments"] = self.segments
        return out


def build(
    *,
    backup_id: str,
    created_at: str,
    completed_at: str,
    duration_ms: int,
    database: str,
    trigger: str,
    migrations: list[str],
    tables: list[TableEntry],
    sequences: dict[str, str],
    object_info: dict[str, Any],
    warnings: list[str],
    bookmark: str | None = None,
    steps: int = 1,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "id": backup_id,
        "created_at": created_at,
        "completed_at": completed_at,
        "duration_ms": duration_ms,
        "database": database,
        "trigger": trigger,
        "migration": {"last_applied": migrations[-1] if migrations else None, "applied": migrations},
        "tables": [t.as_dict() for t in tables],
        "sequences": sequences,
        "totals": {"tables": len(tables), "rows": sum(t.rows for t in tables)},
        "digest": DIGEST_RULE,
        "object": object_info,
        "warnings": warnings,
        "bookmark": bookmark,  # D1 Time Travel bookmark at the start (null where the binding has no sessions)
        "steps": steps,  # invocations the backup took
    }


def encode(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")


def parse(data: bytes | str) -> dict[str, Any]:
    """Decode and check a manifest; raises ManifestError with a reason an operator can act on."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError("not an edgenotify backup manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ManifestError(f"backup format version {version!r} is newer than this code supports ({FORMAT_VERSION})")
    for name in ("id", "created_at", "tables", "object", "migration"):
        if name not in manifest:
            raise ManifestError(f"manifest lacks {name!r}")
    return manifest
