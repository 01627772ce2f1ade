"""Masking secrets for responses: a recognisable prefix and a short tail, never the value."""

from urllib.parse import urlsplit, urlunsplit

MASK = "****"
# Prefixes that say what a secret is (the Standard Webhooks ``whsec_``) are kept visible.
KNOWN_PREFIXES = ("whsec_",)


def mask_secret(value: str) -> str:
    """``whsec_****abcd``: a known prefix and the last 4 characters, only when the rest is long enough."""
    prefix = next((p for p in KNOWN_PREFIXES if value.startswith(p)), "")
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


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value (and so every URL carrying one) replaced by the mask."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
