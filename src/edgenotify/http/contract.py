"""What a route can answer: the error codes any route of its shape answers, plus its own.

One function feeds both the OpenAPI document (each status with its codes) and the app, which in
development refuses to answer a code its route does not declare (a contract bug surfaces as a 500
in tests and in the OpenAPI-driven fuzz run instead of as an undocumented status in production).
"""

import re

from edgenotify import errors
from edgenotify.errors import Code
from edgenotify.http.router import Route

_BODY = (errors.INVALID_JSON, errors.PAYLOAD_TOO_LARGE, errors.UNSUPPORTED_MEDIA_TYPE, *errors.VALIDATION)


def path_params(route: Route) -> list[str]:
    return re.findall(r"\{(\w+)\}", route.pattern)


def route_codes(route: Route) -> tuple[Code, ...]:
    """Every code ``route`` can answer, derived codes first, without repeats."""
    found: list[Code] = []
    if route.role != "public":
        found += [errors.UNAUTHORIZED, errors.FORBIDDEN]
    if route.request_model is not None:
        found += _BODY
    if route.query_model is not None:
        found += errors.VALIDATION
    names = path_params(route)
    if names:
        found.append(errors.INVALID_PATH_PARAM)
    if "channel" in names:
        found.append(errors.UNSUPPORTED_CHANNEL)
    found.append(errors.MIGRATION_FAILED)
    if route.role == "client":
        found.append(errors.RESTORE_IN_PROGRESS)  # client routes pause while a restore replaces the data
    found += route.errors
    return tuple(dict.fromkeys(found))
