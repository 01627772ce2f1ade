# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""Templates over HTTP: CRUD, cross-field validation, atomic content replacement, keyset pagination,
KV cache and invalidation, audit rows, and rendering of what was stored."""

import asyncio
import json

import pytest

from edgenotify.context import Context
from edgenotify.notify.render import RenderError, render
from edgenotify.notify.templates import load_template
from tests.api.config_kit import Client, client, error_of  # noqa: F401

WELCOME = {
    "name": "Welcome",
    "description": "Sent after sign-up",
    "variables": [{"name": "user", "required": True}, {"name": "plan", "required": False, "default": "free"}],
    "contents": {
        "webhook": {
            "subject_template": "Hi {{user}}",
            "content_template": '{"user": "{{ user }}", "plan": {{ plan }}}',
            "content_type": "json",
        },
        "telegram": {"content_template": "*Welcome* {{ user }} ({{plan}})", "content_type": "markdown"},
    },
}


def test_put_get_delete(client: Client):
    put = client.put("/v1/templates/welcome", WELCOME)
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["key"] == "welcome" and body["is_active"] is True
    assert body["variables"] == [
        {"name": "user", "required": True, "default": None},
        {"name": "plan", "required": False, "default": "free"},
    ]
    assert body["contents"]["telegram"] == {
        "subject_template": None,
        "content_template": "*Welcome* {{ user }} ({{plan}})",
        "content_type": "markdown",
    }
    got = client.get("/v1/templates/welcome")
    assert got.status_code == 200 and got.json() == body
    assert client.delete("/v1/templates/welcome").status_code == 204
    assert error_of(client.get("/v1/templates/welcome"))["code"] == "template_not_found"
    assert error_of(client.delete("/v1/templates/welcome"))["code"] == "template_not_found"
    assert client.sql("SELECT count(*) AS n FROM template_contents")[0]["n"] == 0


def test_contents_are_replaced_atomically_in_one_batch(client: Client):
    client.put("/v1/templates/t", WELCOME)
    before = client.d1_calls
    replaced = {"name": "T2", "contents": {"lark": {"content_template": "only lark"}}}
    assert client.put("/v1/templates/t", replaced).status_code == 200
    assert client.d1_calls - before == 1
    rows = client.sql("SELECT channel_type, content_template, content_type FROM template_contents")
    assert rows == [{"channel_type": "lark", "content_template": "only lark", "content_type": "text"}]
    body = client.get("/v1/templates/t").json()
    assert list(body["contents"]) == ["lark"] and body["name"] == "T2" and body["variables"] == []
    created = client.sql("SELECT created_at, updated_at FROM notification_templates_v2")[0]
    assert created["created_at"] <= created["updated_at"]


def test_failed_put_changes_nothing(client: Client):
    client.put("/v1/templates/t", WELCOME)
    bad = {**WELCOME, "contents": {"lark": {"content_template": "{{ nope }}"}}}
    assert client.put("/v1/templates/t", bad).status_code == 422
    assert client.get("/v1/templates/t").json()["contents"].keys() == {"webhook", "telegram"}


INVALID = [
    (
        {"contents": {"webhook": {"content_template": "{{ x }}"}}},
        "undeclared_variable",
        "contents.webhook.content_template",
    ),
    (
        {"contents": {"webhook": {"subject_template": "{{ x }}", "content_template": "y"}}},
        "undeclared_variable",
        "contents.webhook.subject_template",
    ),
    (
        {"contents": {"webhook": {"content_template": "{{ 1x }}"}}},
        "invalid_template",
        "contents.webhook.content_template",
    ),
    (
        {"contents": {"webhook": {"content_template": "{not json", "content_type": "json"}}},
        "invalid_template",
        "contents.webhook.content_template",
    ),
    ({"variables": [{"name": "a"}, {"name": "a"}]}, "duplicate_variable", "variables.1.name"),
    ({"variables": [{"name": "bad-name"}]}, "invalid_value", "variables.0.name"),
    ({"contents": {"sms": {"content_template": "x"}}}, "invalid_value", "contents.sms"),
    ({"contents": {}}, "invalid_value", "contents"),
    (
        {"contents": {"webhook": {"content_template": "x", "content_type": "html"}}},
        "invalid_value",
        "contents.webhook.content_type",
    ),
    ({"contents": {"webhook": {}}}, "missing_field", "contents.webhook.content_template"),
    ({"name": ""}, "invalid_value", "name"),
    ({"name": 7}, "invalid_type", "name"),
    ({"is_active": "maybe"}, "invalid_type", "is_active"),
    ({"colour": "red"}, "unknown_field", "colour"),
]


@pytest.mark.parametrize("change,code,field", INVALID)
def test_validation(client: Client, change, code, field):
    base = {"name": "T", "variables": [], "contents": {"webhook": {"content_template": "plain"}}}
    error = error_of(client.put("/v1/templates/t", {**base, **change}))
    assert (error["code"], error.get("field")) == (code, field)


def test_missing_name_and_bad_key(client: Client):
    error = error_of(client.put("/v1/templates/t", {"contents": {"webhook": {"content_template": "x"}}}))
    assert (error["code"], error["field"]) == ("missing_field", "name")
    for key in ["k" * 129, "sp%20ace", "%E2%9C%93", "a:b"]:
        error = error_of(client.get(f"/v1/templates/{key}"))
        assert (error["code"], error["field"]) == ("invalid_path_param", "template_key"), key


def test_keyset_pagination(client: Client):
    for i in range(5):
        body = {**WELCOME, "is_active": i % 2 == 0}
        assert client.put(f"/v1/templates/k{i}", body).status_code == 200
    client.get("/v1/templates")  # the isolate's first list reads the cursor key once (notify/cursors.py)
    keys, cursor, pages = [], None, 0
    while True:
        before = client.d1_calls
        page = client.get("/v1/templates", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        assert client.d1_calls - before == 1  # page + its contents in one batch
        pages += 1
        keys += [t["key"] for t in page["items"]]
        assert all(set(t["contents"]) == {"webhook", "telegram"} for t in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert keys == ["k0", "k1", "k2", "k3", "k4"] and pages == 3
    active = client.get("/v1/templates", params={"active": "true", "limit": 100}).json()
    assert [t["key"] for t in active["items"]] == ["k0", "k2", "k4"] and active["next_cursor"] is None
    full = client.get("/v1/templates", params={"limit": 5}).json()
    assert len(full["items"]) == 5 and full["next_cursor"] is None


@pytest.mark.parametrize(
    "params,status,code,field",
    [
        ({"cursor": "not-a-cursor"}, 400, "invalid_cursor", "cursor"),
        ({"cursor": "dGsxOg"}, 400, "invalid_cursor", "cursor"),  # "tk1:" with an empty key
        ({"limit": 0}, 422, "invalid_value", "limit"),
        ({"limit": 101}, 422, "invalid_value", "limit"),
        ({"limit": "ten"}, 422, "invalid_type", "limit"),
        ({"sort": "name"}, 422, "unknown_field", "sort"),
    ],
)
def test_list_query_errors(client: Client, params, status, code, field):
    response = client.get("/v1/templates", params=params)
    assert response.status_code == status
    assert (error_of(response)["code"], error_of(response)["field"]) == (code, field)


def test_cache_invalidation_and_zero_d1_when_warm(client: Client):
    client.put("/v1/templates/t", WELCOME)
    assert client.kv("tpl:v1:t") is None
    client.get("/v1/templates/t")
    assert json.loads(client.kv("tpl:v1:t"))["v"]["name"] == "Welcome"
    before = client.d1_calls
    assert client.get("/v1/templates/t").status_code == 200
    assert client.d1_calls == before
    client.put("/v1/templates/t", {**WELCOME, "name": "Renamed"})
    assert client.kv("tpl:v1:t") is None
    assert client.get("/v1/templates/t").json()["name"] == "Renamed"
    client.delete("/v1/templates/t")
    assert client.kv("tpl:v1:t") is None
    assert client.get("/v1/templates/t").status_code == 404
    before = client.d1_calls
    assert client.get("/v1/templates/t").status_code == 404  # "absent" is cached too
    assert client.d1_calls == before


def test_audit_rows(client: Client):
    put = client.put("/v1/templates/t", WELCOME)
    client.delete("/v1/templates/t", headers={"x-request-id": "tpl-del"})
    client.delete("/v1/templates/t")
    rows = client.sql("SELECT actor, action, resource_type, resource_id, request_id FROM audit_logs ORDER BY id")
    assert rows == [
        {
            "actor": "client",
            "action": "template.put",
            "resource_type": "template",
            "resource_id": "t",
            "request_id": put.headers["x-request-id"],
        },
        {
            "actor": "client",
            "action": "template.delete",
            "resource_type": "template",
            "resource_id": "t",
            "request_id": "tpl-del",
        },
    ]


def test_stored_template_renders_with_escaping(client: Client):
    client.put("/v1/templates/welcome", WELCOME)

    async def load():
        context = Context.create(client.worker.env, None)
        return await load_template(context, "welcome")

    template = asyncio.run(load())
    nasty = 'Zoë "the\\admin"\n😀 *bold* [x](y)'
    subject, content = render(template, "webhook", {"user": nasty})
    assert subject == f"Hi {nasty}"
    assert json.loads(content) == {"user": nasty, "plan": "free"}
    _, markdown = render(template, "telegram", {"user": "a_b", "plan": "pro."})
    assert markdown == r"*Welcome* a\_b (pro\.)"
    with pytest.raises(RenderError) as info:
        render(template, "webhook", {"plan": "x", "extra": 1})
    assert info.value.missing == ["user"] and info.value.undeclared == ["extra"]
