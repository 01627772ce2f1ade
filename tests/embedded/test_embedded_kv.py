"""The embedded KV binding: the SDK-wrapper call forms and Miniflare's validation."""

import asyncio
import re
import time

import pytest

from devkit.embedded.jsvalues import JsException
from devkit.embedded.kv import KVNamespace


@pytest.fixture
def kv(tmp_path):
    namespace = KVNamespace(tmp_path / "kv" / "CACHE")
    yield namespace
    namespace.close()


def run(coro):
    return asyncio.run(coro)


def test_put_get_text_json_and_array_buffer(kv):
    run(kv.put("k", '{"a": [1, 2.0]}'))
    assert run(kv.get("k")) == '{"a": [1, 2.0]}'
    assert run(kv.get("k", "text")) == '{"a": [1, 2.0]}'
    value = run(kv.get("k", "json"))
    assert value == {"a": [1, 2]} and value.a == [1, 2]
    assert run(kv.get("k", type="json")) == {"a": [1, 2]}
    assert run(kv.get("k", {"type": "json", "cacheTtl": 60})) == {"a": [1, 2]}
    run(kv.put("text", "hello"))
    with pytest.raises(JsException, match=r'^SyntaxError: .*"hello" is not valid JSON$'):
        run(kv.get("text", "json"))
    assert bytes(run(kv.get("k", "arrayBuffer"))) == b'{"a": [1, 2.0]}'
    run(kv.put("bin", b"\x00\x01"))
    assert bytes(run(kv.get("bin", "arrayBuffer"))) == b"\x00\x01"
    run(kv.put("empty", ""))
    assert run(kv.get("empty")) == ""


def test_missing_keys_and_delete(kv):
    assert run(kv.get("nope")) is None
    run(kv.put("k", "v"))
    run(kv.delete("k"))
    run(kv.delete("never-there"))
    assert run(kv.get("k")) is None


def test_bulk_get(kv):
    run(kv.put("a", '"x"'))
    run(kv.put("b", '"y"'))
    assert run(kv.get(["a", "b", "c"])) == {"a": '"x"', "b": '"y"', "c": None}
    assert run(kv.get(["a", "b"], "json")) == {"a": "x", "b": "y"}
    with pytest.raises(JsException, match="is not a valid type"):
        run(kv.get(["a"], "arrayBuffer"))
    with pytest.raises(JsException, match="maximum of 100 keys"):
        run(kv.get([str(i) for i in range(101)]))
    with pytest.raises(JsException, match="minimum of 1 key"):
        run(kv.get([]))


def test_get_with_metadata(kv):
    run(kv.put("k", "v", metadata={"v": 2}))
    got = run(kv.getWithMetadata("k"))
    assert got["value"] == "v" and got["metadata"] == {"v": 2} and got.metadata.v == 2
    assert run(kv.getWithMetadata("k", type="text"))["value"] == "v"
    missing = run(kv.getWithMetadata("nope"))
    assert missing["value"] is None and missing["metadata"] is None
    assert run(kv.getWithMetadata(["k"]))["k"] == {"value": "v", "metadata": {"v": 2}}


def test_put_options_as_dict_kwargs_or_none(kv):
    run(kv.put("a", "1", {"expirationTtl": 300, "metadata": {"m": 1}}))
    run(kv.put("b", "2", None))
    run(kv.put("c", "3", expirationTtl=120))
    page = run(kv.list())
    by_name = {k["name"]: k for k in page["keys"]}
    assert by_name["a"]["metadata"] == {"m": 1} and by_name["a"]["expiration"] >= int(time.time()) + 299
    assert "expiration" not in by_name["b"] and "metadata" not in by_name["b"]


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"expirationTtl": 59}, "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
        ({"expirationTtl": 0}, "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        ({"expiration": 1}, "Please specify integer greater than the current number of seconds"),
        ({"expiration": "soon"}, "Invalid expiration of soon."),
    ],
)
def test_expiration_must_be_at_least_60_seconds_ahead(kv, opts, message):
    with pytest.raises(JsException, match=re.escape(message)) as caught:
        run(kv.put("k", "v", **opts))
    assert str(caught.value).startswith("Error: KV PUT failed: 400 ")


def test_expiration_less_than_60_seconds_ahead_is_refused(kv):
    with pytest.raises(JsException, match="Expiration times must be at least 60 seconds in the future"):
        run(kv.put("k", "v", expiration=int(time.time()) + 30))
    run(kv.put("k", "v", expiration=int(time.time()) + 90))


def test_expired_keys_read_as_missing_and_leave_lists(kv):
    run(kv.put("gone", "v", expirationTtl=60))
    run(kv.put("kept", "v"))
    kv._db().execute("UPDATE kv SET expiration = ? WHERE key = 'gone'", (int(time.time()) - 1,))
    assert run(kv.get("gone")) is None
    assert [k["name"] for k in run(kv.list())["keys"]] == ["kept"]


def test_key_and_value_validation(kv):
    with pytest.raises(JsException, match=r"^TypeError: Key name cannot be empty\.$"):
        run(kv.get(""))
    with pytest.raises(JsException, match=r'^TypeError: "\.\." is not allowed as a key name\.$'):
        run(kv.put("..", "v"))
    with pytest.raises(JsException, match="^Error: KV PUT failed: 414 UTF-8 encoded length of 513 exceeds"):
        run(kv.put("k" * 513, "v"))
    with pytest.raises(JsException, match="Metadata length of .* exceeds limit of 1024"):
        run(kv.put("k", "v", metadata={"x": "y" * 1100}))
    with pytest.raises(JsException, match="KV put\\(\\) accepts only strings"):
        run(kv.put("k", {"not": "a string"}))
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        run(kv.put("k", bytearray(b"x")))
    with pytest.raises(JsException, match="^TypeError: Unknown response type"):
        run(kv.get("k", "blob"))
    with pytest.raises(JsException, match="Cache TTL must be at least 30"):
        run(kv.get("k", cacheTtl=10))


def test_list_prefix_limit_and_cursor_paging(kv):
    for i in range(7):
        run(kv.put(f"cfg:{i}", "v"))
    run(kv.put("other", "v"))
    names, cursor, pages = [], None, 0
    while True:
        page = run(kv.list(prefix="cfg:", limit=3, cursor=cursor))
        pages += 1
        names += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            assert "cursor" not in page
            break
        cursor = page["cursor"]
    assert names == [f"cfg:{i}" for i in range(7)] and pages == 3
    assert run(kv.list({"prefix": "other"}))["keys"] == [{"name": "other"}]
    assert run(kv.list(None))["list_complete"] is True


def test_list_limit_bounds(kv):
    with pytest.raises(JsException, match="^Error: KV GET failed: 400 .*Please specify an integer less than 1000"):
        run(kv.list(limit=1001))
    with pytest.raises(JsException, match="Please specify an integer greater than 0"):
        run(kv.list(limit=0))
    assert run(kv.list(limit=1000))["list_complete"] is True


def test_calls_and_persistence_across_bindings(kv, tmp_path):
    run(kv.put("k", "v"))
    run(kv.get("k"))
    run(kv.list())
    run(kv.delete("k"))
    assert kv.calls == 4
    run(kv.put("again", "v"))
    other = KVNamespace(tmp_path / "kv" / "CACHE")
    assert run(other.get("again")) == "v"
    other.close()
