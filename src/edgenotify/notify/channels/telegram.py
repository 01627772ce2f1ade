"""Telegram channel: Bot API ``sendMessage``.

The bot token is part of the URL (``{api_base}/bot{token}/sendMessage``), so it is a secret
field and scrubbed from anything stored. Text is sent without ``parse_mode``: Markdown/HTML modes
reject unescaped characters, and a rendered notification must arrive rather than fail on a stray
``_``.

Failure policy: a 429 carries ``parameters.retry_after`` (seconds) in its JSON body, honoured as
the minimum delay; answers saying the chat is gone or the bot may not write to it ("chat not
found", "bot was blocked by the user", kicked, deactivated) are permanent even when Telegram
wraps them in an unusual status; otherwise the shared HTTP policy applies.
"""

from typing import Any

from edgenotify.notify.channels.spec import SECRET, URL, ChannelSpec, ConfigField
from edgenotify.notify.delivery.outcome import Attempt, Message, from_response, json_body

DEFAULT_API_BASE = "https://api.telegram.org"
MAX_TEXT_CHARS = 4096  # Telegram's limit for one message
PERMANENT_DESCRIPTIONS = (
    "chat not found",
    "bot was blocked by the user",
    "bot was kicked",
    "user is deactivated",
    "bot can't initiate conversation",
    "have no rights to send",
)


def method_url(config: dict[str, Any], method: str = "sendMessage") -> str:
    base = (config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
    return f"{base}/bot{config['bot_token']}/{method}"


def classify(response: Any) -> Attempt:
    data = json_body(response)
    parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    delay = float(retry_after) if isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool) else None
    body_error = None
    permanent = None
    if data.get("ok") is False:
        body_error = str(data.get("description") or "Telegram answered ok=false")
        if any(text in body_error.lower() for text in PERMANENT_DESCRIPTIONS):
            permanent = True
    return from_response(response, body_error=body_error, retry_after=delay, permanent=permanent)


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    body = {"chat_id": config["chat_id"], "text": message.text[:MAX_TEXT_CHARS]}
    return classify(await client.post(method_url(config), json=body))


def _chat_id(value: Any) -> str:
    text = str(value)
    if isinstance(value, bool) or not (
        (text.lstrip("-").isdigit() and len(text) <= 21)
        or (text.startswith("@") and 5 <= len(text) <= 33 and text[1:].replace("_", "").isalnum())
    ):
        raise ValueError("chat_id must be a numeric id or @channelusername")
    return text


SPEC = ChannelSpec(
    name="telegram",
    title="Telegram",
    fields=(
        ConfigField(
            "bot_token",
            "Bot API token",
            SECRET,
            pattern=r"^[0-9]{1,20}:[A-Za-z0-9_\-]{30,64}$",
            masked_description="Masked, e.g. ****abcd",
        ),
        ConfigField(
            "chat_id", "Numeric chat id or @channelusername; returned as text", accepts_int=True, check=_chat_id
        ),
        ConfigField("api_base", f"Bot API base URL (default {DEFAULT_API_BASE})", URL, required=False, max_length=2048),
    ),
    send=send,
)
