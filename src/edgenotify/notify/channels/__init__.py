"""The channel table: every delivery channel is one module (its :class:`~.spec.ChannelSpec`), listed once here.

Everything channel-specific outside the modules derives from :data:`REGISTRY`: the API's config
models and OpenAPI text, the ``{channel}`` path pattern, masking for responses, the SSRF check of
outbound URLs, secret scrubbing and the dispatcher's choice of sender. Adding a channel is adding
its module and one entry in :data:`MODULES`. Config dict keys are the ones each module declares
(stable: stored configs and delivery read them).

Pure Python (no pydantic): delivery and the parity runtime import it.
"""

import importlib
import re
from typing import Any

from edgenotify.notify.channels.masking import mask_secret, mask_token_url
from edgenotify.notify.channels.spec import SECRET, ChannelSpec
from edgenotify.notify.ssrf import check_url

MODULES = ("webhook", "telegram", "lark", "status")
REGISTRY: dict[str, ChannelSpec] = {}


def register(spec: ChannelSpec) -> None:
    """Add a channel (before the API models are built, i.e. before ``edgenotify.models`` is imported)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", spec.name):
        raise ValueError(f"channel name {spec.name!r} must be 1-16 lower-case letters, digits or _")
    REGISTRY[spec.name] = spec


for _name in MODULES:
    register(importlib.import_module(f"{__name__}.{_name}").SPEC)


def public() -> dict[str, ChannelSpec]:
    """The channels users configure through the API (internal ones, like the status webhook, excluded)."""
    return {name: spec for name, spec in REGISTRY.items() if not spec.internal}


def names() -> tuple[str, ...]:
    return tuple(public())


def get(channel: str) -> ChannelSpec | None:
    return REGISTRY.get(channel)


def path_pattern() -> str:
    """The ``{channel}`` path parameter's pattern: exactly the registered names."""
    return "^(" + "|".join(re.escape(name) for name in public()) + ")$"


def mask_config(channel: str, config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` safe to return to a client."""
    spec = REGISTRY.get(channel)
    masked = dict(config)
    if spec is None:
        return {name: mask_secret(str(value)) for name, value in masked.items()}
    for item in spec.fields:
        if item.role == SECRET and isinstance(masked.get(item.name), str):
            masked[item.name] = mask_secret(masked[item.name], item.visible_prefix)
    for name in spec.token_url_fields:
        if isinstance(masked.get(name), str):
            masked[name] = mask_token_url(masked[name])
    return masked


def secret_values(channel: str, config: dict[str, Any]) -> list[str]:
    """The config's secret values (including credential URL segments), for scrubbing stored text."""
    spec = REGISTRY.get(channel)
    if spec is None:
        return []
    values = [config[n] for n in spec.secret_fields if isinstance(config.get(n), str)]
    for name in spec.token_url_fields:
        if isinstance(config.get(name), str):
            values.append(config[name].rstrip("/").rpartition("/")[2])
    return values


def check_config_urls(channel: str, config: dict[str, Any], development: bool, prefix: str = "config") -> None:
    """Apply the SSRF policy to every outbound URL of ``config`` (422 ``unsafe_url`` naming the field)."""
    spec = REGISTRY.get(channel)
    for name in spec.url_fields if spec else ():
        value = config.get(name)
        if value is not None:
            check_url(value, development, field=f"{prefix}.{name}" if prefix else name)
