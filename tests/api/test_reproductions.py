# ruff: noqa: F811 - pytest fixtures imported from the kits are parameters here
"""Every reproduction of a 5xx (or wrong answer) a client could cause, replayed through the real HTTP
server: each now answers a 4xx JSON error with a stable code, or the right result."""

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from edgenotify.db.d1 import MAX_BINDABLE_INTEGER
from tests.api.config_kit import Client, client, error_of  # noqa: F401
from tests.api.notify_kit import Api, Receivers, api, receivers  # noqa: F401
from tests.conftest import start_worker

ROWS = 5


def _seed(api: Api, receivers: Receivers, n: int = ROWS) -> None:
    api.webhook_for("u1", receivers.webhook())
    for i in range(n):
        api.sent({"user_id": "u1", "content": f"m{i}"})
    api.drain()


def _listed(api: Api, **params: Any) -> list[dict]:
    response = api.get("/v1/notifications", user_id="u1", limit=100, **params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_time_filters_at_the_ends_of_the_calendar_answer_not_overflow(api, receivers):
    _seed(api, receivers)
    for path in ("/v1/notifications", "/v1/stats"):
        for name, value in (("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59:59-01:00")):
            response = api.get(path, user_id="u1", **{name: value})
            assert response.status_code == 200, (path, name, response.text)
    assert len(_listed(api, since="0001-01-01T00:00:00+14:00")) == ROWS  # before year 1 in UTC: everything
    assert len(_listed(api, until="9999-12-31T23:59:59-01:00")) == ROWS  # after 9999 in UTC: everything
    stats = api.get("/v1/stats", user_id="u1", since="0001-01-01T00:00:00+14:00").json()
    assert stats["since"] == "0001-01-01T00:00:00.000Z" and stats["totals"]["total"] == ROWS


def test_years_below_1000_compare_as_times(api, receivers):
    _seed(api, receivers)
    assert len(_listed(api, since="0999-01-01T00:00:00Z")) == ROWS
    assert _listed(api, until="0999-01-01T00:00:00Z") == []
    stats = api.get("/v1/stats", user_id="u1", since="0999-01-01T00:00:00Z", until="0999-06-01T12:00:00+02:00")
    assert (stats.json()["since"], stats.json()["until"]) == ("0999-01-01T00:00:00.000Z", "0999-06-01T10:00:00.000Z")


def test_stored_times_are_iso_utc_with_four_digit_years(api, receivers):
    _seed(api, receivers, 1)
    (item,) = _listed(api)
    for value in (item["created_at"], item["next_attempt_at"] or item["sent_at"]):
        assert len(value) == 24 and value.endswith("Z") and value[4] == "-", value


def _forge(key: bytes, list_name: str, values: list) -> str:
    payload = json.dumps(values, separators=(",", ":")).encode()
    mac = hmac.new(key, list_name.encode() + b"\n" + payload, hashlib.sha256).digest()[:16]
    b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()  # noqa: E731
    return f"c1.{b64(payload)}.{b64(mac)}"


def _stored_key(api: Api) -> bytes:
    value = api.sql("SELECT config_value FROM system_configs WHERE config_key = 'cursor_key'")[0]["config_value"]
    return hashlib.sha256(b"edgenotify/cursor:" + value.encode()).digest()


def test_cursors_cannot_be_forged_from_client_tokens_and_are_range_checked(api, receivers):
    _seed(api, receivers)
    first = api.get("/v1/notifications", user_id="u1", limit=2).json()
    assert first["next_cursor"].startswith("c1.")
    token_key = hashlib.sha256(b"edgenotify/log-cursor/v2:" + api.worker.api_token.encode()).digest()
    key = _stored_key(api)
    forged = {
        "derived from API_TOKEN": _forge(token_key, "logs", ["2999-01-01T00:00:00.000Z", 1]),
        "id beyond 2^53": _forge(key, "logs", ["2999-01-01T00:00:00.000Z", 2**53]),
        "negative id": _forge(key, "logs", ["2999-01-01T00:00:00.000Z", -1]),
        "wrong shape": _forge(key, "logs", ["2999-01-01T00:00:00.000Z"]),
        "another list's": _forge(key, "templates", ["2999-01-01T00:00:00.000Z", 1]),
        "garbage": "c1.!!!.???",
        "over-long": "c1." + "A" * 600 + ".AAAA",
    }
    for label, cursor in forged.items():
        response = api.get("/v1/notifications", user_id="u1", cursor=cursor)
        assert response.status_code in (400, 422), (label, response.text)
        assert response.json()["error"]["code"] in ("invalid_cursor", "invalid_value"), label
    # the largest id D1 can bind, validly signed, is a query (an empty page), not a 500
    edge = _forge(key, "logs", ["2999-01-01T00:00:00.000Z", MAX_BINDABLE_INTEGER])
    assert api.get("/v1/notifications", user_id="u1", cursor=edge).status_code == 200


def test_one_cursor_scheme_lists_refuse_each_others_cursors(api, receivers):
    _seed(api, receivers)
    for i in range(3):
        api.put_template(f"t{i}", {"name": "T", "contents": {"webhook": {"content_template": "x"}}})
    template_cursor = api.get("/v1/templates", limit=1).json()["next_cursor"]
    log_cursor = api.get("/v1/notifications", user_id="u1", limit=1).json()["next_cursor"]
    admin = api.worker.headers("admin")
    operator_cursor = api.client.get("/admin/notifications", params={"limit": 1}, headers=admin).json()["next_cursor"]
    assert all(c.startswith("c1.") for c in (template_cursor, log_cursor, operator_cursor))
    assert api.get("/v1/notifications", user_id="u1", cursor=template_cursor).status_code == 400
    assert api.get("/v1/templates", cursor=log_cursor).status_code == 400
    assert api.get("/v1/notifications", user_id="u1", cursor=operator_cursor).status_code == 400
    refused = api.client.get("/admin/notifications", params={"cursor": log_cursor}, headers=admin)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_cursor"


def test_cursors_survive_token_rotation(tmp_path: Path):
    state = tmp_path / "state"
    first, stop = start_worker(state)
    try:
        auth = first.headers("client")
        for i in range(3):
            body = {"name": "T", "contents": {"webhook": {"content_template": "x"}}}
            assert first.client.put(f"/v1/templates/k{i}", json=body, headers=auth).status_code == 200
        cursor = first.client.get("/v1/templates", params={"limit": 1}, headers=auth).json()["next_cursor"]
    finally:
        stop()
    rotated, stop = start_worker(state, API_TOKEN="rotated-" + "x" * 24)
    try:
        page = rotated.client.get("/v1/templates", params={"cursor": cursor}, headers=rotated.headers("client"))
        assert page.status_code == 200, page.text
        assert [t["key"] for t in page.json()["items"]] == ["k1", "k2"]
    finally:
        stop()


def test_path_ids_match_their_pattern_exactly(client: Client):
    config = {"config": {"url": "https://hooks.example.com/in"}}
    for path in ("/v1/users/hb1%0A/channels/webhook", "/v1/users/hb1%0A/channels"):
        response = client.request("PUT" if path.endswith("webhook") else "GET", path, json=config)
        assert response.status_code == 422 and error_of(response)["code"] == "invalid_path_param", response.text
    assert client.get("/v1/templates/k%0A").status_code == 422
    assert client.get("/v1/users/u1/channels/webhook%0A").json()["error"]["code"] == "unsupported_channel"
    assert client.sql("SELECT COUNT(*) AS n FROM user_configs")[0]["n"] == 0


def test_a_nul_keyword_is_refused_not_a_match_for_everything(api, receivers):
    _seed(api, receivers)
    for keyword in ("\x00", "a\x00", "\x1f"):
        response = api.get("/v1/notifications", user_id="u1", keyword=keyword)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == {**response.json()["error"], "code": "invalid_value", "field": "keyword"}
    assert len(_listed(api, keyword="m1")) == 1


def test_bodies_are_strict(client: Client):
    admin = client.worker.headers("admin")
    restore = "/admin/backups/20261122T030000000Z-a1b2c3/restore"
    response = client.http.post(restore, json={"force": "yes"}, headers=admin)
    assert response.status_code == 422 and error_of(response) | {"message": ""} == {
        "code": "invalid_type",
        "field": "force",
        "message": "",
    }
    put = client.put("/v1/users/u1/channels/webhook", {"config": {"url": "https://a.example/x"}, "is_active": "true"})
    assert put.status_code == 422 and error_of(put)["field"] == "is_active"
    send = client.request("POST", "/v1/notifications", json={"user_id": "u1", "content": 5})
    assert send.status_code == 422 and error_of(send)["code"] == "invalid_type"
    # query strings still parse their text
    assert client.get("/v1/templates", params={"limit": "2", "active": "true"}).status_code == 200


def test_a_lark_url_ending_in_a_slash_is_masked(client: Client):
    hook = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    url = f"https://open.feishu.cn/open-apis/bot/v2/hook/{hook}/"
    response = client.put_config("u1", "lark", {"webhook_url": url})
    assert response.status_code == 200
    for answer in (response, client.get("/v1/users/u1/channels/lark"), client.get("/v1/users/u1/channels")):
        assert hook not in answer.text and "****" in answer.text, answer.text


def test_a_hook_id_echoed_by_lark_is_scrubbed_from_the_stored_error(api, receivers):
    lark = receivers.lark(secret=None)
    api.lark_for("u1", lark, secret=None)
    hook_id = lark.url.rsplit("/", 1)[-1]
    lark.always(200, {"code": 19001, "msg": f"param invalid: incoming webhook access token {hook_id} is invalid"})
    (message_id,) = api.sent({"user_id": "u1", "content": "hi"}).values()
    api.drain()
    item = api.get(f"/v1/notifications/{message_id}").json()
    assert item["error"] and "19001" in item["error"] and hook_id not in item["error"], item["error"]
    assert hook_id not in api.get("/v1/notifications", user_id="u1").text
