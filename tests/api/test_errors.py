# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""Errors: every generic failure has its stable code, and no client input produces a 500 (a seeded fuzz)."""

import json
import random
from urllib.parse import quote

import pytest

from tests.api.config_kit import Client, client, error_of  # noqa: F401

TEMPLATE = "/v1/templates/t1"
VALID = {"name": "T", "contents": {"webhook": {"content_template": "x"}}}
JSON = {"content-type": "application/json"}


def raw(client: Client, body: bytes, content_type: str | None = "application/json", method="PUT", path=TEMPLATE):
    headers = {"content-type": content_type} if content_type else {}
    return client.request(method, path, content=body, headers=headers)


@pytest.mark.parametrize(
    "body,content_type,status,code",
    [
        (b"{not json", "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b"\xff\xfe{}", "application/json", 400, "invalid_json"),
        (b'{"name": NaN}', "application/json", 400, "invalid_json"),
        (b'{"name": 1e999}', "application/json", 400, "invalid_json"),
        (b'{"name": "\\ud800"}', "application/json", 400, "invalid_json"),
        (b"[" * 20000 + b"]" * 20000, "application/json", 400, "invalid_json"),
        (json.dumps(VALID).encode(), "text/plain", 415, "unsupported_media_type"),
        (json.dumps(VALID).encode(), None, 415, "unsupported_media_type"),
        (json.dumps(VALID).encode(), "application/jsonx", 415, "unsupported_media_type"),
        (b'{"name": "' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
        (b"[1, 2]", "application/json", 422, "invalid_type"),
    ],
)
def test_body_errors(client: Client, body, content_type, status, code):
    response = raw(client, body, content_type)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


def test_charset_parameter_is_fine(client: Client):
    assert raw(client, json.dumps(VALID).encode(), "application/json; charset=utf-8").status_code == 200


@pytest.mark.parametrize(
    "body,code,field",
    [
        ({**VALID, "unknown": 1}, "unknown_field", "unknown"),
        ({**VALID, "name": ["T"]}, "invalid_type", "name"),
        ({**VALID, "is_active": {"x": 1}}, "invalid_type", "is_active"),
        ({"contents": VALID["contents"]}, "missing_field", "name"),
        ({**VALID, "variables": [{"name": "a", "required": "perhaps"}]}, "invalid_type", "variables.0.required"),
    ],
)
def test_validation_codes_name_the_field(client: Client, body, code, field):
    response = client.put(TEMPLATE, body)
    assert response.status_code == 422
    assert error_of(response) | {"message": ""} == {"code": code, "field": field, "message": ""}


def test_unknown_route_and_method(client: Client):
    for path in ["/", "/v1", "/v2/templates", "/v1/templates/a/b", "/v1/templates/", "/openapi.yaml"]:
        response = client.get(path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", path
    response = client.request("PATCH", TEMPLATE, json=VALID)
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "DELETE, GET, PUT"
    assert client.request("POST", "/health").status_code == 405


def test_head_is_get_without_body(client: Client):
    response = client.request("HEAD", "/health")
    assert response.status_code == 200 and response.content == b""


def test_path_params_are_validated(client: Client):
    for path, field in [
        ("/v1/users/" + "u" * 5000 + "/channels", "user_id"),
        ("/v1/templates/" + "k" * 129, "template_key"),
        ("/v1/templates/%F0%9F%98%80", "template_key"),
        ("/v1/templates/a%00b", "template_key"),
        ("/v1/templates/%ZZ", "template_key"),
    ]:
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert error_of(response)["field"] == field


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = "aZ09-_.:@%/?#&=+ \t\"'\\{}[]<>\x00\x7f\u00e9\u4e2d\U0001f600\ud7ff"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _random_body(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 1:
        return json.dumps(VALID)[: rng.randrange(1, 60)].encode()
    if kind == 2:
        value = {"name": _random_text(rng, 5), "contents": {rng.choice(["webhook", "lark", "x"]): _random_text(rng, 4)}}
        return json.dumps(value).encode()
    if kind == 3:
        return json.dumps({"config": {"url": _random_text(rng, 30), "secret": _random_text(rng, 10)}}).encode()
    leaf = rng.choice([None, True, 10**40, -1.5, "", [], {}])
    return json.dumps({"user_id": _random_text(rng, 8), "variables": {"x": leaf}, "content": leaf}).encode()


def test_fuzz_never_500(client: Client):
    rng = random.Random(20261122)
    paths = [
        "/v1/users/{x}/channels/{y}",
        "/v1/users/{x}/channels",
        "/v1/templates/{x}",
        "/v1/templates?limit={x}&cursor={y}",
        "/v1/notifications/{x}",
        "/v1/notifications?user_id={x}&cursor={y}",
        "/v1/notifications",
        "/v1/stats?user_id={x}&since={y}",
        "/{x}/{y}",
    ]
    methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    statuses = set()
    for _ in range(300):
        pick = rng.choice(paths)
        x = rng.choice([_random_text(rng, rng.randrange(1, 40)), "u1", "webhook", "k" * rng.randrange(100, 3000)])
        y = rng.choice([_random_text(rng, 10), "telegram", "lark", "2026-01-01T00:00:00Z"])
        safe = rng.choice(["", "/:@'", "/?=&"])
        path = pick.replace("{x}", quote(x, safe=safe)).replace("{y}", quote(y, safe=safe))
        headers = {
            "content-type": rng.choice(["application/json", "text/plain", "application/json; charset=latin-1", ""]),
            "x-request-id": rng.choice(["ok-id", "bad id", "z" * 500]),
            "x-junk": "v" * rng.randrange(0, 6000),
        }
        if rng.random() < 0.1:
            headers["authorization"] = "Bearer " + "q" * 2000
        method = rng.choice(methods)
        response = client.request(method, path, content=_random_body(rng), headers=headers)
        statuses.add(response.status_code)
        assert response.status_code < 500, (method, path, response.text)
        assert "x-request-id" in response.headers
        if method != "HEAD" and response.status_code >= 400:
            error_of(response)
    assert {400, 404, 405, 415, 422} <= statuses


def test_oversized_headers_and_lines_are_refused_by_the_server_not_the_app(client: Client):
    huge = client.get("/v1/templates", headers={"x-junk": "v" * 20_000})
    assert huge.status_code == 431
    long_path = client.get("/v1/templates/" + "k" * 10_000)
    assert long_path.status_code == 414
