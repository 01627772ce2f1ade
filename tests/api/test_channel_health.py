# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Failing channels: a config whose deliveries keep failing permanently for the configured period
(default 5 days) is disabled with the reason, shown by GET, refused by sends (422
channel_disabled) and re-enabled by a PUT. Time is arranged in SQL (``failing_since``), never waited."""

from datetime import timedelta

from edgenotify.clock import iso, utcnow
from edgenotify.notify.delivery.schedule import CONFIG_KEY
from tests.api.notify_kit import Receivers, api, receivers  # noqa: F401 - fixtures

MESSAGE = {"user_id": "u1", "content": "Disk almost full"}


def _days_ago(days: float) -> str:
    return iso(utcnow() - timedelta(days=days))


def _config(api) -> dict:
    response = api.get("/v1/users/u1/channels/webhook")
    assert response.status_code == 200, response.text
    return response.json()


def _failing(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.always(410, {"error": "gone"})
    api.webhook_for("u1", hook)
    return hook


def test_a_permanent_failure_starts_the_failure_run_and_a_success_ends_it(api, receivers: Receivers):
    hook = _failing(api, receivers)
    api.sent(MESSAGE)
    api.drain()
    health = _config(api)["health"]
    assert health["failing_since"] is not None and health["disabled_at"] is None
    hook.always(200, {"ok": True})
    api.sent(MESSAGE)
    api.drain()
    row = api.sql("SELECT failing_since, disabled_at FROM user_configs WHERE user_id = 'u1'")[0]
    assert row == {"failing_since": None, "disabled_at": None}


def test_failing_for_longer_than_the_period_disables_the_config_until_a_put(api, receivers: Receivers):
    hook = _failing(api, receivers)
    api.sql("UPDATE user_configs SET failing_since = ? WHERE user_id = 'u1'", _days_ago(5.1))
    api.sent(MESSAGE)
    api.drain()
    body = _config(api)  # KV was invalidated when the config was disabled
    assert body["disabled"] is True and body["health"]["disabled_at"] is not None
    reason = body["health"]["disabled_reason"]
    assert reason.startswith("deliveries failed permanently since ") and "HTTP 410" in reason
    refused = api.send(MESSAGE)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "channel_disabled"
    explicit = api.send({**MESSAGE, "channels": ["webhook"]})
    assert explicit.status_code == 422 and explicit.json()["error"]["field"] == "channels"
    hook.always(200, {"ok": True})
    api.webhook_for("u1", hook)  # the PUT re-enables it
    assert _config(api)["disabled"] is False and _config(api)["health"]["failing_since"] is None
    ids = api.sent(MESSAGE)
    api.drain()
    assert api.log(ids["webhook"])["status"] == "success"


def test_a_shorter_failure_run_is_not_disabled(api, receivers: Receivers):
    _failing(api, receivers)
    api.sql("UPDATE user_configs SET failing_since = ? WHERE user_id = 'u1'", _days_ago(4.9))
    api.sent(MESSAGE)
    api.drain()
    assert _config(api)["disabled"] is False


def test_the_period_is_configurable(api, receivers: Receivers):
    api.sql(
        "INSERT INTO system_configs (config_key, config_value) VALUES (?, ?)", CONFIG_KEY,
        '{"disable_after_seconds": 3600}',
    )  # fmt: skip
    _failing(api, receivers)
    api.sql("UPDATE user_configs SET failing_since = ? WHERE user_id = 'u1'", _days_ago(0.05))
    api.sent(MESSAGE)
    api.drain()
    assert _config(api)["disabled"] is True


def test_retries_due_for_a_disabled_config_fail_without_a_request(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.answer(500)
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    api.sql("UPDATE user_configs SET disabled_at = ?, disabled_reason = 'test' WHERE user_id = 'u1'", _days_ago(0))
    api.make_due(message_id)
    api.retry()
    row = api.log(message_id)
    assert row["status"] == "failed" and row["error"].startswith("webhook config is disabled")
    assert len(hook.requests) == 1 and api.attempts(message_id)[-1]["error_class"] == "channel_disabled"
