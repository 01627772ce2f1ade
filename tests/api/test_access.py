# ruff: noqa: F811 - pytest fixtures imported from config_kit are parameters here
"""Access: bearer tokens per role on every route, public /health and /openapi.json, request ids."""

import re

import pytest

from edgenotify.auth import authorize
from edgenotify.env import Settings
from edgenotify.errors import DomainError
from edgenotify.http.errors import status_of
from edgenotify.http.request import HttpRequest
from edgenotify.routes import ROUTER
from tests.api.config_kit import Client, client, error_of  # noqa: F401

SAMPLE = {"user_id": "u1", "channel": "webhook", "template_key": "t1", "message_id": "m1"}


def concrete(pattern: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), pattern)


def test_public_routes_need_no_token_and_reveal_nothing(client: Client):
    worker = client.worker
    public = [(r.method, concrete(r.pattern)) for r in ROUTER.routes if r.role == "public"]
    assert ("GET", "/health") in public and ("GET", "/openapi.json") in public
    for method, path in public:
        response = client.http.request(method, path)
        assert response.status_code == 200, path
        assert worker.api_token not in response.text and worker.admin_token not in response.text


PROTECTED = [(r.role, r.method, concrete(r.pattern)) for r in ROUTER.routes if r.role != "public"]


@pytest.mark.parametrize("role,method,path", PROTECTED)
def test_protected_routes_require_their_token(client: Client, role, method, path):
    worker = client.worker
    own, other = (worker.api_token, worker.admin_token) if role == "client" else (worker.admin_token, worker.api_token)
    cases = [
        ({}, 401, "unauthorized"),
        ({"authorization": "Bearer wrong-token"}, 401, "unauthorized"),
        ({"authorization": f"Basic {own}"}, 401, "unauthorized"),
        ({"authorization": "Bearer"}, 401, "unauthorized"),
        ({"authorization": f"Bearer {own}x"}, 401, "unauthorized"),
        ({"authorization": f"Bearer {other}"}, 403, "forbidden"),
    ]
    for headers, status, code in cases:
        response = client.http.request(method, path, headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert error_of(response)["code"] == code
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
    accepted = client.http.request(method, path, headers={"authorization": f"bearer {own}"})
    assert accepted.status_code not in (401, 403)


def test_roles_in_authorize():
    settings = Settings("production", api_token="c", admin_token="a", encryption_key=None)

    def role(token: str, needed: str):
        request = HttpRequest("GET", "http://x/", {"authorization": f"Bearer {token}"})
        try:
            return authorize(request, settings, needed)
        except DomainError as exc:
            return status_of(exc.code)

    assert [role("a", "admin"), role("c", "admin"), role("z", "admin")] == ["admin", 403, 401]
    assert [role("c", "client"), role("a", "client"), role("z", "client")] == ["client", 403, 401]
    unset = Settings("production", api_token=None, admin_token=None, encryption_key=None)
    with pytest.raises(DomainError) as info:
        authorize(HttpRequest("GET", "http://x/", {"authorization": "Bearer "}), unset, "client")
    assert info.value.code.name == "unauthorized" and status_of(info.value.code) == 401


def test_request_id_echoed_or_generated(client: Client):
    sent = client.get("/v1/users/u1/channels", headers={"x-request-id": "trace-123:abc.DEF_-"})
    assert sent.headers["x-request-id"] == "trace-123:abc.DEF_-"
    generated = {client.get("/v1/users/u1/channels").headers["x-request-id"] for _ in range(2)}
    assert len(generated) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in generated)
    for bad in ["x" * 129, "has space", "semi;colon", "ünï".encode()]:
        rid = client.get("/v1/users/u1/channels", headers={"x-request-id": bad}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid), bad
    for response in (
        client.http.get("/nowhere"),  # 404 before auth
        client.http.get("/v1/templates"),  # 401
        client.delete("/v1/templates/absent"),  # domain 404
    ):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    client.put("/v1/templates/t", {"name": "T", "contents": {"webhook": {"content_template": "x"}}})
    deleted = client.delete("/v1/templates/t", headers={"x-request-id": "del-1"})
    assert deleted.status_code == 204 and deleted.headers["x-request-id"] == "del-1"
