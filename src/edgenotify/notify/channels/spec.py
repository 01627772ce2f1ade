"""What a channel is: a declared config (fields with their roles) and a sender with its failure policy.

A channel module declares one :class:`ChannelSpec`; everything else derives from it: the API's
request and response models and OpenAPI text (``models/channels.py``), the channel path pattern,
masking, the SSRF check of outbound URLs, secret scrubbing of stored errors, and delivery. The
declaration is pure Python so the data layer (which the parity runtime imports without pydantic)
can read it; the pydantic models are generated from it in the API layer.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# Field roles: how a value is treated everywhere outside the channel's own sender.
TEXT = "text"
SECRET = "secret"  # never returned unmasked, scrubbed from stored errors
URL = "url"  # outbound: SSRF-checked on write and before every attempt
TOKEN_URL = "token_url"  # an outbound URL whose last path segment is a credential (masked there)


@dataclass(frozen=True)
class ConfigField:
    """One config key. ``check`` validates (raises ValueError) and may normalise the value."""

    name: str
    description: str
    role: str = TEXT
    required: bool = True
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    accepts_int: bool = False  # the value may be sent as a JSON integer (stored as text)
    check: Callable[[Any], Any] | None = None
    masked_description: str | None = None  # what a client sees instead of the value
    visible_prefix: str = ""  # a SECRET's format prefix, left visible when masked (e.g. ``whsec_``)


Sender = Callable[[Any, Any, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ChannelSpec:
    """A delivery channel. ``send(client, message, config) -> Attempt`` applies the channel's failure policy."""

    name: str
    title: str  # for model names and docs, e.g. "Webhook"
    fields: tuple[ConfigField, ...]
    send: Sender
    internal: bool = False  # configured by the deployment, not per user: absent from the API

    def named(self, role: str) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.role == role)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return self.named(SECRET)

    @property
    def url_fields(self) -> tuple[str, ...]:
        return self.named(URL) + self.named(TOKEN_URL)

    @property
    def token_url_fields(self) -> tuple[str, ...]:
        return self.named(TOKEN_URL)
