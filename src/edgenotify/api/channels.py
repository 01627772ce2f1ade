"""Channel configs per user: PUT/GET/DELETE one, GET all. Secrets are masked in every response.

D1 cost: PUT and DELETE are one batch each (write + audit row); GETs are served by KV when warm
(zero D1) and by one query otherwise.
"""

from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body
from edgenotify.models.channels import PUT_MODELS, ChannelConfigList, ChannelConfigOut, ChannelConfigPut, config_out
from edgenotify.models.common import path_param
from edgenotify.notify.channels import check_config_urls, mask_config
from edgenotify.notify.configs import ChannelConfig, delete_config, load_config, load_user_configs, save_config

ONE = "/v1/users/{user_id}/channels/{channel}"
ALL = "/v1/users/{user_id}/channels"

# Statuses the handlers add to those every route of their shape can answer (see api/openapi.py).
_NOT_FOUND = (404, "config_not_found: the user has no config for this channel")
_UNREADABLE = (
    503,
    "config_decryption_failed, config_corrupt, encryption_key_invalid: a stored config cannot be opened"
    " with the configured CONFIG_ENCRYPTION_KEY",
)
_PUT_ERRORS = (
    (422, "unsafe_url: a URL the outbound policy refuses"),
    (503, "encryption_key_invalid: CONFIG_ENCRYPTION_KEY is not base64 of 32 bytes"),
)


def _out(cfg: ChannelConfig) -> dict:
    return config_out(cfg, mask_config(cfg.channel, cfg.config))


def _not_found(user_id: str, channel: str) -> ApiError:
    return ApiError(404, "config_not_found", f"user {user_id} has no {channel} config", field="channel")


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
        request_model=ChannelConfigPut,
        response_model=ChannelConfigOut,
        errors=_PUT_ERRORS,
    ),
    Route(
        "GET",
        ONE,
        get_config,
        summary="Read one channel config (secrets masked)",
        response_model=ChannelConfigOut,
        errors=(_NOT_FOUND, _UNREADABLE),
    ),
    Route("DELETE", ONE, remove_config, summary="Delete one channel config", status=204, errors=(_NOT_FOUND,)),
    Route(
        "GET",
        ALL,
        list_configs,
        summary="All channel configs of a user",
        response_model=ChannelConfigList,
        errors=(_UNREADABLE,),
    ),
]
