"""The daily backup cron task (03:00 UTC), recorded in ``task_execution_records``."""

from typing import Any

from edgenotify.context import Context
from edgenotify.ops import records
from edgenotify.ops.backup import run_backup


def database_name(env: Any) -> str:
    """The database's name for manifests: the ``DATABASE_NAME`` var, else the binding's name."""
    return str(getattr(env, "DATABASE_NAME", None) or "DB")


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    obj = manifest["object"]
    return {
        "id": manifest["id"],
        "rows": manifest["totals"]["rows"],
        "tables": manifest["totals"]["tables"],
        "size": obj["size"],
        "sql_bytes": obj["sql_bytes"],
        "parts": obj["parts"],
        "duration_ms": manifest["duration_ms"],
        "migration": manifest["migration"]["last_applied"],
        "warnings": manifest["warnings"],
    }


async def scheduled_backup(context: Context) -> dict[str, Any]:
    async def work() -> records.Outcome:
        manifest = await run_backup(context.db, context.r2, trigger="cron", database=database_name(context.env))
        status = records.WARNING if manifest["warnings"] else records.SUCCESS
        return records.Outcome(status, summary(manifest))

    return await records.run_recorded(context.db, "backup", work)
