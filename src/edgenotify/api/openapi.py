"""``GET /openapi.json``: an OpenAPI 3.1 document generated from the routes and their pydantic models.

Nothing is written by hand: every route of the router contributes an operation, its body and
response schemas come from ``Route.request_model`` / ``response_model`` / ``query_model`` (the very
models the handlers validate with), path parameters from ``models.common.PATH_PARAMS``, errors
from ``ErrorResponse``, and security from the route's role. pydantic emits JSON Schema 2020-12,
which is OpenAPI 3.1's dialect, so the schemas are used as they are. Built once per isolate.

Error statuses are declared per operation: those any route of its shape can answer are derived
(:func:`error_statuses`), the handler's own come from ``Route.errors``; each names its codes.
Headers: ``X-Request-Id`` on every request and response, plus ``Route.request_headers`` /
``Route.response_headers``.
"""

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic.json_schema import models_json_schema

from edgenotify import __version__
from edgenotify.context import Context
from edgenotify.http.request import MAX_BODY_BYTES, REQUEST_ID_FORMAT
from edgenotify.http.response import HttpResponse
from edgenotify.http.router import Header, Route
from edgenotify.models.common import PATH_PARAMS, ErrorResponse, OpenApiDocument
from edgenotify.notify import channels

REF = "#/components/schemas/{model}"
SECURITY_SCHEMES = {
    "apiToken": {"type": "http", "scheme": "bearer", "description": "Client routes: the API_TOKEN secret"},
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Operator routes: ADMIN_TOKEN",
    },
}
_SECURITY = {"client": [{"apiToken": []}], "admin": [{"adminToken": []}], "public": []}
# Generic meaning of each error status; an operation's own response says which codes IT answers.
_ERRORS = {
    400: "Malformed request",
    401: "Missing or invalid bearer token",
    403: "Valid token of the wrong role",
    404: "The resource does not exist",
    409: "Conflicts with the current state",
    413: "Body over the size limit",
    415: "Content-Type is not application/json",
    422: "Validation failed",
    503: "Server-side state prevents the request",
}
_VALIDATION_CODES = "unknown_field, missing_field, invalid_type, invalid_value"
REQUEST_ID = "X-Request-Id"
_HEADER_REF = "#/components/headers/{name}"


def _models(routes: list[Route]) -> list[tuple[type, str]]:
    pairs: dict[tuple[type, str], None] = {(ErrorResponse, "serialization"): None}
    for route in routes:
        for model, mode in (
            (route.request_model, "validation"),
            (route.query_model, "validation"),
            (route.response_model, "serialization"),
        ):
            if model is not None:
                pairs.setdefault((model, mode), None)
        for _, model in route.other_responses:
            if model is not None:
                pairs.setdefault((model, "serialization"), None)
    return list(pairs)


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _header_parameter(header: Header) -> dict[str, Any]:
    return {
        "name": header.name,
        "in": "header",
        "required": header.required,
        "description": header.description,
        "schema": dict(header.schema),
    }


def _request_id_parameter() -> dict[str, Any]:
    description = f"Your id for this request, echoed in the {REQUEST_ID} response header (else one is generated)"
    return _header_parameter(
        Header(REQUEST_ID, description, schema={"type": "string", "pattern": REQUEST_ID_FORMAT.pattern})
    )


def _response_header(header: Header) -> dict[str, Any]:
    return {"description": header.description, "required": header.required, "schema": dict(header.schema)}


def _common_headers() -> dict[str, Any]:
    """components/headers: those answered on every response (or every response of a kind)."""
    return {
        REQUEST_ID: _response_header(
            Header(
                REQUEST_ID, "The request's id: the client's X-Request-Id if it was valid, else a generated one", True
            )
        ),
        "WWW-Authenticate": _response_header(Header("WWW-Authenticate", "Bearer (RFC 6750)", True)),
    }


def _parameters(route: Route, refs: dict, defs: dict) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"\{(\w+)\}", route.pattern):
        rule = PATH_PARAMS.get(name)
        schema = rule.schema() if rule else {"type": "string"}
        param = {"name": name, "in": "path", "required": True, "schema": schema}
        if rule:
            param["description"] = rule.description
        params.append(param)
    if route.query_model is not None:
        ref = refs[(route.query_model, "validation")]["$ref"].rsplit("/", 1)[-1]
        schema = defs[ref]
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop})
    params.extend(_header_parameter(header) for header in route.request_headers)
    params.append(_request_id_parameter())
    return params


def error_statuses(route: Route) -> dict[int, list[str]]:
    """Every error status ``route`` can answer, with the codes behind each: derived from what the
    request path does for any route of this shape (``app.handle_fetch``, ``auth``, ``HttpRequest.json``,
    ``parse_body``/``parse_query``, ``path_param``), plus the handler's own ``Route.errors``."""
    found: list[tuple[int, str]] = []
    if route.role != "public":
        found += [(401, "unauthorized: missing or invalid bearer token"), (403, "forbidden: a token of another role")]
    if route.request_model is not None:
        found += [
            (400, "invalid_json: the body is not JSON"),
            (413, f"payload_too_large: the body exceeds {MAX_BODY_BYTES} bytes"),
            (415, "unsupported_media_type: Content-Type is not application/json"),
            (422, f"{_VALIDATION_CODES}: the body does not fit its schema"),
        ]
    if route.query_model is not None:
        found.append((422, f"{_VALIDATION_CODES}: a query parameter does not fit its schema"))
    path_params = re.findall(r"\{(\w+)\}", route.pattern)
    if path_params:
        found.append((422, "invalid_path_param: a path parameter does not fit its pattern"))
    if "channel" in path_params:
        found.append((422, f"unsupported_channel: the channel is not one of {', '.join(channels.names())}"))
    found.append((503, "migration_failed: (development only) applying a pending migration failed"))
    found += route.errors
    statuses: dict[int, list[str]] = {}
    for status, text in found:
        statuses.setdefault(status, []).append(text)
    return dict(sorted(statuses.items()))


def _with_request_id(response: dict[str, Any], extra: tuple[Header, ...] = ()) -> dict[str, Any]:
    headers = {REQUEST_ID: {"$ref": _HEADER_REF.format(name=REQUEST_ID)}}
    headers.update({h.name: _response_header(h) for h in extra})
    return {**response, "headers": headers}


def _responses(route: Route, refs: dict) -> dict[str, Any]:
    success: dict[str, Any] = {"description": route.summary or "Success"}
    if route.status != 204:
        schema = refs[(route.response_model, "serialization")] if route.response_model else {"type": "object"}
        success.update(_json_body(schema))
    responses: dict[str, Any] = {str(route.status): _with_request_id(success, route.response_headers)}
    for status, model in route.other_responses:
        schema = refs[(model, "serialization")] if model else {"type": "object"}
        responses[str(status)] = _with_request_id(
            {"description": "Also answered with this status", **_json_body(schema)}
        )
    for status, codes in error_statuses(route).items():
        description = "; ".join(codes)
        if str(status) in responses:  # a non-error answer with the same status (e.g. a 503 health report)
            answer = responses[str(status)]
            schema = answer["content"]["application/json"]["schema"]
            error = {"$ref": REF.format(model="ErrorResponse")}
            answer.update(_json_body({"anyOf": [schema, error]}))
            answer["description"] += f"; or an error: {description}"
            continue
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}", "description": description}
    ordered = dict(sorted(responses.items()))  # three-digit statuses sort as numbers
    ordered["default"] = {"$ref": "#/components/responses/Error"}
    return ordered


def _operation(route: Route, refs: dict, defs: dict) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{route.handler.__module__.rsplit('.', 1)[-1]}_{route.handler.__name__}",
        "summary": route.summary,
        "tags": [route.pattern.strip("/").split("/")[1 if route.pattern.startswith("/v1/") else 0] or "root"],
        "security": _SECURITY.get(route.role, []),
        "parameters": _parameters(route, refs, defs),
        "responses": _responses(route, refs),
    }
    if route.request_model is not None:
        operation["requestBody"] = {"required": True, **_json_body(refs[(route.request_model, "validation")])}
    return operation


def _error_responses(routes: list[Route]) -> dict[str, Any]:
    """components/responses: one per error status any route answers, plus the catch-all."""
    error = _json_body({"$ref": REF.format(model="ErrorResponse")})
    used = sorted({status for route in routes for status in error_statuses(route)})
    responses = {f"Error{s}": _with_request_id({"description": _ERRORS.get(s, "Error"), **error}) for s in used}
    if "Error401" in responses:
        responses["Error401"]["headers"]["WWW-Authenticate"] = {"$ref": _HEADER_REF.format(name="WWW-Authenticate")}
    responses["Error"] = _with_request_id({"description": "Any other error (e.g. 500 internal_error)", **error})
    return responses


def build_document(routes: list[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``."""
    refs, schemas = models_json_schema(_models(routes), ref_template=REF)
    defs = schemas.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.pattern, {})[route.method.lower()] = _operation(route, refs, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "edgenotify",
            "version": __version__,
            "description": (
                "Notifications on Cloudflare Python Workers. Errors: {error: {code, message, field?}}."
                " Any path without a route answers 404 not_found; a path with routes for other methods"
                " answers 405 method_not_allowed with an Allow header."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs,
            "responses": _error_responses(routes),
            "headers": _common_headers(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def openapi_routes(routes: Callable[[], list[Route]]) -> list[Route]:
    """The route serving the document of ``routes()``: the router hands itself in, so nothing imports back."""
    document: bytes | None = None

    async def openapi_json(context: Context) -> HttpResponse:
        nonlocal document
        if document is None:  # built once per isolate, on first request
            document = json.dumps(build_document(routes()), separators=(",", ":")).encode("utf-8")
        return HttpResponse(200, document, {"content-type": "application/json; charset=utf-8"})

    return [
        Route(
            "GET",
            "/openapi.json",
            openapi_json,
            role="public",
            summary="This OpenAPI 3.1 document",
            response_model=OpenApiDocument,
        )
    ]
