"""Retention on a real (embedded) bucket with many backups: bounded manifest reads, the same decisions.

Backups are planted as objects (a data object and, for complete ones, a manifest recording its
size); R2 calls are counted by ``CountingR2``, a pass-through wrapper around the REAL embedded bucket.
"""

import asyncio
from datetime import timedelta

from edgenotify.clock import utcnow
from edgenotify.ops.backups import manifest as mf
from edgenotify.ops.backups.catalog import list_backups
from edgenotify.ops.maintenance.retention import RetentionPolicy, decide, enforce


class CountingR2:
    """Pass-through to the real bucket, counting the manifest reads (``get``)."""

    def __init__(self, real):
        self.real = real
        self.gets = 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def get(self, key, *args, **kwargs):
        self.gets += 1
        return self.real.get(key, *args, **kwargs)


async def _plant(r2, days: list[int], complete: bool = True, size: int = 1) -> list[str]:
    ids = [mf.new_backup_id(utcnow() - timedelta(days=d, minutes=1)) for d in days]
    for backup_id in ids:
        await r2.put(mf.data_key(backup_id), b"x")
        if complete or size != 1:
            fake = {"format": mf.FORMAT, "format_version": 3, "id": backup_id, "created_at": "", "tables": []}
            fake |= {"migration": {}, "object": {"size": size}}  # size 1: complete; else a mismatch
            await r2.put(mf.manifest_key(backup_id), mf.encode(fake))
    return ids


def test_retention_reads_only_the_manifests_it_needs_and_deletes_what_the_full_check_would(embedded_env) -> None:
    policy = RetentionPolicy(keep_days=5, keep_last=3)

    async def run():
        r2 = embedded_env.BACKUPS
        ids = await _plant(r2, list(range(20)))  # daily complete backups, 0 to 19 days old
        corrupt = await _plant(r2, [8], complete=False, size=99)  # a manifest that does not match its data
        full = decide(await list_backups(r2), utcnow(), policy)  # every manifest read: the reference
        counting = CountingR2(r2)
        bounded = await enforce(counting, policy, dry_run=False)
        return ids, corrupt, full, bounded, counting.gets, [b.id for b in await list_backups(r2)]

    ids, corrupt, full, bounded, gets, left = asyncio.run(run())
    assert gets == 3 == bounded["manifests_read"]  # newest first until keep_last complete are confirmed
    assert {d["id"] for d in bounded["delete"]} == {i for i, _ in full.delete} == set(ids[5:]) | set(corrupt)
    assert bounded["unexamined"] == [] and bounded["deleted_keys"] == 2 * 16
    assert left == ids[:5]


def test_when_the_reads_run_out_before_keep_last_are_confirmed_nothing_unread_is_deleted(embedded_env) -> None:
    policy = RetentionPolicy(keep_days=5, keep_last=3)

    async def run():
        r2 = embedded_env.BACKUPS
        broken = await _plant(r2, [0, 1, 2, 3], complete=False, size=99)  # the newest four do not match
        old = await _plant(r2, [30, 31, 32])
        result = await enforce(r2, policy, dry_run=False, reads=4)
        return broken, old, result, [b.id for b in await list_backups(r2)]

    broken, old, result, left = asyncio.run(run())
    assert result["manifests_read"] == 4 and result["unexamined"] == old
    assert {d["id"] for d in result["delete"]} == set(broken[1:])  # read, incomplete for over a day
    assert set(left) == {broken[0], *old}  # nothing unread was deleted
    assert {k["id"] for k in result["keep"] if k["reason"].startswith("not examined")} == set(old)
