"""Shared API shapes: the error body and path-parameter rules.

Path parameters are validated here (not by the router's ``[^/]+``) so that every handler gives
the same answer for an over-long or oddly-charactered id: ``invalid_path_param`` naming the
parameter. The same table feeds the OpenAPI document's parameter schemas.
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edgenotify import errors
from edgenotify.errors import DomainError
from edgenotify.notify import channels


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. invalid_json, unknown_field")
    message: str = Field(description="Human-readable explanation")
    field: str | None = Field(None, description="The offending field or parameter, when there is one")


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorDetail = Field(description="What went wrong")


class OpenApiDocument(BaseModel):
    """``/openapi.json`` itself (OpenAPI 3.1; only the top level is described here)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


@dataclass(frozen=True)
class PathParam:
    pattern: str
    max_length: int
    description: str

    def schema(self) -> dict:
        return {"type": "string", "pattern": self.pattern, "minLength": 1, "maxLength": self.max_length}


_ID = r"^[A-Za-z0-9._:@+\-]+$"

PATH_PARAMS: dict[str, PathParam] = {
    "user_id": PathParam(_ID, 128, "The user the configs belong to (letters, digits and . _ : @ + -)"),
    "channel": PathParam(channels.path_pattern(), 16, "Delivery channel"),
    "template_key": PathParam(r"^[A-Za-z0-9._\-]+$", 128, "Template key (letters, digits and . _ -)"),
    "message_id": PathParam(r"^[A-Za-z0-9._:\-]+$", 128, "Message id returned by the send route"),
    "job_id": PathParam(
        r"^((restore|integrity)-)?[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$",
        36,
        "A backup job's id (the backup id), restore-<backup id>, or integrity-<id of the same form>",
    ),
    "backup_id": PathParam(r"^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$", 26, "Backup id, e.g. 20261122T030000000Z-a1b2c3"),
}
_COMPILED = {name: re.compile(p.pattern) for name, p in PATH_PARAMS.items()}


def path_param(request, name: str) -> str:
    """The validated value of path parameter ``name`` (``invalid_path_param`` otherwise)."""
    value = request.path_params.get(name, "")
    rule = PATH_PARAMS.get(name)
    if rule is None:
        return value
    if not 1 <= len(value) <= rule.max_length:
        message = f"{name} must be 1 to {rule.max_length} characters"
        raise DomainError(errors.INVALID_PATH_PARAM, message, field=name)
    if not _COMPILED[name].fullmatch(value):  # fullmatch: "$" alone would accept a trailing newline
        if name == "channel":
            message = f"channel must be one of {', '.join(channels.names())}"
            raise DomainError(errors.UNSUPPORTED_CHANNEL, message, field=name)
        raise DomainError(errors.INVALID_PATH_PARAM, f"{name} has characters outside {rule.pattern}", field=name)
    return value
