"""Masking secrets for responses: a recognisable prefix and a short tail, never the value."""

from urllib.parse import urlsplit, urlunsplit

MASK = "****"


def mask_secret(value: str, visible_prefix: str = "") -> str:
    """``whsec_****abcd``: the field's declared prefix (it says what the secret is, not what it is)
    and the last 4 characters, only when the rest is long enough."""
    prefix = visible_prefix if visible_prefix and value.startswith(visible_prefix) else ""
    body = value[len(prefix) :]
    tail = body[-4:] if len(body) >= 12 else ""
    return f"{prefix}{MASK}{tail}"


def mask_token_url(url: str) -> str:
    """Mask the credential segment of a URL whose path carries one: the last non-empty segment
    (``.../hook/<id>/`` carries it as well as ``.../hook/<id>``); query and fragment are dropped."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index in range(len(segments) - 1, -1, -1):
        if segments[index]:
            segments[index] = mask_secret(segments[index])
            return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))
    return url


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (and so every URL carrying one) replaced by the mask."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
