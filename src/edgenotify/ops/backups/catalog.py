"""The backups in R2: listing, one backup's manifest, and the status report of seed 002.

A backup is complete exactly when its manifest exists AND its data object exists with the size
(and, format 3, the etag) the manifest records: a manifest alone, or a data object that was
replaced or truncated, is not a backup. Its time comes from its id, so incomplete backups (no
manifest to read) are still dated. A listing costs one R2 list call per 1000 objects plus one
read per manifest.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgenotify.clock import iso
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.bucket import Bucket


@dataclass
class BackupInfo:
    id: str
    created_at: datetime
    complete: bool = False
    size: int | None = None  # bytes of the data object, when it exists
    keys: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    etag: str | None = None  # of the data object
    has_manifest: bool = False
    problem: str | None = None  # why a backup with a manifest is not complete

    def age_hours(self, now: datetime) -> float:
        return (now - self.created_at).total_seconds() / 3600

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created_at": iso(self.created_at),
            "complete": self.complete,
            "size": self.size,
            "keys": self.keys,
        }
        if self.problem:
            out["problem"] = self.problem
        if now is not None:
            out["age_hours"] = round(self.age_hours(now), 2)
        if self.manifest is not None:
            m = self.manifest
            out.update(
                {
                    "duration_ms": m.get("duration_ms"),
                    "trigger": m.get("trigger"),
                    "migration": (m.get("migration") or {}).get("last_applied"),
                    "totals": m.get("totals"),
                    "etag": (m.get("object") or {}).get("etag"),
                    "steps": m.get("steps"),
                    "warnings": m.get("warnings"),
                }
            )
        return out


async def list_backups(r2: Any) -> list[BackupInfo]:
    """Every backup under ``backups/``, newest first, completeness checked against each manifest."""
    backups = await list_unchecked(r2)
    for info in backups:
        if info.has_manifest:
            await check_complete(r2, info)
    return backups


async def list_unchecked(r2: Any) -> list[BackupInfo]:
    """Every backup under ``backups/``, newest first, from the listing alone (one R2 call per 1,000
    objects): which objects exist, not yet whether a manifest matches its data (``check_complete``)."""
    found: dict[str, BackupInfo] = {}
    for obj in await Bucket(r2).list_objects(mf.PREFIX):
        parts = mf.split_key(obj.key)
        if parts is None:
            continue
        backup_id, name = parts
        info = found.setdefault(backup_id, BackupInfo(backup_id, mf.id_time(backup_id)))
        info.keys.append(obj.key)
        if name == mf.MANIFEST_NAME:
            info.has_manifest = True
        elif name == mf.DATA_NAME:
            info.size, info.etag = obj.size, obj.etag
    return sorted(found.values(), key=lambda b: b.id, reverse=True)


async def check_complete(r2: Any, info: BackupInfo) -> None:
    """Read the manifest (one R2 call) and set ``complete`` or ``problem``."""
    try:
        info.manifest = await load_manifest(r2, info.id)
    except (mf.ManifestError, json.JSONDecodeError) as exc:
        info.problem = f"manifest unreadable: {exc}"
        return
    expected = (info.manifest or {}).get("object") or {}
    if info.size is None:
        info.problem = "the manifest exists but the data object does not"
    elif int(expected.get("size", -1)) != info.size:
        info.problem = f"the data object is {info.size} bytes, the manifest says {expected.get('size')}"
    elif expected.get("etag") and expected["etag"] != info.etag:
        info.problem = "the data object's etag differs from the manifest: it was replaced"
    else:
        info.complete = True


async def load_manifest(r2: Any, backup_id: str) -> dict[str, Any] | None:
    """The parsed manifest, or None when there is none. Raises ManifestError when it is bad."""
    if not mf.is_backup_id(backup_id):
        return None
    body = await Bucket(r2).read(mf.manifest_key(backup_id))
    return None if body is None else mf.parse(body)


async def find(r2: Any, backup_id: str) -> BackupInfo | None:
    if not mf.is_backup_id(backup_id):
        return None
    for info in await list_backups(r2):
        if info.id == backup_id:
            return info
    return None


def backup_status(backups: list[BackupInfo], now: datetime, max_age_hours: int = 24) -> dict[str, Any]:
    """``healthy`` when a complete backup is younger than ``max_age_hours``, else ``warning`` + reasons."""
    complete = [b for b in backups if b.complete]
    incomplete = [b for b in backups if not b.complete]
    latest = complete[0] if complete else None
    recent = latest is not None and latest.age_hours(now) < max_age_hours
    reasons: list[str] = []
    if latest is None:
        reasons.append("no complete backup exists")
    elif not recent:
        reasons.append(f"the newest complete backup is {latest.age_hours(now):.1f} h old (limit {max_age_hours} h)")
    notes = []
    if incomplete:
        notes.append(f"{len(incomplete)} incomplete backup(s): failed, or still running")
    return {
        "status": "healthy" if recent else "warning",
        "reasons": reasons,
        "notes": notes,
        "checks": {
            "has_backups": bool(complete),
            "recent_backup": recent,
            "backup_count": len(complete),
            "incomplete_count": len(incomplete),
            "max_age_hours": max_age_hours,
        },
        "latest": latest.as_dict(now) if latest else None,
    }
