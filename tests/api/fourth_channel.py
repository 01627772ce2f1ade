"""A fourth channel that exists only in the tests: a pager service taking ``{"room", "text"}``
with a bearer token. It is the whole of what adding a channel takes: this one module (config
declaration, sender, failure policy), registered in the channel table."""

from typing import Any

from edgenotify.notify.channels.spec import SECRET, URL, ChannelSpec, ConfigField
from edgenotify.notify.delivery.outcome import Attempt, Message, from_response


def _room(value: Any) -> str:
    if not str(value).startswith("#"):
        raise ValueError("room must start with #")
    return str(value)


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    headers = {"authorization": f"Bearer {config['token']}"}
    response = await client.post(config["url"], json={"room": config["room"], "text": message.text}, headers=headers)
    return from_response(response, permanent=True if response.status_code == 423 else None)  # 423: room locked


SPEC = ChannelSpec(
    name="pager",
    title="Pager",
    fields=(
        ConfigField("url", "Pager API endpoint", URL, max_length=2048),
        ConfigField("token", "Pager API token", SECRET, min_length=16, masked_description="Masked"),
        ConfigField("room", "Room to page, e.g. #ops", check=_room),
    ),
    send=send,
)
