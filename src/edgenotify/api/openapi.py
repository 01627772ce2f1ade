"""``GET /openapi.json``: an OpenAPI 3.1 document generated from the routes and their pydantic models.

Nothing is written by hand: every route of the router contributes an operation, its body and
response schemas come from ``Route.request_model`` / ``response_model`` / ``query_model`` (the very
models the handlers validate with), path parameters from ``models.common.PATH_PARAMS``, errors
from ``ErrorResponse``, and security from the route's role. pydantic emits JSON Schema 2020-12,
which is OpenAPI 3.1's dialect, so the schemas are used as they are. Built once per isolate.
"""

import json
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from edgenotify import __version__
from edgenotify.context import Context
from edgenotify.http.response import HttpResponse
from edgenotify.http.router import Route
from edgenotify.models.common import PATH_PARAMS, ErrorResponse, OpenApiDocument

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
_ERRORS = {
    "400": "Malformed request (invalid_json, invalid_cursor, ...)",
    "401": "Missing or invalid bearer token (unauthorized)",
    "403": "Valid token of the wrong role (forbidden)",
    "404": "Unknown route or resource",
    "405": "Method not allowed on this path",
    "413": "Body over the size limit (payload_too_large)",
    "415": "Content-Type is not application/json (unsupported_media_type)",
    "422": "Validation failed: unknown_field, missing_field, invalid_type, invalid_value, invalid_path_param, ...",
    "503": "Server-side state prevents the request (e.g. config_decryption_failed, migration_failed)",
}

_document: bytes | None = None


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
    return params


def _operation(route: Route, refs: dict, defs: dict) -> dict[str, Any]:
    success: dict[str, Any] = {"description": route.summary or "Success"}
    if route.status != 204:
        schema = refs[(route.response_model, "serialization")] if route.response_model else {"type": "object"}
        success.update(_json_body(schema))
    responses: dict[str, Any] = {str(route.status): success}
    for status, model in route.other_responses:
        schema = refs[(model, "serialization")] if model else {"type": "object"}
        responses[str(status)] = {"description": "Also answered with this status", **_json_body(schema)}
    for status in _ERRORS:
        if route.role == "public" and status in ("401", "403"):
            continue
        responses[status] = {"$ref": f"#/components/responses/Error{status}"}
    responses["default"] = {"$ref": "#/components/responses/Error"}
    operation: dict[str, Any] = {
        "operationId": f"{route.handler.__module__.rsplit('.', 1)[-1]}_{route.handler.__name__}",
        "summary": route.summary,
        "tags": [route.pattern.strip("/").split("/")[1 if route.pattern.startswith("/v1/") else 0] or "root"],
        "security": _SECURITY.get(route.role, []),
        "parameters": _parameters(route, refs, defs),
        "responses": responses,
    }
    if route.request_model is not None:
        operation["requestBody"] = {"required": True, **_json_body(refs[(route.request_model, "validation")])}
    return operation


def _error_responses() -> dict[str, Any]:
    error = _json_body({"$ref": REF.format(model="ErrorResponse")})
    responses = {f"Error{status}": {"description": text, **error} for status, text in _ERRORS.items()}
    responses["Error"] = {"description": "Any other error", **error}
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
            "description": "Notifications on Cloudflare Python Workers. Errors: {error: {code, message, field?}}.",
        },
        "paths": paths,
        "components": {"schemas": defs, "responses": _error_responses(), "securitySchemes": SECURITY_SCHEMES},
    }


async def openapi_json(context: Context) -> HttpResponse:
    global _document
    if _document is None:
        from edgenotify.routes import ROUTER  # routes imports this module

        _document = json.dumps(build_document(ROUTER.routes), separators=(",", ":")).encode("utf-8")
    return HttpResponse(200, _document, {"content-type": "application/json; charset=utf-8"})


ROUTES = [
    Route(
        "GET",
        "/openapi.json",
        openapi_json,
        role="public",
        summary="This OpenAPI 3.1 document",
        response_model=OpenApiDocument,
    )
]
