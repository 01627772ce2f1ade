"""Templates: PUT/GET/DELETE one, GET a keyset-paginated list.

D1 cost: PUT and DELETE are one batch each (template + contents + audit row); GET one is served
by KV when warm (else one batch of two SELECTs); the list is one batch (page + its contents).
"""

import base64
import binascii

from edgenotify.context import Context
from edgenotify.http.errors import ApiError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body, parse_query
from edgenotify.models.common import PATH_PARAMS, path_param
from edgenotify.models.templates import TemplateListQuery, TemplateOut, TemplatePage, TemplatePut, template_out
from edgenotify.notify.render import TemplateSyntaxError, check_syntax, placeholders
from edgenotify.notify.templates import (
    Content,
    Template,
    Variable,
    delete_template,
    list_templates,
    load_template,
    save_template,
)

ONE = "/v1/templates/{template_key}"
ALL = "/v1/templates"
_CURSOR_PREFIX = "tk1:"
_NOT_FOUND = (404, "template_not_found: no template with this key")
_PUT_ERRORS = (
    (422, "duplicate_variable, invalid_template, undeclared_variable: contents that do not fit the variables"),
)


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The last key of the previous page; 400 ``invalid_cursor`` for anything we did not issue."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        text = ""
    key = text[len(_CURSOR_PREFIX) :]
    if not text.startswith(_CURSOR_PREFIX) or not key or len(key) > PATH_PARAMS["template_key"].max_length:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued", field="cursor")
    return key


def _check_contents(body: TemplatePut) -> None:
    """Cross-field rules: unique variable names, valid placeholders, only declared variables used."""
    names = [v.name for v in body.variables]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ApiError(422, "duplicate_variable", f"variable {name} is declared twice", field=f"variables.{i}.name")
    for channel, content in body.contents.items():
        for part in ("subject_template", "content_template"):
            text = getattr(content, part)
            field = f"contents.{channel}.{part}"
            try:
                check_syntax(text, content.content_type if part == "content_template" else "text")
            except TemplateSyntaxError as exc:
                raise ApiError(422, "invalid_template", str(exc), field=field) from None
            unknown = [name for name in placeholders(text) if name not in names]
            if unknown:
                message = f"placeholders use undeclared variables: {', '.join(unknown)}"
                raise ApiError(422, "undeclared_variable", message, field=field)


async def put_template(context: Context) -> HttpResponse:
    key = path_param(context.req, "template_key")
    body = parse_body(context.req, TemplatePut)
    _check_contents(body)
    template = Template(
        key=key,
        name=body.name,
        description=body.description,
        variables=[Variable(v.name, v.required, v.default) for v in body.variables],
        is_active=body.is_active,
        contents={
            ch: Content(c.subject_template, c.content_template, c.content_type) for ch, c in body.contents.items()
        },
    )
    return json_response(template_out(await save_template(context, template)))


async def get_template(context: Context) -> HttpResponse:
    key = path_param(context.req, "template_key")
    template = await load_template(context, key)
    if template is None:
        raise ApiError(404, "template_not_found", f"no template {key}", field="template_key")
    return json_response(template_out(template))


async def remove_template(context: Context) -> HttpResponse:
    key = path_param(context.req, "template_key")
    if not await delete_template(context, key):
        raise ApiError(404, "template_not_found", f"no template {key}", field="template_key")
    return HttpResponse(204)


async def list_all(context: Context) -> HttpResponse:
    query = parse_query(context.req, TemplateListQuery)
    after = decode_cursor(query.cursor) if query.cursor else None
    templates, last = await list_templates(context, after, query.limit, query.active)
    page = {"items": [template_out(t) for t in templates], "next_cursor": encode_cursor(last) if last else None}
    return json_response(page)


ROUTES = [
    Route(
        "GET",
        ALL,
        list_all,
        summary="List templates (keyset pagination)",
        response_model=TemplatePage,
        query_model=TemplateListQuery,
        errors=((400, "invalid_cursor: the cursor is not one this API issued"),),
    ),
    Route(
        "PUT",
        ONE,
        put_template,
        summary="Create or replace a template and all its contents",
        request_model=TemplatePut,
        response_model=TemplateOut,
        errors=_PUT_ERRORS,
    ),
    Route("GET", ONE, get_template, summary="Read one template", response_model=TemplateOut, errors=(_NOT_FOUND,)),
    Route(
        "DELETE", ONE, remove_template, summary="Delete a template and its contents", status=204, errors=(_NOT_FOUND,)
    ),
]
