"""``GET /admin/capacity``: rows per table, daily growth over 30 days, projected size vs 10 GB.

Growth is counted from ``created_at`` (rows inserted per calendar day in the window, averaged
over the whole window, not just the days that had rows). Bytes per row are estimated as the
database size over all rows, so indexes are included. Two projections: without archiving, and
with ``notification_logs`` capped at its retention window (what the maintenance cron enforces).
"""

from datetime import datetime, timedelta
from typing import Any

from edgenotify.clock import iso, utcnow
from edgenotify.db import Database, Query
from edgenotify.ops.backups.schema import TABLE, inspect, quote_ident
from edgenotify.ops.diagnostics.sizing import D1_MAX_BYTES, database_size

LOGS = "notification_logs"


def project(size: int | None, total_rows: int, daily_rows: float, days: int, limit: int = D1_MAX_BYTES) -> dict:
    if size is None or total_rows == 0:
        return {"days": days, "bytes": None, "percent_of_limit": None}
    per_row = size / total_rows
    projected = size + daily_rows * per_row * days
    return {"days": days, "bytes": int(projected), "percent_of_limit": round(100 * projected / limit, 4)}


def days_until_limit(size: int | None, total_rows: int, daily_rows: float, limit: int = D1_MAX_BYTES) -> float | None:
    if size is None or total_rows == 0 or daily_rows <= 0:
        return None
    return round((limit - size) / (daily_rows * size / total_rows), 1)


async def capacity(
    db: Database, now: datetime | None = None, window_days: int = 30, log_retention_days: int = 90
) -> dict[str, Any]:
    now = now or utcnow()
    since = iso(now - timedelta(days=window_days))
    schema = await inspect(db)
    tables = [t for t in schema.tables if t.dumps_rows]
    counts = await db.batch([Query(f"SELECT count(*) AS n FROM {quote_ident(t.name)}") for t in tables])
    rows = {t.name: int(r.rows[0]["n"]) for t, r in zip(tables, counts, strict=True)}
    dated = [t for t in tables if t.kind == TABLE and "created_at" in t.columns]
    per_day = await db.batch(
        [
            Query.of(
                f"SELECT substr(created_at, 1, 10) AS day, count(*) AS n FROM {quote_ident(t.name)} "
                "WHERE created_at >= ? GROUP BY day ORDER BY day",
                since,
            )
            for t in dated
        ]
    )
    growth = {t.name: {r["day"]: int(r["n"]) for r in res.rows} for t, res in zip(dated, per_day, strict=True)}
    daily = {name: sum(days.values()) / window_days for name, days in growth.items()}
    size, source = await database_size(db)
    total = sum(rows.values())
    daily_total = sum(daily.values())
    capped = daily_total - daily.get(LOGS, 0.0)
    log_room = max(0.0, daily.get(LOGS, 0.0) * log_retention_days - rows.get(LOGS, 0))
    projections = [project(size, total, daily_total, d) for d in (30, 365)]
    with_retention = [project(size, total, capped + min(daily.get(LOGS, 0.0), log_room / d), d) for d in (30, 365)]
    recommendations = []
    if daily.get(LOGS, 0) > 10_000:
        recommendations.append("over 10,000 logs a day: consider a shorter log retention window")
    if projections[1]["percent_of_limit"] and projections[1]["percent_of_limit"] > 80:
        recommendations.append("projected above 80% of D1's 10 GB limit within a year without archiving")
    return {
        "generated_at": iso(now),
        "size": {"bytes": size, "source": source, "limit_bytes": D1_MAX_BYTES},
        "tables": [
            {"name": t.name, "rows": rows[t.name], "daily_growth": round(daily.get(t.name, 0.0), 2)} for t in tables
        ],
        "total_rows": total,
        "window_days": window_days,
        "daily_rows": round(daily_total, 2),
        "daily": {name: days for name, days in growth.items() if days},
        "bytes_per_row": round(size / total, 1) if size and total else None,
        "projections": projections,
        "projections_with_log_retention": {"retention_days": log_retention_days, "projections": with_retention},
        "days_until_limit": days_until_limit(size, total, daily_total),
        "recommendations": recommendations,
    }
