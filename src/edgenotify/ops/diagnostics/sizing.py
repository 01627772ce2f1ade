"""How big the database is, against D1's 10 GB per-database limit.

D1 reports the database size after every query (``meta.size_after``); that is the primary
source. ``PRAGMA page_count`` is not on D1's allow-list, so the page-count product is only a
fallback for runtimes that expose it (and None when neither works).
"""

from edgenotify.db import D1Error, Database, Query

D1_MAX_BYTES = 10 * 1000**3  # 10 GB (Cloudflare counts GB in powers of ten; cannot be raised)


async def database_size(db: Database) -> tuple[int | None, str]:
    """(bytes, source) where source is ``size_after``, ``page_count`` or ``unknown``."""
    result = await db.execute(Query("SELECT 1 AS one"))
    size = result.meta.get("size_after")
    if isinstance(size, (int, float)) and size > 0:
        return int(size), "size_after"
    try:
        row = await db.first("SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()")
    except D1Error:
        return None, "unknown"
    return (int(row["size"]), "page_count") if row and row.get("size") else (None, "unknown")


def usage(size: int | None, limit: int = D1_MAX_BYTES) -> dict:
    if size is None:
        return {"bytes": None, "limit_bytes": limit, "percent": None}
    return {"bytes": size, "limit_bytes": limit, "percent": round(100 * size / limit, 4)}
