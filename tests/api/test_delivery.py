# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Delivery after the response to real loopback receivers: signatures, payloads, and every kind
of failure recorded on the row (reason in ``error``, a retry scheduled) — never raised."""

import socket

import pytest

from tests.api.notify_kit import BOT_TOKEN, LARK_SECRET, Receivers, api, receivers  # noqa: F401 - fixtures

MESSAGE = {"user_id": "u1", "subject": "Build", "content": "Build #7 passed"}


def _assert_success(row: dict) -> None:
    assert row["status"] == "success", row
    assert row["sent_at"] is not None and row["error"] is None and row["next_attempt_at"] is None


def _assert_retrying(row: dict, error_start: str) -> None:
    assert row["status"] == "pending", row
    assert row["retry_count"] == 1 and row["sent_at"] is None
    assert row["error"].startswith(error_start), row["error"]
    assert row["next_attempt_at"] > row["created_at"]


def test_webhook_is_signed_per_standard_webhooks(api, receivers: Receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    [request] = hook.requests
    assert request.verified is True, request.problem
    assert request.headers["webhook-id"] == ids["webhook"]
    assert request.headers["content-type"] == "application/json"
    event = request.json
    assert event["type"] == "notification.created" and str(event["timestamp"]) == request.headers["webhook-timestamp"]
    assert {k: event["data"][k] for k in ("message_id", "user_id", "channel", "subject", "content")} == {
        "message_id": ids["webhook"],
        "user_id": "u1",
        "channel": "webhook",
        "subject": "Build",
        "content": "Build #7 passed",
    }
    _assert_success(api.log(ids["webhook"]))
    assert api.user_stats("u1")["success_count"] == 1


def test_webhook_without_secret_is_unsigned(api, receivers: Receivers):
    hook = receivers.webhook(secret=None)
    api.webhook_for("u1", hook, secret=None)
    ids = api.sent(MESSAGE)
    api.drain()
    assert "webhook-signature" not in hook.requests[0].headers
    _assert_success(api.log(ids["webhook"]))


def test_a_receiver_with_another_secret_rejects_the_signature(api, receivers: Receivers):
    hook = receivers.webhook(secret="whsec_" + "QUJD" * 8)  # not the secret the config holds
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    assert hook.requests[0].verified is False
    _assert_retrying(api.log(ids["webhook"]), "HTTP 401")


def test_telegram_send_message(api, receivers: Receivers):
    bot = receivers.telegram()
    api.telegram_for("u1", bot, chat_id="-1001234")
    ids = api.sent(MESSAGE)
    api.drain()
    [request] = bot.requests
    assert request.verified is True, request.problem
    assert request.json == {"chat_id": "-1001234", "text": "Build\n\nBuild #7 passed"}
    _assert_success(api.log(ids["telegram"]))


def test_telegram_ok_false_is_a_failure(api, receivers: Receivers):
    bot = receivers.telegram()
    bot.answer(200, {"ok": False, "description": "Bad Request: chat not found"})
    api.telegram_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["telegram"]), "HTTP 200: Bad Request: chat not found")


def test_the_bot_token_never_appears_in_a_stored_error(api, receivers: Receivers):
    bot = receivers.telegram()
    bot.answer(500, {"ok": False, "description": f"internal error for bot{BOT_TOKEN}"})
    api.telegram_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    row = api.log(ids["telegram"])
    assert BOT_TOKEN not in row["error"] and "****" in row["error"]


def test_lark_message_is_signed(api, receivers: Receivers):
    bot = receivers.lark()
    api.lark_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    [request] = bot.requests
    assert request.verified is True, request.problem
    assert request.json["msg_type"] == "text" and request.json["content"] == {"text": "Build\n\nBuild #7 passed"}
    _assert_success(api.log(ids["lark"]))


def test_lark_without_secret_sends_no_sign(api, receivers: Receivers):
    bot = receivers.lark(secret=None)
    api.lark_for("u1", bot, secret=None)
    api.sent(MESSAGE)
    api.drain()
    assert "sign" not in bot.requests[0].json and "timestamp" not in bot.requests[0].json


def test_lark_sign_error_is_a_failure_despite_http_200(api, receivers: Receivers):
    bot = receivers.lark(secret=LARK_SECRET + "-other")
    api.lark_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    assert bot.requests[0].verified is False
    _assert_retrying(api.log(ids["lark"]), "HTTP 200: Lark code 19021")


def test_redirects_are_failures_not_followed(api, receivers: Receivers):
    hook, elsewhere = receivers.webhook(), receivers.webhook()
    hook.answer(302, headers={"location": elsewhere.url})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    assert elsewhere.requests == []
    _assert_retrying(api.log(ids["webhook"]), "HTTP 302: redirect to")


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_4xx_and_5xx_are_failures_with_the_reason(api, receivers: Receivers, status):
    hook = receivers.webhook()
    hook.answer(status, {"detail": f"receiver says {status}"})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    row = api.log(ids["webhook"])
    _assert_retrying(row, f"HTTP {status}")
    assert f"receiver says {status}" in row["error"]
    assert api.user_stats("u1")["failed_count"] == 0  # not final yet


def test_a_receiver_that_never_answers_times_out(api, receivers: Receivers):
    api.worker.server_env.DELIVERY_TIMEOUT_SECONDS = "0.2"
    hook = receivers.webhook()
    hook.hang()
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    assert len(hook.requests) == 1
    _assert_retrying(api.log(ids["webhook"]), "timeout after 0.2s")


def test_connection_refused_is_a_network_error(api):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api.put_channel("u1", "webhook", {"url": f"http://127.0.0.1:{port}/hook"})
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["webhook"]), "network error: ConnectError")


def test_a_url_refused_by_the_outbound_policy_fails_permanently(api, receivers: Receivers):
    api.webhook_for("u1", receivers.webhook())
    # A config written before a policy change: only reachable by editing the row (the API refuses it).
    api.sql("UPDATE user_configs SET config_data = ? WHERE user_id = 'u1'", '{"url": "http://10.0.0.8/hook"}')
    ids = api.sent(MESSAGE)  # KV is cold for u1: the send reads the edited row
    api.drain()
    row = api.log(ids["webhook"])
    assert row["status"] == "failed" and row["error"].startswith("refused URL:"), row
    assert row["next_attempt_at"] is None
    assert api.user_stats("u1")["failed_count"] == 1


def test_an_exception_inside_a_channel_is_recorded_not_raised(api, receivers: Receivers):
    bot = receivers.telegram()
    api.telegram_for("u1", bot)
    api.sql(
        "UPDATE user_configs SET config_data = ? WHERE user_id = 'u1'",
        f'{{"bot_token": "{BOT_TOKEN}", "api_base": "{bot.base_url}"}}',  # chat_id missing
    )
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["telegram"]), "delivery error: KeyError")
    assert api.worker.server.runtime.tracker.failures == []  # nothing escaped the waitUntil work


def test_all_outcomes_of_a_send_are_recorded_in_one_batch(api, receivers: Receivers):
    ok, failing = receivers.webhook(), receivers.telegram()
    failing.always(500, {"ok": False})
    api.webhook_for("u1", ok)
    api.telegram_for("u1", failing)
    api.sent({"user_id": "u1", "content": "warm"})
    api.drain()
    binding = api.worker.server_env.DB
    before = binding.calls
    ids = api.sent(MESSAGE)
    api.drain()
    assert binding.calls - before == 2  # the send's batch + one batch recording both outcomes
    _assert_success(api.log(ids["webhook"]))
    assert api.log(ids["telegram"])["status"] == "pending"


def test_deliveries_share_one_lazily_built_tls_context(api, receivers: Receivers):
    """Each delivery's client reuses the isolate's TLS context instead of loading certifi again;
    it is built on first use, not at import (the edge snapshots imports)."""
    import subprocess
    import sys

    from edgenotify.notify.delivery.transport import native

    probe = "import edgenotify.notify.delivery.transport.native as d; print(d._ssl_context is None)"
    fresh = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "True"
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    api.sent({"user_id": "u1", "content": "one"})
    api.drain()
    first = native._ssl_context
    api.sent({"user_id": "u1", "content": "two"})
    api.drain()
    assert first is not None and native._ssl_context is first and len(hook.requests) == 2
