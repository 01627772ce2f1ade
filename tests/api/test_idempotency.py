# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Idempotency-Key: replay, conflict, scope, expiry, and atomicity under a 50-request race."""

import asyncio
import json

import httpx

from edgenotify.clock import parse_iso
from tests.api.notify_kit import Receivers, api, receivers, send_gate  # noqa: F401 - fixtures

BODY = {"user_id": "u1", "subject": "Invoice", "content": "Your invoice is ready"}


def _setup(api, receivers: Receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    return hook


def test_same_key_same_body_replays_the_same_ids_and_creates_nothing(api, receivers: Receivers):
    hook = _setup(api, receivers)
    first = api.send(BODY, key="inv-1")
    api.drain()
    rows, stats = api.count_logs(), api.user_stats("u1")
    again = api.send(BODY, key="inv-1")
    api.drain()
    assert again.status_code == 202
    assert again.json() == {**first.json(), "replayed": True}
    assert again.headers["idempotent-replayed"] == "true"
    assert api.count_logs() == rows and api.user_stats("u1") == stats
    assert len(hook.requests) == 1  # not delivered twice


def test_key_order_and_spacing_of_the_body_do_not_matter(api, receivers: Receivers):
    _setup(api, receivers)
    first = api.send(BODY, key="inv-2")
    raw = json.dumps(dict(reversed(list(BODY.items()))), indent=2).encode()
    headers = {**api.auth, "content-type": "application/json", "idempotency-key": "inv-2"}
    again = api.client.post("/v1/notifications", content=raw, headers=headers)
    assert again.json()["messages"] == first.json()["messages"] and again.json()["replayed"] is True


def test_same_key_different_body_is_409_and_creates_nothing(api, receivers: Receivers):
    _setup(api, receivers)
    api.send(BODY, key="inv-3")
    rows = api.count_logs()
    response = api.send({**BODY, "content": "something else"}, key="inv-3")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "idempotency_conflict",
        "message": "this Idempotency-Key was already used with a different request body",
        "field": "Idempotency-Key",
    }
    assert api.count_logs() == rows


def test_keys_are_scoped_per_user(api, receivers: Receivers):
    _setup(api, receivers)
    api.webhook_for("u2", receivers.webhook())
    first = api.sent(BODY, key="shared")
    second = api.sent({**BODY, "user_id": "u2"}, key="shared")
    assert first["webhook"] != second["webhook"]


def test_an_expired_key_sends_again(api, receivers: Receivers):
    _setup(api, receivers)
    first = api.sent(BODY, key="old")
    api.sql("UPDATE idempotency_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE idempotency_key = 'old'")
    second = api.send(BODY, key="old")
    assert second.json()["replayed"] is False
    assert second.json()["messages"][0]["message_id"] != first["webhook"]
    stored = api.sql("SELECT message_ids, expires_at FROM idempotency_keys WHERE idempotency_key = 'old'")[0]
    assert json.loads(stored["message_ids"]) == {"webhook": second.json()["messages"][0]["message_id"]}
    assert stored["expires_at"] > "2001"


def test_key_lives_24_hours(api, receivers: Receivers):
    _setup(api, receivers)
    api.send(BODY, key="ttl")
    row = api.sql("SELECT created_at, expires_at FROM idempotency_keys WHERE idempotency_key = 'ttl'")[0]
    assert (parse_iso(row["expires_at"]) - parse_iso(row["created_at"])).total_seconds() == 24 * 3600


def test_replay_still_works_after_the_channel_was_deactivated(api, receivers: Receivers):
    hook = _setup(api, receivers)
    first = api.send(BODY, key="inv-4")
    api.put_channel("u1", "webhook", {"url": hook.url}, active=False)
    again = api.send(BODY, key="inv-4")
    assert again.status_code == 202 and again.json()["messages"] == first.json()["messages"]
    conflicting = api.send({**BODY, "content": "other"}, key="inv-4")
    assert conflicting.status_code == 409
    assert api.send({**BODY, "content": "other"}, key="new-key").json()["error"]["code"] == "no_active_channel"


def test_a_255_character_key_is_accepted(api, receivers: Receivers):
    _setup(api, receivers)
    key = "k" * 255
    first = api.send(BODY, key=key)
    assert first.status_code == 202
    assert api.send(BODY, key=key).json()["replayed"] is True


def test_without_a_key_identical_sends_are_distinct(api, receivers: Receivers):
    _setup(api, receivers)
    assert api.sent(BODY) != api.sent(BODY)
    assert api.count_logs("u1") == 2


async def _fire(base_url: str, headers: dict, bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        return list(await asyncio.gather(*(client.post("/v1/notifications", json=b) for b in bodies)))


def test_50_simultaneous_identical_requests_create_exactly_one_set_of_rows(api, receivers: Receivers, send_gate):
    hook = _setup(api, receivers)
    api.telegram_for("u1", receivers.telegram())
    gate = send_gate(50)
    before = api.count_logs()
    responses = asyncio.run(_fire(api.worker.base_url, {**api.auth, "idempotency-key": "race"}, [BODY] * 50))
    assert gate.held == 50  # all fifty had planned their own ids before any batch ran
    assert {r.status_code for r in responses} == {202}
    bodies = [r.json() for r in responses]
    assert len({json.dumps(b["messages"]) for b in bodies}) == 1
    assert sum(not b["replayed"] for b in bodies) == 1
    assert api.count_logs() - before == 2  # webhook + telegram, once
    ids = {m["message_id"] for m in bodies[0]["messages"]}
    assert {r["message_id"] for r in api.sql("SELECT message_id FROM notification_logs WHERE user_id = 'u1'")} == ids
    assert api.user_stats("u1")["notification_count"] == 2
    api.drain()
    assert len(hook.requests) == 1


def test_racing_different_bodies_one_wins_the_rest_conflict(api, receivers: Receivers, send_gate):
    _setup(api, receivers)
    send_gate(10)
    bodies = [{**BODY, "content": f"variant {i}"} for i in range(10)]
    responses = asyncio.run(_fire(api.worker.base_url, {**api.auth, "idempotency-key": "race-2"}, bodies))
    assert sorted(r.status_code for r in responses) == [202] + [409] * 9
    winner = next(r for r in responses if r.status_code == 202).json()["messages"][0]["message_id"]
    assert [r["message_id"] for r in api.sql("SELECT message_id FROM notification_logs WHERE user_id = 'u1'")] == [
        winner
    ]
