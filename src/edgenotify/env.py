"""Typed access to the Worker environment: vars, secrets and bindings.

The env object is whatever the runtime hands us (the SDK's wrapper on the edge, a plain
namespace in the embedded runtime); only attribute access is assumed.
"""

from dataclasses import dataclass
from typing import Any


def _text(env: Any, name: str) -> str | None:
    value = getattr(env, name, None)
    if value is None:
        return None
    value = str(value)
    return value or None


@dataclass(frozen=True)
class Settings:
    environment: str
    api_token: str | None
    admin_token: str | None
    encryption_key: str | None

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @classmethod
    def from_env(cls, env: Any) -> "Settings":
        return cls(
            environment=(_text(env, "ENVIRONMENT") or "production").lower(),
            api_token=_text(env, "API_TOKEN"),
            admin_token=_text(env, "ADMIN_TOKEN"),
            encryption_key=_text(env, "CONFIG_ENCRYPTION_KEY"),
        )
