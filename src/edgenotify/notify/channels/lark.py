"""Lark (Feishu) channel: custom bot messages, signed when the bot has a signing secret.

Lark's signature is unusual: HMAC-SHA256 keyed by ``"{timestamp}\\n{secret}"`` over an EMPTY
message, base64-encoded, sent as ``sign`` next to ``timestamp`` (seconds) in the JSON body. The
hook URL's last segment is the bot's credential (it grants posting), so it is masked.

Failure policy: Lark answers HTTP 200 even for failures and reports them as a non-zero ``code``;
such an answer is a failure, permanent for the codes that mean the bot's configuration refuses
the message (bad sign, IP not allowed, keyword missing, bad request), retried otherwise (e.g.
11232, frequency limited). Non-200 answers follow the shared HTTP policy.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

from edgenotify.notify.channels.spec import SECRET, TOKEN_URL, ChannelSpec, ConfigField
from edgenotify.notify.delivery.outcome import Attempt, Message, from_response, json_body

PERMANENT_CODES = frozenset({9499, 19021, 19022, 19024})


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


def classify(response: Any) -> Attempt:
    data = json_body(response)
    code = data.get("code", data.get("StatusCode", 0))
    if code in (0, None):
        return from_response(response)
    text = f"Lark code {code}: {data.get('msg') or data.get('StatusMessage') or ''}".strip()
    return from_response(response, body_error=text, permanent=True if code in PERMANENT_CODES else None)


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    return classify(await client.post(config["webhook_url"], json=payload(message, config.get("secret"))))


SPEC = ChannelSpec(
    name="lark",
    title="Lark",
    fields=(
        ConfigField(
            "webhook_url",
            "https bot webhook URL on the public internet",
            TOKEN_URL,
            max_length=2048,
            masked_description="The hook id (last path segment) is masked",
        ),
        ConfigField(
            "secret",
            "Sign secret",
            SECRET,
            required=False,
            min_length=1,
            max_length=256,
            pattern=r"^[^*\s]+$",
            masked_description="Masked",
        ),
    ),
    send=send,
)
