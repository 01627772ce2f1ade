# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""Channel configs over HTTP: CRUD per channel, validation, masking, KV cache and invalidation,
audit rows in the write's batch, SSRF refusals, and D1 round trips per request."""

import asyncio
import base64
import json
import time

import pytest

from edgenotify.context import Context
from edgenotify.notify.configs import load_active_configs
from tests.api.config_kit import CONFIGS, SECRETS, WEBHOOK_SECRET, Client, client, error_of  # noqa: F401


@pytest.mark.parametrize("channel", ["webhook", "telegram", "lark"])
def test_put_get_list_delete_each_channel(client: Client, channel):
    put = client.put_config("u1", channel)
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["user_id"], body["channel"], body["is_active"], body["encrypted"]) == ("u1", channel, True, False)
    got = client.get(f"/v1/users/u1/channels/{channel}")
    assert got.status_code == 200 and got.json()["config"] == body["config"]
    listed = client.get("/v1/users/u1/channels").json()
    assert [item["channel"] for item in listed["items"]] == [channel]
    assert client.delete(f"/v1/users/u1/channels/{channel}").status_code == 204
    assert error_of(client.get(f"/v1/users/u1/channels/{channel}"))["code"] == "config_not_found"
    assert error_of(client.delete(f"/v1/users/u1/channels/{channel}"))["code"] == "config_not_found"
    assert client.get("/v1/users/u1/channels").json() == {"user_id": "u1", "items": []}


def test_secrets_are_masked_in_every_response(client: Client):
    texts = [client.put_config("u1", channel).text for channel in CONFIGS]
    texts += [client.get(f"/v1/users/u1/channels/{channel}").text for channel in CONFIGS]
    texts.append(client.get("/v1/users/u1/channels").text)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    configs = {item["channel"]: item["config"] for item in client.get("/v1/users/u1/channels").json()["items"]}
    assert configs["webhook"]["secret"] == "whsec_****" + WEBHOOK_SECRET[-4:]
    assert configs["telegram"] == {"bot_token": "****bbbb", "chat_id": "-1001234567"}
    assert configs["lark"]["webhook_url"] == "https://open.feishu.cn/open-apis/bot/v2/hook/****e1f0"
    assert configs["lark"]["secret"] == "****alue"


def test_telegram_chat_id_number_is_stored_as_text_and_optional_fields_stay_absent(client: Client):
    body = client.put_config("u1", "telegram", {"bot_token": CONFIGS["telegram"]["bot_token"], "chat_id": 42}).json()
    assert body["config"] == {"bot_token": "****bbbb", "chat_id": "42"}
    stored = json.loads(client.sql("SELECT config_data FROM user_configs")[0]["config_data"])
    assert stored == {"bot_token": CONFIGS["telegram"]["bot_token"], "chat_id": "42"}


BAD_CONFIGS = [
    ("webhook", {"url": "https://h.example.com", "secret": "nope"}, "invalid_value", "config.secret"),
    ("webhook", {"url": "https://h.example.com", "secret": "whsec_c2hvcnQ="}, "invalid_value", "config.secret"),
    ("webhook", {"secret": WEBHOOK_SECRET}, "missing_field", "config.url"),
    ("webhook", {"url": "https://h.example.com", "extra": 1}, "unknown_field", "config.extra"),
    ("webhook", {"url": 5}, "invalid_type", "config.url"),
    ("telegram", {"bot_token": "abc", "chat_id": "1"}, "invalid_value", "config.bot_token"),
    (
        "telegram",
        {"bot_token": CONFIGS["telegram"]["bot_token"], "chat_id": "not a chat"},
        "invalid_value",
        "config.chat_id",
    ),
    ("telegram", {"bot_token": CONFIGS["telegram"]["bot_token"]}, "missing_field", "config.chat_id"),
    ("lark", {"webhook_url": "https://h.example.com", "secret": "has ****"}, "invalid_value", "config.secret"),
    ("lark", {"url": "https://h.example.com"}, "missing_field", "config.webhook_url"),
]


@pytest.mark.parametrize("channel,config,code,field", BAD_CONFIGS)
def test_per_channel_validation(client: Client, channel, config, code, field):
    response = client.put_config("u1", channel, config)
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field)
    assert client.sql("SELECT count(*) AS n FROM user_configs")[0]["n"] == 0


SSRF = [
    ("webhook", {"url": "http://hooks.example.com/x"}, "config.url"),
    ("webhook", {"url": "https://user:pass@hooks.example.com/x"}, "config.url"),
    ("webhook", {"url": "https://10.0.0.8/x"}, "config.url"),
    ("webhook", {"url": "https://169.254.169.254/latest"}, "config.url"),
    ("webhook", {"url": "https://[::ffff:192.168.0.1]/x"}, "config.url"),
    ("webhook", {"url": "https://2130706433/x"}, "config.url"),
    (
        "telegram",
        {"bot_token": CONFIGS["telegram"]["bot_token"], "chat_id": "1", "api_base": "https://[fd00::1]"},
        "config.api_base",
    ),
    ("lark", {"webhook_url": "https://192.168.1.1/hook/x"}, "config.webhook_url"),
]


@pytest.mark.parametrize("channel,config,field", SSRF)
def test_ssrf_refusals_name_the_field(client: Client, channel, config, field):
    error = error_of(client.put_config("u1", channel, config))
    assert (error["code"], error["field"]) == ("unsafe_url", field)


def test_loopback_only_in_development(tmp_path):
    from tests.conftest import start_worker

    config = {"url": "http://127.0.0.1:9/hook"}
    dev, stop = start_worker(tmp_path / "dev")
    try:
        ok = dev.client.put("/v1/users/u1/channels/webhook", json={"config": config}, headers=dev.headers())
        assert ok.status_code == 200, ok.text
    finally:
        stop()
    prod, stop = start_worker(tmp_path / "dev", ENVIRONMENT="production")  # schema already migrated
    try:
        for url in ("http://127.0.0.1:9/hook", "https://localhost/hook", "https://[::1]/hook"):
            refused = prod.client.put(
                "/v1/users/u1/channels/webhook", json={"config": {"url": url}}, headers=prod.headers()
            )
            assert refused.status_code == 422 and error_of(refused)["code"] == "unsafe_url", refused.text
    finally:
        stop()


def test_unknown_channel_and_bad_user_id(client: Client):
    error = error_of(client.put("/v1/users/u1/channels/sms", {"config": {}}))
    assert (error["code"], error["field"]) == ("unsupported_channel", "channel")
    for user in ["u" * 129, "bad%20id", "%C3%BC", "a%00b"]:
        response = client.get(f"/v1/users/{user}/channels")
        assert response.status_code == 422, user
        assert error_of(response) | {"message": ""} == {"code": "invalid_path_param", "field": "user_id", "message": ""}


def test_is_active_flag_and_load_active_configs(client: Client):
    client.put_config("u1", "webhook")
    client.put_config("u1", "telegram", active=False)
    client.put_config("u1", "lark")
    listed = {i["channel"]: i["is_active"] for i in client.get("/v1/users/u1/channels").json()["items"]}
    assert listed == {"lark": True, "telegram": False, "webhook": True}

    async def load(channels):
        context = Context.create(client.worker.env, None)
        configs = await load_active_configs(context, "u1", channels)
        return configs, context.db.round_trips

    configs, trips = asyncio.run(load(None))
    assert [c.channel for c in configs] == ["lark", "webhook"]
    assert configs[1].config["secret"] == WEBHOOK_SECRET  # decrypted, unmasked for delivery
    assert trips == 0  # the list GET above left cfgs:v1:u1 in KV
    configs, trips = asyncio.run(load(["telegram", "webhook"]))
    assert [c.channel for c in configs] == ["webhook"] and trips == 0


def test_cache_read_write_read_and_zero_d1_when_warm(client: Client):
    client.put_config("u1", "webhook")
    assert client.kv("cfg:v1:u1:webhook") is None and client.kv("cfgs:v1:u1") is None
    client.get("/v1/users/u1/channels/webhook")
    client.get("/v1/users/u1/channels")
    assert json.loads(client.kv("cfg:v1:u1:webhook"))["v"]["channel"] == "webhook"
    assert len(json.loads(client.kv("cfgs:v1:u1"))["v"]) == 1
    listed = asyncio.run(client.worker.env.CONFIG_CACHE.list(prefix="cfg"))["keys"]
    assert {k["name"] for k in listed} == {"cfg:v1:u1:webhook", "cfgs:v1:u1"}
    assert all(time.time() + 50 <= k["expiration"] <= time.time() + 61 for k in listed)  # TTL 60 s (KV's minimum)

    before = client.d1_calls
    assert client.get("/v1/users/u1/channels/webhook").status_code == 200
    assert client.get("/v1/users/u1/channels").status_code == 200
    assert client.d1_calls == before  # both served by KV

    new = {"url": "https://other.example.com/in"}
    assert client.put_config("u1", "webhook", new).status_code == 200
    assert client.kv("cfg:v1:u1:webhook") is None and client.kv("cfgs:v1:u1") is None  # invalidated
    assert client.get("/v1/users/u1/channels/webhook").json()["config"] == new
    assert client.get("/v1/users/u1/channels").json()["items"][0]["config"] == new

    assert client.delete("/v1/users/u1/channels/webhook").status_code == 204
    assert client.kv("cfg:v1:u1:webhook") is None and client.kv("cfgs:v1:u1") is None
    assert client.get("/v1/users/u1/channels/webhook").status_code == 404


def test_missing_config_is_cached_as_absent(client: Client):
    assert client.get("/v1/users/nobody/channels/lark").status_code == 404
    before = client.d1_calls
    assert client.get("/v1/users/nobody/channels/lark").status_code == 404
    assert client.d1_calls == before
    assert client.put_config("nobody", "lark").status_code == 200
    assert client.get("/v1/users/nobody/channels/lark").status_code == 200


def test_writes_are_one_batch_with_their_audit_row(client: Client):
    client.get("/v1/users/u1/channels/webhook")  # a warm isolate: its restore-marker check is cached
    before = client.d1_calls
    put = client.put_config("u1", "webhook")
    assert client.d1_calls - before == 1
    before = client.d1_calls
    deleted = client.delete("/v1/users/u1/channels/webhook", headers={"x-request-id": "req-del-1"})
    assert deleted.status_code == 204 and client.d1_calls - before == 1
    client.delete("/v1/users/u1/channels/webhook")  # absent: no audit row
    rows = client.sql(
        "SELECT actor, action, resource_type, resource_id, details, request_id FROM audit_logs ORDER BY id"
    )
    assert [(r["actor"], r["action"], r["resource_type"], r["resource_id"]) for r in rows] == [
        ("client", "config.put", "user_config", "u1/webhook"),
        ("client", "config.delete", "user_config", "u1/webhook"),
    ]
    assert rows[0]["request_id"] == put.headers["x-request-id"] and rows[1]["request_id"] == "req-del-1"
    assert WEBHOOK_SECRET not in rows[0]["details"]


class BrokenKV:
    """A KV binding whose every operation throws, like a KV outage seen from the Worker."""

    def __init__(self) -> None:
        self.calls = 0

    async def _fail(self, *args, **kwargs):
        self.calls += 1
        raise RuntimeError("KV GET failed: 503 Service Unavailable")

    get = put = delete = _fail


def test_kv_failure_degrades_to_d1(client: Client):
    broken = BrokenKV()
    client.worker.server_env.CONFIG_CACHE = broken
    assert client.put_config("u1", "webhook").status_code == 200
    for _ in range(2):
        assert client.get("/v1/users/u1/channels/webhook").status_code == 200
        assert [i["channel"] for i in client.get("/v1/users/u1/channels").json()["items"]] == ["webhook"]
    assert client.delete("/v1/users/u1/channels/webhook").status_code == 204
    assert broken.calls >= 8

    async def load():
        env = client.worker.env
        env.CONFIG_CACHE = BrokenKV()
        return await load_active_configs(Context.create(env, None), "u1")

    assert asyncio.run(load()) == []


KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def _with_worker(state, test, **overrides):
    from tests.conftest import start_worker

    worker, stop = start_worker(state, **overrides)
    client = Client(worker)
    try:
        return test(client)
    finally:
        client.close()
        stop()


def test_encryption_at_rest_round_trip_and_wrong_key(tmp_path):
    state = tmp_path / "state"

    def write_and_read(client: Client):
        body = client.put_config("u1", "webhook").json()
        assert body["encrypted"] is True
        stored = client.sql("SELECT config_data FROM user_configs")[0]["config_data"]
        assert stored.startswith("enc:v1:")
        assert WEBHOOK_SECRET not in stored and "hooks.example.com" not in stored
        got = client.get("/v1/users/u1/channels/webhook").json()
        assert got["encrypted"] is True and got["config"]["secret"] == "whsec_****" + WEBHOOK_SECRET[-4:]
        assert got["config"]["url"] == CONFIGS["webhook"]["url"]

        async def load():
            return await load_active_configs(Context.create(client.worker.env, None), "u1")

        assert asyncio.run(load())[0].config == CONFIGS["webhook"]
        client.get("/v1/users/u1/channels")
        cached = client.kv("cfgs:v1:u1")  # KV holds the stored (encrypted) form only
        assert "enc:v1:" in cached and WEBHOOK_SECRET not in cached and "hooks.example.com" not in cached

    _with_worker(state, write_and_read, CONFIG_ENCRYPTION_KEY=KEY)

    def refused(client: Client):
        for path in ("/v1/users/u1/channels/webhook", "/v1/users/u1/channels"):
            response = client.get(path)
            assert response.status_code == 503, response.text
            assert error_of(response)["code"] == "config_decryption_failed"

    _with_worker(state, refused, CONFIG_ENCRYPTION_KEY=OTHER_KEY)
    _with_worker(state, refused)  # no key at all

    def bad_key(client: Client):
        error = error_of(client.put_config("u2", "lark"))
        assert error["code"] == "encryption_key_invalid"

    _with_worker(state, bad_key, CONFIG_ENCRYPTION_KEY="not-base64-32-bytes")
