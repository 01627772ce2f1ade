"""Config encryption on the runtime's WebCrypto: workerd's/Node's on Pyodide, the embedded stand-in on CPython.

AES-GCM is deterministic for a given key, nonce and associated data, so equal observations of a value
sealed with a pinned nonce mean both runtimes produce the same bytes: a value sealed on either opens on
the other. ``VECTOR`` was sealed with ``cryptography``'s AESGCM, as every ``enc:v1:`` value was before
WebCrypto; it must keep opening everywhere.
"""

import base64
from typing import Any

from edgenotify.context import Context
from edgenotify.migrations import automigrate
from edgenotify.notify import config_cache as cache
from edgenotify.notify import configs, crypto
from tests.contract.contracts import contract
from tests.contract.support import raises

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()
VECTOR = "enc:v1:ZGVmZ2hpamtsbW5vMzmtAxqbM+ocWH2fshYPnh20Y2n/A4FQ2hvKyd1uvY5/6lWBi4TxiSc="
VECTOR_PLAIN = '{"secret":"whsec_vector"}'
NONCE = bytes(range(100, 112))


class _EnvWithKey:
    """The real env with ``CONFIG_ENCRYPTION_KEY`` set (the contract's own key, not a developer's)."""

    def __init__(self, env: Any, key: str):
        self._env = env
        self.CONFIG_ENCRYPTION_KEY = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


@contract
async def crypto_sealed_values_cross_runtimes(env: Any) -> Any:
    opened = await crypto.decrypt(VECTOR, KEY, "u1/webhook")
    pinned = await crypto.encrypt(VECTOR_PLAIN, KEY, "u1/webhook", nonce=NONCE)
    fresh = [await crypto.seal("é ✓", KEY, "u1/lark") for _ in range(2)]
    reopened = [await crypto.unseal(value, KEY, "u1/lark") for value in fresh]
    tampered = VECTOR[:-6] + ("AAAAAA" if not VECTOR.endswith("AAAAAA") else "BBBBBB")
    refusals = [
        await raises(lambda: crypto.decrypt(VECTOR, OTHER_KEY, "u1/webhook"), kind=crypto.ConfigCryptoError),
        await raises(lambda: crypto.decrypt(VECTOR, KEY, "u2/webhook"), kind=crypto.ConfigCryptoError),
        await raises(lambda: crypto.decrypt(tampered, KEY, "u1/webhook"), kind=crypto.ConfigCryptoError),
        await raises(lambda: crypto.unseal(VECTOR, None, "u1/webhook"), kind=crypto.ConfigCryptoError),
        await raises(lambda: crypto.seal("x", "c2hvcnQ=", "a"), kind=crypto.ConfigCryptoError),
    ]
    assert opened == VECTOR_PLAIN and pinned == VECTOR, pinned
    assert fresh[0] != fresh[1] and reopened == ["é ✓", "é ✓"]
    return {"opened": opened, "pinned_equals_vector": pinned == VECTOR, "reopened": reopened, "refusals": refusals}


@contract
async def crypto_configs_encrypted_at_rest(env: Any) -> Any:
    """save_config seals with the env's key; D1 and KV hold only ciphertext; a wrong key is a clear 503."""
    keyed = _EnvWithKey(env, KEY)
    context = Context.create(keyed, None)
    await automigrate.apply_pending(context.db, automigrate.bundled_files())
    user = "contract-crypto-user"
    await context.db.run("DELETE FROM user_configs WHERE user_id = ?", user)
    await cache.cache_delete(context, cache.user_configs_key(user), cache.config_key(user, "webhook"))
    secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
    saved = await configs.save_config(context, user, "webhook", {"url": "https://h.example/x", "secret": secret}, True)
    stored = await context.db.first("SELECT config_data FROM user_configs WHERE user_id = ?", user)
    loaded = await configs.load_active_configs(context, user)
    cached = await env.CONFIG_CACHE.get(cache.user_configs_key(user))
    wrong = Context.create(_EnvWithKey(env, OTHER_KEY), None)
    error = await raises(lambda: configs.load_config(wrong, user, "webhook"), kind=crypto.ConfigCryptoError)
    assert stored["config_data"].startswith(crypto.PREFIX) and secret not in stored["config_data"]
    assert secret not in (cached or "") and loaded[0].config["secret"] == secret
    return {"saved_encrypted": saved.encrypted, "loaded": [c.config for c in loaded], "wrong_key": error}
