"""The notification data layer through our code: idempotent send (one D1 batch), logs, stats.

Delivery itself (httpx to the channel) is not run here: ``send`` hands it to ``waitUntil``, and the
contract's execution context records and closes it, so only the D1/KV side is compared.
"""

from typing import Any

from edgenotify.context import Context
from edgenotify.db import Database, Query
from edgenotify.errors import DomainError
from edgenotify.migrations import automigrate
from edgenotify.notify import config_cache as cache
from edgenotify.notify import configs, idempotency, logs, stats, templates
from edgenotify.notify.send import SendCommand, send
from tests.contract.contracts import contract
from tests.contract.support import raises


class RecordingCtx:
    """An ExecutionContext whose waitUntil records the work and closes it (no delivery attempts)."""

    def __init__(self) -> None:
        self.scheduled = 0

    def waitUntil(self, work: Any) -> None:  # noqa: N802 - the Workers API name
        self.scheduled += 1
        work.close()


async def _context(env: Any) -> tuple[Context, RecordingCtx]:
    await automigrate.apply_pending(Database(env.DB), automigrate.bundled_files())
    ctx = RecordingCtx()
    return Context.create(env, ctx), ctx


async def _fresh_user(context: Context, user: str) -> None:
    await context.db.batch(
        [
            Query.of("DELETE FROM notification_logs WHERE user_id = ?", user),
            Query.of("DELETE FROM user_stats WHERE user_id = ?", user),
            Query.of("DELETE FROM idempotency_keys WHERE user_id = ?", user),
            Query.of("DELETE FROM user_configs WHERE user_id = ?", user),
        ]
    )
    await cache.cache_delete(context, cache.user_configs_key(user))


def _command(user: str, key: str | None, body: dict[str, Any], **fields: Any) -> SendCommand:
    values = {"channels": None, "template_key": None, "variables": None, "subject": "Hi", "content": "Hello"}
    values.update(fields)
    return SendCommand(user_id=user, idempotency_key=key, request_hash=idempotency.fingerprint(body), **values)


@contract
async def notify_send_is_one_batch_and_idempotent(env: Any) -> Any:
    context, ctx = await _context(env)
    user = "contract-send-user"
    await _fresh_user(context, user)
    await configs.save_config(context, user, "webhook", {"url": "https://hooks.example.com/s"}, True)
    await configs.save_config(context, user, "lark", {"webhook_url": "https://open.example.com/l"}, True)
    await configs.load_active_configs(context, user)  # warm the KV cache, as a previous request would

    trips = []
    before = context.db.round_trips
    first = await send(context, _command(user, "key-1", {"a": 1}))
    trips.append(context.db.round_trips - before)
    before = context.db.round_trips
    again = await send(context, _command(user, "key-1", {"a": 1}))
    trips.append(context.db.round_trips - before)
    conflict = await raises(lambda: send(context, _command(user, "key-1", {"a": 2})), kind=DomainError)
    inline = await send(
        context,
        _command(user, None, {"b": 1}, channels=["webhook"], content="Hello {{name}}", variables={"name": "Ann"}),
    )
    rows = await context.db.all(
        "SELECT channel_type, status, subject, content, variables, next_attempt_at IS NOT NULL AS leased "
        "FROM notification_logs WHERE user_id = ? ORDER BY content, channel_type",
        user,
    )
    counters = await context.db.first("SELECT notification_count FROM user_stats WHERE user_id = ?", user)
    assert again.message_ids == first.message_ids and again.replayed and not first.replayed
    assert trips == [1, 1], trips  # warm KV: the whole send is ONE D1 round trip
    return {
        "channels": sorted(first.message_ids),
        "replayed": [first.replayed, again.replayed, inline.replayed],
        "same_ids": again.message_ids == first.message_ids,
        "d1_round_trips": trips,
        "conflict": conflict,
        "logs": rows,
        "notification_count": counters["notification_count"] if counters else None,
        "deliveries_scheduled": ctx.scheduled,
    }


@contract
async def notify_logs_pages_and_stats(env: Any) -> Any:
    context, _ = await _context(env)
    user = "contract-logs-user"
    await _fresh_user(context, user)
    insert = (
        "INSERT INTO notification_logs (message_id, user_id, channel_type, subject, content, status, sent_at, "
        "error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    day = "2026-11-0{}T00:00:00.000Z".format
    rows = [
        ("m1", "webhook", "Alpha", "first", "success", day(1), None, day(1)),
        ("m2", "lark", "Beta", "second", "failed", None, "HTTP 500", day(2)),
        ("m3", "webhook", "Gamma", "third ALPHA", "success", day(3), None, day(3)),
        ("m4", "webhook", "Delta", "fourth", "pending", None, None, day(3)),
        ("m5", "telegram", "Eps", "fifth", "success", day(5), None, day(5)),
    ]
    await context.db.batch([Query(insert, (row[0], user, *row[1:])) for row in rows])
    pages = []
    cursor = None
    while True:
        items, cursor = await logs.list_logs(context, logs.LogFilter(user_id=user), cursor, limit=2)
        pages.append([item["message_id"] for item in items])
        if cursor is None:
            break
    keyword, _ = await logs.list_logs(context, logs.LogFilter(user_id=user, keyword="alpha"), None, limit=10)
    failed, _ = await logs.list_logs(context, logs.LogFilter(user_id=user, status="failed"), None, limit=10)
    window, _ = await logs.list_logs(context, logs.LogFilter(user_id=user, since=day(2), until=day(5)), None)
    one = await logs.get_log(context, "m2")
    totals = await stats.user_totals(context, user, None)
    return {
        "pages": pages,
        "keyword": [i["message_id"] for i in keyword],
        "failed": [i["message_id"] for i in failed],
        "window": [i["message_id"] for i in window],
        "one": one,
        "totals": [totals["totals"], totals["channels"]],
    }


@contract
async def notify_template_send_through_kv(env: Any) -> Any:
    """A template is read once from D1 (one batch) into KV; a templated send then costs one D1 batch."""
    context, ctx = await _context(env)
    user = "contract-template-user"
    await _fresh_user(context, user)
    await configs.save_config(context, user, "webhook", {"url": "https://hooks.example.com/t"}, True)
    template = templates.Template(
        key="contract-welcome",
        name="Welcome",
        variables=[templates.Variable("name"), templates.Variable("team", required=False, default="ops")],
        is_active=True,
        contents={"webhook": templates.Content("Hi {{name}}", "Welcome {{name}} to {{team}}")},
    )
    await templates.save_template(context, template)
    before = context.db.round_trips
    loaded = await templates.load_template(context, template.key)
    cold = context.db.round_trips - before
    again = await templates.load_template(context, template.key)
    warm = context.db.round_trips - before - cold
    await configs.load_active_configs(context, user)
    before = context.db.round_trips
    result = await send(
        context, _command(user, None, {"t": 1}, template_key=template.key, variables={"name": "Ann"}, content=None)
    )
    send_trips = context.db.round_trips - before
    row = await context.db.first(
        "SELECT subject, content, template_key FROM notification_logs WHERE message_id = ?",
        result.message_ids["webhook"],
    )
    missing = await templates.load_template(context, "contract-no-such-template")
    assert loaded == again and (cold, warm, send_trips) == (1, 0, 1), (cold, warm, send_trips)
    return {
        "loaded": [loaded.key, loaded.name, sorted(loaded.contents), [v.name for v in loaded.variables]],
        "d1_round_trips": [cold, warm, send_trips],
        "sent": row,
        "missing": missing,
        "deliveries_scheduled": ctx.scheduled,
    }
