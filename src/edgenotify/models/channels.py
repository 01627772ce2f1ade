"""Channel config bodies, generated from the channel table (``notify/channels``) when this module loads.

Each registered channel contributes a settings model (its declared fields, with their checks), a
PUT body model (``PUT_MODELS``, picked by the channel in the path) and a masked output shape;
``ChannelConfigPut`` (the union) documents them all in ``/openapi.json``. So a new channel module
appears here, in the path pattern and in the OpenAPI document without an edit. Semantic checks
that need runtime settings (the SSRF policy depends on ``development``) run in the handler.
"""

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from edgenotify.http.validation import StrictModel
from edgenotify.notify import channels
from edgenotify.notify.channels.spec import ChannelSpec, ConfigField

Channel = Literal[channels.names()]  # type: ignore[valid-type]


def _input_field(spec: ConfigField) -> tuple[Any, Any]:
    kind: Any = str | int if spec.accepts_int else str
    if not spec.required:
        kind = kind | None
    constraints = {
        key: value
        for key, value in (("max_length", spec.max_length), ("min_length", spec.min_length), ("pattern", spec.pattern))
        if value is not None
    }
    default = ... if spec.required else None
    return kind, Field(default, description=spec.description, **constraints)


def _validators(spec: ChannelSpec) -> dict[str, Any]:
    out = {}
    for item in spec.fields:
        if item.check is not None:
            check = item.check
            out[f"_check_{item.name}"] = field_validator(item.name)(classmethod(lambda cls, v, _c=check: _c(v)))
    return out


def _settings_model(spec: ChannelSpec) -> type[StrictModel]:
    fields = {item.name: _input_field(item) for item in spec.fields}
    return create_model(f"{spec.title}Settings", __base__=StrictModel, __validators__=_validators(spec), **fields)  # type: ignore[call-overload]


def _masked_model(spec: ChannelSpec) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for item in spec.fields:
        description = item.masked_description or item.description
        kind: Any = str if item.required else str | None
        fields[item.name] = (kind, Field(... if item.required else None, description=description))
    return create_model(f"Masked{spec.title}", **fields)  # type: ignore[call-overload]


def _put_model(spec: ChannelSpec, settings: type[StrictModel]) -> type[StrictModel]:
    return create_model(f"{spec.title}Put", __base__=StrictModel, config=(settings, ...), is_active=(bool, True))  # type: ignore[call-overload]


SETTINGS_MODELS = {name: _settings_model(spec) for name, spec in channels.public().items()}
MASKED_MODELS = {name: _masked_model(spec) for name, spec in channels.public().items()}
# What the handler validates with, picked by the channel in the path.
PUT_MODELS: dict[str, type[StrictModel]] = {
    name: _put_model(spec, SETTINGS_MODELS[name]) for name, spec in channels.public().items()
}


class ChannelConfigPut(StrictModel):
    """PUT body; ``config`` must match the channel in the path."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"config": {"url": "https://hooks.example.com/in"}, "is_active": True}]}
    )
    config: Union[tuple(SETTINGS_MODELS.values())] = Field(description="The channel's settings")  # type: ignore[valid-type]  # noqa: UP007
    is_active: bool = Field(True, description="Inactive configs are kept but not sent to")


class ChannelHealth(BaseModel):
    failing_since: str | None = Field(None, description="Start of the current run of permanent delivery failures")
    disabled_at: str | None = Field(None, description="When deliveries to this config were switched off")
    disabled_reason: str | None = Field(None, description="Why; a PUT of the config re-enables it")


class ChannelConfigOut(BaseModel):
    user_id: str = Field(description="The user the config belongs to")
    channel: Channel = Field(description="The channel")
    config: Union[tuple(MASKED_MODELS.values())] = Field(description="The settings, credentials masked")  # type: ignore[valid-type]  # noqa: UP007
    is_active: bool = Field(description="Whether sends use it")
    disabled: bool = Field(False, description="True when failing deliveries disabled the config (sends get 422)")
    health: ChannelHealth = Field(description="Delivery health of this config")
    encrypted: bool = Field(description="Whether the stored config is encrypted at rest")
    created_at: str = Field(description="When it was created")
    updated_at: str = Field(description="When it was last replaced")


class ChannelConfigList(BaseModel):
    user_id: str = Field(description="The user")
    items: list[ChannelConfigOut] = Field(description="Every config of the user, ordered by channel")


def config_out(cfg: Any, masked: dict[str, Any]) -> dict[str, Any]:
    """The response body of one config (``masked`` from ``notify.channels.mask_config``)."""
    return {
        "user_id": cfg.user_id,
        "channel": cfg.channel,
        "config": masked,
        "is_active": cfg.is_active,
        "disabled": cfg.disabled_at is not None,
        "health": {
            "failing_since": cfg.failing_since,
            "disabled_at": cfg.disabled_at,
            "disabled_reason": cfg.disabled_reason,
        },
        "encrypted": cfg.encrypted,
        "created_at": cfg.created_at,
        "updated_at": cfg.updated_at,
    }
