"""Path routing with ``{param}`` segments, 404 for unknown paths and 405 for wrong methods."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from edgenotify.http.errors import ApiError

Handler = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class Header:
    """An HTTP header a route reads or sets, declared for the OpenAPI document only.

    Handlers still read and set headers themselves; this is the route's promise about them,
    so clients (and the OpenAPI test) can see them without reading the code.
    """

    name: str
    description: str
    required: bool = False  # request: the client must send it; response: every such answer carries it
    schema: dict = field(default_factory=lambda: {"type": "string"}, hash=False)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # e.g. "/v1/users/{user_id}/channels/{channel}"
    handler: Handler
    role: str = "client"  # "public", "client" or "admin"
    summary: str = ""
    # pydantic models for the OpenAPI document (/openapi.json); None when there is no body.
    request_model: type | None = None
    response_model: type | None = None
    status: int = 200  # the success status the OpenAPI document declares
    query_model: type | None = None
    # Further non-error answers as (status, model or None), e.g. ((202, None),) for "accepted, runs later".
    other_responses: tuple[tuple[int, type | None], ...] = ()
    # Error statuses the handler itself can answer, as (status, "code: when"), beyond those the document
    # derives from the route's shape (auth role, request/query models, path parameters, dev migration).
    errors: tuple[tuple[int, str], ...] = ()
    # Headers the handler reads from the request, and sets on its success response.
    request_headers: tuple[Header, ...] = ()
    response_headers: tuple[Header, ...] = ()


def _compile(pattern: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{regex}$")


class Router:
    def __init__(self, routes: list[Route]):
        self._routes = [(route, _compile(route.pattern)) for route in routes]

    @property
    def routes(self) -> list[Route]:
        return [route for route, _ in self._routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route, regex in self._routes:
            m = regex.match(path)
            if not m:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict()
            allowed.append(route.method)
        if allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{method} is not allowed on {path}",
                headers={"allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError(404, "not_found", f"no route for {path}")
