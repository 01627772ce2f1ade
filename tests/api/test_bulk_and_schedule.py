# ruff: noqa: F811 - pytest fixtures imported from notify_kit are parameters here
"""Bulk send (POST /v1/notifications/batch), scheduled sends (send_at), cancel, and the operator's list
across users: all through the real HTTP server, deliveries to loopback receivers, due work through
the real retry cron."""

from typing import Any

from edgenotify.clock import iso_after
from edgenotify.notify.delivery.schedule import DEFAULT_POLICY
from tests.api.notify_kit import Api, Receivers, api, receivers  # noqa: F401

TEMPLATE = {
    "name": "Order",
    "variables": [{"name": "order"}],
    "contents": {"webhook": {"subject_template": "Order {{ order }}", "content_template": "Shipped {{ order }}"}},
}


def _bulk(api: Api, messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    response = api.client.post("/v1/notifications/batch", json={"messages": messages}, headers=api.auth, **kwargs)
    assert response.status_code == 207, response.text
    return response.json()


def test_a_bulk_of_100_is_one_d1_round_trip_with_per_item_results(api, receivers):
    hooks = {user: receivers.webhook() for user in ("a", "b", "c")}
    for user, hook in hooks.items():
        api.webhook_for(user, hook)
    api.put_template("order", TEMPLATE)
    api.send({"user_id": "a", "template_key": "order", "variables": {"order": "0"}})  # KV warm for a + template
    api.send({"user_id": "b", "content": "warm"})
    api.send({"user_id": "c", "content": "warm"})
    api.send({"user_id": "nobody", "content": "warm"})  # "no configs" and "no such template" are cached too
    api.send({"user_id": "a", "template_key": "absent"})
    api.drain()
    before = api.count_logs()
    messages = []
    for i in range(100):
        user = "abc"[i % 3]
        if i % 2:
            messages.append({"user_id": user, "template_key": "order", "variables": {"order": str(i)}})
        else:
            messages.append({"user_id": user, "content": f"inline {i}", "idempotency_key": f"k-{i}"})
    messages[10] = {"user_id": "nobody", "content": "no channel"}
    messages[11] = {"user_id": "a", "template_key": "absent"}
    messages[12] = {"user_id": "a", "content": "x", "channels": ["sms"]}
    response = api.client.post("/v1/notifications/batch", json={"messages": messages}, headers=api.auth)
    assert response.status_code == 207 and response.headers["x-d1-round-trips"] == "1", response.headers
    result = response.json()
    statuses = [r["status"] for r in result["results"]]
    assert [r["index"] for r in result["results"]] == list(range(100))
    assert statuses[10:13] == [422, 422, 422]
    codes = [result["results"][i]["error"]["code"] for i in (10, 11, 12)]
    assert codes == ["no_active_channel", "unknown_template", "unsupported_channel"]
    assert result["results"][12]["error"]["field"] == "messages.12.channels"
    assert statuses.count(202) == 97 and (result["accepted"], result["rejected"]) == (97, 3)
    assert api.count_logs() == before + 97
    api.drain()
    delivered = sum(len(h.requests) for h in hooks.values())
    assert delivered == 97 + 3  # plus the three warm-up sends
    assert api.sql("SELECT COUNT(*) AS n FROM notification_logs WHERE status = 'success'")[0]["n"] == before + 97


def test_bulk_round_trips_and_item_idempotency(api, receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    api.send({"user_id": "u1", "content": "warm"})
    api.drain()
    first = api.client.post(
        "/v1/notifications/batch",
        json={"messages": [{"user_id": "u1", "content": f"c{i}", "idempotency_key": f"key-{i}"} for i in range(50)]},
        headers=api.auth,
    )
    assert first.status_code == 207 and first.headers["x-d1-round-trips"] == "1", first.headers
    ids = [r["messages"][0]["message_id"] for r in first.json()["results"]]
    again = _bulk(
        api,
        [
            {"user_id": "u1", "content": "c0", "idempotency_key": "key-0"},  # replay
            {"user_id": "u1", "content": "changed", "idempotency_key": "key-1"},  # conflict
            {"user_id": "u1", "content": "dup", "idempotency_key": "twice"},  # created...
            {"user_id": "u1", "content": "dup", "idempotency_key": "twice"},  # ...and replayed in the same bulk
            {"user_id": "u1", "content": "other", "idempotency_key": "twice"},  # ...and a conflict
        ],
    )["results"]
    assert again[0]["status"] == 202 and again[0]["replayed"] and again[0]["messages"][0]["message_id"] == ids[0]
    assert again[1]["status"] == 409 and again[1]["error"]["code"] == "idempotency_conflict"
    assert again[1]["error"]["field"] == "messages.1.idempotency_key"
    assert again[2]["status"] == 202 and not again[2]["replayed"]
    assert again[3]["status"] == 202 and again[3]["replayed"] and again[3]["messages"] == again[2]["messages"]
    assert again[4]["status"] == 409
    api.drain()
    assert api.count_logs("u1") == 1 + 50 + 1
    # a single send with the same key and body replays the bulk item (one idempotency scheme)
    single = api.send({"user_id": "u1", "content": "c5"}, key="key-5")
    assert (
        single.status_code == 202 and single.json()["replayed"] and single.json()["messages"][0]["message_id"] == ids[5]
    )


def test_a_bulk_body_is_validated_as_a_whole(api):
    for body, code in (
        ({"messages": []}, "invalid_value"),
        ({"messages": [{"user_id": "u1", "content": "x"}] * 101}, "invalid_value"),
        ({"messages": [{"user_id": "u1", "content": "x", "bogus": 1}]}, "unknown_field"),
        ({"messages": [{"user_id": "u1", "content": "x", "idempotency_key": " lead"}]}, "invalid_value"),
    ):
        response = api.client.post("/v1/notifications/batch", json=body, headers=api.auth)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, response.text


def test_a_scheduled_send_waits_then_the_retry_cron_delivers_it(api, receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    send_at = iso_after(600)
    (message_id,) = api.sent({"user_id": "u1", "content": "later", "send_at": send_at}).values()
    api.drain()
    api.retry()
    assert hook.requests == []  # not due yet: neither the send nor the cron delivered it
    item = api.get(f"/v1/notifications/{message_id}").json()
    assert (item["status"], item["send_at"], item["next_attempt_at"]) == ("pending", send_at, send_at)
    api.make_due(message_id)  # the clock reaches send_at
    api.retry()
    assert len(hook.requests) == 1 and hook.requests[0].json["data"]["content"] == "later"
    assert api.get(f"/v1/notifications/{message_id}").json()["status"] == "success"


def test_scheduled_bulk_items_and_cancel(api, receivers):
    hook = receivers.webhook()
    api.webhook_for("u1", hook)
    later = iso_after(3600)
    results = _bulk(
        api,
        [
            {"user_id": "u1", "content": "now"},
            {"user_id": "u1", "content": "later", "send_at": later},
            {"user_id": "u1", "content": "too late", "send_at": iso_after(31 * 86400)},
        ],
    )["results"]
    assert [r["status"] for r in results] == [202, 202, 422]
    assert results[2]["error"] == {**results[2]["error"], "code": "invalid_value", "field": "messages.2.send_at"}
    now_id, later_id = (r["messages"][0]["message_id"] for r in results[:2])
    api.drain()
    assert len(hook.requests) == 1
    cancelled = api.client.post(f"/v1/notifications/{later_id}/cancel", headers=api.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.client.post(f"/v1/notifications/{later_id}/cancel", headers=api.auth)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"
    sent_now = api.client.post(f"/v1/notifications/{now_id}/cancel", headers=api.auth)
    assert sent_now.status_code == 409
    missing = api.client.post("/v1/notifications/msg_absent/cancel", headers=api.auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "message_not_found"
    api.make_due(later_id)
    api.retry()
    assert len(hook.requests) == 1  # cancelled: never delivered
    audit = api.sql("SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'message.cancel'")[0]["n"]
    assert audit == 1
    stats = api.get("/v1/stats", user_id="u1").json()
    assert stats["totals"]["cancelled"] == 1 and stats["totals"]["success"] == 1


def test_a_message_claimed_by_the_cron_can_no_longer_be_cancelled(api, receivers):
    hook = receivers.webhook()
    hook.always(503)
    api.webhook_for("u1", hook)
    (message_id,) = api.sent({"user_id": "u1", "content": "x", "send_at": iso_after(60)}).values()
    api.make_due(message_id)
    api.retry()  # attempted (and failed, to be retried): no longer waiting for its time
    assert len(hook.requests) == 1
    response = api.client.post(f"/v1/notifications/{message_id}/cancel", headers=api.auth)
    assert response.status_code == 409


def test_the_operator_lists_messages_across_users(api, receivers):
    ok, down = receivers.webhook(), receivers.webhook()
    down.always(400)
    api.webhook_for("good", ok)
    api.webhook_for("bad1", down)
    api.webhook_for("bad2", down)
    for user in ("good", "bad1", "bad2", "bad1"):
        api.sent({"user_id": user, "content": f"to {user}"})
    api.drain()
    # the last allowed attempt, through the real retry cron: the receiver's errors make them fail for good
    api.sql("UPDATE notification_logs SET retry_count = ? WHERE user_id LIKE 'bad%'", DEFAULT_POLICY.max_attempts - 1)
    api.make_due(*(r["message_id"] for r in api.sql("SELECT message_id FROM notification_logs")))
    api.retry()
    admin = api.worker.headers("admin")
    since = api.sql("SELECT MIN(created_at) AS t FROM notification_logs")[0]["t"]
    seen, cursor = [], None
    while True:
        params = {"status": "failed", "since": since, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/admin/notifications", params=params, headers=admin)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(i["user_id"] for i in seen) == ["bad1", "bad1", "bad2"]
    assert all(i["status"] == "failed" for i in seen)
    created = [i["created_at"] for i in seen]
    assert created == sorted(created, reverse=True)
    one = api.client.get("/admin/notifications", params={"user_id": "good", "channel": "webhook"}, headers=admin)
    assert [i["user_id"] for i in one.json()["items"]] == ["good"]
    assert api.client.get("/admin/notifications", headers=api.auth).status_code == 403
    plan = api.sql(
        "EXPLAIN QUERY PLAN SELECT id FROM notification_logs WHERE status = 'failed' AND created_at >= ?"
        " ORDER BY created_at DESC, id DESC LIMIT 3",
        since,
    )
    assert "idx_logs_status_created" in str(plan)
