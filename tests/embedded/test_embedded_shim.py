"""The ``workers`` stand-in, the execution context, the env builder and the entrypoint loader."""

import asyncio
import sys
from http import HTTPMethod

import pytest

from devkit.embedded import workers_shim
from devkit.embedded.context import ExecutionContext, ScheduledController
from devkit.embedded.d1 import D1Database
from devkit.embedded.env import build_env, parse_dotenv
from devkit.embedded.jsvalues import JsDict, JsException
from devkit.embedded.kv import KVNamespace
from devkit.embedded.r2 import R2Bucket
from devkit.embedded.runtime import load_entrypoint
from devkit.embedded.workers_shim import Request, Response, WorkerEntrypoint


def run(coro):
    return asyncio.run(coro)


def test_request_shape():
    request = Request(
        "http://localhost/x?y=1",
        "POST",
        [("Content-Type", "application/json"), ("X-Multi", "a"), ("x-multi", " b ")],
        b'{"name": "n"}',
    )
    assert request.url == "http://localhost/x?y=1"
    assert request.method == HTTPMethod.POST and request.method == "POST"
    assert request.headers.get("content-type") == "application/json"
    assert request.headers.get("CONTENT-TYPE") == "application/json"
    assert dict(request.headers.items()) == {"content-type": "application/json", "x-multi": "a, b"}
    assert run(request.json()) == {"name": "n"}
    with pytest.raises(OSError, match="Body already used"):
        run(request.text())


def test_request_reads_text_and_bytes():
    assert run(Request("http://h/", "PUT", None, b"\xe2\x82\xac").text()) == "€"
    assert run(Request("http://h/", "PUT", None, b"raw").bytes()) == b"raw"
    assert run(Request("http://h/", "GET").bytes()) == b""


def test_unknown_method_fails_like_the_sdk():
    with pytest.raises(KeyError):
        _ = Request("http://h/", "BREW").method


def test_response_shape_and_defaults():
    response = Response("hi", status=201, headers={"X-A": "1"})
    assert response.status == 201 and response.ok
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    assert response.headers.get("x-a") == "1"
    assert run(response.text()) == "hi"
    assert Response(b"\x00").headers.get("content-type") is None
    assert Response(None).status == 200
    assert Response("x", headers=[("set-cookie", "a=1"), ("set-cookie", "b=2")]).headers.get_all("set-cookie") == [
        "a=1",
        "b=2",
    ]


def test_response_json_static_and_instance():
    response = Response.json({"error": "x"}, status=404)
    assert response.status == 404 and response.headers["content-type"] == "application/json"
    assert run(response.json()) == {"error": "x"}
    assert Response.from_json([1], headers={"content-type": "application/vnd+json"}).headers["content-type"] == (
        "application/vnd+json"
    )


def test_response_refusals_match_workerd():
    with pytest.raises(TypeError, match="Unsupported type in Response: dict"):
        Response({"a": 1})
    with pytest.raises(TypeError, match="Unsupported type in Response: bytearray"):
        Response(bytearray(b"x"))
    with pytest.raises(JsException, match="RangeError: Responses may only be constructed with status codes"):
        Response("x", status=99)
    with pytest.raises(JsException, match="null body status"):
        Response(b"", status=204)
    assert Response(None, status=204).status == 204
    with pytest.raises(TypeError, match="unexpected type for headers"):
        Response("x", headers="bad")
    with pytest.raises(TypeError, match="Invalid header"):
        Response("x", headers={"bad header": "v"})


def test_worker_entrypoint_keeps_ctx_and_env():
    entry = WorkerEntrypoint("ctx", "env")
    assert (entry.ctx, entry.env) == ("ctx", "env")


def test_jsdict_attribute_access_and_its_pitfall():
    page = JsDict(keys=[1], cursor="c")
    assert page.cursor == "c" and page["keys"] == [1]
    assert callable(page.keys)  # as in the SDK: dict methods win over keys
    with pytest.raises(AttributeError):
        _ = page.missing


def test_load_entrypoint_installs_the_shim_and_imports_src_entry():
    default = load_entrypoint()
    assert sys.modules["workers"] is workers_shim
    assert issubclass(default, WorkerEntrypoint) and default.__name__ == "Default"


def test_wait_until_runs_after_and_drain_waits_for_nested_work():
    order = []

    async def scenario():
        ctx = ExecutionContext()

        async def inner():
            await asyncio.sleep(0)
            order.append("inner")

        async def outer():
            await asyncio.sleep(0)
            ctx.waitUntil(inner())
            order.append("outer")

        ctx.waitUntil(outer())
        order.append("response")
        assert ctx.pending == 1
        await ctx.drain()
        assert ctx.pending == 0

    run(scenario())
    assert order == ["response", "outer", "inner"]


def test_wait_until_failure_is_recorded_not_raised(capsys):
    async def scenario():
        ctx = ExecutionContext()

        async def boom():
            raise RuntimeError("late failure")

        ctx.waitUntil(boom())
        await ctx.drain()
        return ctx.tracker.failures

    failures = run(scenario())
    assert [str(f) for f in failures] == ["late failure"]
    assert "late failure" in capsys.readouterr().out


def test_wait_until_refuses_non_awaitables():
    with pytest.raises(TypeError, match="waitUntil expects a coroutine"):
        ExecutionContext().waitUntil(lambda: None)


def test_scheduled_controller():
    controller = ScheduledController("0 3 * * *", 1_700_000_000_000)
    assert (controller.cron, controller.scheduledTime, controller.type) == ("0 3 * * *", 1_700_000_000_000, "scheduled")
    controller.noRetry()
    assert controller.retry is False


def test_parse_dotenv():
    text = "# comment\nexport A=1\nB=\"two words\"\nC='q'\nD=x # trailing\n\nE=a=b\nnot a pair\n"
    assert parse_dotenv(text) == {"A": "1", "B": "two words", "C": "q", "D": "x", "E": "a=b"}


def test_build_env_reads_wrangler_toml_and_dev_vars(tmp_path):
    config = tmp_path / "wrangler.toml"
    config.write_text(
        '[vars]\nENVIRONMENT = "production"\nOTHER = "kept"\n'
        '[[d1_databases]]\nbinding = "DB"\ndatabase_name = "x"\ndatabase_id = "y"\n'
        '[[kv_namespaces]]\nbinding = "CACHE"\nid = "z"\n'
        '[[r2_buckets]]\nbinding = "FILES"\nbucket_name = "b"\n'
    )
    (tmp_path / ".dev.vars").write_text("ENVIRONMENT=development\nAPI_TOKEN=t1\n")
    env = build_env(tmp_path / "state", config, overrides={"ADMIN_TOKEN": "t2"})
    try:
        assert (env.ENVIRONMENT, env.OTHER, env.API_TOKEN, env.ADMIN_TOKEN) == ("development", "kept", "t1", "t2")
        assert isinstance(env.DB, D1Database) and env.DB.path == tmp_path / "state" / "d1" / "DB.sqlite3"
        assert isinstance(env.CACHE, KVNamespace) and isinstance(env.FILES, R2Bucket)
        run(env.DB.exec("CREATE TABLE x (a)"))
        assert (tmp_path / "state" / "d1" / "DB.sqlite3").is_file()
    finally:
        env.close()


def test_embedded_env_fixture(embedded_env):
    assert embedded_env.ENVIRONMENT == "development"
    assert embedded_env.API_TOKEN and embedded_env.ADMIN_TOKEN and embedded_env.API_TOKEN != embedded_env.ADMIN_TOKEN
    assert run(embedded_env.DB.prepare("SELECT 1 AS one").first("one")) == 1
    run(embedded_env.CONFIG_CACHE.put("k", "v"))
    run(embedded_env.BACKUPS.put("k", "v"))
