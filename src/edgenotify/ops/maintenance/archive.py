"""Archive old ``notification_logs`` to R2 as gzip NDJSON, verified, and only then delete them.

Per batch (bounded rows, bounded batches per run, so one cron invocation does bounded work):

1. read the oldest rows created before the cutoff (``idx_logs_created_id``); rows still
   ``pending`` are left alone, since the retry cron owns them;
2. write them as one gzip NDJSON object;
3. read the object back from R2 and count its lines and check its ids against the rows read;
4. only when both match, delete exactly those ids (one atomic batch of ``id IN (...)``
   statements); on a mismatch the object is removed and nothing is deleted.
"""

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from edgenotify.db import Database, Query
from edgenotify.db.d1 import MAX_BOUND_PARAMS
from edgenotify.ops.bucket import Bucket

PREFIX = "archives/notification_logs/"


@dataclass
class ArchiveResult:
    cutoff: str
    batches: int = 0
    archived: int = 0
    deleted: int = 0
    objects: list[str] = field(default_factory=list)
    mismatch: dict[str, Any] | None = None  # the batch whose read-back did not match (nothing deleted)
    more: bool = False  # stopped at the batch limit with old rows left

    def as_dict(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "batches": self.batches,
            "archived": self.archived,
            "deleted": self.deleted,
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


def delete_queries(ids: list[int]) -> list[Query]:
    out = []
    for start in range(0, len(ids), MAX_BOUND_PARAMS):
        chunk = ids[start : start + MAX_BOUND_PARAMS]
        marks = ", ".join("?" for _ in chunk)
        out.append(Query(f"DELETE FROM notification_logs WHERE id IN ({marks})", tuple(chunk)))
    return out


async def archive_logs(
    db: Database, r2: Any, *, cutoff: str, run_id: str, batch_rows: int = 1000, max_batches: int = 10
) -> ArchiveResult:
    result = ArchiveResult(cutoff)
    bucket = Bucket(r2)
    for n in range(max_batches):
        rows = await db.all(
            "SELECT * FROM notification_logs WHERE created_at < ? AND status != 'pending' "
            "ORDER BY created_at, id LIMIT ?",
            cutoff,
            batch_rows,
        )
        if not rows:
            return result
        key = f"{PREFIX}{run_id[:8]}/{run_id}-{n:04d}.ndjson.gz"
        await bucket.put(key, ndjson_gz(rows), "application/x-ndjson")
        ids = [r["id"] for r in rows]
        count, stored_ids = await read_back(bucket, key)
        if count != len(rows) or stored_ids != ids:
            result.mismatch = {"key": key, "rows": len(rows), "lines": count, "ids_match": stored_ids == ids}
            await bucket.delete([key])
            return result
        changes = sum(r.changes for r in await db.batch(delete_queries(ids)))
        result.batches += 1
        result.archived += len(rows)
        result.deleted += changes
        result.objects.append(key)
        if len(rows) < batch_rows:
            return result
    result.more = True
    return result
