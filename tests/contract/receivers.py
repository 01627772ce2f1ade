"""The loopback receivers the delivery contracts deliver to, on both runtimes (CPython only: never imported
under Pyodide; the runner starts them and hands their URLs to the contracts through the platform).

Each runner starts its own set (``start()``); answers depend only on which receiver is hit, so both
runtimes see the same answers. The webhook, Telegram and Lark receivers are the API suite's own
(``tests/api/receivers.py``): they verify the Standard Webhooks signature, the Bot API path and Lark's
``sign`` and answer as the real services do when a check fails.
"""

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.api.receivers import LarkReceiver, Receiver, TelegramReceiver, WebhookReceiver

WEBHOOK_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
TELEGRAM_TOKEN = "123456:contract-token"
LARK_SECRET = "contract-lark-secret"
RETRY_AFTER_SECONDS = 42
REDIRECT_TARGET = "http://127.0.0.1:9/elsewhere"
DRIP_BYTES = 40
DRIP_INTERVAL_SECONDS = 0.25


class DripReceiver(Receiver):
    """Answers 200 at once, then the body one byte every 250 ms (10 s in all): each read is quick, the
    whole answer is slow. Only a total deadline ends such an attempt early."""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        handler.rfile.read(length)
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(DRIP_BYTES))
        handler.end_headers()
        try:
            for _ in range(DRIP_BYTES):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(DRIP_INTERVAL_SECONDS)  # the receiver's pacing, not synchronisation
        except OSError:
            pass  # the client gave up: what the deadline is for


class HeadersReceiver(Receiver):
    """Answers with the request's ``x-multi`` values (as received) in the body and repeated headers of its
    own: two ``x-multi`` and two ``set-cookie`` lines."""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        handler.rfile.read(length)
        body = json.dumps({"x-multi": handler.headers.get_all("x-multi") or []}).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body)))
        for name, value in (("x-multi", "1"), ("x-multi", "2"), ("set-cookie", "a=1"), ("set-cookie", "b=2")):
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


def start() -> tuple[dict[str, str], Callable[[], None]]:
    """Start every receiver; returns ``{name: url}`` and a function that stops them all."""
    limited = TelegramReceiver(TELEGRAM_TOKEN)
    limited.always(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 42",
                         "parameters": {"retry_after": RETRY_AFTER_SECONDS}})  # fmt: skip
    redirect = Receiver()
    redirect.always(302, {}, {"location": REDIRECT_TARGET})
    busy = Receiver()
    busy.always(503, {"error": "maintenance"}, {"retry-after": "120"})
    hanging = Receiver()
    hanging.hang()
    receivers = {
        "webhook": WebhookReceiver(WEBHOOK_SECRET),
        "telegram": TelegramReceiver(TELEGRAM_TOKEN),
        "telegram_limited": limited,
        "lark": LarkReceiver(LARK_SECRET),
        "redirect": redirect,
        "busy": busy,
        "hanging": hanging,
        "drip": DripReceiver(),
        "headers": HeadersReceiver(),
    }
    urls = {name: receiver.base_url for name, receiver in receivers.items()}

    def stop() -> None:
        for receiver in receivers.values():
            receiver.close()

    return urls, stop
