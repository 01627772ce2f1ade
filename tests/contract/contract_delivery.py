"""Deliveries through the runtime's outbound HTTP to real loopback receivers (``tests/contract/receivers.py``).

On Pyodide the client's transport is ``FetchTransport`` over Node's ``fetch``; on CPython httpx's own. The
same ``dispatch.attempt`` turns each answer into an ``Attempt``: signatures the receivers verify, Telegram's
``retry_after``, Lark's ``sign``, ``Retry-After``, 3xx not followed, a silent receiver and a trickling one
both ended by the attempt's total deadline.
"""

from typing import Any

from edgenotify.clock import iso_after
from edgenotify.context import Context
from edgenotify.db import Query
from edgenotify.migrations import automigrate
from edgenotify.notify import configs, retry
from edgenotify.notify.configs import ChannelConfig
from edgenotify.notify.delivery import dispatch
from edgenotify.notify.delivery.dispatch import LEASE_SECONDS, Delivery
from edgenotify.notify.delivery.outcome import Message
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY
from edgenotify.notify.delivery.transport import DeadlineExceeded, attempt_deadline, make_client
from tests.contract.contracts import contract, platform

TIMEOUT_SECONDS = 1.0  # for receivers that never answer in time
# For receivers that answer at once: generous, so a loaded machine cannot turn an answer into a timeout.
ANSWER_TIMEOUT_SECONDS = 15.0
CLOSED_PORT_URL = "http://127.0.0.1:9/hook"  # the discard port: nothing listens there
WEBHOOK_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"  # the receivers' (tests/contract/receivers.py)
WRONG_WEBHOOK_SECRET = "whsec_OTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
TELEGRAM_TOKEN = "123456:contract-token"
LARK_SECRET = "contract-lark-secret"


def _message(channel: str, n: int) -> Message:
    return Message(f"contract-delivery-{n}", "contract-delivery-user", channel, "Hi", "Body é", None, "2026-12-01")


def _attempt(result: Any) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "status": result.status_code,
        "retry_after": result.retry_after,
        "permanent": result.permanent,
        "error": result.error,
    }


def _telegram(api_base: str) -> dict[str, Any]:
    return {"bot_token": TELEGRAM_TOKEN, "chat_id": "42", "api_base": api_base}


async def _deliver(channel: str, config: dict[str, Any], n: int, timeout: float = ANSWER_TIMEOUT_SECONDS) -> Any:
    delivery = Delivery(
        _message(channel, n), ChannelConfig("contract-delivery-user", channel, config, True), "contract"
    )
    async with make_client(timeout) as client:
        return _attempt(await dispatch.attempt(client, delivery, True, timeout))


@contract
async def delivery_to_loopback_receivers(env: Any) -> Any:
    urls = platform().receivers
    hook = urls["webhook"] + "/hook"
    lark = urls["lark"] + "/open-apis/bot/v2/hook/contract"
    seen = {
        "webhook_signed": await _deliver("webhook", {"url": hook, "secret": WEBHOOK_SECRET}, 1),
        "webhook_wrong_secret": await _deliver("webhook", {"url": hook, "secret": WRONG_WEBHOOK_SECRET}, 2),
        "telegram": await _deliver("telegram", _telegram(urls["telegram"]), 3),
        "telegram_retry_after": await _deliver("telegram", _telegram(urls["telegram_limited"]), 4),
        "lark_signed": await _deliver("lark", {"webhook_url": lark, "secret": LARK_SECRET}, 5),
        "lark_wrong_sign": await _deliver("lark", {"webhook_url": lark, "secret": "not-the-secret"}, 6),
        "redirect": await _deliver("webhook", {"url": urls["redirect"] + "/hook"}, 7),
        "retry_after_header": await _deliver("webhook", {"url": urls["busy"] + "/hook"}, 8),
    }
    assert seen["webhook_signed"]["ok"] and seen["telegram"]["ok"] and seen["lark_signed"]["ok"], seen
    assert seen["webhook_wrong_secret"]["status"] == 401
    assert seen["lark_wrong_sign"]["error"].startswith("HTTP 200: Lark code 19021")
    assert seen["telegram_retry_after"]["retry_after"] == 42.0 and seen["retry_after_header"]["retry_after"] == 120.0
    assert seen["redirect"]["status"] == 302 and "not followed" in seen["redirect"]["error"]
    assert TELEGRAM_TOKEN not in str(seen)
    return seen


@contract
async def delivery_attempts_have_one_total_deadline(env: Any) -> Any:
    """A silent receiver and one trickling a byte every 250 ms (10 s in all) both end at the 1 s deadline."""
    urls = platform().receivers
    silent = await _deliver("webhook", {"url": urls["hanging"] + "/hook"}, 9, TIMEOUT_SECONDS)
    trickle = await _deliver("webhook", {"url": urls["drip"] + "/hook"}, 10, TIMEOUT_SECONDS)
    closed = await _deliver("webhook", {"url": CLOSED_PORT_URL}, 11)
    for result in (silent, trickle):
        assert not result["ok"] and result["error"].startswith("timeout after 1s ("), result
    assert closed["error"].startswith("network error: ConnectError: "), closed
    # A deadline shorter than the client's timeouts cancels the request itself (on Pyodide: aborts the fetch).
    async with make_client(30.0) as client:
        try:
            async with attempt_deadline(0.5):
                await client.post(urls["hanging"] + "/hook", content=b"{}")
        except DeadlineExceeded as exc:
            cancelled = str(exc)
    timeouts = {name: [r["ok"], r["error"].split(" (")[0]] for name, r in (("silent", silent), ("trickle", trickle))}
    return {**timeouts, "closed_port": closed["error"].split(": ")[:2], "cancelled": cancelled}


class _DevEnv:
    """The real env as a development worker sees it (loopback receivers allowed)."""

    def __init__(self, env: Any):
        self._env = env
        self.ENVIRONMENT = "development"
        self.DELIVERY_TIMEOUT_SECONDS = str(ANSWER_TIMEOUT_SECONDS)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


_INSERT = (
    "INSERT INTO notification_logs (message_id, user_id, channel_type, subject, content, status, retry_count,"
    " next_attempt_at, created_at) VALUES (?, ?, 'webhook', 'Hi', ?, 'pending', ?, ?, '2026-12-01T00:00:00.000Z')"
)


@contract
async def delivery_outcomes_recorded_and_retried(env: Any) -> Any:
    """Outcomes are recorded guarded by the lease; the retry cron claims what is due and delivers it."""
    context = Context.create(_DevEnv(env), None)
    await automigrate.apply_pending(context.db, automigrate.bundled_files())
    user = "contract-dispatch-user"
    await context.db.batch(
        [
            Query.of("DELETE FROM notification_logs WHERE user_id = ?", user),
            Query.of("DELETE FROM user_stats WHERE user_id = ?", user),
        ]
    )
    urls = platform().receivers
    lease = iso_after(LEASE_SECONDS)  # held now: an attempt only starts while its lease lasts
    last = DEFAULT_POLICY.max_attempts - 1  # failures before the last attempt of the schedule
    rows = [
        ("d-ok", 0, lease),
        ("d-busy", 0, lease),
        ("d-refused", 0, lease),
        ("d-stale", 0, "another-lease"),
        ("d-last", last, lease),
    ]
    await context.db.batch([Query.of(_INSERT, mid, user, f"content {mid}", n, at) for mid, n, at in rows])
    hook = {"url": urls["webhook"] + "/hook", "secret": WEBHOOK_SECRET}
    configs_by_row = {
        "d-ok": hook,
        "d-busy": {"url": urls["busy"] + "/hook"},
        "d-refused": {"url": "https://10.0.0.1/hook"},
        "d-stale": hook,
        "d-last": {"url": urls["busy"] + "/hook"},
    }
    deliveries = [
        Delivery(
            Message(mid, user, "webhook", "Hi", f"content {mid}"),
            ChannelConfig(user, "webhook", configs_by_row[mid], True), lease, n,
        )
        for mid, n, _ in rows
    ]  # fmt: skip
    summary = await dispatch.deliver_and_record(context, deliveries)
    # A row whose first delivery was never recorded: due now, the cron must pick it up.
    await configs.save_config(context, user, "webhook", hook, True)
    await context.db.run(_INSERT, "d-due", user, "content d-due", 0, "2000-01-01T00:00:00.000Z")
    cron = await retry.retry_due(context)
    states = await context.db.all(
        "SELECT message_id, status, retry_count, attempt_count, error, next_attempt_at IS NOT NULL AS leased"
        " FROM notification_logs"
        " WHERE user_id = ? ORDER BY message_id",
        user,
    )
    counters = await context.db.first("SELECT success_count, failed_count FROM user_stats WHERE user_id = ?", user)
    by_id = {row["message_id"]: row for row in states}
    assert by_id["d-ok"]["status"] == "success" and by_id["d-due"]["status"] == "success", states
    assert by_id["d-stale"]["status"] == "pending" and by_id["d-last"]["status"] == "failed", states
    return {
        "summary": summary.as_dict(),
        "cron": [cron["status"], cron["details"]["claimed"] >= 1],
        "rows": states,
        "counters": counters,
    }


@contract
async def delivery_transport_keeps_repeated_headers(env: Any) -> Any:
    """Repeated headers survive both ways: ``fetch`` joins repeats into one ``a, b`` value as the Fetch
    standard says (httpx on CPython keeps separate lines), so values are compared joined; ``set-cookie``
    stays separate on both."""
    url = platform().receivers["headers"] + "/hook"
    async with make_client(ANSWER_TIMEOUT_SECONDS) as client:
        async with attempt_deadline(ANSWER_TIMEOUT_SECONDS):
            response = await client.post(url, content=b"{}", headers=[("x-multi", "a"), ("x-multi", "b")])
    sent = response.json()["x-multi"]
    seen = {
        "status": response.status_code,
        "sent": ", ".join(sent),
        "answered": ", ".join(response.headers.get_list("x-multi")),
        "cookies": response.headers.get_list("set-cookie"),
        "content_type": response.headers["content-type"],
    }
    assert seen["sent"] == "a, b" and seen["answered"] == "1, 2" and seen["cookies"] == ["a=1", "b=2"], seen
    return seen
