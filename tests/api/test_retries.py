# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Retries through the real cron trigger: the day-long schedule with jitter (configurable in
system_configs), Retry-After up to a cap, permanent failure, atomic claiming (no double sends),
runs sized from the invocation's limits, and the task_execution_records row of each run.

Rows are made due by setting ``next_attempt_at`` in SQL instead of waiting for it."""

import asyncio
import json
import threading
from datetime import timedelta
from email.utils import format_datetime

import httpx

from edgenotify.clock import parse_iso, utcnow
from edgenotify.limits import Limits
from edgenotify.notify import retry
from edgenotify.notify.delivery.schedule import CONFIG_KEY, DEFAULT_POLICY, Policy, parse_policy
from tests.api.notify_kit import PAST, RETRY_CRON, Receivers, api, receivers  # noqa: F401 - fixtures

MESSAGE = {"user_id": "u1", "content": "Disk almost full"}


def _seconds_until(timestamp: str) -> float:
    return (parse_iso(timestamp) - utcnow()).total_seconds()


def _failing_webhook(api, receivers: Receivers, status: int = 500, headers: dict | None = None):
    hook = receivers.webhook()
    hook.answer(status, {"error": "down"}, headers=headers)
    api.webhook_for("u1", hook)
    return hook


def test_a_failed_delivery_is_retried_by_the_cron(api, receivers: Receivers):
    hook = _failing_webhook(api, receivers)
    ids = api.sent(MESSAGE)
    api.drain()
    assert api.log(ids["webhook"])["retry_count"] == 1
    api.make_due(ids["webhook"])
    api.retry()
    row = api.log(ids["webhook"])
    assert (row["status"], row["retry_count"], row["error"], row["next_attempt_at"]) == ("success", 1, None, None)
    assert [r.headers["webhook-id"] for r in hook.requests] == [ids["webhook"]] * 2  # receivers can deduplicate
    assert all(r.verified for r in hook.requests)
    [run] = api.task_runs()
    assert run["status"] == "success" and run["duration_ms"] >= 0 and run["error"] is None
    details = json.loads(run["details"])
    assert (details["claimed"], details["succeeded"], details["retrying"], details["failed"]) == (1, 1, 0, 0)
    assert api.user_stats("u1")["success_count"] == 1


def test_rows_not_yet_due_are_left_alone(api, receivers: Receivers):
    hook = _failing_webhook(api, receivers)
    api.sent(MESSAGE)
    api.drain()
    api.retry()
    assert len(hook.requests) == 1
    assert json.loads(api.task_runs()[0]["details"])["claimed"] == 0


def test_a_run_is_recorded_even_when_nothing_is_due(api):
    api.retry()
    [run] = api.task_runs()
    assert run["status"] == "success" and json.loads(run["details"])["claimed"] == 0


def test_after_the_maximum_attempts_the_failure_is_permanent_and_counted(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.always(500, {"error": "still down"})
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    for _ in range(DEFAULT_POLICY.max_attempts - 1):
        api.make_due(message_id)
        api.retry()
    row = api.log(message_id)
    assert (row["status"], row["retry_count"], row["next_attempt_at"]) == ("failed", DEFAULT_POLICY.max_attempts, None)
    assert row["error"].startswith("HTTP 500") and "still down" in row["error"]
    assert len(hook.requests) == DEFAULT_POLICY.max_attempts
    assert api.user_stats("u1")["failed_count"] == 1 and api.user_stats("u1")["success_count"] == 0
    assert json.loads(api.task_runs()[-1]["details"])["failed"] == 1
    api.sql("UPDATE notification_logs SET next_attempt_at = ? WHERE message_id = ?", PAST, message_id)
    api.retry()  # a failed row is never picked up again, even when its time has passed
    assert len(hook.requests) == DEFAULT_POLICY.max_attempts


def test_the_default_schedule_spans_more_than_a_day_whatever_the_jitter():
    policy = DEFAULT_POLICY
    assert policy.max_attempts == 8
    assert [policy.delay(n, rand=0.5) for n in range(1, 8)] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    earliest = sum(policy.delay(n, rand=0.0) for n in range(1, 8))
    assert earliest >= 24 * 3600  # even when every delay jitters to its minimum
    assert policy.delay(8) is None  # attempts exhausted
    assert len({policy.delay(5) for _ in range(20)}) > 1  # jittered
    assert policy.delay(1, retry_after=500, rand=0.5) == 500  # the receiver's wish is a floor
    assert policy.delay(1, retry_after=10**9, rand=0.5) == policy.max_retry_after  # up to the cap


def test_a_malformed_policy_is_refused_by_the_parser():
    assert parse_policy('{"delays": [60], "jitter": 0}') == Policy(delays=(60.0,), jitter=0.0)
    for bad in ('{"delays": []}', '{"delays": [-1]}', '{"jitter": 1.5}', '{"retries": 3}', "[1]", "{"):
        try:
            parse_policy(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_the_schedule_is_configurable_per_deployment(api, receivers: Receivers):
    policy = '{"delays": [1000, 2000], "jitter": 0}'
    api.sql("INSERT INTO system_configs (config_key, config_value) VALUES (?, ?)", CONFIG_KEY, policy)
    hook = receivers.webhook()
    hook.always(500, {"error": "down"})
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    assert 990 < _seconds_until(api.log(message_id)["next_attempt_at"]) <= 1000
    api.make_due(message_id)
    api.retry()
    assert 1990 < _seconds_until(api.log(message_id)["next_attempt_at"]) <= 2000
    api.make_due(message_id)
    api.retry()
    assert api.log(message_id)["status"] == "failed" and len(hook.requests) == 3


def test_a_malformed_policy_row_leaves_the_defaults_in_force(api, receivers: Receivers):
    api.sql("INSERT INTO system_configs (config_key, config_value) VALUES (?, ?)", CONFIG_KEY, '{"delays": "x"}')
    _failing_webhook(api, receivers)
    ids = api.sent(MESSAGE)
    api.drain()
    assert 0 < _seconds_until(api.log(ids["webhook"])["next_attempt_at"]) <= 5.5


def test_first_retry_is_scheduled_within_the_first_window(api, receivers: Receivers):
    _failing_webhook(api, receivers)
    ids = api.sent(MESSAGE)
    api.drain()
    assert -1 < _seconds_until(api.log(ids["webhook"])["next_attempt_at"]) <= DEFAULT_POLICY.delays[0] * 1.1


def test_retry_after_beyond_the_cap_is_capped(api, receivers: Receivers):
    _failing_webhook(api, receivers, 503, {"retry-after": str(10**7)})
    ids = api.sent(MESSAGE)
    api.drain()
    cap = DEFAULT_POLICY.max_retry_after
    assert cap - 10 < _seconds_until(api.log(ids["webhook"])["next_attempt_at"]) <= cap


def test_retry_after_seconds_is_honoured(api, receivers: Receivers):
    _failing_webhook(api, receivers, 503, {"retry-after": "7200"})
    ids = api.sent(MESSAGE)
    api.drain()
    assert 7190 < _seconds_until(api.log(ids["webhook"])["next_attempt_at"]) <= 7200


def test_retry_after_http_date_is_honoured(api, receivers: Receivers):
    when = format_datetime(utcnow() + timedelta(hours=2), usegmt=True)
    _failing_webhook(api, receivers, 429, {"retry-after": when})
    ids = api.sent(MESSAGE)
    api.drain()
    assert 7100 < _seconds_until(api.log(ids["webhook"])["next_attempt_at"]) <= 7200


def test_telegram_429_retry_after_is_honoured(api, receivers: Receivers):
    bot = receivers.telegram()
    bot.rate_limit(900)
    api.telegram_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    row = api.log(ids["telegram"])
    assert row["error"].startswith("HTTP 429") and "retry after 900" in row["error"]
    assert 890 < _seconds_until(row["next_attempt_at"]) <= 900
    api.make_due(ids["telegram"])
    api.retry()
    assert api.log(ids["telegram"])["status"] == "success" and len(bot.requests) == 2


async def _two_crons(base_url: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        fire = [client.get("/cdn-cgi/handler/scheduled", params={"cron": RETRY_CRON}) for _ in range(2)]
        return list(await asyncio.gather(*fire))


def test_two_simultaneous_cron_runs_never_send_a_message_twice(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.answer(500, times=5)
    api.webhook_for("u1", hook)
    ids = [api.sent(MESSAGE)["webhook"] for _ in range(5)]
    api.drain()
    api.make_due(*ids)
    responses = asyncio.run(_two_crons(api.worker.base_url))
    assert [r.status_code for r in responses] == [200, 200]
    retried = [r.headers["webhook-id"] for r in hook.requests[5:]]
    assert sorted(retried) == sorted(ids)  # each due message exactly once
    claimed = [json.loads(run["details"])["claimed"] for run in api.task_runs()]
    assert sorted(claimed) == [0, 5]


def test_a_run_claims_what_the_invocation_limits_allow():
    assert retry.claim_limit(Limits.for_plan("paid")) == 979  # D1 queries bind first (module docstring)
    assert retry.claim_limit(Limits.for_plan("paid", cpu_ms=300_000)) == 979
    assert retry.claim_limit(Limits.for_plan("free")) == 1  # 10 ms of CPU
    assert retry.claim_limit(Limits("paid", 1000, 1000, 210, 6, 30_000)) == 100  # 2 subrequests each: fetch, record
    assert retry.claim_limit(Limits("paid", 1000, 1000, 10_000, 6, 20_000)) == 700  # 70 % of 20 s at 20 ms each


def test_a_run_is_bounded_by_its_claim(api, receivers: Receivers, monkeypatch):
    monkeypatch.setattr(retry, "claim_limit", lambda limits: 2)
    hook = receivers.webhook()
    hook.answer(500, times=3)
    api.webhook_for("u1", hook)
    ids = [api.sent(MESSAGE)["webhook"] for _ in range(3)]
    api.drain()
    api.make_due(*ids)
    api.retry()
    api.retry()
    assert [json.loads(run["details"])["claimed"] for run in api.task_runs()] == [2, 1]
    assert {api.log(i)["status"] for i in ids} == {"success"}


def test_a_pending_row_whose_first_delivery_was_lost_is_picked_up(api, receivers: Receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    # As if the isolate died before its waitUntil delivery recorded anything: pending, lease expired.
    api.sql(
        "INSERT INTO notification_logs (message_id, user_id, channel_type, content, status, next_attempt_at)"
        " VALUES ('msg_lost', 'u1', 'webhook', 'recovered', 'pending', ?)",
        PAST,
    )
    api.retry()
    assert api.log("msg_lost")["status"] == "success"
    assert hook.requests[0].json["data"]["content"] == "recovered"


def test_a_retry_uses_the_current_config(api, receivers: Receivers):
    _failing_webhook(api, receivers)
    ids = api.sent(MESSAGE)
    api.drain()
    fixed = receivers.webhook()
    api.webhook_for("u1", fixed)
    api.make_due(ids["webhook"])
    api.retry()
    assert api.log(ids["webhook"])["status"] == "success" and len(fixed.requests) == 1


def test_a_config_removed_before_the_retry_fails_permanently(api, receivers: Receivers):
    _failing_webhook(api, receivers)
    ids = api.sent(MESSAGE)
    api.drain()
    assert api.client.delete("/v1/users/u1/channels/webhook", headers=api.auth).status_code == 204
    api.make_due(ids["webhook"])
    api.retry()
    row = api.log(ids["webhook"])
    assert row["status"] == "failed" and row["error"] == "user has no active webhook config"
    assert api.user_stats("u1")["failed_count"] == 1


def test_a_run_keeps_within_the_connection_limit(api, receivers: Receivers):
    """LIMIT_CONNECTIONS=3: at most two deliveries in flight (one connection is kept for the run's
    D1 writes). Each request waits, bounded, for a third to join it: it never comes."""
    api.worker.server_env.LIMIT_CONNECTIONS = "3"
    hook = receivers.webhook()
    hook.answer(500, times=6)
    api.webhook_for("u1", hook)
    ids = [api.sent(MESSAGE)["webhook"] for _ in range(6)]
    api.drain()
    lock, joined = threading.Lock(), threading.Condition()
    seen = {"now": 0, "most": 0}

    def count_in_flight() -> None:
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
        with joined:
            joined.notify_all()
            joined.wait_for(lambda: seen["now"] >= 3, timeout=0.3)
        with lock:
            seen["now"] -= 1

    hook.before_answer = count_in_flight
    api.make_due(*ids)
    try:
        api.retry()
    finally:
        del api.worker.server_env.LIMIT_CONNECTIONS
    assert seen["most"] == 2 and {api.log(i)["status"] for i in ids} == {"success"}
