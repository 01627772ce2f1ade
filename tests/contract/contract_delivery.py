"""Deliveries through the runtime's outbound HTTP to real loopback receivers (``tests/contract/receivers.py``).

On Pyodide the client's transport is ``FetchTransport`` over Node's ``fetch``; on CPython httpx's own. The
same ``dispatch.attempt`` turns each answer into an ``Attempt``: signatures the receivers verify, Telegram's
``retry_after``, Lark's ``sign``, ``Retry-After``, 3xx not followed, a silent receiver and a trickling one
both ended by the attempt's total deadline.
"""

from typing import Any

from edgenotify.notify.delivery import dispatch
from edgenotify.notify.delivery.dispatch import Delivery
from edgenotify.notify.delivery.outcome import Message
from edgenotify.notify.delivery.transport import make_client
from tests.contract.contracts import contract, platform

TIMEOUT_SECONDS = 1.0
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


async def _deliver(channel: str, config: dict[str, Any], n: int) -> dict[str, Any]:
    delivery = Delivery(_message(channel, n), config, lease="contract")
    async with make_client(TIMEOUT_SECONDS) as client:
        return _attempt(await dispatch.attempt(client, delivery, True, TIMEOUT_SECONDS))


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
    silent = await _deliver("webhook", {"url": urls["hanging"] + "/hook"}, 9)
    trickle = await _deliver("webhook", {"url": urls["drip"] + "/hook"}, 10)
    for result in (silent, trickle):
        assert not result["ok"] and result["error"].startswith("timeout after 1s ("), result
    return {name: [r["ok"], r["error"].split(" (")[0]] for name, r in (("silent", silent), ("trickle", trickle))}
