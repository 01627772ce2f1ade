"""Request bodies and query strings through pydantic, with stable error codes per failure kind.

Body models are strict (``StrictModel``): an unknown field is an error rather than silently ignored,
and no value is coerced (``"yes"`` is not ``true``, ``"1"`` is not ``1``). Query models
(``QueryModel``) refuse unknown parameters too but parse their text values (``limit=10``), since a
query string has no other types.
pydantic is imported here and in the API layer only: the data layer stays pydantic-free so the
parity runtime (Pyodide without compiled wheels) can run it.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from edgenotify import errors
from edgenotify.errors import Code, DomainError
from edgenotify.http.request import HttpRequest

M = TypeVar("M", bound=BaseModel)

_CODES = {"extra_forbidden": errors.UNKNOWN_FIELD, "missing": errors.MISSING_FIELD}


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields are refused and values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
    """Base for query strings: unknown parameters are refused; text is parsed into the field's type."""

    model_config = ConfigDict(extra="forbid", strict=False)


def _field(loc: tuple[Any, ...]) -> str:
    # pydantic marks a bad dict KEY with a trailing "[key]" part: the key itself names the field.
    return ".".join(str(part) for part in loc if part != "[key]") or "body"


def _code(kind: str) -> Code:
    if kind in _CODES:
        return _CODES[kind]
    return errors.INVALID_TYPE if kind.endswith(("_type", "_parsing")) else errors.INVALID_VALUE


def validation_error(exc: ValidationError) -> DomainError:
    first = exc.errors()[0]
    return DomainError(_code(first["type"]), first["msg"], field=_field(first["loc"]))


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def parse_body(request: HttpRequest, model: type[M]) -> M:
    data = request.json()
    if not isinstance(data, dict):
        raise DomainError(errors.INVALID_TYPE, "body must be a JSON object", field="body")
    return parse_model(model, data)


def parse_query(request: HttpRequest, model: type[M]) -> M:
    return parse_model(model, request.query)
