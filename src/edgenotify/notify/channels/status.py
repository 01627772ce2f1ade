"""The status webhook: the deployment's own endpoint told when a message is delivered or failed.

Configured per deployment, not per user: ``STATUS_WEBHOOK_URL`` (a Worker var) and optionally
``STATUS_WEBHOOK_SECRET`` (a Worker secret, ``whsec_...``), so client services need not poll.
When a message reaches its final state the dispatcher writes, in the same batch as the outcome,
one event row (``notification_logs``, channel ``status``, user :data:`EVENTS_USER`, due now); the
retry cron delivers it like any message: same schedule, same history, same failure policy
(Standard Webhooks signed, ``webhook-id`` = the event id, constant across retries). The event
type is kept in the row's subject and its data (JSON) in the content.
"""

import json
import time
from typing import Any

from edgenotify.notify.channels import webhook
from edgenotify.notify.channels.spec import SECRET, URL, ChannelSpec, ConfigField
from edgenotify.notify.delivery.outcome import Attempt, Message

NAME = "status"
URL_VAR = "STATUS_WEBHOOK_URL"
SECRET_VAR = "STATUS_WEBHOOK_SECRET"
# The user id event rows are filed under: outside the API's user id alphabet, so no client's logs.
EVENTS_USER = "~status"
DELIVERED = "message.delivered"
FAILED = "message.failed"


def settings(env: Any) -> dict[str, Any] | None:
    """The status webhook's config from the environment, or None when the deployment has none."""
    url = getattr(env, URL_VAR, None)
    if not url:
        return None
    secret = getattr(env, SECRET_VAR, None)
    return {"url": str(url), **({"secret": str(secret)} if secret else {})}


def event_content(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


async def send(client: Any, message: Message, config: dict[str, Any]) -> Attempt:
    body = webhook.event(message.subject or "", int(time.time()), json.loads(message.content))
    return await webhook.post(client, config["url"], message.message_id, body, config.get("secret"))


SPEC = ChannelSpec(
    name=NAME,
    title="Status",
    fields=(
        ConfigField("url", f"From {URL_VAR}", URL, max_length=2048),
        ConfigField("secret", f"From {SECRET_VAR}", SECRET, required=False),
    ),
    send=send,
    internal=True,
)
