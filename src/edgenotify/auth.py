"""Bearer-token roles: clients hold API_TOKEN, operators ADMIN_TOKEN (both Worker secrets)."""

import hmac

from edgenotify.env import Settings
from edgenotify.http.errors import ApiError
from edgenotify.http.request import HttpRequest


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def authorize(request: HttpRequest, settings: Settings, role: str) -> str:
    """Return the caller's role, or raise 401 (no valid token) / 403 (valid token, wrong role)."""
    if role == "public":
        return "public"
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "missing bearer token", headers={"www-authenticate": "Bearer"})
    token = token.strip()
    # Compare against both secrets every time so timing does not reveal which one matched.
    is_admin = _matches(token, settings.admin_token)
    is_client = _matches(token, settings.api_token)
    if (role == "admin" and is_admin) or (role == "client" and is_client):
        return role
    if is_admin or is_client:
        raise ApiError(403, "forbidden", f"this token cannot access {role} routes")
    raise ApiError(401, "unauthorized", "invalid bearer token", headers={"www-authenticate": "Bearer"})
