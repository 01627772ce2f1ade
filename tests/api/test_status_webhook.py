# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""The deployment's status webhook: message.delivered / message.failed events, Standard Webhooks
signed (verified by a real receiver), delivered by the retry cron and retried like any message."""

import base64

import pytest

from tests.api.notify_kit import Receivers, api, receivers  # noqa: F401 - fixtures

STATUS_SECRET = "whsec_" + base64.b64encode(b"status-hook-signing-key-32-bytes").decode()
MESSAGE = {"user_id": "u1", "content": "Payment received"}


@pytest.fixture
def status_hook(api, receivers: Receivers):
    hook = receivers.webhook(secret=STATUS_SECRET)
    env = api.worker.server_env
    env.STATUS_WEBHOOK_URL, env.STATUS_WEBHOOK_SECRET = hook.url, STATUS_SECRET
    yield hook
    del env.STATUS_WEBHOOK_URL, env.STATUS_WEBHOOK_SECRET


def test_a_delivered_message_is_announced_signed(api, receivers: Receivers, status_hook):
    api.webhook_for("u1", receivers.webhook())
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    assert status_hook.requests == []  # events go out with the next cron run
    api.retry()
    [request] = status_hook.requests
    assert request.verified is True, request.problem
    event = request.json
    assert event["type"] == "message.delivered"
    data = event["data"]
    assert (data["message_id"], data["user_id"], data["channel"], data["status"], data["attempts"]) == (
        message_id, "u1", "webhook", "success", 1,
    )  # fmt: skip
    assert request.headers["webhook-id"].startswith("evt_")
    assert api.count_logs("u1") == 1  # the event row is not in the user's logs


def test_a_failed_message_is_announced_and_the_event_is_retried(api, receivers: Receivers, status_hook):
    hook = receivers.webhook()
    hook.answer(410, {"error": "gone"})
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    status_hook.answer(503, {"error": "status endpoint down"})
    api.retry()
    [event_row] = api.sql("SELECT * FROM notification_logs WHERE channel_type = 'status'")
    assert event_row["status"] == "pending" and event_row["retry_count"] == 1
    api.make_due(event_row["message_id"])
    api.retry()
    first, second = status_hook.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event_row["message_id"]
    assert second.verified is True and second.json["type"] == "message.failed"
    assert second.json["data"]["message_id"] == message_id and "HTTP 410" in second.json["data"]["error"]
    assert api.log(event_row["message_id"])["status"] == "success"


def test_without_a_status_webhook_no_event_is_queued(api, receivers: Receivers):
    api.webhook_for("u1", receivers.webhook())
    api.sent(MESSAGE)
    api.drain()
    assert api.sql("SELECT COUNT(*) AS n FROM notification_logs WHERE channel_type = 'status'")[0]["n"] == 0
