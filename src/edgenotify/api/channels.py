"""Channel configs per user: PUT/GET/DELETE one, GET all. Secrets are masked in every response.

D1 cost: PUT and DELETE are one batch each (write + audit row); GETs are served by KV when warm
(zero D1) and by one query otherwise.
"""

from edgenotify import errors
from edgenotify.context import Context
from edgenotify.errors import DomainError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body
from edgenotify.models.channels import PUT_MODELS, ChannelConfigList, ChannelConfigOut, ChannelConfigPut, config_out
from edgenotify.models.common import path_param
from edgenotify.notify.channels import check_config_urls, mask_config
from edgenotify.notify.configs import ChannelConfig, delete_config, load_config, load_user_configs, save_config

ONE = "/v1/users/{user_id}/channels/{channel}"
ALL = "/v1/users/{user_id}/channels"

_UNREADABLE = (errors.CONFIG_DECRYPTION_FAILED, errors.CONFIG_CORRUPT, errors.ENCRYPTION_KEY_INVALID)
_PUT_ERRORS = (errors.UNSAFE_URL, errors.ENCRYPTION_KEY_INVALID)


def _out(cfg: ChannelConfig) -> dict:
    return config_out(cfg, mask_config(cfg.channel, cfg.config))


def _not_found(user_id: str, channel: str) -> DomainError:
    return DomainError(errors.CONFIG_NOT_FOUND, f"user {user_id} has no {channel} config", "channel")


async def put_config(context: Context) -> HttpResponse:
    user_id = path_param(context.req, "user_id")
    channel = path_param(context.req, "channel")
    body = parse_body(context.req, PUT_MODELS[channel])
    config = body.config.model_dump(exclude_none=True)
    check_config_urls(channel, config, context.settings.development)
    saved = await save_config(context, user_id, channel, config, body.is_active)
    return json_response(_out(saved))


async def get_config(context: Context) -> HttpResponse:
    user_id = path_param(context.req, "user_id")
    channel = path_param(context.req, "channel")
    cfg = await load_config(context, user_id, channel)
    if cfg is None:
        raise _not_found(user_id, channel)
    return json_response(_out(cfg))


async def list_configs(context: Context) -> HttpResponse:
    user_id = path_param(context.req, "user_id")
    configs = await load_user_configs(context, user_id)
    return json_response({"user_id": user_id, "items": [_out(cfg) for cfg in configs]})


async def remove_config(context: Context) -> HttpResponse:
    user_id = path_param(context.req, "user_id")
    channel = path_param(context.req, "channel")
    if not await delete_config(context, user_id, channel):
        raise _not_found(user_id, channel)
    return HttpResponse(204)


ROUTES = [
    Route(
        "PUT",
        ONE,
        put_config,
        summary="Create or replace a user's channel config",
        description="The config's shape depends on the channel in the path (webhook, telegram or lark). Outbound"
        " URLs must be https on the public internet; secrets are encrypted at rest when CONFIG_ENCRYPTION_KEY is"
        " set and are masked in every answer.",
        request_model=ChannelConfigPut,
        response_model=ChannelConfigOut,
        errors=_PUT_ERRORS,
    ),
    Route(
        "GET",
        ONE,
        get_config,
        summary="Read one channel config (secrets masked)",
        description="Secrets and credential-bearing URL segments are masked.",
        response_model=ChannelConfigOut,
        errors=(errors.CONFIG_NOT_FOUND, *_UNREADABLE),
    ),
    Route(
        "DELETE",
        ONE,
        remove_config,
        summary="Delete one channel config",
        description="Messages to this channel that are still pending fail on their next attempt.",
        status=204,
        errors=(errors.CONFIG_NOT_FOUND,),
    ),
    Route(
        "GET",
        ALL,
        list_configs,
        summary="All channel configs of a user",
        description="Active or not, ordered by channel, secrets masked.",
        response_model=ChannelConfigList,
        errors=_UNREADABLE,
    ),
]
