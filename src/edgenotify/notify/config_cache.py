"""The KV read-through cache (``CONFIG_CACHE``) for channel configs and templates.

Keys (all versioned, so a format change never reads old entries):

* ``cfg:v1:{user_id}:{channel}`` — one config row of a user (or "none"), for the single-config GET;
* ``cfgs:v1:{user_id}`` — every config row of a user (active or not), which serves both the list
  route and the send path's "all active configs of the user" with ONE KV read and zero D1;
* ``tpl:v1:{template_key}`` — a template with all its per-channel contents (or "none").

Values are JSON ``{"v": <value>}`` so that "known not to exist" (``null``) can be cached too:
a send to a user without configs, or a GET of a missing template, is then served by KV as well.
Config rows are cached in their STORED form (possibly ``enc:v1:`` ciphertext): KV never holds a
decrypted secret. Writers delete the affected keys after their D1 write (invalidation, not
update); entries also expire after :data:`TTL_SECONDS`, which bounds staleness when KV's
eventual consistency (up to 60 s across locations) or a read-fill racing a write leaves an old value.

KV is an optimisation, never a dependency: every failure (binding missing, JS exception, bad
JSON) is logged and treated as a miss, so requests degrade to D1 instead of failing.
"""

import asyncio
import json
from typing import Any

# KV's minimum. Invalidation is by delete, so the TTL only bounds the rare race where a reader
# fills the key with a value it read from D1 just before a write: with 60 s that race never adds
# more staleness than KV's own cross-location propagation (up to 60 s) already allows, at the cost
# of one D1 read per user (or template) per minute per location while it is in use.
TTL_SECONDS = 60


class Miss:
    """Sentinel: the key is absent (or KV failed), as opposed to a cached ``None``."""


MISS = Miss()


def config_key(user_id: str, channel: str) -> str:
    return f"cfg:v1:{user_id}:{channel}"


def user_configs_key(user_id: str) -> str:
    return f"cfgs:v1:{user_id}"


def template_key(key: str) -> str:
    return f"tpl:v1:{key}"


def _kv(context: Any) -> Any:
    return context.kv


async def cache_get(context: Any, key: str) -> Any:
    """The cached value (possibly ``None``) or :data:`MISS`."""
    try:
        raw = await _kv(context).get(key)
        if raw is None:
            return MISS
        return json.loads(raw)["v"]
    except Exception as exc:  # KV must never turn a request into an error
        print(f"config cache: get {key!r} failed, falling back to D1: {exc!r}")
        return MISS


async def cache_put(context: Any, key: str, value: Any) -> None:
    try:
        text = json.dumps({"v": value}, separators=(",", ":"), ensure_ascii=False)
        await _kv(context).put(key, text, expirationTtl=TTL_SECONDS)
    except Exception as exc:
        print(f"config cache: put {key!r} failed (served from D1 next time): {exc!r}")


async def _delete(context: Any, key: str) -> None:
    try:
        await _kv(context).delete(key)
    except Exception as exc:
        print(f"config cache: delete {key!r} failed (entry expires after {TTL_SECONDS}s): {exc!r}")


async def cache_delete(context: Any, *keys: str) -> None:
    """Invalidate ``keys`` concurrently; failures are logged, TTL bounds the staleness."""
    await asyncio.gather(*(_delete(context, key) for key in keys))
