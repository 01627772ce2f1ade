# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""/openapi.json: a structurally valid OpenAPI 3.1 document generated for every route from the route
metadata, and the ACTUAL responses of every route (successes and errors, their statuses and headers)
are declared by it and validate against it."""

import ast
import asyncio
import copy
import inspect
import re
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from edgenotify import errors
from edgenotify.api import admin
from edgenotify.api.openapi import build_document, error_statuses
from edgenotify.app import _error_response
from edgenotify.clock import iso_after
from edgenotify.errors import DomainError
from edgenotify.http.contract import route_codes
from edgenotify.http.errors import status_of
from edgenotify.http.request import REQUEST_ID_FORMAT
from edgenotify.http.router import Header, Route
from edgenotify.migrations import automigrate
from edgenotify.migrations.files import MigrationFile
from edgenotify.models.common import ErrorResponse
from edgenotify.notify import idempotency
from edgenotify.ops.backups import manifest
from edgenotify.routes import ROUTER
from tests.api.config_kit import CONFIGS, Client, client, error_of  # noqa: F401

REQUEST_ID = "x-request-id"
# Headers of HTTP itself (set by the server or the runtime, described by the body's content): every
# other header a response carries is the API's own and must be declared for its status.
TRANSPORT_HEADERS = {"content-type", "content-length", "date", "server", "connection", "keep-alive"}


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


def _deref(document: dict, node: dict) -> dict:
    return _resolve(document, node["$ref"]) if "$ref" in node else node


def _response_headers(document: dict, response: dict) -> dict[str, dict]:
    """Declared headers of a response object, lower-cased names, references resolved."""
    headers = _deref(document, response).get("headers", {})
    return {name.lower(): _deref(document, spec) for name, spec in headers.items()}


def _operation(document: dict, method: str, pattern: str) -> dict:
    return document["paths"][pattern][method.lower()]


def test_document_is_structurally_valid_openapi_3_1(document):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert not errors, errors[:10]
    # The validator is not vacuous: a misplaced parameter and a malformed header are refused.
    broken = copy.deepcopy(document)
    send = _operation(broken, "POST", "/v1/notifications")
    send["parameters"].append({"name": "X", "in": "headers", "schema": {"type": "string"}})
    send["responses"]["202"]["headers"]["x-bad"] = {"schema": {"type": "string"}, "bogus": 1}
    assert len(list(OpenAPIV31SpecValidator(broken).iter_errors())) == 2


def test_every_route_is_documented_from_its_models(document):
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert schemes["adminToken"]["scheme"] == "bearer"
    assert set(document["components"]["schemas"]["ErrorResponse"]["properties"]) == {"error"}
    security = {"client": [{"apiToken": []}], "admin": [{"adminToken": []}], "public": []}
    operation_ids = set()
    for route in ROUTER.routes:
        operation = _operation(document, route.method, route.pattern)
        operation_ids.add(operation["operationId"])
        assert operation["security"] == security[route.role]
        assert str(route.status) in operation["responses"] and "default" not in operation["responses"]
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
        for status in error_statuses(route):
            assert str(status) in operation["responses"], (route.pattern, status)
    assert len(operation_ids) == len(ROUTER.routes)
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # The validation used below is not vacuous: a wrong shape is refused.
    out = {"$ref": "#/components/schemas/ChannelConfigOut", "components": document["components"]}
    assert not Draft202012Validator(out).is_valid({"error": {"code": "x", "message": "y"}})


def test_headers_are_declared(document):
    for route in ROUTER.routes:
        operation = _operation(document, route.method, route.pattern)
        headers = {p["name"].lower(): p for p in operation["parameters"] if p["in"] == "header"}
        request_id = headers[REQUEST_ID]
        assert request_id["schema"]["pattern"] == REQUEST_ID_FORMAT.pattern and not request_id["required"]
        for status, response in operation["responses"].items():
            declared = _response_headers(document, response)
            assert declared[REQUEST_ID]["required"] is True, (route.pattern, status)
            if status == "401":
                assert declared["www-authenticate"]["required"] is True
    send = _operation(document, "POST", "/v1/notifications")
    key = next(p for p in send["parameters"] if p["name"].lower() == "idempotency-key")
    assert key["in"] == "header" and key["required"] is False
    pattern = re.compile(key["schema"]["pattern"])  # the documented rule is the one the route applies
    for sample in ["inv-1", "a b", "~!", " lead", "trail ", "tab\there", "ümlaut", "x" * 255]:
        assert bool(pattern.match(sample)) == idempotency.valid_key(sample), sample
    success = _response_headers(document, send["responses"]["202"])
    assert success["idempotent-replayed"]["schema"] == {"type": "string", "enum": ["true"]}
    assert success["x-d1-round-trips"]["schema"]["type"] == "integer"
    assert not success["idempotent-replayed"]["required"] and not success["x-d1-round-trips"]["required"]
    assert "409" in send["responses"] and "idempotency_conflict" in send["responses"]["409"]["description"]
    # Only the send route declares them.
    for route in ROUTER.routes:
        if (route.method, route.pattern) != ("POST", "/v1/notifications"):
            operation = _operation(document, route.method, route.pattern)
            assert not any(p["name"].lower() == "idempotency-key" for p in operation["parameters"])


def _handler(name: str):
    async def handler(context):  # pragma: no cover - never called
        return None

    handler.__name__ = name  # operation ids come from handler names
    return handler


def test_error_statuses_derive_from_the_route_shape():
    bare = Route("GET", "/ping", _handler("ping"), role="public")
    assert set(error_statuses(bare)) == {503}  # dev auto-migration can fail on any route
    body = Route("PUT", "/v1/things/{user_id}", _handler("put"), request_model=ErrorResponse)
    assert set(error_statuses(body)) == {400, 401, 403, 413, 415, 422, 503}
    own = Route("GET", "/v1/x", _handler("x"), errors=(errors.NOT_CANCELLABLE, errors.UNSAFE_URL))
    assert error_statuses(own)[409] == [errors.NOT_CANCELLABLE] and errors.UNSAFE_URL in error_statuses(own)[422]
    # A status that is also a non-error answer gets one response accepting both bodies.
    both = Route(
        "GET",
        "/v1/y",
        _handler("y"),
        other_responses=((503, None),),
        response_headers=(Header("x-y", "why", True, {"type": "integer"}),),
    )
    doc = build_document([bare, body, own, both])
    assert not list(OpenAPIV31SpecValidator(doc).iter_errors())
    merged = doc["paths"]["/v1/y"]["get"]["responses"]["503"]
    assert len(merged["content"]["application/json"]["schema"]["anyOf"]) == 2 and "migration_failed" in str(merged)
    assert doc["paths"]["/v1/y"]["get"]["responses"]["200"]["headers"]["x-y"]["schema"] == {"type": "integer"}
    x_409 = doc["paths"]["/v1/x"]["get"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert x_409["allOf"][1]["properties"]["error"]["properties"]["code"] == {"enum": ["not_cancellable"]}
    assert "default" not in doc["paths"]["/v1/x"]["get"]["responses"] and "responses" not in doc["components"]


class Checker:
    """Checks each response against the document: its status is DECLARED for its route (not just covered
    by ``default``), its body validates against that status's schema, and every header it carries
    beyond HTTP's own is declared there (and those declared required are present)."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.seen: dict[tuple[str, str], set[int]] = {}

    def __call__(self, response: httpx.Response) -> httpx.Response:
        method, path = response.request.method, response.request.url.path
        try:
            route, _ = ROUTER.match(method, path)
        except DomainError:  # unknown route / method: the generic error shape (see info.description)
            error_of(response)
            assert response.headers[REQUEST_ID]
            if response.status_code == 405:
                assert response.headers["allow"]
            return response
        responses = _operation(self.document, route.method, route.pattern)["responses"]
        status = str(response.status_code)
        assert status in responses, (method, path, status, "undeclared", response.text[:300])
        self.seen.setdefault((route.method, route.pattern), set()).add(response.status_code)
        self._headers(response, _response_headers(self.document, responses[status]))
        spec = _deref(self.document, responses[status])
        if "content" not in spec:
            assert response.content == b"", (path, status)
            return response
        (media,) = spec["content"]
        assert response.headers["content-type"].startswith(media), (path, status, media)
        if media != "application/json":
            return response
        schema = {**spec["content"][media]["schema"], "components": self.document["components"]}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(response.json())]
        assert not errors, (method, path, status, errors, response.text[:500])
        return response

    def _headers(self, response: httpx.Response, declared: dict[str, dict]) -> None:
        where = (response.request.method, response.request.url.path, response.status_code)
        for name, spec in declared.items():
            if spec.get("required"):
                assert name in response.headers, (where, name)
            if name in response.headers:
                value: Any = response.headers[name]
                value = int(value) if spec["schema"].get("type") == "integer" else value
                assert Draft202012Validator(spec["schema"]).is_valid(value), (where, name, value)
        undeclared = set(response.headers) - TRANSPORT_HEADERS - set(declared)
        assert not undeclared, (where, undeclared)


def _fail(client: Client, message_id: str) -> None:
    """Mark a message as finally failed (as its last attempt would), so it can be recovered."""
    db = sqlite3.connect(client.worker.state_dir / "d1" / "DB.sqlite3", timeout=30, isolation_level=None)
    try:
        db.execute("UPDATE notification_logs SET status = 'failed', next_attempt_at = NULL WHERE message_id = ?",
                   (message_id,))  # fmt: skip
    finally:
        db.close()


def _locked_config(client: Client, user: str) -> None:
    """A stored config that cannot be opened: encrypted, while this worker has no CONFIG_ENCRYPTION_KEY."""
    db = sqlite3.connect(client.worker.state_dir / "d1" / "DB.sqlite3", timeout=30, isolation_level=None)
    try:
        db.execute(
            "INSERT INTO user_configs (user_id, channel_type, config_data) VALUES (?, 'webhook', 'enc:v1:AAAA')",
            (user,),
        )
    finally:
        db.close()


def test_actual_responses_of_every_route_are_declared_and_validate(client: Client, document, monkeypatch):
    check = Checker(document)
    c = client
    auth = c.auth
    # Channel configs
    check(c.put_config("u1", "webhook", {"url": "http://127.0.0.1:9/refused", "secret": CONFIGS["webhook"]["secret"]}))
    check(c.put_config("u1", "telegram", {**CONFIGS["telegram"], "api_base": "http://127.0.0.1:9"}))
    check(c.put_config("u1", "lark"))
    check(c.put_config("u1", "lark", {"webhook_url": "https://10.0.0.1/x"}))
    check(c.put("/v1/users/u1/channels/sms", {"config": {}, "is_active": True}))
    check(c.get("/v1/users/u1/channels/webhook"))
    check(c.get("/v1/users/u1/channels/telegram"))
    check(c.get("/v1/users/u1/channels/lark"))
    check(c.get("/v1/users/u1/channels"))
    check(c.get("/v1/users/nobody/channels"))
    check(c.get("/v1/users/u1/channels/sms"))
    check(c.get("/v1/users/bad%20id/channels"))
    check(c.delete("/v1/users/u1/channels/lark"))
    check(c.delete("/v1/users/u1/channels/lark"))
    assert check(c.get("/v1/users/u1/channels/lark")).status_code == 404
    _locked_config(client, "locked")
    assert error_of(check(c.get("/v1/users/locked/channels/webhook")))["code"] == "config_decryption_failed"
    assert check(c.get("/v1/users/locked/channels")).status_code == 503
    # Templates
    template = {
        "name": "T",
        "variables": [{"name": "who", "default": "you"}, {"name": "n", "required": False, "default": 3}],
        "contents": {"webhook": {"subject_template": "Hi {{who}}", "content_template": "{{ who }} x{{n}}"}},
    }
    check(c.put("/v1/templates/t1", template))
    check(c.put("/v1/templates/t2", {**template, "is_active": False, "description": "d"}))
    check(c.put("/v1/templates/t3", {"name": 1}))
    check(c.put("/v1/templates/t3", {**template, "contents": {"webhook": {"content_template": "{{ nobody }}"}}}))
    check(c.get("/v1/templates/t1"))
    check(c.get("/v1/templates", params={"limit": 1}))
    check(c.get("/v1/templates", params={"cursor": "bogus"}))
    check(c.get("/v1/templates", params={"limit": 0}))
    check(c.get("/v1/templates/absent"))
    check(c.delete("/v1/templates/t2"))
    check(c.delete("/v1/templates/t2"))
    # Notifications: sends whose deliveries fail fast against a closed loopback port
    send = {"user_id": "u1", "template_key": "t1", "variables": {}}
    sent = check(c.request("POST", "/v1/notifications", json=send))
    assert sent.status_code == 202 and int(sent.headers["x-d1-round-trips"]) >= 1, sent.text
    keyed = {"headers": {"idempotency-key": "inv-1"}}
    first = check(c.request("POST", "/v1/notifications", json={"user_id": "u1", "content": "a"}, **keyed))
    replay = check(c.request("POST", "/v1/notifications", json={"user_id": "u1", "content": "a"}, **keyed))
    assert replay.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    conflict = check(c.request("POST", "/v1/notifications", json={"user_id": "u1", "content": "b"}, **keyed))
    assert error_of(conflict)["code"] == "idempotency_conflict"
    bad_key = {"headers": {"idempotency-key": "k" * 256}}
    assert check(c.request("POST", "/v1/notifications", json=send, **bad_key)).status_code == 400
    check(c.request("POST", "/v1/notifications", json={"user_id": "u1"}))
    check(c.request("POST", "/v1/notifications", json={"user_id": "nobody", "content": "x"}))
    check(c.request("POST", "/v1/notifications", json={"user_id": "u1", "content": "x" * 70_000}))
    check(c.request("POST", "/v1/notifications", content=b"{}", headers={"content-type": "text/plain"}))
    check(c.request("POST", "/v1/notifications", content=b"{", headers={"content-type": "application/json"}))
    assert check(c.request("POST", "/v1/notifications", json={"user_id": "locked", "content": "x"})).status_code == 503
    bulk = {"messages": [{"user_id": "u1", "content": "b1"}, {"user_id": "nobody", "content": "x"}]}
    assert check(c.request("POST", "/v1/notifications/batch", json=bulk)).status_code == 207
    later = {"user_id": "u1", "content": "later", "send_at": iso_after(3600)}
    scheduled = check(c.request("POST", "/v1/notifications", json=later)).json()["messages"][0]["message_id"]
    assert check(c.request("POST", f"/v1/notifications/{scheduled}/cancel")).status_code == 200
    assert check(c.request("POST", f"/v1/notifications/{scheduled}/cancel")).status_code == 409
    assert check(c.request("POST", "/v1/notifications/absent/cancel")).status_code == 404
    client.worker.drain()
    message_id = sent.json()["messages"][0]["message_id"]
    check(c.get("/v1/notifications", params={"user_id": "u1"}))
    check(c.get("/v1/notifications", params={"user_id": "u1", "cursor": "bogus"}))
    check(c.get("/v1/notifications"))
    check(c.get(f"/v1/notifications/{message_id}"))
    check(c.get("/v1/notifications/absent-id"))
    check(c.get("/v1/notifications/bad%20id"))
    check(c.get("/v1/stats", params={"user_id": "u1"}))
    check(c.get("/v1/stats"))
    # Recovery: a pending message is refused, a failed one is sent again, many by filter
    check(c.request("POST", f"/v1/notifications/{message_id}/retry"))
    check(c.request("POST", "/v1/notifications/absent-id/retry"))
    _fail(client, message_id)
    assert check(c.request("POST", f"/v1/notifications/{message_id}/retry")).status_code == 202
    check(c.request("POST", "/v1/notifications/recover", json={"since": "2000-01-01T00:00:00Z", "limit": 1}))
    check(c.request("POST", "/v1/notifications/recover", json={}))
    client.worker.drain()
    # Public routes, access errors, request ids, generic errors
    check(c.http.get("/health"))
    check(c.http.get("/openapi.json"))
    check(c.http.get("/v1/templates"))
    check(c.http.get("/v1/templates", headers={"authorization": f"Bearer {client.worker.admin_token}"}))
    echoed = check(c.get("/v1/templates", headers={"x-request-id": "trace-42"}))
    assert echoed.headers[REQUEST_ID] == "trace-42"
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
    _admin_answers(client, check)
    _matrix(client, check, ROUTER.routes)
    # Development auto-migration failing: 503 migration_failed, declared on every route.
    real = automigrate.bundled_files
    broken = MigrationFile("9999_broken.sql", "INSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(automigrate, "bundled_files", lambda: [*real(), broken])
    for route in ROUTER.routes:
        automigrate.forget(client.worker.server_env.DB)
        headers = {} if route.role == "public" else client.worker.headers(route.role)
        response = client.http.request(route.method, _path(route), headers=headers)
        assert error_of(check(response))["code"] == "migration_failed", (route.pattern, response.text)
    monkeypatch.setattr(automigrate, "bundled_files", real)
    assert check(c.http.get("/health")).status_code == 200  # the isolate checks again and is current
    # Every status the document declares for a route was actually answered by it above (the backup and
    # restore job routes of api/admin.py answer theirs in tests/ops, which drive the jobs through them).
    unanswered = {}
    for route in [r for r in ROUTER.routes if r not in admin.ROUTES]:
        declared = {int(status) for status in _operation(document, route.method, route.pattern)["responses"]}
        if declared - check.seen[(route.method, route.pattern)]:
            unanswered[(route.method, route.pattern)] = sorted(declared - check.seen[(route.method, route.pattern)])
    assert not unanswered, unanswered


def _admin_answers(client: Client, check: "Checker") -> None:
    """The operator routes' own answers (successes, not found, conflicts, refusals)."""
    admin = client.worker.headers("admin")

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return check(client.http.request(method, path, headers=admin, **kwargs))

    absent = "20261122T030000000Z-a1b2c3"
    backup = call("POST", "/admin/backups", json={}).json()["id"]
    client.worker.drain()
    assert call("GET", f"/admin/backups/{backup}").status_code == 200
    assert call("GET", f"/admin/backups/{absent}").status_code == 404
    assert call("POST", f"/admin/backups/{absent}/restore", json={}).status_code == 404
    assert call("POST", f"/admin/backups/{backup}/restore", json={}).status_code == 200  # dry run
    refused = call("POST", f"/admin/backups/{backup}/restore", json={"dry_run": False})
    assert error_of(refused)["code"] == "target_not_empty"
    asyncio.run(client.worker.env.BACKUPS.put(manifest.data_key(absent), b"partial"))
    incomplete = call("POST", f"/admin/backups/{absent}/restore", json={})
    assert (incomplete.status_code, error_of(incomplete)["code"]) == (409, "backup_incomplete")
    assert call("POST", "/admin/query-plan", json={"sql": "DELETE FROM audit_logs"}).status_code == 422
    assert call("POST", "/admin/query-plan", json={"sql": "SELECT 1"}).status_code == 200
    assert call("GET", "/admin/notifications", params={"status": "failed", "limit": 1}).status_code == 200
    assert call("GET", "/admin/notifications", params={"cursor": "c1.x.y"}).status_code == 400


GOOD_PARAMS = {
    "user_id": "u1",
    "channel": "webhook",
    "template_key": "t1",
    "message_id": "msg_absent",
    "backup_id": "20261122T030000000Z-a1b2c3",
    "job_id": "restore-20261122T030000000Z-a1b2c3",
}
BODIES = [
    (b"{", "application/json"),
    (b"{}", "text/plain"),
    (b'{"a": "' + b"x" * 70_000 + b'"}', "application/json"),
    (b"[]", "application/json"),
    (b"{}", "application/json"),
    (b'{"unknown": 1}', "application/json"),
]
QUERIES = [{}, {"user_id": "u1"}, {"user_id": "u1", "limit": "many"}, {"cursor": "zz", "user_id": "u1"}, {"x": "1"}]


def _path(route: Route) -> str:
    return route.pattern.format(**{n: GOOD_PARAMS[n] for n in re.findall(r"\{(\w+)\}", route.pattern)})


def _matrix(client: Client, check: "Checker", routes: list[Route]) -> None:
    """Every route with wrong tokens, bad path parameters, bad bodies and bad queries: whatever it
    answers must be declared for it (and validate)."""
    for route in routes:
        path = _path(route)
        auth = {} if route.role == "public" else client.worker.headers(route.role)
        other = client.worker.headers("client" if route.role == "admin" else "admin")
        check(client.http.request(route.method, path))
        check(client.http.request(route.method, path, headers=other))
        for name in re.findall(r"\{(\w+)\}", route.pattern):
            for bad in ("bad id", "x" * 200):
                check(client.http.request(route.method, path.replace(GOOD_PARAMS[name], bad), headers=auth))
        for query in QUERIES:
            check(client.http.request(route.method, path, params=query, headers=auth))
        if route.method in ("PUT", "POST"):
            for body, ctype in BODIES:
                if route.role == "admin" and body == b"{}" and ctype == "application/json":
                    continue  # a valid operator body runs real work (a backup, maintenance)
                check(client.http.request(route.method, path, content=body, headers={**auth, "content-type": ctype}))


def test_a_request_matrix_gets_only_declared_statuses(client: Client, document):
    check = Checker(document)
    _matrix(client, check, [r for r in ROUTER.routes if r.role != "admin"])
    statuses = {s for seen in check.seen.values() for s in seen}
    assert {200, 400, 401, 403, 404, 413, 415, 422} <= statuses, statuses


def test_schema_names_are_unique_and_everything_a_client_needs_is_described(document):
    models = {m for r in ROUTER.routes for m in (r.request_model, r.response_model, r.query_model) if m}
    schemas = document["components"]["schemas"]
    assert {m.__name__ for m in models} <= set(schemas)  # no model renamed to a module-qualified name
    assert len({m.__name__ for m in models}) == len(models)  # two models never share a name
    undescribed = []
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if name != "OpenApiDocument" and not prop.get("description"):
                undescribed.append(f"{name}.{field}")
    assert not undescribed, undescribed
    for pattern, methods in document["paths"].items():
        for method, operation in methods.items():
            assert operation["summary"] and operation["description"], (method, pattern)
            assert all(p.get("description") for p in operation["parameters"]), (method, pattern)
            body = operation.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                if schemas[ref].get("properties"):
                    has_examples = schemas[ref].get("examples") or any(
                        "examples" in p or "default" in p for p in schemas[ref]["properties"].values()
                    )
                    assert has_examples, (method, pattern, ref)


def test_the_registry_defines_each_code_once_and_routes_declare_only_registered_codes():
    assert len(errors.CODES) == len({c.name for c in errors.CODES.values()})
    for route in ROUTER.routes:
        for code in route_codes(route):
            assert errors.CODES[code.name] is code, (route.pattern, code.name)
            assert code.kind is not errors.Kind.INTERNAL
    # A code's status comes from its kind, so moving a code to another kind moves its documented status.
    assert status_of(errors.CONFIG_NOT_FOUND) == 404 and status_of(errors.IDEMPOTENCY_CONFLICT) == 409


def test_an_undeclared_code_is_a_500_in_development_and_its_status_in_production():
    route = Route("GET", "/v1/x", _handler("x"), errors=(errors.NOT_CANCELLABLE,))
    declared = DomainError(errors.NOT_CANCELLABLE, "no")
    undeclared = DomainError(errors.CONFIG_NOT_FOUND, "no")
    assert _error_response(declared, route, True, "r").status == 409
    assert _error_response(undeclared, route, True, "r").status == 500  # the contract is wrong: tests see it
    assert _error_response(undeclared, route, False, "r").status == 404  # production still answers the code
    assert _error_response(undeclared, None, True, "r").status == 404  # no route matched: generic errors


def _codes_named(function: Any, seen: set[str]) -> set[str]:
    """``errors.NAME`` codes named in ``function`` and in the functions of its module it calls by name."""
    module = inspect.getmodule(function)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "errors":
            names.add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in seen:
            callee = getattr(module, node.func.id, None)
            if inspect.isfunction(callee) and inspect.getmodule(callee) is module:
                seen.add(node.func.id)
                names |= _codes_named(callee, seen)
    return names


def test_every_code_a_handler_names_is_declared_for_its_route():
    """Static half of the contract (the dynamic half: an undeclared code is a 500 in development, which
    the suite and the fuzz run would see): codes a handler raises itself are among its route's codes."""
    for route in ROUTER.routes:
        named = {getattr(errors, name) for name in _codes_named(route.handler, set())}
        codes = {c for c in named if isinstance(c, errors.Code)} | {
            c for group in named if isinstance(group, tuple) for c in group
        }
        undeclared = codes - set(route_codes(route))
        assert not undeclared, (route.method, route.pattern, sorted(c.name for c in undeclared))
    # Not vacuous: the send handler's own code is found, and a route that forgot it would fail.
    send = next(r for r in ROUTER.routes if (r.method, r.pattern) == ("POST", "/v1/notifications"))
    assert "INVALID_IDEMPOTENCY_KEY" in _codes_named(send.handler, set())
    forgetful = Route("POST", "/v1/notifications", send.handler, request_model=send.request_model)
    assert errors.INVALID_IDEMPOTENCY_KEY not in route_codes(forgetful)


def test_every_code_the_jobs_name_is_registered_with_the_kind_of_its_reason():
    """The job use cases carry a code name and a reason; the app maps the name through the registry, so
    an unregistered name would be a 500 and a reason of another kind a wrong status."""
    source = (Path(errors.__file__).parent / "ops" / "jobs" / "usecases.py").read_text(encoding="utf-8")
    kinds = {"NOT_FOUND": errors.Kind.NOT_FOUND, "CONFLICT": errors.Kind.CONFLICT, "INVALID": errors.Kind.INVALID}
    named = re.findall(r"JobError\(\s*(NOT_FOUND|CONFLICT|INVALID),\s*\"([a-z_]+)\"", source)
    assert len(named) >= 10, named
    for reason, name in named:
        assert name in errors.CODES and errors.CODES[name].kind is kinds[reason], (reason, name)
