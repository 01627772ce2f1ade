"""The KV config cache through our code (``edgenotify.notify.configs`` / ``config_cache``).

Reads go KV first and fill it from D1 on a miss; writes are one D1 batch, then invalidate the keys.
Round trips are counted by the request's ``Database``, so "a warm read costs zero D1" is checked
on both runtimes, as are the TTL the entries get and what KV actually holds.
"""

import json
import time
from typing import Any

from edgenotify.context import Context
from edgenotify.db import Database
from edgenotify.migrations import automigrate
from edgenotify.notify import config_cache as cache
from edgenotify.notify import configs
from tests.contract.contracts import contract


async def _context(env: Any) -> Context:
    await automigrate.apply_pending(Database(env.DB), automigrate.bundled_files())
    return Context.create(env, None)


async def _forget_user(context: Context, user: str, channels: tuple[str, ...]) -> None:
    await context.db.run("DELETE FROM user_configs WHERE user_id = ?", user)
    keys = [cache.user_configs_key(user)] + [cache.config_key(user, c) for c in channels]
    await cache.cache_delete(context, *keys)


def _summary(items: list[configs.ChannelConfig]) -> list[list[Any]]:
    return [[c.channel, c.config, c.is_active, c.encrypted] for c in items]


@contract
async def cache_configs_read_through_and_invalidate(env: Any) -> Any:
    context = await _context(env)
    user = "contract-cache-user"
    await _forget_user(context, user, ("webhook", "telegram"))
    hook = {"url": "https://hooks.example.com/a", "secret": "whsec_abc"}
    await configs.save_config(context, user, "webhook", hook, True)
    await configs.save_config(context, user, "telegram", {"bot_token": "1:x", "chat_id": "42"}, False)

    trips = [context.db.round_trips]
    cold = await configs.load_active_configs(context, user)  # miss: one D1 query fills KV
    trips.append(context.db.round_trips)
    warm = await configs.load_active_configs(context, user, ["webhook"])  # hit: zero D1
    trips.append(context.db.round_trips)
    key = cache.user_configs_key(user)
    stored = json.loads(await env.CONFIG_CACHE.get(key))
    (listed,) = (await env.CONFIG_CACHE.list(prefix=key))["keys"]
    ttl = listed["expiration"] - time.time()

    await configs.save_config(context, user, "webhook", {**hook, "url": "https://hooks.example.com/b"}, True)
    after_write = await env.CONFIG_CACHE.get(key)  # invalidated, not updated
    fresh = await configs.load_active_configs(context, user)
    assert [trips[1] - trips[0], trips[2] - trips[1]] == [1, 0], trips
    assert cache.TTL_SECONDS >= 60 and cache.TTL_SECONDS - 30 < ttl <= cache.TTL_SECONDS + 1, ttl
    assert after_write is None
    return {
        "cold": _summary(cold),
        "warm": _summary(warm),
        "d1_round_trips": [trips[1] - trips[0], trips[2] - trips[1]],
        "kv_value": [[r["channel"], json.loads(r["data"]), r["is_active"]] for r in stored["v"]],
        "after_write": after_write,
        "fresh": _summary(fresh),
    }


@contract
async def cache_remembers_a_missing_config(env: Any) -> Any:
    """ "Known not to exist" is cached too: the second lookup of a missing config costs no D1."""
    context = await _context(env)
    user = "contract-cache-none"
    await _forget_user(context, user, ("lark",))
    before = context.db.round_trips
    first = await configs.load_config(context, user, "lark")
    middle = context.db.round_trips
    second = await configs.load_config(context, user, "lark")
    after = context.db.round_trips
    raw = await env.CONFIG_CACHE.get(cache.config_key(user, "lark"))
    deleted = await configs.delete_config(context, user, "lark")
    assert (middle - before, after - middle) == (1, 0)
    return {"first": first, "second": second, "kv": json.loads(raw), "deleted": deleted}


@contract
async def cache_survives_kv_failure(env: Any) -> Any:
    """KV is an optimisation: a failing KV call is a miss, and the request is served from D1."""
    context = await _context(env)
    user = "contract-cache-kvdown"
    await _forget_user(context, user, ("webhook",))
    await configs.save_config(context, user, "webhook", {"url": "https://hooks.example.com/c"}, True)
    broken = Context.create(_EnvWithBrokenKv(env), None)
    served = await configs.load_active_configs(broken, user)
    return {"served": _summary(served), "d1_round_trips": broken.db.round_trips}


class _EnvWithBrokenKv:
    """The real env, except that every CONFIG_CACHE call raises as a failing binding would."""

    def __init__(self, env: Any):
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return _BrokenKv() if name == "CONFIG_CACHE" else getattr(self._env, name)


class _BrokenKv:
    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"KV {name} unavailable")

        return fail
