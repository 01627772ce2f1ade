"""Telegram Bot API ``sendMessage``.

The bot token is part of the URL (``{api_base}/bot{token}/sendMessage``), so it is scrubbed from
any error text we store. A 429 answer carries ``parameters.retry_after`` (seconds) in its JSON
body; we honour it as the minimum delay before the next attempt. Text is sent without
``parse_mode``: Markdown/HTML modes reject unescaped characters, and a rendered notification
must arrive rather than fail on a stray ``_``.
"""

from typing import Any

from edgenotify.notify.delivery.outcome import Attempt, Message, from_response, json_body

DEFAULT_API_BASE = "https://api.telegram.org"
MAX_TEXT_CHARS = 4096  # Telegram's limit for one message


def method_url(config: dict[str, Any], method: str = "sendMessage") -> str:
    base = (config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
    return f"{base}/bot{config['bot_token']}/{method}"


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    body = {"chat_id": config["chat_id"], "text": message.text[:MAX_TEXT_CHARS]}
    response = await client.post(method_url(config), json=body)
    data = json_body(response)
    parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    delay = float(retry_after) if isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool) else None
    body_error = None
    if data.get("ok") is False:
        body_error = str(data.get("description") or "Telegram answered ok=false")
    return from_response(response, body_error=body_error, retry_after=delay)
