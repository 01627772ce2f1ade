"""Path routing with ``{param}`` segments, ``not_found`` for unknown paths and ``method_not_allowed``."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from edgenotify import errors
from edgenotify.errors import Code, DomainError

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
    description: str = ""  # what a client needs to know beyond the summary (the docs show it)
    # pydantic models for the OpenAPI document (/openapi.json); None when there is no body.
    request_model: type | None = None
    response_model: type | None = None
    status: int = 200  # the success status the OpenAPI document declares
    media_type: str = "application/json"  # of the success body; any other is documented as a string
    query_model: type | None = None
    # Further non-error answers as (status, model or None), e.g. ((202, None),) for "accepted, runs later".
    other_responses: tuple[tuple[int, type | None], ...] = ()
    # Error codes the handler itself can answer, beyond those every route of its shape can answer
    # (auth role, request/query models, path parameters, dev migration: see ``contract.route_codes``).
    errors: tuple[Code, ...] = ()
    # Headers the handler reads from the request, and sets on its success response.
    request_headers: tuple[Header, ...] = ()
    response_headers: tuple[Header, ...] = ()


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern))


class Router:
    def __init__(self, routes: list[Route]):
        self._routes = [(route, _compile(route.pattern)) for route in routes]

    @property
    def routes(self) -> list[Route]:
        return [route for route, _ in self._routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[str] = []
        for route, regex in self._routes:
            m = regex.fullmatch(path)  # fullmatch: "$" would also match before a trailing newline
            if not m:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, m.groupdict()
            allowed.append(route.method)
        if allowed:
            raise DomainError(
                errors.METHOD_NOT_ALLOWED,
                f"{method} is not allowed on {path}",
                headers={"allow": ", ".join(sorted(set(allowed)))},
            )
        raise DomainError(errors.ROUTE_NOT_FOUND, f"no route for {path}")
