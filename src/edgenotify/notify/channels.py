"""Per-channel rules shared by the API (validation, masking) and delivery (secrets, URLs).

Config dict keys per channel (stable; delivery reads them):

* ``webhook``:  ``url`` (https), ``secret`` (optional, ``whsec_<base64 of 24..64 bytes>``, Standard Webhooks)
* ``telegram``: ``bot_token``, ``chat_id`` (text: numeric id or ``@channel``), ``api_base`` (optional,
  default https://api.telegram.org; tests point it at a local receiver)
* ``lark``:     ``webhook_url`` (https bot webhook), ``secret`` (optional sign secret)

Pure Python (no pydantic): delivery and the parity runtime import it.
"""

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edgenotify.notify.ssrf import check_url

CHANNELS: tuple[str, ...] = ("webhook", "telegram", "lark")
WEBHOOK_SECRET_PREFIX = "whsec_"

# Values that are never returned unmasked.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"webhook": ("secret",), "telegram": ("bot_token",), "lark": ("secret",)}
# URLs whose last path segment is itself a credential (a Lark bot hook id grants posting).
TOKEN_URL_FIELDS: dict[str, tuple[str, ...]] = {"webhook": (), "telegram": (), "lark": ("webhook_url",)}
# Outbound URLs, checked against the SSRF policy on write and before delivery.
URL_FIELDS: dict[str, tuple[str, ...]] = {"webhook": ("url",), "telegram": ("api_base",), "lark": ("webhook_url",)}

MASK = "****"


def parse_webhook_secret(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64); ValueError if malformed."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError("webhook secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("webhook secret must encode 24 to 64 bytes")
    return key


def mask_secret(value: str) -> str:
    """``whsec_****abcd``: a known prefix and the last 4 characters, only when the rest is long enough."""
    prefix = WEBHOOK_SECRET_PREFIX if value.startswith(WEBHOOK_SECRET_PREFIX) else ""
    body = value[len(prefix) :]
    tail = body[-4:] if len(body) >= 12 else ""
    return f"{prefix}{MASK}{tail}"


def mask_token_url(url: str) -> str:
    """Mask the last path segment of a URL whose path carries a credential."""
    parts = urlsplit(url)
    head, _, last = parts.path.rpartition("/")
    if not last:
        return url
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/{mask_secret(last)}", "", ""))


def mask_config(channel: str, config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` safe to return to a client."""
    masked = dict(config)
    for name in SECRET_FIELDS.get(channel, ()):
        if isinstance(masked.get(name), str):
            masked[name] = mask_secret(masked[name])
    for name in TOKEN_URL_FIELDS.get(channel, ()):
        if isinstance(masked.get(name), str):
            masked[name] = mask_token_url(masked[name])
    return masked


def check_config_urls(channel: str, config: dict[str, Any], development: bool, prefix: str = "config") -> None:
    """Apply the SSRF policy to every outbound URL of ``config`` (422 ``unsafe_url`` naming the field)."""
    for name in URL_FIELDS.get(channel, ()):
        value = config.get(name)
        if value is not None:
            check_url(value, development, field=f"{prefix}.{name}" if prefix else name)
