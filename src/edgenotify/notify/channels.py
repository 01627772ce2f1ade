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


def _token_segment(url: str) -> tuple[list[str], int] | None:
    """The path segments of ``url`` and the index of its credential: the last non-empty one
    (``.../hook/<id>/`` carries it as well as ``.../hook/<id>``)."""
    segments = urlsplit(url).path.split("/")
    for index in range(len(segments) - 1, -1, -1):
        if segments[index]:
            return segments, index
    return None


def mask_token_url(url: str) -> str:
    """Mask the credential segment of a URL whose path carries one; query and fragment are dropped."""
    found = _token_segment(url)
    if found is None:
        return url
    segments, index = found
    segments[index] = mask_secret(segments[index])
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


def secret_values(channel: str, config: dict[str, Any]) -> list[str]:
    """Every credential of ``config`` as text, for scrubbing texts a receiver echoed (stored errors)."""
    values = [config.get(name) for name in SECRET_FIELDS.get(channel, ())]
    for name in TOKEN_URL_FIELDS.get(channel, ()):
        url = config.get(name)
        found = _token_segment(url) if isinstance(url, str) else None
        if found is not None:
            values.append(found[0][found[1]])
    return [value for value in values if isinstance(value, str) and len(value) >= 4]


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
    """Apply the SSRF policy to every outbound URL of ``config`` (``unsafe_url`` naming the field)."""
    for name in URL_FIELDS.get(channel, ()):
        value = config.get(name)
        if value is not None:
            check_url(value, development, field=f"{prefix}.{name}" if prefix else name)
