# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""/openapi.json: generated for every route from the route models, and the ACTUAL responses of every
route (successes and errors) validate against it."""

import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from edgenotify.http.errors import ApiError
from edgenotify.routes import ROUTER
from tests.api.config_kit import CONFIGS, Client, client, error_of  # noqa: F401


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    response = client.http.get("/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    return response.json()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict, ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_route_is_documented_from_its_models(document):
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert schemes["adminToken"]["scheme"] == "bearer"
    assert set(document["components"]["schemas"]["ErrorResponse"]["properties"]) == {"error"}
    security = {"client": [{"apiToken": []}], "admin": [{"adminToken": []}], "public": []}
    operation_ids = set()
    for route in ROUTER.routes:
        operation = document["paths"][route.pattern][route.method.lower()]
        operation_ids.add(operation["operationId"])
        assert operation["security"] == security[route.role]
        assert str(route.status) in operation["responses"] and "default" in operation["responses"]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", route.pattern))
        if route.request_model is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/" + route.request_model.__name__)
        if route.response_model is not None:
            ref = operation["responses"][str(route.status)]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/" + route.response_model.__name__)
        if route.query_model is not None:
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert names == set(route.query_model.model_fields)
    assert len(operation_ids) == len(ROUTER.routes)
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # The validation used below is not vacuous: a wrong shape is refused.
    out = {"$ref": "#/components/schemas/ChannelConfigOut", "components": document["components"]}
    assert not Draft202012Validator(out).is_valid({"error": {"code": "x", "message": "y"}})


class Checker:
    """Validates each response against the document's schema for its route and status."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.seen: dict[tuple[str, str], set[int]] = {}

    def __call__(self, response: httpx.Response) -> httpx.Response:
        method, path = response.request.method, response.request.url.path
        try:
            route, _ = ROUTER.match(method, path)
        except ApiError:  # unknown route / method: the generic error shape
            error_of(response)
            return response
        responses = self.document["paths"][route.pattern][route.method.lower()]["responses"]
        spec = responses.get(str(response.status_code)) or responses["default"]
        spec = _resolve(self.document, spec["$ref"]) if "$ref" in spec else spec
        self.seen.setdefault((route.method, route.pattern), set()).add(response.status_code)
        if "content" not in spec:
            assert response.content == b"", (path, response.status_code)
            return response
        schema = {**spec["content"]["application/json"]["schema"], "components": self.document["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(response.json())]
        assert not errors, (method, path, response.status_code, errors, response.text[:500])
        return response


def test_actual_responses_of_every_route_validate(client: Client, document):
    check = Checker(document)
    c = client
    auth = c.auth
    # Channel configs
    check(c.put_config("u1", "webhook", {"url": "http://127.0.0.1:9/refused", "secret": CONFIGS["webhook"]["secret"]}))
    check(c.put_config("u1", "telegram", {**CONFIGS["telegram"], "api_base": "http://127.0.0.1:9"}))
    check(c.put_config("u1", "lark"))
    check(c.put_config("u1", "lark", {"webhook_url": "https://10.0.0.1/x"}))
    check(c.get("/v1/users/u1/channels/webhook"))
    check(c.get("/v1/users/u1/channels/telegram"))
    check(c.get("/v1/users/u1/channels/lark"))
    check(c.get("/v1/users/u1/channels"))
    check(c.get("/v1/users/nobody/channels"))
    check(c.get("/v1/users/u1/channels/sms"))
    check(c.delete("/v1/users/u1/channels/lark"))
    check(c.delete("/v1/users/u1/channels/lark"))
    # Templates
    template = {
        "name": "T",
        "variables": [{"name": "who", "default": "you"}, {"name": "n", "required": False, "default": 3}],
        "contents": {"webhook": {"subject_template": "Hi {{who}}", "content_template": "{{ who }} x{{n}}"}},
    }
    check(c.put("/v1/templates/t1", template))
    check(c.put("/v1/templates/t2", {**template, "is_active": False, "description": "d"}))
    check(c.put("/v1/templates/t3", {"name": 1}))
    check(c.get("/v1/templates/t1"))
    check(c.get("/v1/templates", params={"limit": 1}))
    check(c.get("/v1/templates", params={"cursor": "bogus"}))
    check(c.get("/v1/templates/absent"))
    check(c.delete("/v1/templates/t2"))
    # Notifications (part 2's routes): a send whose deliveries fail fast against a closed loopback port
    sent = check(c.request("POST", "/v1/notifications", json={"user_id": "u1", "template_key": "t1", "variables": {}}))
    assert sent.status_code == 202, sent.text
    check(c.request("POST", "/v1/notifications", json={"user_id": "u1"}))
    client.worker.drain()
    message_id = sent.json()["messages"][0]["message_id"]
    check(c.get("/v1/notifications", params={"user_id": "u1"}))
    check(c.get(f"/v1/notifications/{message_id}"))
    check(c.get("/v1/notifications/absent-id"))
    check(c.get("/v1/stats", params={"user_id": "u1"}))
    check(c.get("/v1/stats"))
    # Public routes, access errors, generic errors
    check(c.http.get("/health"))
    check(c.http.get("/openapi.json"))
    check(c.http.get("/v1/templates"))
    check(c.http.get("/v1/templates", headers={"authorization": f"Bearer {client.worker.admin_token}"}))
    check(c.request("PUT", "/v1/templates/t1", content=b"{", headers={"content-type": "application/json"}))
    check(c.request("PUT", "/v1/templates/t1", content=b"{}", headers={"content-type": "text/plain"}))
    check(c.request("PATCH", "/v1/templates/t1", headers=auth))
    check(c.get("/no/such/route"))
    missing = {(r.method, r.pattern) for r in ROUTER.routes} - set(check.seen)
    # Admin routes are exercised with the admin token so they answer something documented too.
    for method, pattern in sorted(missing):
        path = re.sub(r"\{\w+\}", "x", pattern)
        check(c.http.request(method, path, headers=client.worker.headers("admin")))
    assert {(r.method, r.pattern) for r in ROUTER.routes} == set(check.seen)
    successes = [key for key, statuses in check.seen.items() if any(s < 300 for s in statuses)]
    mine = [r for r in ROUTER.routes if not r.pattern.startswith("/admin")]
    assert {(r.method, r.pattern) for r in mine} <= set(successes)
