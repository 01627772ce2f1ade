"""Templates: PUT/GET/DELETE one, GET a keyset-paginated list.

D1 cost: PUT and DELETE are one batch each (template + contents + audit row); GET one is served
by KV when warm (else one batch of two SELECTs); the list is one batch (page + its contents).
"""

from edgenotify import errors
from edgenotify.context import Context
from edgenotify.errors import DomainError
from edgenotify.http.response import HttpResponse, json_response
from edgenotify.http.router import Route
from edgenotify.http.validation import parse_body, parse_query
from edgenotify.models.common import path_param
from edgenotify.models.templates import TemplateListQuery, TemplateOut, TemplatePage, TemplatePut, template_out
from edgenotify.notify import cursors
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
_LIST = "templates"  # the cursor's list name (edgenotify.notify.cursors)
_PUT_ERRORS = (errors.DUPLICATE_VARIABLE, errors.INVALID_TEMPLATE, errors.UNDECLARED_VARIABLE)


def _check_contents(body: TemplatePut) -> None:
    """Cross-field rules: unique variable names, valid placeholders, only declared variables used."""
    names = [v.name for v in body.variables]
    for i, name in enumerate(names):
        if name in names[:i]:
            message = f"variable {name} is declared twice"
            raise DomainError(errors.DUPLICATE_VARIABLE, message, f"variables.{i}.name")
    for channel, content in body.contents.items():
        for part in ("subject_template", "content_template"):
            text = getattr(content, part)
            field = f"contents.{channel}.{part}"
            try:
                check_syntax(text, content.content_type if part == "content_template" else "text")
            except TemplateSyntaxError as exc:
                raise DomainError(errors.INVALID_TEMPLATE, str(exc), field) from None
            unknown = [name for name in placeholders(text) if name not in names]
            if unknown:
                message = f"placeholders use undeclared variables: {', '.join(unknown)}"
                raise DomainError(errors.UNDECLARED_VARIABLE, message, field)


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
        raise DomainError(errors.TEMPLATE_NOT_FOUND, f"no template {key}", "template_key")
    return json_response(template_out(template))


async def remove_template(context: Context) -> HttpResponse:
    key = path_param(context.req, "template_key")
    if not await delete_template(context, key):
        raise DomainError(errors.TEMPLATE_NOT_FOUND, f"no template {key}", "template_key")
    return HttpResponse(204)


async def list_all(context: Context) -> HttpResponse:
    query = parse_query(context.req, TemplateListQuery)
    key = await cursors.cursor_key(context)
    after = cursors.decode(key, _LIST, query.cursor, (str,))[0] if query.cursor else None
    templates, last = await list_templates(context, after, query.limit, query.active)
    next_cursor = cursors.encode(key, _LIST, [last]) if last else None
    page = {"items": [template_out(t) for t in templates], "next_cursor": next_cursor}
    return json_response(page)


ROUTES = [
    Route(
        "GET",
        ALL,
        list_all,
        summary="List templates (keyset pagination)",
        description="Templates ordered by key; pass next_cursor back as cursor for the next page.",
        response_model=TemplatePage,
        query_model=TemplateListQuery,
        errors=(errors.INVALID_CURSOR,),
    ),
    Route(
        "PUT",
        ONE,
        put_template,
        summary="Create or replace a template and all its contents",
        description="Declares the variables and, per channel, the subject and content texts with"
        " {{ variable }} placeholders; values are escaped per content type (text, markdown, json) when rendered.",
        request_model=TemplatePut,
        response_model=TemplateOut,
        errors=_PUT_ERRORS,
    ),
    Route(
        "GET",
        ONE,
        get_template,
        summary="Read one template",
        description="The template with its variables and per-channel contents.",
        response_model=TemplateOut,
        errors=(errors.TEMPLATE_NOT_FOUND,),
    ),
    Route(
        "DELETE",
        ONE,
        remove_template,
        summary="Delete a template and its contents",
        description="Messages already rendered from it keep their texts.",
        status=204,
        errors=(errors.TEMPLATE_NOT_FOUND,),
    ),
]
