"""Channel config bodies: one settings model per channel for input, masked shapes for output.

The PUT body is validated with the model of the channel named in the path (``PUT_MODELS``);
``ChannelConfigPut`` (the union) documents all three in ``/openapi.json``. Semantic checks that
need runtime settings (the SSRF policy depends on ``development``) run in the handler.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgenotify.http.validation import StrictModel
from edgenotify.notify.channels import parse_webhook_secret

Channel = Literal["webhook", "telegram", "lark"]
Url = Field(max_length=2048, description="https URL on the public internet (loopback allowed in development)")


class WebhookSettings(StrictModel):
    url: str = Url
    secret: str | None = Field(
        None, max_length=200, description="Standard Webhooks signing secret: whsec_ + base64 of 24..64 bytes"
    )

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None:
            parse_webhook_secret(value)
        return value


class TelegramSettings(StrictModel):
    bot_token: str = Field(pattern=r"^[0-9]{1,20}:[A-Za-z0-9_\-]{30,64}$", description="Bot API token")
    chat_id: str | int = Field(description="Numeric chat id or @channelusername; returned as text")
    api_base: str | None = Field(
        None, max_length=2048, description="Bot API base URL (default https://api.telegram.org)"
    )

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, value: str | int) -> str:
        text = str(value)
        if isinstance(value, bool) or not (
            (text.lstrip("-").isdigit() and len(text) <= 21)
            or (text.startswith("@") and 5 <= len(text) <= 33 and text[1:].replace("_", "").isalnum())
        ):
            raise ValueError("chat_id must be a numeric id or @channelusername")
        return text


class LarkSettings(StrictModel):
    webhook_url: str = Url
    secret: str | None = Field(None, min_length=1, max_length=256, pattern=r"^[^*\s]+$", description="Sign secret")


class ChannelConfigPut(StrictModel):
    """PUT body; ``config`` must match the channel in the path."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"config": {"url": "https://hooks.example.com/in"}, "is_active": True}]}
    )
    config: WebhookSettings | TelegramSettings | LarkSettings = Field(description="The channel's settings")
    is_active: bool = Field(True, description="Inactive configs are kept but not sent to")


class WebhookPut(StrictModel):
    config: WebhookSettings
    is_active: bool = True


class TelegramPut(StrictModel):
    config: TelegramSettings
    is_active: bool = True


class LarkPut(StrictModel):
    config: LarkSettings
    is_active: bool = True


# What the handler validates with, picked by the channel in the path.
PUT_MODELS: dict[str, type[StrictModel]] = {"webhook": WebhookPut, "telegram": TelegramPut, "lark": LarkPut}


class MaskedWebhook(BaseModel):
    url: str = Field(description="The receiver's URL")
    secret: str | None = Field(None, description="Masked, e.g. whsec_****abcd")


class MaskedTelegram(BaseModel):
    bot_token: str = Field(description="Masked, e.g. ****abcd")
    chat_id: str = Field(description="Numeric chat id or @channelusername")
    api_base: str | None = Field(None, description="Bot API base URL when not the default")


class MaskedLark(BaseModel):
    webhook_url: str = Field(description="The hook id (last path segment) is masked")
    secret: str | None = Field(None, description="Masked")


class ChannelConfigOut(BaseModel):
    user_id: str = Field(description="The user the config belongs to")
    channel: Channel = Field(description="The channel")
    config: MaskedWebhook | MaskedTelegram | MaskedLark = Field(description="The settings, credentials masked")
    is_active: bool = Field(description="Whether sends use it")
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
        "encrypted": cfg.encrypted,
        "created_at": cfg.created_at,
        "updated_at": cfg.updated_at,
    }
