# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""POST /v1/notifications: rows per channel, rendering, channel choice, every client error, and
the D1 budget (ONE round trip per send with a warm KV cache)."""

import subprocess
import sys
from pathlib import Path

import pytest

from edgenotify.models.notifications import SendResponse
from tests.api.notify_kit import Receivers, api, receivers  # noqa: F401 - fixtures

TEMPLATE = {
    "name": "Order shipped",
    "variables": [{"name": "order", "required": True}, {"name": "carrier", "required": False, "default": "DHL"}],
    "contents": {
        "webhook": {"subject_template": "Order {{ order }}", "content_template": "Shipped with {{ carrier }}"},
        "telegram": {"content_template": "Order {{ order }} shipped with {{ carrier }}"},
    },
}


@pytest.fixture
def user(api, receivers: Receivers):
    """u1 with an active webhook and telegram; returns the two receivers."""
    hook, bot = receivers.webhook(), receivers.telegram()
    api.webhook_for("u1", hook)
    api.telegram_for("u1", bot)
    return hook, bot


def test_inline_send_creates_one_pending_row_per_active_channel(api, user):
    response = api.send({"user_id": "u1", "subject": "Hello", "content": "World"})
    assert response.status_code == 202
    body = SendResponse.model_validate(response.json())
    assert body.replayed is False
    assert sorted(m.channel for m in body.messages) == ["telegram", "webhook"]
    for ref in body.messages:
        row = api.log(ref.message_id)
        assert (row["user_id"], row["channel_type"], row["subject"], row["content"]) == (
            "u1",
            ref.channel,
            "Hello",
            "World",
        )
        assert row["request_id"] == response.headers["x-request-id"]
    api.drain()
    assert [api.log(m.message_id)["status"] for m in body.messages] == ["success", "success"]
    assert api.user_stats("u1")["notification_count"] == 2


def test_rows_start_pending_with_a_lease_before_delivery(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.hang()  # delivery cannot finish while we look
    api.worker.server_env.DELIVERY_TIMEOUT_SECONDS = "5"
    api.webhook_for("u1", hook)
    ids = api.sent({"user_id": "u1", "content": "x"})
    row = api.log(ids["webhook"])
    assert row["status"] == "pending" and row["sent_at"] is None
    assert row["next_attempt_at"] > row["created_at"]  # the retry cron's safety net
    hook.close()
    api.drain()


def test_template_send_renders_each_channel(api, user):
    hook, bot = user
    api.put_template("shipped", TEMPLATE)
    ids = api.sent({"user_id": "u1", "template_key": "shipped", "variables": {"order": "A-1"}})
    assert api.log(ids["webhook"])["subject"] == "Order A-1"
    assert api.log(ids["webhook"])["content"] == "Shipped with DHL"
    assert api.log(ids["telegram"])["content"] == "Order A-1 shipped with DHL"
    assert api.log(ids["telegram"])["template_key"] == "shipped"
    api.drain()
    assert hook.requests[0].json["data"]["subject"] == "Order A-1"
    assert bot.requests[0].json["text"] == "Order A-1 shipped with DHL"


def test_default_channels_skip_those_the_template_lacks(api, user, receivers: Receivers):
    api.lark_for("u1", receivers.lark())
    api.put_template("shipped", TEMPLATE)
    ids = api.sent({"user_id": "u1", "template_key": "shipped", "variables": {"order": "A-1"}})
    assert sorted(ids) == ["telegram", "webhook"]


def test_explicit_channels_limit_the_send(api, user):
    hook, bot = user
    ids = api.sent({"user_id": "u1", "content": "only telegram", "channels": ["telegram"]})
    assert list(ids) == ["telegram"]
    api.drain()
    assert len(bot.requests) == 1 and hook.requests == []


def test_inactive_configs_are_not_used_by_default(api, user, receivers: Receivers):
    api.lark_for("u1", receivers.lark(), secret=None)
    api.put_channel(
        "u1", "telegram", {"bot_token": user[1].token, "chat_id": "42", "api_base": user[1].base_url}, False
    )
    assert sorted(api.sent({"user_id": "u1", "content": "x"})) == ["lark", "webhook"]


def test_inline_content_with_variables_is_rendered(api, user):
    ids = api.sent({"user_id": "u1", "content": "Hi {{ name }}", "variables": {"name": "Ann"}, "channels": ["webhook"]})
    assert api.log(ids["webhook"])["content"] == "Hi Ann"
    assert api.log(ids["webhook"])["variables"] == '{"name":"Ann"}'


def test_warm_send_is_exactly_one_d1_round_trip(api, user):
    binding = api.worker.server_env.DB
    api.send({"user_id": "u1", "content": "warms the KV cache"})
    api.drain()
    before = binding.calls
    response = api.send({"user_id": "u1", "content": "warm"})
    assert response.headers["x-d1-round-trips"] == "1"
    api.drain()  # delivery: each outcome written as it ends (outcomes ending together share a batch)
    assert 2 <= binding.calls - before <= 1 + 3
    api.put_template("shipped", TEMPLATE)
    api.send({"user_id": "u1", "template_key": "shipped", "variables": {"order": "1"}}, key="warm-up")
    keyed = api.send({"user_id": "u1", "template_key": "shipped", "variables": {"order": "2"}}, key="k-2")
    assert keyed.status_code == 202
    assert keyed.headers["x-d1-round-trips"] == "1"  # template and configs from KV, one batch


def _error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    return error


def test_user_without_active_channels_is_422(api, user):
    _error(api.send({"user_id": "nobody", "content": "x"}), 422, "no_active_channel")


def test_requested_channel_not_configured_is_422(api, user):
    error = _error(api.send({"user_id": "u1", "content": "x", "channels": ["lark"]}), 422, "channel_not_configured")
    assert "lark" in error["message"]


def test_unknown_channel_is_422(api, user):
    _error(api.send({"user_id": "u1", "content": "x", "channels": ["sms"]}), 422, "unsupported_channel", "channels")


def test_duplicate_channels_are_422(api, user):
    body = {"user_id": "u1", "content": "x", "channels": ["webhook", "webhook"]}
    _error(api.send(body), 422, "invalid_value", "channels")


def test_unknown_template_is_422(api, user):
    _error(api.send({"user_id": "u1", "template_key": "nope"}), 422, "unknown_template", "template_key")


def test_inactive_template_is_422(api, user):
    api.put_template("off", {**TEMPLATE, "is_active": False})
    body = {"user_id": "u1", "template_key": "off", "variables": {"order": "1"}}
    _error(api.send(body), 422, "template_inactive", "template_key")


def test_template_without_content_for_requested_channel_is_422(api, user, receivers: Receivers):
    api.lark_for("u1", receivers.lark())
    api.put_template("shipped", TEMPLATE)
    body = {"user_id": "u1", "template_key": "shipped", "variables": {"order": "1"}, "channels": ["lark"]}
    _error(api.send(body), 422, "channel_not_in_template")


def test_missing_variable_is_422_naming_it(api, user):
    api.put_template("shipped", TEMPLATE)
    error = _error(api.send({"user_id": "u1", "template_key": "shipped"}), 422, "missing_variables", "variables")
    assert "order" in error["message"]


def test_undeclared_variable_is_422_naming_it(api, user):
    api.put_template("shipped", TEMPLATE)
    body = {"user_id": "u1", "template_key": "shipped", "variables": {"order": "1", "colour": "red"}}
    error = _error(api.send(body), 422, "undeclared_variables", "variables")
    assert "colour" in error["message"]


def test_neither_template_nor_content_is_422(api, user):
    _error(api.send({"user_id": "u1"}), 422, "missing_field", "content")


@pytest.mark.parametrize("field", ["content", "subject"])
def test_inline_fields_with_a_template_are_422(api, user, field):
    _error(api.send({"user_id": "u1", "template_key": "t", field: "x"}), 422, "invalid_value", field)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"content": "x"}, "missing_field", "user_id"),
        ({"user_id": "u1", "content": "x", "priority": 1}, "unknown_field", "priority"),
        ({"user_id": 7, "content": "x"}, "invalid_type", "user_id"),
        ({"user_id": "u 1", "content": "x"}, "invalid_value", "user_id"),
        ({"user_id": "u1", "content": ""}, "invalid_value", "content"),
        ({"user_id": "u1", "content": "x", "channels": []}, "invalid_value", "channels"),
        ({"user_id": "u1", "content": "x", "variables": ["a"]}, "invalid_type", "variables"),
    ],
)
def test_malformed_bodies_are_422(api, body, code, field):
    _error(api.send(body), 422, code, field)


def test_non_json_and_wrong_content_type(api):
    headers = {**api.auth, "content-type": "application/json"}
    _error(api.client.post("/v1/notifications", content=b"{", headers=headers), 400, "invalid_json")
    headers["content-type"] = "text/plain"
    _error(api.client.post("/v1/notifications", content=b"{}", headers=headers), 415, "unsupported_media_type")
    big = {"user_id": "u1", "content": "x" * 70_000}
    _error(api.send(big), 413, "payload_too_large")


@pytest.mark.parametrize("key", ["k" * 256, "", "schlüssel".encode()])
def test_invalid_idempotency_key_is_400(api, user, key):
    response = api.send({"user_id": "u1", "content": "x"}, key=key)
    _error(response, 400, "invalid_idempotency_key", "Idempotency-Key")
    assert api.count_logs() == 0


def test_a_control_character_in_the_key_is_refused_by_the_server(api, user):
    """The dev server refuses control characters in any header value before the worker runs."""
    response = api.send({"user_id": "u1", "content": "x"}, key=b"del\x7fkey")
    _error(response, 400, "invalid_header_value", "idempotency-key")
    assert api.count_logs() == 0


def test_send_needs_the_client_token(api, user):
    response = api.client.post("/v1/notifications", json={"user_id": "u1", "content": "x"})
    _error(response, 401, "unauthorized")
    admin = api.worker.headers("admin")
    _error(
        api.client.post("/v1/notifications", json={"user_id": "u1", "content": "x"}, headers=admin), 403, "forbidden"
    )


def test_a_rendered_message_too_large_for_a_row_is_422(api, user):
    api.put_template("big", {"name": "Big", "variables": [{"name": "v"}],
                             "contents": {"webhook": {"content_template": "{{ v }}" * 4}}})  # fmt: skip
    body = {"user_id": "u1", "template_key": "big", "variables": {"v": "x" * 30_000}}
    _error(api.send(body), 422, "content_too_large", "variables")
    assert api.count_logs() == 0


def test_send_delivery_retry_and_log_modules_import_without_compiled_packages():
    """The data layer of this API runs where pydantic/cryptography/sqlglot cannot (parity runtime)."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pydantic', 'pydantic_core', 'cryptography', 'sqlglot'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import edgenotify.notify.send, edgenotify.notify.retry, edgenotify.notify.logs, edgenotify.notify.stats\n"
        "import edgenotify.notify.idempotency, edgenotify.notify.delivery.dispatch\n"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=src)
    assert done.returncode == 0, done.stderr
