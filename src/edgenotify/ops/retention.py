"""Which backups to keep: complete ones for N days, the newest K regardless, incomplete ones a day.

``decide`` is a pure function of the listing, the time and the policy, so every rule is unit
tested without R2. Rules, in order:

* an incomplete backup (no manifest) younger than the grace period may still be running: keep;
  older: delete (it failed; its partial objects are garbage);
* the newest ``keep_last`` complete backups are kept whatever their age, so a stopped cron
  never ends with zero backups;
* other complete backups are kept while younger than ``keep_days`` and deleted after.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgenotify.clock import utcnow
from edgenotify.context import Context
from edgenotify.ops import records
from edgenotify.ops.catalog import BackupInfo, list_backups
from edgenotify.ops.config import load

MAX_DELETE_KEYS = 1000


@dataclass(frozen=True)
class RetentionPolicy:
    keep_days: int = 30
    keep_last: int = 7
    incomplete_grace_hours: int = 24

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise ValueError("keep_last must be at least 1: the newest complete backup is never deleted")


@dataclass
class Decision:
    keep: list[tuple[str, str]] = field(default_factory=list)  # (backup id, reason)
    delete: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep": [{"id": i, "reason": r} for i, r in self.keep],
            "delete": [{"id": i, "reason": r} for i, r in self.delete],
        }


def decide(backups: list[BackupInfo], now: datetime, policy: RetentionPolicy) -> Decision:
    decision = Decision()
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.created_at, reverse=True)
    for b in backups:
        if b.complete:
            continue
        age = b.age_hours(now)
        if age > policy.incomplete_grace_hours:
            decision.delete.append((b.id, f"incomplete for {age:.1f} h (> {policy.incomplete_grace_hours} h)"))
        else:
            decision.keep.append((b.id, "incomplete, may still be running"))
    for rank, b in enumerate(complete):
        age_days = b.age_hours(now) / 24
        if rank < policy.keep_last:
            decision.keep.append((b.id, f"among the newest {policy.keep_last} complete backups"))
        elif age_days <= policy.keep_days:
            decision.keep.append((b.id, f"younger than {policy.keep_days} days"))
        else:
            decision.delete.append((b.id, f"{age_days:.1f} days old (> {policy.keep_days}) and not among the newest"))
    return decision


async def enforce(r2: Any, policy: RetentionPolicy, now: datetime | None = None, dry_run: bool = False) -> dict:
    """Apply the policy to the bucket; returns the decision and the keys deleted."""
    backups = await list_backups(r2)
    decision = decide(backups, now or utcnow(), policy)
    doomed = {i for i, _ in decision.delete}
    keys = [k for b in backups if b.id in doomed for k in b.keys]
    if not dry_run:
        for start in range(0, len(keys), MAX_DELETE_KEYS):
            await r2.delete(keys[start : start + MAX_DELETE_KEYS])
    return {**decision.as_dict(), "deleted_keys": 0 if dry_run else len(keys), "dry_run": dry_run}


async def policy_for(context: Context) -> RetentionPolicy:
    config, _ = await load(context.db, context.env)
    return RetentionPolicy(config.backup_retention_days, config.backup_keep_last, config.backup_incomplete_grace_hours)


async def apply_retention(context: Context) -> dict[str, Any]:
    """Cron task (03:00 UTC, after the backup): delete what the policy no longer keeps; recorded."""

    async def work() -> records.Outcome:
        policy = await policy_for(context)
        result = await enforce(context.r2, policy)
        details = {
            "policy": {"keep_days": policy.keep_days, "keep_last": policy.keep_last},
            "kept": len(result["keep"]),
            "deleted": [d["id"] for d in result["delete"]],
            "deleted_keys": result["deleted_keys"],
        }
        return records.Outcome(records.SUCCESS, details)

    return await records.run_recorded(context.db, "backup_retention", work)
