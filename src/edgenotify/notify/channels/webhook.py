"""Webhook channel: Standard Webhooks (https://www.standardwebhooks.com/) signed POSTs.

The receiver verifies ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``"{webhook-id}.{webhook-timestamp}.{body}"``, keyed by the base64-decoded part of the secret
after ``whsec_``. ``webhook-id`` is our message id, constant across retries, so a receiver can
deduplicate. The body is serialised once and those exact bytes are both signed and sent.

Failure policy: the shared HTTP one, plus the receiver's way to stop retries of one message,
``webhook-delivery: abort-message`` on any non-2xx answer (as Svix honours it).
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from edgenotify.notify.channels.spec import SECRET, URL, ChannelSpec, ConfigField
from edgenotify.notify.delivery.outcome import ABORTED, Attempt, Message, from_response

SECRET_PREFIX = "whsec_"
EVENT_TYPE = "notification.created"
ABORT_HEADER = "webhook-delivery"
ABORT_VALUE = "abort-message"


def parse_secret(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64 of 24..64 bytes); ValueError if malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("webhook secret must encode 24 to 64 bytes")
    return key


def _checked_secret(value: Any) -> Any:
    if value is not None:
        parse_secret(value)
    return value


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(parse_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def event(event_type: str, timestamp: int, data: dict[str, Any]) -> bytes:
    """A Standard Webhooks event body: the exact bytes that are signed and sent."""
    payload = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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
    return event(EVENT_TYPE, timestamp, data)


def signed_headers(webhook_id: str, body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
    headers = {"content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["webhook-signature"] = sign(secret, webhook_id, timestamp, body)
    return headers


def signed_request(message: Message, secret: str | None, now: int | None = None) -> tuple[dict[str, str], bytes]:
    timestamp = int(time.time()) if now is None else now
    body = payload(message, timestamp)
    return signed_headers(message.message_id, body, secret, timestamp), body


def classify(response: Any) -> Attempt:
    """The webhook failure policy: the shared one, and the receiver's abort header."""
    result = from_response(response)
    if not result.ok and response.headers.get(ABORT_HEADER, "").strip().lower() == ABORT_VALUE:
        return Attempt(False, f"{result.error} (receiver aborted the message)", result.status_code, None, True,
                       ABORTED, result.excerpt)  # fmt: skip
    return result


async def post(client: Any, url: str, webhook_id: str, body: bytes, secret: str | None) -> Attempt:
    headers = signed_headers(webhook_id, body, secret, int(time.time()))
    return classify(await client.post(url, content=body, headers=headers))


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    headers, body = signed_request(message, config.get("secret"))
    return classify(await client.post(config["url"], content=body, headers=headers))


SPEC = ChannelSpec(
    name="webhook",
    title="Webhook",
    fields=(
        ConfigField("url", "https URL on the public internet (loopback allowed in development)", URL, max_length=2048),
        ConfigField(
            "secret",
            "Standard Webhooks signing secret: whsec_ + base64 of 24..64 bytes",
            SECRET,
            required=False,
            max_length=200,
            check=_checked_secret,
            visible_prefix=SECRET_PREFIX,
            masked_description="Masked, e.g. whsec_****abcd",
        ),
    ),
    send=send,
)
