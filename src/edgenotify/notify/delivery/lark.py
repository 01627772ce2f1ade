"""Lark (Feishu) custom bot messages, signed when the bot has a signing secret.

Lark's signature is unusual: HMAC-SHA256 keyed by ``"{timestamp}\\n{secret}"`` over an EMPTY
message, base64-encoded, sent as ``sign`` next to ``timestamp`` (seconds) in the JSON body.
Lark answers HTTP 200 even for failures and reports them as a non-zero ``code`` in the body, so
a 2xx with ``code != 0`` is a failure too.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

from edgenotify.notify.delivery.outcome import Attempt, Message, from_response, json_body


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def payload(message: Message, secret: str | None, now: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": message.text}}
    if secret:
        timestamp = int(time.time()) if now is None else now
        body["timestamp"] = str(timestamp)
        body["sign"] = sign(secret, timestamp)
    return body


def body_error(data: dict[str, Any]) -> str | None:
    code = data.get("code", data.get("StatusCode", 0))
    if code in (0, None):
        return None
    return f"Lark code {code}: {data.get('msg') or data.get('StatusMessage') or ''}".strip()


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    response = await client.post(config["webhook_url"], json=payload(message, config.get("secret")))
    return from_response(response, body_error=body_error(json_body(response)))
