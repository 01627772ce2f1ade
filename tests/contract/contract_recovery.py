"""Recovery, attempt history and the API reference page on both runtimes.

A failed message is sent again with its own id (single and bulk), its attempts are listed in order, a
succeeded message is refused, and the ``/docs`` renderer (pure Python) turns a document into the same page.
"""

import hashlib
from typing import Any

from edgenotify.api.docs_page import render_docs
from edgenotify.context import Context
from edgenotify.db import Query
from edgenotify.errors import DomainError
from edgenotify.migrations import automigrate
from edgenotify.notify import configs, retry
from edgenotify.notify.delivery.history import message_with_attempts
from edgenotify.notify.delivery.recovery import RecoverFilter, recover_many, recover_one
from tests.contract.contract_delivery import _INSERT, WEBHOOK_SECRET, _DevEnv
from tests.contract.contracts import contract, platform

USER = "contract-recovery-user"


async def _failed_rows(context: Context, *message_ids: str) -> None:
    await context.db.batch(
        [Query.of(_INSERT, mid, USER, f"content {mid}", 0, None) for mid in message_ids]
        + [Query.of("UPDATE notification_logs SET status = 'failed', error = 'HTTP 500' WHERE user_id = ?", USER)]
    )


class _Deferred:
    """An execution context that keeps ``waitUntil`` work for the contract to await (the same on both
    runtimes: a bare JS context only runs coroutines once the SDK's entrypoint has patched it)."""

    def __init__(self) -> None:
        self.work: list[Any] = []

    def waitUntil(self, work: Any) -> None:  # noqa: N802 (the Workers API name)
        self.work.append(work)

    async def settle(self) -> None:
        while self.work:
            await self.work.pop(0)


def _code(exc: DomainError) -> list[Any]:
    return [exc.code.name, exc.field]


@contract
async def delivery_recovery_and_attempt_history(env: Any) -> Any:
    """Recover one failed message now and two in bounded pages; refuse a succeeded one; list attempts."""
    setup = Context.create(_DevEnv(env), None)
    await automigrate.apply_pending(setup.db, automigrate.bundled_files())
    await setup.db.batch(
        [
            Query.of(f"DELETE FROM {table} WHERE user_id = ?", USER)
            for table in ("notification_logs", "user_stats", "user_configs")
        ]
    )
    await configs.save_config(setup, USER, "webhook", {"url": platform().receivers["webhook"] + "/hook",
                                                       "secret": WEBHOOK_SECRET}, True)  # fmt: skip
    await _failed_rows(setup, "r-one", "r-bulk-1", "r-bulk-2")

    ctx = _Deferred()
    one = await recover_one(Context.create(_DevEnv(env), ctx), "r-one")
    await ctx.settle()
    history = await message_with_attempts(setup, "r-one")
    attempts = [[a["attempt"], a["status_code"], a["outcome"]] for a in history["attempts"]]
    refusals = []
    for message_id in ("r-one", "r-missing"):  # delivered now; never existed
        try:
            await recover_one(setup, message_id)
        except DomainError as exc:
            refusals.append(_code(exc))

    since = "2026-11-30T00:00:00.000Z"
    first = await recover_many(setup, RecoverFilter(since, user_id=USER), 1)
    second = await recover_many(setup, RecoverFilter(since, user_id=USER, after_id=int(first["next_cursor"])), 5)
    cron = await retry.retry_due(setup)
    states = await setup.db.all("SELECT message_id, status FROM notification_logs WHERE user_id = ? ORDER BY 1", USER)
    return {
        "one": one,
        "status": history["status"],
        "attempts": attempts,
        "refusals": refusals,
        "pages": [first["message_ids"], second["message_ids"], second["next_cursor"]],
        "cron": cron["status"],
        "states": states,
    }


@contract
async def docs_page_renders_the_same_everywhere(env: Any) -> Any:
    """The reference page is a pure function of the document: byte-identical on both runtimes."""
    document = {
        "info": {"title": "edgenotify", "version": "1", "description": "Notifications <b>API</b>"},
        "paths": {
            "/v1/things/{id}": {
                "get": {
                    "operationId": "getThing",
                    "tags": ["things"],
                    "summary": "One thing",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "ok"}, "404": {"description": "not_found"}},
                }
            }
        },
        "components": {"schemas": {"Thing": {"type": "object", "properties": {"id": {"type": "string"}}}}},
    }
    page = render_docs(document)
    assert "<b>API</b>" not in page and "getThing" in page
    return {"sha256": hashlib.sha256(page.encode("utf-8")).hexdigest(), "bytes": len(page)}
