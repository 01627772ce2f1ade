"""Channel configs: load (KV first, then D1), save and delete (one D1 batch with the audit row).

Interface for the send path (stable):

``await load_active_configs(context, user_id, channels=None) -> list[ChannelConfig]``
    The user's ACTIVE configs, secrets decrypted, ordered by channel name; ``channels`` restricts
    to those names (unknown names are simply absent). Served by one KV read (``cfgs:v1:{user}``)
    when warm, so a warm send costs zero D1 round trips for configs; on a miss, one D1 query
    fills the cache. Raises :class:`~edgenotify.notify.crypto.ConfigCryptoError` when a
    stored config cannot be decrypted with the configured key.

pydantic-free on purpose (delivery and the parity runtime import it).
"""

import json
from dataclasses import dataclass, field
from typing import Any

from edgenotify import errors
from edgenotify.audit import audit_query
from edgenotify.clock import now_iso
from edgenotify.db import Query
from edgenotify.errors import DomainError
from edgenotify.notify import config_cache as cache
from edgenotify.notify.crypto import is_encrypted, seal, unseal

_COLUMNS = "channel_type, config_data, is_active, created_at, updated_at, failing_since, disabled_at, disabled_reason"
# Users per D1 query when the retry cron loads many users' configs at once (D1 binds at most 100 values).
USERS_PER_QUERY = 90


@dataclass(frozen=True)
class ChannelConfig:
    """One user's config for one channel; ``config`` holds decrypted secrets (never return it as is)."""

    user_id: str
    channel: str
    config: dict[str, Any]
    is_active: bool
    created_at: str = ""
    updated_at: str = ""
    encrypted: bool = field(default=False, compare=False)  # whether the stored form is ciphertext
    failing_since: str | None = None  # first permanent failure of the current unbroken run of them
    disabled_at: str | None = None  # deliveries switched off (failing too long) until the next PUT
    disabled_reason: str | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """A D1 row in the form cached in KV (config_data stays as stored, possibly encrypted)."""
    return {
        "channel": row["channel_type"],
        "data": row["config_data"],
        "is_active": bool(row["is_active"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "failing_since": row.get("failing_since"),
        "disabled_at": row.get("disabled_at"),
        "disabled_reason": row.get("disabled_reason"),
    }


def _aad(user_id: str, channel: str) -> str:
    return f"{user_id}/{channel}"


async def _open(context: Any, user_id: str, stored: dict[str, Any]) -> ChannelConfig:
    channel = stored["channel"]
    text = await unseal(stored["data"], context.settings.encryption_key, _aad(user_id, channel))
    try:
        config = json.loads(text)
    except ValueError:
        raise DomainError(errors.CONFIG_CORRUPT, f"stored {channel} config of this user is not valid JSON") from None
    return ChannelConfig(
        user_id=user_id,
        channel=channel,
        config=config,
        is_active=stored["is_active"],
        created_at=stored["created_at"],
        updated_at=stored["updated_at"],
        encrypted=is_encrypted(stored["data"]),
        failing_since=stored.get("failing_since"),
        disabled_at=stored.get("disabled_at"),
        disabled_reason=stored.get("disabled_reason"),
    )


async def _user_rows(context: Any, user_id: str) -> list[dict[str, Any]]:
    key = cache.user_configs_key(user_id)
    cached = await cache.cache_get(context, key)
    if isinstance(cached, list):
        return cached
    rows = await context.db.all(f"SELECT {_COLUMNS} FROM user_configs WHERE user_id = ? ORDER BY channel_type", user_id)
    stored = [_stored(row) for row in rows]
    await cache.cache_put(context, key, stored)
    return stored


async def load_user_configs(context: Any, user_id: str) -> list[ChannelConfig]:
    """Every config of the user (active or not), decrypted, ordered by channel."""
    return [await _open(context, user_id, stored) for stored in await _user_rows(context, user_id)]


async def load_active_configs(context: Any, user_id: str, channels: list[str] | None = None) -> list[ChannelConfig]:
    """The user's active configs (optionally only ``channels``); KV first. See the module docstring."""
    wanted = set(channels) if channels is not None else None
    rows = await _user_rows(context, user_id)
    return [
        await _open(context, user_id, stored)
        for stored in rows
        if stored["is_active"] and (wanted is None or stored["channel"] in wanted)
    ]


async def load_config(context: Any, user_id: str, channel: str) -> ChannelConfig | None:
    """One config (active or not) or None; KV key ``cfg:v1:{user}:{channel}`` first."""
    key = cache.config_key(user_id, channel)
    stored = await cache.cache_get(context, key)
    if not (stored is None or isinstance(stored, dict)):  # a miss (or an entry of an unexpected shape)
        row = await context.db.first(
            f"SELECT {_COLUMNS} FROM user_configs WHERE user_id = ? AND channel_type = ?", user_id, channel
        )
        stored = _stored(row) if row else None
        await cache.cache_put(context, key, stored)
    return await _open(context, user_id, stored) if stored else None


async def load_configs_for(context: Any, user_ids: list[str]) -> dict[str, dict[str, ChannelConfig] | str]:
    """user -> {channel: config} of ACTIVE configs for many users straight from D1 (the retry cron:
    one query per :data:`USERS_PER_QUERY` users instead of a KV read per user); a user whose configs
    cannot be opened maps to the reason, so only their deliveries wait."""
    out: dict[str, dict[str, ChannelConfig] | str] = {user: {} for user in user_ids}
    for start in range(0, len(user_ids), USERS_PER_QUERY):
        chunk = user_ids[start : start + USERS_PER_QUERY]
        marks = ", ".join("?" * len(chunk))
        rows = await context.db.all(
            f"SELECT user_id, {_COLUMNS} FROM user_configs WHERE user_id IN ({marks}) AND is_active = 1", *chunk
        )
        for row in rows:
            configs = out[row["user_id"]]
            if isinstance(configs, str):
                continue
            try:
                configs[row["channel_type"]] = await _open(context, row["user_id"], _stored(row))
            except Exception as exc:
                out[row["user_id"]] = f"config unavailable: {type(exc).__name__}: {exc}"
    return out


async def forget_cached(context: Any, user_id: str, channel: str) -> None:
    """Drop the KV entries of a config whose row changed outside :func:`save_config` (e.g. disabled)."""
    await _invalidate(context, user_id, channel)


async def _invalidate(context: Any, user_id: str, channel: str) -> None:
    await cache.cache_delete(context, cache.config_key(user_id, channel), cache.user_configs_key(user_id))


async def save_config(
    context: Any, user_id: str, channel: str, config: dict[str, Any], is_active: bool
) -> ChannelConfig:
    """Create or replace a config: upsert + audit row in ONE batch, then invalidate the KV keys.

    A PUT also clears the config's failure history: it re-enables a config that failing
    deliveries disabled (the client has fixed or confirmed it)."""
    text = json.dumps(config, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    data = await seal(text, context.settings.encryption_key, _aad(user_id, channel))
    now = now_iso()
    upsert = Query.of(
        "INSERT INTO user_configs (user_id, channel_type, config_data, is_active, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, channel_type) DO UPDATE SET config_data = excluded.config_data,"
        " is_active = excluded.is_active, updated_at = excluded.updated_at,"
        " failing_since = NULL, disabled_at = NULL, disabled_reason = NULL"
        f" RETURNING {_COLUMNS}",
        user_id,
        channel,
        data,
        is_active,
        now,
        now,
    )
    details = {"channel": channel, "is_active": is_active, "encrypted": is_encrypted(data)}
    audit = audit_query(context, "config.put", "user_config", _aad(user_id, channel), details)
    results = await context.db.batch([upsert, audit])
    await _invalidate(context, user_id, channel)
    row = _stored(results[0].rows[0])
    return ChannelConfig(
        user_id, channel, config, row["is_active"], row["created_at"], row["updated_at"], is_encrypted(data)
    )


async def delete_config(context: Any, user_id: str, channel: str) -> bool:
    """Delete a config (audit row only if it existed), in ONE batch; False when there was none."""
    exists = Query.of("EXISTS (SELECT 1 FROM user_configs WHERE user_id = ? AND channel_type = ?)", user_id, channel)
    audit = audit_query(context, "config.delete", "user_config", _aad(user_id, channel), {"channel": channel}, exists)
    delete = Query.of("DELETE FROM user_configs WHERE user_id = ? AND channel_type = ? RETURNING id", user_id, channel)
    results = await context.db.batch([audit, delete])
    await _invalidate(context, user_id, channel)
    return bool(results[1].rows)
