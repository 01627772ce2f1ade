"""Operations settings: ``system_configs`` rows (``ops.<name>``) over Worker vars over defaults.

``system_configs`` lets an operator change retention without a deploy; vars (``[vars]`` in
wrangler.toml, upper-case names) set the deployment's baseline. A value that is not a whole
number in range is ignored and reported, never half-applied.
"""

from dataclasses import dataclass, fields, replace
from typing import Any

from edgenotify.db import D1Error, Database

PREFIX = "ops."


@dataclass(frozen=True)
class OpsConfig:
    backup_retention_days: int = 30  # keep complete backups this long
    backup_keep_last: int = 7  # and always the newest N complete ones, whatever their age
    backup_incomplete_grace_hours: int = 24  # incomplete backups younger than this may still be running
    backup_max_age_hours: int = 24  # /admin/backups/status: healthy when the newest is younger
    log_retention_days: int = 90  # notification_logs older than this are archived to R2, then deleted
    archive_batch_rows: int = 1000  # rows per archive object
    archive_max_batches: int = 10  # archive objects per maintenance run (bounded work per cron)
    idempotency_delete_batch: int = 5000  # expired keys deleted per statement
    idempotency_max_batches: int = 20  # statements per maintenance run
    integrity_range_rows: int = 50_000  # rows one integrity data-check query reads (a keyset range)

    @staticmethod
    def minimum(name: str) -> int:
        return 1  # a grace of 0 h would delete a running backup's data


def _var(name: str) -> str:
    return name.upper()


def _parse(name: str, raw: Any, problems: list[str], origin: str) -> int | None:
    try:
        value = int(str(raw).strip())
    except ValueError:
        problems.append(f"{origin} {name}={raw!r} is not a whole number; ignored")
        return None
    if value < OpsConfig.minimum(name):
        problems.append(f"{origin} {name}={value} is below {OpsConfig.minimum(name)}; ignored")
        return None
    return value


async def load(db: Database, env: Any) -> tuple[OpsConfig, list[str]]:
    """The effective settings and the problems found while reading them."""
    problems: list[str] = []
    try:
        rows = await db.all(
            "SELECT config_key, config_value FROM system_configs WHERE substr(config_key, 1, ?) = ?",
            len(PREFIX),
            PREFIX,
        )
    except D1Error as exc:
        problems.append(f"system_configs unreadable ({exc.message}); using vars and defaults")
        rows = []
    stored = {str(r["config_key"])[len(PREFIX) :]: r["config_value"] for r in rows}
    values: dict[str, int] = {}
    for f in fields(OpsConfig):
        raw_var = getattr(env, _var(f.name), None)
        if raw_var is not None and (v := _parse(f.name, raw_var, problems, "var")) is not None:
            values[f.name] = v
        if f.name in stored and (v := _parse(f.name, stored[f.name], problems, "system_configs")) is not None:
            values[f.name] = v
    return replace(OpsConfig(), **values), problems
