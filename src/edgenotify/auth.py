"""Bearer-token roles: clients hold API_TOKEN, operators ADMIN_TOKEN (both Worker secrets)."""

import hmac

from edgenotify import errors
from edgenotify.env import Settings
from edgenotify.errors import DomainError
from edgenotify.http.request import HttpRequest

_CHALLENGE = {"www-authenticate": "Bearer"}


def _matches(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def authorize(request: HttpRequest, settings: Settings, role: str) -> str:
    """The caller's role, or ``unauthorized`` (no valid token) / ``forbidden`` (valid token, wrong role)."""
    if role == "public":
        return "public"
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(errors.UNAUTHORIZED, "missing bearer token", headers=_CHALLENGE)
    token = token.strip()
    # Compare against both secrets every time so timing does not reveal which one matched.
    is_admin = _matches(token, settings.admin_token)
    is_client = _matches(token, settings.api_token)
    if (role == "admin" and is_admin) or (role == "client" and is_client):
        return role
    if is_admin or is_client:
        raise DomainError(errors.FORBIDDEN, f"this token cannot access {role} routes")
    raise DomainError(errors.UNAUTHORIZED, "invalid bearer token", headers=_CHALLENGE)
