"""Which backups to keep: complete ones for N days, the newest K regardless, incomplete ones a day.

``decide`` is a pure function of the listing, the time and the policy, so every rule is unit
tested without R2. Rules, in order:

* a backup whose job is running is kept, whatever its age;
* an incomplete backup (no manifest, or a data object that does not match it) younger than the
  grace period (at least 1 h) may still be running: keep; older: delete (its objects are garbage);
* the newest ``keep_last`` complete backups are kept whatever their age, so a stopped cron
  never ends with zero backups;
* other complete backups are kept while younger than ``keep_days`` and deleted after.

Bounded work (``enforce``): one R2 list call per 1,000 objects, one delete call per 1,000 keys, and
manifest reads only newest first until ``keep_last`` complete backups are confirmed, at most
``reads`` of them (sized from the invocation's subrequest limit). An older backup with a manifest
is then taken as complete without reading it: every rule left for it (younger than ``keep_days``:
keep; older: delete) holds whether it is complete or garbage. When the reads run out before
``keep_last`` complete ones are confirmed, the unread backups are all kept this run and the result
says so (``unexamined``); no checkpoint is needed, since each run decides from the bucket afresh.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgenotify.clock import parse_iso, utcnow
from edgenotify.context import Context
from edgenotify.limits import Limits
from edgenotify.ops import records
from edgenotify.ops.backups.catalog import BackupInfo, check_complete, list_unchecked
from edgenotify.ops.bucket import Bucket
from edgenotify.ops.config import load
from edgenotify.ops.jobs import audit, store
from edgenotify.ops.jobs.backup import abandon
from edgenotify.ops.jobs.budget import SHARE

MIN_GRACE_HOURS = 1
DELETE_CALLS_RESERVED = 10  # room left in the subrequest budget for the delete calls and the record


@dataclass(frozen=True)
class RetentionPolicy:
    keep_days: int = 30
    keep_last: int = 7
    incomplete_grace_hours: int = 24

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise ValueError("keep_last must be at least 1: the newest complete backup is never deleted")
        if self.incomplete_grace_hours < MIN_GRACE_HOURS:
            raise ValueError(
                f"incomplete_grace_hours must be at least {MIN_GRACE_HOURS}: a running backup is not garbage"
            )


@dataclass
class Decision:
    keep: list[tuple[str, str]] = field(default_factory=list)  # (backup id, reason)
    delete: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep": [{"id": i, "reason": r} for i, r in self.keep],
            "delete": [{"id": i, "reason": r} for i, r in self.delete],
        }


def decide(
    backups: list[BackupInfo], now: datetime, policy: RetentionPolicy, running: frozenset[str] = frozenset()
) -> Decision:
    decision = Decision()
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.created_at, reverse=True)
    for b in backups:
        if b.complete:
            continue
        if b.id in running:
            decision.keep.append((b.id, "its backup job is running"))
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


async def examine(r2: Any, backups: list[BackupInfo], keep_last: int, reads: int) -> tuple[int, list[BackupInfo]]:
    """Read manifests newest first until ``keep_last`` complete backups are confirmed or ``reads``
    are spent; (manifests read, backups with a manifest left unread)."""
    confirmed = read = 0
    unread = []
    for backup in backups:
        if not backup.has_manifest:
            continue  # incomplete whatever a manifest would say: there is none
        if confirmed >= keep_last or read >= reads:
            unread.append(backup)
            continue
        await check_complete(r2, backup)
        read += 1
        confirmed += backup.complete
    return read, unread


async def enforce(
    r2: Any,
    policy: RetentionPolicy,
    now: datetime | None = None,
    dry_run: bool = False,
    running: frozenset[str] = frozenset(),
    reads: int = 1 << 30,
) -> dict:
    """Apply the policy to the bucket within ``reads`` manifest reads; the decision and the keys deleted."""
    backups = await list_unchecked(r2)
    read, unread = await examine(r2, backups, policy.keep_last, reads)
    confirmed = sum(b.complete for b in backups)
    unexamined = [b.id for b in unread] if confirmed < policy.keep_last else []
    for backup in unread:
        backup.complete = not unexamined  # older than every confirmed one: either state gets the same rule
    decision = decide([b for b in backups if b.id not in unexamined], now or utcnow(), policy, running)
    decision.keep += [(i, "not examined: the manifest reads of this run were spent") for i in unexamined]
    doomed = {i for i, _ in decision.delete}
    keys = [k for b in backups if b.id in doomed for k in b.keys]
    if not dry_run:
        await Bucket(r2).delete(keys)
    out = {**decision.as_dict(), "deleted_keys": 0 if dry_run else len(keys), "dry_run": dry_run}
    return {**out, "manifests_read": read, "unexamined": unexamined}


def read_budget(context: Context) -> int:
    """Manifest reads one retention run may make: its share of the invocation's subrequests, less
    what the invocation used already and room for the deletes."""
    limits = Limits.from_env(context.env)
    return max(1, int(limits.subrequests * SHARE) - context.db.round_trips - DELETE_CALLS_RESERVED)


async def dead_jobs(context: Context, policy: RetentionPolicy, now: datetime) -> list[str]:
    """Abandon backup jobs that made no progress for the grace period (an isolate killed by a limit
    never reaches an error handler): their multipart upload is aborted and their objects deleted."""
    dead = []
    bucket = Bucket(context.r2)
    for job in await store.running(context.db, store.BACKUP):
        idle_hours = (now - parse_iso(job.updated_at)).total_seconds() / 3600
        if idle_hours > policy.incomplete_grace_hours:
            reason = f"no progress for {idle_hours:.1f} h (> {policy.incomplete_grace_hours} h)"
            await abandon(bucket, job, reason)
            await store.save(context.db, job)
            await audit.record(context.db, job, "failed", {"error": reason}, context.actor)
            dead.append(job.id)
    return dead


async def policy_for(context: Context) -> RetentionPolicy:
    config, _ = await load(context.db, context.env)
    return RetentionPolicy(config.backup_retention_days, config.backup_keep_last, config.backup_incomplete_grace_hours)


async def apply_retention(context: Context) -> dict[str, Any]:
    """Cron task (03:00 UTC, after the backup): delete what the policy no longer keeps; recorded."""

    async def work() -> records.Outcome:
        policy = await policy_for(context)
        now = utcnow()
        abandoned = await dead_jobs(context, policy, now)
        running = await store.backups_in_progress(context.db)
        result = await enforce(context.r2, policy, now, running=running, reads=read_budget(context))
        details = {
            "policy": {"keep_days": policy.keep_days, "keep_last": policy.keep_last},
            "abandoned_jobs": abandoned,
            "kept": len(result["keep"]),
            "deleted": [d["id"] for d in result["delete"]],
            "deleted_keys": result["deleted_keys"],
            "manifests_read": result["manifests_read"],
            "unexamined": result["unexamined"],
        }
        return records.Outcome(records.WARNING if result["unexamined"] else records.SUCCESS, details)

    return await records.run_recorded(context.db, "backup_retention", work)
