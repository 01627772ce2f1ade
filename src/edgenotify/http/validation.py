"""Request bodies and query strings through pydantic, with stable error codes per failure kind.

Models use ``extra="forbid"`` so an unknown field is an error rather than silently ignored.
pydantic is imported here and in the API layer only: the data layer stays pydantic-free so the
parity runtime (Pyodide without compiled wheels) can run it.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from edgenotify.http.errors import ApiError
from edgenotify.http.request import HttpRequest

M = TypeVar("M", bound=BaseModel)

_CODES = {
    "extra_forbidden": "unknown_field",
    "missing": "missing_field",
}


class StrictModel(BaseModel):
    """Base for request bodies and query models: unknown fields are refused.

    Values are validated in pydantic's lax mode (``strict=False``): a numeric string such as
    ``"5"`` is accepted for an ``int`` and ``"true"`` for a ``bool`` (query parameters arrive as
    text), while a number is never accepted where a string is expected.
    """

    model_config = ConfigDict(extra="forbid", strict=False)


def _field(loc: tuple[Any, ...]) -> str:
    # pydantic marks a bad dict KEY with a trailing "[key]" part: the key itself names the field.
    return ".".join(str(part) for part in loc if part != "[key]") or "body"


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    kind = first["type"]
    code = _CODES.get(kind, "invalid_type" if kind.endswith("_type") or kind.endswith("_parsing") else "invalid_value")
    return ApiError(422, code, first["msg"], field=_field(first["loc"]))


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def parse_body(request: HttpRequest, model: type[M]) -> M:
    data = request.json()
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_type", "body must be a JSON object", field="body")
    return parse_model(model, data)


def parse_query(request: HttpRequest, model: type[M]) -> M:
    return parse_model(model, request.query)
