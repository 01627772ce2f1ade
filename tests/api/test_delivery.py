# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Delivery after the response to real loopback receivers: signatures, payloads, the failure
policy of each channel (retried or permanent), the attempt history, the one total deadline per
attempt, and per-message recording (no slow peer causes a duplicate) — never an exception."""

import json
import socket
import sqlite3
import threading

import pytest

from edgenotify.notify.delivery import dispatch
from tests.api.notify_kit import BOT_TOKEN, LARK_SECRET, Receivers, api, receivers  # noqa: F401 - fixtures

MESSAGE = {"user_id": "u1", "subject": "Build", "content": "Build #7 passed"}


def _assert_success(row: dict) -> None:
    assert row["status"] == "success", row
    assert row["sent_at"] is not None and row["error"] is None and row["next_attempt_at"] is None


def _assert_failed(row: dict, error_start: str) -> None:
    assert row["status"] == "failed", row
    assert row["retry_count"] == 1 and row["attempt_count"] == 1 and row["next_attempt_at"] is None
    assert row["error"].startswith(error_start), row["error"]


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
    _assert_failed(api.log(ids["webhook"]), "HTTP 401")  # a 4xx: the same request cannot succeed later


def test_telegram_send_message(api, receivers: Receivers):
    bot = receivers.telegram()
    api.telegram_for("u1", bot, chat_id="-1001234")
    ids = api.sent(MESSAGE)
    api.drain()
    [request] = bot.requests
    assert request.verified is True, request.problem
    assert request.json == {"chat_id": "-1001234", "text": "Build\n\nBuild #7 passed"}
    _assert_success(api.log(ids["telegram"]))


@pytest.mark.parametrize(
    "status,description",
    [(400, "Bad Request: chat not found"), (403, "Forbidden: bot was blocked by the user"),
     (200, "Bad Request: chat not found")],
)  # fmt: skip
def test_telegram_chat_not_found_and_bot_blocked_are_permanent(api, receivers: Receivers, status, description):
    bot = receivers.telegram()
    bot.answer(status, {"ok": False, "error_code": status, "description": description})
    api.telegram_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_failed(api.log(ids["telegram"]), f"HTTP {status}: {description}")


def test_telegram_other_ok_false_answers_are_retried(api, receivers: Receivers):
    bot = receivers.telegram()
    bot.answer(200, {"ok": False, "description": "Internal: try later"})
    api.telegram_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["telegram"]), "HTTP 200: Internal: try later")


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
    _assert_failed(api.log(ids["lark"]), "HTTP 200: Lark code 19021")  # the bot's config refuses it


def test_lark_frequency_limit_is_retried(api, receivers: Receivers):
    bot = receivers.lark()
    bot.answer(200, {"code": 11232, "msg": "frequency limited psm", "data": {}})
    api.lark_for("u1", bot)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["lark"]), "HTTP 200: Lark code 11232")


def test_redirects_are_permanent_failures_not_followed(api, receivers: Receivers):
    hook, elsewhere = receivers.webhook(), receivers.webhook()
    hook.answer(302, headers={"location": elsewhere.url})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    assert elsewhere.requests == []
    _assert_failed(api.log(ids["webhook"]), "HTTP 302: redirect to")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_408_429_and_5xx_are_retried_with_the_reason(api, receivers: Receivers, status):
    hook = receivers.webhook()
    hook.answer(status, {"detail": f"receiver says {status}"})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    row = api.log(ids["webhook"])
    _assert_retrying(row, f"HTTP {status}")
    assert f"receiver says {status}" in row["error"]
    assert api.user_stats("u1")["failed_count"] == 0  # not final yet


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_4xx_are_permanent_failures(api, receivers: Receivers, status):
    hook = receivers.webhook()
    hook.answer(status, {"detail": f"receiver says {status}"})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_failed(api.log(ids["webhook"]), f"HTTP {status}")
    assert api.user_stats("u1")["failed_count"] == 1 and len(hook.requests) == 1


def test_the_receivers_abort_header_ends_the_message(api, receivers: Receivers):
    hook = receivers.webhook()
    hook.answer(503, {"error": "not this one"}, headers={"webhook-delivery": "abort-message"})
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_failed(api.log(ids["webhook"]), "HTTP 503")
    [attempt] = api.attempts(ids["webhook"])
    assert attempt["error_class"] == "aborted" and attempt["outcome"] == "failed"


def test_a_receiver_that_never_answers_times_out(api, receivers: Receivers):
    api.worker.server_env.DELIVERY_TIMEOUT_SECONDS = "0.2"
    hook = receivers.webhook()
    hook.hang()
    api.webhook_for("u1", hook)
    ids = api.sent(MESSAGE)
    api.drain()
    assert len(hook.requests) == 1
    _assert_retrying(api.log(ids["webhook"]), "timeout after 0.2s")
    assert api.attempts(ids["webhook"])[0]["error_class"] == "timeout"


def test_connection_refused_is_a_network_error(api):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api.put_channel("u1", "webhook", {"url": f"http://127.0.0.1:{port}/hook"})
    ids = api.sent(MESSAGE)
    api.drain()
    _assert_retrying(api.log(ids["webhook"]), "network error: ConnectError")
    assert api.attempts(ids["webhook"])[0]["error_class"] == "network"


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


def test_get_shows_every_attempt_with_status_class_duration_and_a_scrubbed_excerpt(api, receivers: Receivers):
    bot = receivers.telegram()
    leak = f"bot{BOT_TOKEN} says " + "x" * 3000
    bot.answer(500, {"ok": False, "description": leak})
    api.telegram_for("u1", bot)
    message_id = api.sent(MESSAGE)["telegram"]
    api.drain()
    api.make_due(message_id)
    api.retry()
    response = api.get(f"/v1/notifications/{message_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    first, second = body["attempts"]
    assert (first["attempt"], first["outcome"], first["status_code"], first["error_class"]) == (
        1, "retrying", 500, "http_status",
    )  # fmt: skip
    assert (second["attempt"], second["outcome"], second["status_code"], second["error_class"]) == (
        2, "succeeded", 200, None,
    )  # fmt: skip
    assert first["started_at"] <= second["started_at"] and first["duration_ms"] >= 0
    assert len(first["response_excerpt"].encode()) <= 1024 and "says xxx" in first["response_excerpt"]
    assert BOT_TOKEN not in response.text and "****" in first["response_excerpt"]
    assert '"ok": true' in second["response_excerpt"]


def test_each_attempt_logs_one_line_without_secrets(api, receivers: Receivers, capsys):
    bot = receivers.telegram()
    bot.answer(503, {"ok": False, "description": "busy"})
    api.telegram_for("u1", bot)
    message_id = api.sent(MESSAGE)["telegram"]
    api.drain()
    out = capsys.readouterr().out.splitlines()
    lines = [json.loads(line) for line in out if '"delivery.attempt"' in line]
    [line] = [entry for entry in lines if entry["message_id"] == message_id]
    assert (line["attempt"], line["outcome"], line["status_code"], line["error_class"]) == (
        1, "retrying", 503, "http_status",
    )  # fmt: skip
    assert BOT_TOKEN not in json.dumps(lines)


def test_a_slow_drip_receiver_is_cut_at_the_total_deadline_and_gets_one_delivery(api, receivers: Receivers):
    """A receiver sending its answer a byte at a time held an attempt past its lease (httpx's
    timeout is per read); the total deadline ends the attempt, so it is recorded once, in time."""
    api.worker.server_env.DELIVERY_TIMEOUT_SECONDS = "0.5"
    hook = receivers.webhook()
    hook.drip(0.05)  # about 13 s for the whole answer, each byte well within httpx's read timeout
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    row = api.log(message_id)
    _assert_retrying(row, "timeout after 0.5s")
    [attempt] = api.attempts(message_id)
    assert attempt["error_class"] == "timeout" and attempt["duration_ms"] < 5000  # far inside the 180 s lease
    api.retry()  # the row is not due: nobody else sends it meanwhile
    assert len(hook.requests) == 1


def test_one_slow_peer_in_a_retry_run_does_not_hold_the_others_outcomes(api, receivers: Receivers):
    """The slow receiver answers only once the ten fast messages' outcomes are on disk: so they are
    written while it is still in flight, and a run taking over after a lease expiry finds nothing
    of theirs to send again."""
    api.worker.server_env.DELIVERY_TIMEOUT_SECONDS = "60"
    fast, slow = receivers.webhook(), receivers.webhook()
    fast.answer(500, times=10)
    slow.answer(500)
    api.webhook_for("u1", fast)
    api.webhook_for("u2", slow)
    fast_ids = [api.sent({"user_id": "u1", "content": f"fast {n}"})["webhook"] for n in range(10)]
    slow_id = api.sent({"user_id": "u2", "content": "slow"})["webhook"]
    api.drain()
    api.make_due(*fast_ids, slow_id)
    recorded = threading.Event()
    marks = ",".join("?" * len(fast_ids))

    def wait_for_the_fast_ones() -> None:
        with sqlite3.connect(api.worker.state_dir / "d1" / "DB.sqlite3", timeout=30) as db:
            for _ in range(1500):  # bounded (30 s): the event is the synchronisation, not this loop
                done = db.execute(
                    f"SELECT COUNT(*) FROM notification_logs WHERE status = 'success' AND message_id IN ({marks})",
                    fast_ids,
                ).fetchone()[0]
                if done == len(fast_ids):
                    recorded.set()
                    return
                recorded.wait(0.02)

    slow.before_answer = wait_for_the_fast_ones
    api.retry()
    assert recorded.is_set()  # the fast outcomes were written while the slow attempt was still open
    assert api.log(slow_id)["status"] == "success"
    api.make_due(*fast_ids)  # as if their leases had expired: the rows are no longer pending
    api.retry()
    assert sorted(r.headers["webhook-id"] for r in fast.requests) == sorted(fast_ids * 2)  # first try + 1 retry
    details = json.loads(api.task_runs()[0]["details"])
    assert details["succeeded"] == 11 and details["record_batches"] >= 2


def test_a_client_that_cannot_be_built_fails_the_attempts_instead_of_leaving_them_pending(
    api, receivers: Receivers, monkeypatch
):
    hook = receivers.webhook()
    hook.answer(500)
    api.webhook_for("u1", hook)
    message_id = api.sent(MESSAGE)["webhook"]
    api.drain()
    api.make_due(message_id)

    def broken(timeout: float) -> None:
        raise RuntimeError("no transport")

    monkeypatch.setattr(dispatch, "make_client", broken)
    api.retry()
    row = api.log(message_id)
    assert row["status"] == "pending" and row["retry_count"] == 2 and row["next_attempt_at"] > row["created_at"]
    assert row["error"] == "delivery client could not be built: RuntimeError: no transport"
    assert api.attempts(message_id)[-1]["error_class"] == "internal"
