"""Archive old ``notification_logs`` and their ``delivery_attempts`` to R2, verified, and only then delete them.

Per batch (bounded rows, bounded batches per run, so one cron invocation does bounded work: two D1
calls and up to four R2 calls a batch, at most ``archive_max_batches`` batches a run, fewer where
the invocation's limits are lower: ``run.batches_within``):

1. read the oldest log rows created before the cutoff (``idx_logs_created_id``) and their attempts
   (by ``message_id``, the attempts' unique index), in one D1 batch: one consistent snapshot. Rows
   still ``pending`` are left alone, since the retry cron owns them;
2. write the logs as one gzip NDJSON object and the attempts as another beside it (same name under
   ``archives/delivery_attempts/``);
3. read each object back from R2 and check its line count and ids against the rows read;
4. only when every object matches, delete exactly those ids, attempts and logs, in one atomic
   batch of ``id IN (...)`` statements; on a mismatch the objects are removed and nothing is deleted.

Resuming needs no checkpoint: every batch is complete in itself and the next run starts again at
the oldest rows left. An invocation killed between the writes and the delete leaves objects whose
rows are still in D1; the next run archives those rows again (in new objects) and deletes them, so
nothing is lost, and a row may appear in two archive objects (same ``id``: keep either).
"""

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db import Database, Query
from edgenotify.db.d1 import MAX_BOUND_PARAMS
from edgenotify.ops.bucket import Bucket

PREFIX = "archives/notification_logs/"
ATTEMPTS_PREFIX = "archives/delivery_attempts/"
_OLDEST = "FROM notification_logs WHERE created_at < ? AND status != 'pending' ORDER BY created_at, id LIMIT ?"


@dataclass
class ArchiveResult:
    cutoff: str
    batches: int = 0
    archived: int = 0
    deleted: int = 0
    attempts_archived: int = 0
    attempts_deleted: int = 0
    objects: list[str] = field(default_factory=list)
    mismatch: dict[str, Any] | None = None  # the batch whose read-back did not match (nothing deleted)
    more: bool = False  # stopped at the batch limit with old rows left

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "batches": self.batches,
            "archived": self.archived,
            "deleted": self.deleted,
            "attempts_archived": self.attempts_archived,
            "attempts_deleted": self.attempts_deleted,
            "objects": self.objects,
            "mismatch": self.mismatch,
            "more": self.more,
        }


def ndjson_gz(rows: list[dict[str, Any]]) -> bytes:
    def default(value: Any) -> Any:
        return value.hex() if isinstance(value, bytes) else str(value)

    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=default) + "\n" for r in rows)
    return gzip.compress(text.encode("utf-8"), mtime=0)


async def read_back(bucket: Bucket, key: str) -> tuple[int, list[Any]]:
    """(line count, ids) of the stored object, as R2 returns it now."""
    body = await bucket.read(key)
    if body is None:
        return 0, []
    lines = [line for line in gzip.decompress(body).split(b"\n") if line.strip()]
    ids = []
    for line in lines:
        try:
            ids.append(json.loads(line).get("id"))
        except ValueError:
            ids.append(None)
    return len(lines), ids


def delete_queries(table: str, ids: list[int]) -> list[Query]:
    out = []
    for start in range(0, len(ids), MAX_BOUND_PARAMS):
        chunk = ids[start : start + MAX_BOUND_PARAMS]
        marks = ", ".join("?" for _ in chunk)
        out.append(Query(f"DELETE FROM {table} WHERE id IN ({marks})", tuple(chunk)))
    return out


async def oldest(db: Database, cutoff: str, rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The oldest archivable logs and every attempt of theirs, read in one batch (one snapshot)."""
    logs, attempts = await db.batch(
        [
            Query.of(f"SELECT * {_OLDEST}", cutoff, rows),
            Query.of(
                f"SELECT * FROM delivery_attempts WHERE message_id IN (SELECT message_id {_OLDEST}) "
                "ORDER BY message_id, attempt",
                cutoff,
                rows,
            ),
        ]
    )
    return logs.rows, attempts.rows


async def store_verified(bucket: Bucket, key: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Write ``rows`` to ``key`` and read them back; None when R2 holds exactly them, else the mismatch."""
    await bucket.put(key, ndjson_gz(rows), "application/x-ndjson")
    ids = [r["id"] for r in rows]
    count, stored_ids = await read_back(bucket, key)
    if count == len(rows) and stored_ids == ids:
        return None
    return {"key": key, "rows": len(rows), "lines": count, "ids_match": stored_ids == ids}


async def archive_batch(db: Database, bucket: Bucket, result: ArchiveResult, name: str, rows: int) -> int:
    """One batch (archive, verify, delete); the number of logs it read (0: nothing left)."""
    logs, attempts = await oldest(db, result.cutoff, rows)
    if not logs:
        return 0
    parts = [(f"{PREFIX}{name}", logs)] + ([(f"{ATTEMPTS_PREFIX}{name}", attempts)] if attempts else [])
    written = []
    for key, part in parts:
        written.append(key)
        mismatch = await store_verified(bucket, key, part)
        if mismatch is not None:
            result.mismatch = mismatch
            await bucket.delete(written)
            return 0
    of_attempts = delete_queries("delivery_attempts", [a["id"] for a in attempts])
    changes = [
        r.changes for r in await db.batch(of_attempts + delete_queries("notification_logs", [r["id"] for r in logs]))
    ]
    result.batches += 1
    result.archived += len(logs)
    result.deleted += sum(changes[len(of_attempts) :])
    result.attempts_archived += len(attempts)
    result.attempts_deleted += sum(changes[: len(of_attempts)])
    result.objects.extend(written)
    return len(logs)


async def archive_logs(
    db: Database, r2: Any, *, cutoff: str, run_id: str, batch_rows: int = 1000, max_batches: int = 10
) -> ArchiveResult:
    result = ArchiveResult(cutoff)
    bucket = Bucket(r2)
    for n in range(max_batches):
        read = await archive_batch(db, bucket, result, f"{run_id[:8]}/{run_id}-{n:04d}.ndjson.gz", batch_rows)
        if read < batch_rows:
            return result
    result.more = True
    return result
