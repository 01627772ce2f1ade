"""KV binding contracts (``env.CONFIG_CACHE``): value types, TTL rules, metadata, list pagination.

Every key starts with ``c:kv:<contract>:`` so contracts never see each other's keys.
"""

import json
import time
from typing import Any

from tests.contract.contracts import contract
from tests.contract.support import list_all_kv, raises


async def _clear(kv: Any, prefix: str) -> None:
    for name in await list_all_kv(kv, prefix):
        await kv.delete(name)


@contract
async def kv_get_types(env: Any) -> Any:
    kv = env.CONFIG_CACHE
    p = "c:kv:types:"
    doc = {"x": [1, 2.5, None], "y": "é", "z": {"n": True}}
    await kv.put(p + "text", "hello")
    await kv.put(p + "json", json.dumps(doc))
    await kv.put(p + "bytes", b"\x00\x01\xff")
    text = await kv.get(p + "text")
    as_text = await kv.get(p + "text", "text")
    as_kw = await kv.get(p + "text", type="text")
    parsed = await kv.get(p + "json", "json")
    parsed_opts = await kv.get(p + "json", {"type": "json"})
    buf = await kv.get(p + "bytes", "arrayBuffer")
    bad_json = await raises(lambda: kv.get(p + "text", "json"), "JSON")
    missing = [await kv.get(p + "missing", t) for t in ("text", "json", "arrayBuffer")]
    bulk = await kv.get([p + "text", p + "missing"])
    assert text == as_text == as_kw == "hello"
    assert parsed == parsed_opts == doc and parsed["z"].n is True  # JsDict: attribute access
    assert bytes(buf) == b"\x00\x01\xff"
    assert missing == [None, None, None]
    assert dict(bulk) == {p + "text": "hello", p + "missing": None}, bulk
    return {
        "text": text,
        "json": parsed,
        "bytes": bytes(buf),
        "bad_json_is_syntax_error": bad_json.startswith("SyntaxError"),
        "missing": missing,
        "bulk": dict(bulk),
    }


@contract
async def kv_ttl_minimum_60s(env: Any) -> Any:
    kv = env.CONFIG_CACHE
    key = "c:kv:ttl:k"
    ttl59 = await raises(lambda: kv.put(key, "v", expirationTtl=59), "Expiration TTL must be at least 60")
    ttl0 = await raises(lambda: kv.put(key, "v", expirationTtl=0), "Invalid expiration_ttl of 0")
    soon = int(time.time()) + 30
    exp_soon = await raises(lambda: kv.put(key, "v", expiration=soon), "must be at least 60 seconds in the future")
    exp_past = await raises(lambda: kv.put(key, "v", expiration=1), "Invalid expiration of 1")
    after_refusals = await kv.get(key)
    await kv.put(key, "v60", expirationTtl=60)
    await kv.put(key + "2", "opts", {"expirationTtl": 300})
    await kv.put(key + "3", "abs", expiration=int(time.time()) + 120)
    listed = {k["name"]: k for k in (await kv.list(prefix=key))["keys"]}
    now = time.time()
    assert all(now + 50 < listed[n]["expiration"] < now + 310 for n in listed), listed
    return {
        "errors": [ttl59, ttl0],
        "expiration_errors": [e.split(" of ")[0] for e in (exp_soon, exp_past)],
        "refused_put_wrote_nothing": after_refusals is None,
        "stored": [await kv.get(key), await kv.get(key + "2"), await kv.get(key + "3")],
        "listed_with_expiration": sorted(listed),
    }


@contract
async def kv_metadata(env: Any) -> Any:
    kv = env.CONFIG_CACHE
    p = "c:kv:meta:"
    await kv.put(p + "with", "v", metadata={"v": 2, "n": None, "s": "x", "l": [1, "a"]})
    await kv.put(p + "json", json.dumps({"a": 1}), metadata={"kind": "cfg"})
    await kv.put(p + "without", "w")
    with_meta = await kv.getWithMetadata(p + "with")
    as_json = await kv.getWithMetadata(p + "json", "json")
    without = await kv.getWithMetadata(p + "without")
    missing = await kv.getWithMetadata(p + "missing")
    too_big = await raises(lambda: kv.put(p + "big", "v", metadata={"a": "x" * 1100}), "Metadata length")
    listed = (await kv.list(prefix=p))["keys"]
    assert with_meta.value == "v" and with_meta.metadata["v"] == 2
    return {
        "with": [with_meta["value"], with_meta["metadata"]],
        "json": [as_json["value"], as_json["metadata"]],
        "without": [without["value"], without["metadata"]],
        "missing": [missing["value"], missing["metadata"]],
        "too_big": too_big.split(": ", 1)[-1],
        "listed": [[k["name"], k["metadata"] if "metadata" in k else "absent"] for k in listed],
    }


@contract
async def kv_list_pagination(env: Any) -> Any:
    kv = env.CONFIG_CACHE
    p = "c:kv:list:"
    await _clear(kv, p)
    names = [f"{p}{i:02d}" for i in range(7)]
    for i, name in enumerate(reversed(names)):
        await kv.put(name, str(i), metadata={"i": i})
    await kv.put("c:kv:lisz", "outside the prefix")
    pages = []
    cursor = None
    while True:
        page = await (kv.list(prefix=p, limit=3, cursor=cursor) if cursor else kv.list(prefix=p, limit=3))
        pages.append([[k["name"] for k in page["keys"]], page["list_complete"], "cursor" in page])
        if page["list_complete"]:
            break
        cursor = page["cursor"]
        assert isinstance(cursor, str) and cursor
    whole = await kv.list(prefix=p)
    limit_error = await raises(lambda: kv.list(prefix=p, limit=1001), "key_count_limit")
    assert [n for page in pages for n in page[0]] == names  # sorted by name, each once
    assert whole["list_complete"] is True and [k["name"] for k in whole["keys"]] == names
    return {
        "pages": pages,
        "whole_has_cursor": "cursor" in whole,
        # JsDict pitfall (docs/platform.md §5): page.keys is dict.keys, the data is page["keys"].
        "keys_attribute_is_the_dict_method": callable(whole.keys) and whole.list_complete is True,
        "limit_error": limit_error.split(": ", 1)[-1],
    }


@contract
async def kv_delete_and_key_rules(env: Any) -> Any:
    kv = env.CONFIG_CACHE
    p = "c:kv:del:"
    await kv.put(p + "a", "1")
    deleted = await kv.delete(p + "a")
    again = await kv.delete(p + "a")  # deleting a missing key is not an error
    errors = {
        "empty": await raises(lambda: kv.put("", "x"), "Key name cannot be empty"),
        "dot": await raises(lambda: kv.put(".", "x"), "is not allowed as a key name"),
        "long": await raises(lambda: kv.put("k" * 513, "x"), "exceeds key length limit of 512"),
    }
    await kv.put("k" * 512, "max")
    long_ok = await kv.get("k" * 512)
    await kv.delete("k" * 512)
    return {"deleted": [deleted, again], "gone": await kv.get(p + "a"), "errors": errors, "long_ok": long_ok}


@contract
async def kv_put_coerces_values_to_strings(env: Any) -> Any:
    """workerd's KV put() takes any JS value where a string is expected: String(value) is stored."""
    kv = env.CONFIG_CACHE
    p = "c:kv:coerce:"
    stored = {}
    for name, value in (("int", 5), ("float", 1.5), ("whole_float", 2.0), ("true", True), ("none", None)):
        await kv.put(p + name, value)
        stored[name] = await kv.get(p + name)
    return stored
