"""Per-user totals: counts per channel and status from ``notification_logs`` (optionally since a
time), plus the running ``user_stats`` counters, read in ONE batch (one round trip, one snapshot).

The count walks ``idx_logs_user_created`` over the user's rows in the time range; nothing scans
the table. The ``user_stats`` counters are maintained by the send and delivery batches and cover
the user's whole history (including rows archived away by retention).
"""

from typing import Any

from edgenotify.db.d1 import Query

STATUSES = ("pending", "success", "failed")  # a notification_logs row's status: the one list of them


def counts_query(user_id: str, since: str | None, until: str | None) -> Query:
    where = ["user_id = ?"]
    params: list[Any] = [user_id]
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("created_at < ?")
        params.append(until)
    sql = (
        f"SELECT channel_type, status, COUNT(*) AS n FROM notification_logs WHERE {' AND '.join(where)}"
        " GROUP BY channel_type, status"
    )
    return Query(sql, tuple(params))


def counters_query(user_id: str) -> Query:
    columns = "notification_count, success_count, failed_count, last_notification_at"
    return Query.of(f"SELECT {columns} FROM user_stats WHERE user_id = ?", user_id)


def _empty() -> dict[str, int]:
    return {status: 0 for status in (*STATUSES, "total")}


def summarize(rows: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    totals = _empty()
    channels: dict[str, dict[str, int]] = {}
    for row in rows:
        n = int(row["n"])
        per_channel = channels.setdefault(row["channel_type"], _empty())
        for bucket in (totals, per_channel):
            bucket[row["status"]] = bucket.get(row["status"], 0) + n
            bucket["total"] += n
    return totals, dict(sorted(channels.items()))


async def user_totals(context: Any, user_id: str, since: str | None, until: str | None = None) -> dict[str, Any]:
    counts, counters = await context.db.batch([counts_query(user_id, since, until), counters_query(user_id)])
    totals, channels = summarize(counts.rows)
    row = counters.rows[0] if counters.rows else {}
    return {
        "user_id": user_id,
        "since": since,
        "until": until,
        "totals": totals,
        "channels": channels,
        "counters": {
            "notification_count": int(row.get("notification_count") or 0),
            "success_count": int(row.get("success_count") or 0),
            "failed_count": int(row.get("failed_count") or 0),
            "last_notification_at": row.get("last_notification_at"),
        },
    }
