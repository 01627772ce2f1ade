"""The one mapping from domain errors to HTTP: a status per error kind, and the JSON error body.

Domain modules raise :class:`edgenotify.errors.DomainError` (no status); ``app.handle_fetch`` turns
it into a response here, and the OpenAPI document derives each code's status from the same table.
"""

from edgenotify.errors import Code, DomainError, Kind

STATUS: dict[Kind, int] = {
    Kind.MALFORMED: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.METHOD_NOT_ALLOWED: 405,
    Kind.CONFLICT: 409,
    Kind.TOO_LARGE: 413,
    Kind.UNSUPPORTED_MEDIA_TYPE: 415,
    Kind.INVALID: 422,
    Kind.UNAVAILABLE: 503,
    Kind.INTERNAL: 500,
}


def status_of(code: Code) -> int:
    return STATUS[code.kind]


def error_body(code: Code, message: str, field: str | None = None) -> dict:
    error = {"code": code.name, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def body_of(exc: DomainError) -> dict:
    return error_body(exc.code, exc.message, exc.field)
