# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Recovering failed messages through the API: one now, many by filter (bounded, resumable),
both audited, both refusing messages that succeeded; the same message id and webhook-id."""

import json

from tests.api.notify_kit import PAST, Receivers, api, receivers  # noqa: F401 - fixtures

MESSAGE = {"user_id": "u1", "content": "Invoice ready"}


def _failed(api, receivers: Receivers, user: str = "u1", count: int = 1):
    hook = receivers.webhook()
    hook.answer(410, {"error": "gone"}, times=count)
    api.webhook_for(user, hook)
    ids = [api.sent({**MESSAGE, "user_id": user})["webhook"] for _ in range(count)]
    api.drain()
    assert {api.log(i)["status"] for i in ids} == {"failed"}
    return hook, ids


def _audits(api, message_id: str) -> list[dict]:
    return api.sql("SELECT * FROM audit_logs WHERE action = 'notification.recover' AND resource_id = ?", message_id)


def test_a_failed_message_is_sent_again_with_the_same_ids(api, receivers: Receivers):
    hook, [message_id] = _failed(api, receivers)
    assert api.user_stats("u1")["failed_count"] == 1
    response = api.client.post(f"/v1/notifications/{message_id}/retry", headers=api.auth)
    assert response.status_code == 202, response.text
    assert response.json() == {"message_id": message_id, "status": "pending", "attempt": 2}
    api.drain()
    row = api.log(message_id)
    assert (row["status"], row["attempt_count"]) == ("success", 2)
    assert [r.headers["webhook-id"] for r in hook.requests] == [message_id, message_id]
    assert [a["outcome"] for a in api.attempts(message_id)] == ["failed", "succeeded"]
    stats = api.user_stats("u1")
    assert (stats["failed_count"], stats["success_count"]) == (0, 1)
    [audit] = _audits(api, message_id)
    assert audit["actor"] == "client" and json.loads(audit["details"]) == {"mode": "single"}


def test_a_recovered_message_gets_a_fresh_schedule(api, receivers: Receivers):
    hook, [message_id] = _failed(api, receivers)
    hook.always(500, {"error": "down again"})
    api.client.post(f"/v1/notifications/{message_id}/retry", headers=api.auth)
    api.drain()
    row = api.log(message_id)
    assert (row["status"], row["retry_count"], row["attempt_count"]) == ("pending", 1, 2)


def test_succeeded_pending_and_unknown_messages_are_refused(api, receivers: Receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    done = api.sent(MESSAGE)["webhook"]
    api.drain()
    response = api.client.post(f"/v1/notifications/{done}/retry", headers=api.auth)
    assert response.status_code == 409 and response.json()["error"]["code"] == "message_succeeded"
    hook.answer(500)
    waiting = api.sent(MESSAGE)["webhook"]
    api.drain()
    response = api.client.post(f"/v1/notifications/{waiting}/retry", headers=api.auth)
    assert response.status_code == 409 and response.json()["error"]["code"] == "message_pending"
    response = api.client.post("/v1/notifications/msg_nope/retry", headers=api.auth)
    assert response.status_code == 404 and response.json()["error"]["code"] == "message_not_found"
    assert len(hook.requests) == 2 and _audits(api, done) == []


def _recover(api, **body) -> dict:
    response = api.client.post("/v1/notifications/recover", json={"since": PAST, **body}, headers=api.auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_bulk_recovery_is_bounded_resumable_and_filtered(api, receivers: Receivers):
    hook, ids = _failed(api, receivers, "u1", 5)
    _, others = _failed(api, receivers, "u2", 1)
    ok = api.sent(MESSAGE)["webhook"]  # succeeds: never recovered
    api.drain()
    page = _recover(api, user_id="u1", limit=3)
    assert page["recovered"] == 3 and page["message_ids"] == ids[:3] and page["next_cursor"]
    rest = _recover(api, user_id="u1", limit=3, cursor=page["next_cursor"])
    assert rest == {"recovered": 2, "message_ids": ids[3:], "next_cursor": None}
    assert api.log(others[0])["status"] == "failed" and api.log(ok)["status"] == "success"
    assert {api.log(i)["status"] for i in ids} == {"pending"}
    assert api.user_stats("u1")["failed_count"] == 0 and api.user_stats("u2")["failed_count"] == 1
    assert all(len(_audits(api, i)) == 1 for i in ids)
    api.retry()  # due now: the cron delivers them
    assert {api.log(i)["status"] for i in ids} == {"success"}
    assert sorted(r.headers["webhook-id"] for r in hook.requests[-5:]) == sorted(ids)


def test_bulk_recovery_by_channel_and_time_range(api, receivers: Receivers):
    _, [old] = _failed(api, receivers)
    api.sql("UPDATE notification_logs SET created_at = '2020-01-01T00:00:00.000Z' WHERE message_id = ?", old)
    _, [recent] = _failed(api, receivers)
    assert _recover(api, since="2021-01-01T00:00:00Z", channel="webhook")["message_ids"] == [recent]
    assert _recover(api, channel="telegram")["recovered"] == 0
    assert _recover(api, until="2021-01-01T00:00:00Z")["message_ids"] == [old]


def test_bulk_recovery_validates_its_body(api):
    cases = (
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": PAST, "limit": 501}, "limit"),
        ({"since": PAST, "cursor": "x"}, "cursor"),
        ({"since": PAST, "channel": "sms"}, "channel"),
    )
    for body, field in cases:
        response = api.client.post("/v1/notifications/recover", json=body, headers=api.auth)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
