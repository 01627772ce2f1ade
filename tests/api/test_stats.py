# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""GET /v1/stats: totals per channel and status (optionally in a time range) and the per-user
counters kept by the send and delivery batches."""

import pytest

from edgenotify.models.notifications import StatsResponse
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY
from tests.api.notify_kit import Receivers, api, receivers  # noqa: F401 - fixtures


def _stats(api, **params) -> dict:
    response = api.get("/v1/stats", **params)
    assert response.status_code == 200, response.text
    return StatsResponse.model_validate(response.json()).model_dump()


def test_totals_per_channel_and_status(api, receivers: Receivers):
    hook, bot = receivers.webhook(), receivers.telegram()
    bot.always(500, {"ok": False})
    api.webhook_for("u1", hook)
    api.telegram_for("u1", bot)
    first = api.sent({"user_id": "u1", "content": "one"})
    api.sent({"user_id": "u1", "content": "two"})
    api.drain()
    for _ in range(DEFAULT_POLICY.max_attempts - 1):  # the first telegram message fails for good
        api.make_due(first["telegram"])
        api.retry()
    stats = _stats(api, user_id="u1")
    assert stats["totals"] == {"pending": 1, "success": 2, "failed": 1, "cancelled": 0, "total": 4}
    assert stats["channels"] == {
        "telegram": {"pending": 1, "success": 0, "failed": 1, "cancelled": 0, "total": 2},
        "webhook": {"pending": 0, "success": 2, "failed": 0, "cancelled": 0, "total": 2},
    }
    counters = stats["counters"]
    assert (counters["notification_count"], counters["success_count"], counters["failed_count"]) == (4, 2, 1)
    assert counters["last_notification_at"] is not None


def test_since_and_until_bound_the_counts(api, receivers: Receivers):
    api.webhook_for("u1", receivers.webhook())
    old = api.sent({"user_id": "u1", "content": "old"})
    api.sent({"user_id": "u1", "content": "new"})
    api.drain()
    api.sql("UPDATE notification_logs SET created_at = '2025-01-01T00:00:00.000Z' WHERE message_id = ?", old["webhook"])
    recent = _stats(api, user_id="u1", since="2026-01-01T00:00:00Z")
    assert recent["totals"]["total"] == 1 and recent["since"] == "2026-01-01T00:00:00.000Z"
    assert _stats(api, user_id="u1", until="2026-01-01T00:00:00Z")["totals"]["total"] == 1
    assert recent["counters"]["notification_count"] == 2  # counters are all-time


def test_a_user_without_messages_has_zero_totals(api):
    stats = _stats(api, user_id="ghost")
    assert stats["totals"] == {"pending": 0, "success": 0, "failed": 0, "cancelled": 0, "total": 0}
    assert stats["channels"] == {} and stats["counters"]["notification_count"] == 0


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, "missing_field", "user_id"),
        ({"user_id": "u1", "since": "31/12/2026"}, "invalid_value", "since"),
        ({"user_id": "u1", "until": "soon"}, "invalid_value", "until"),
        ({"user_id": "u1", "channel": "webhook"}, "unknown_field", "channel"),
        ({"user_id": "x" * 129}, "invalid_value", "user_id"),
    ],
)
def test_invalid_stats_parameters_are_422(api, params, code, field):
    response = api.get("/v1/stats", **params)
    assert response.status_code == 422
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
