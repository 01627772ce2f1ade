"""Webhook delivery signed per Standard Webhooks (https://www.standardwebhooks.com/).

The receiver verifies ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{webhook-id}.{webhook-timestamp}.{body}"``, keyed by the base64-decoded part of the secret
after ``whsec_``. ``webhook-id`` is our message id, so a receiver can deduplicate our retries.
The body is serialised once and those exact bytes are both signed and sent.
"""

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from edgenotify.notify.delivery.outcome import Attempt, Message, from_response

SECRET_PREFIX = "whsec_"
EVENT_TYPE = "notification.created"


def secret_bytes(secret: str) -> bytes:
    """The signing key: base64 after the ``whsec_`` prefix (the prefix itself is optional)."""
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def payload(message: Message, timestamp: int) -> bytes:
    data = {
        "message_id": message.message_id,
        "user_id": message.user_id,
        "channel": message.channel,
        "template_key": message.template_key,
        "subject": message.subject,
        "content": message.content,
        "created_at": message.created_at,
    }
    event = {"type": EVENT_TYPE, "timestamp": timestamp, "data": data}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_request(message: Message, secret: str | None, now: int | None = None) -> tuple[dict[str, str], bytes]:
    timestamp = int(time.time()) if now is None else now
    body = payload(message, timestamp)
    headers = {
        "content-type": "application/json",
        "webhook-id": message.message_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = sign(secret, message.message_id, timestamp, body)
    return headers, body


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    headers, body = signed_request(message, config.get("secret"))
    response = await client.post(config["url"], content=body, headers=headers)
    return from_response(response)
