"""Template bodies: declared variables, per-channel contents, pages of templates."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from edgenotify.http.validation import StrictModel
from edgenotify.models.channels import Channel
from edgenotify.notify.render import CONTENT_TYPES

ContentType = Literal["text", "markdown", "json"]
assert set(CONTENT_TYPES) == {"text", "markdown", "json"}

Scalar = str | int | float | bool | None


class VariableIn(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    required: bool = True
    default: Scalar = Field(None, description="Used when the variable is not supplied")


class ContentIn(StrictModel):
    subject_template: str | None = Field(None, max_length=1000)
    content_template: str = Field(min_length=1, max_length=32_000)
    content_type: ContentType = "text"


class TemplatePut(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    variables: list[VariableIn] = Field(default_factory=list, max_length=50)
    is_active: bool = True
    contents: dict[Channel, ContentIn] = Field(min_length=1, description="Per-channel contents")


class VariableOut(BaseModel):
    name: str
    required: bool
    default: Scalar = None


class ContentOut(BaseModel):
    subject_template: str | None
    content_template: str
    content_type: ContentType


class TemplateOut(BaseModel):
    key: str
    name: str
    description: str | None
    variables: list[VariableOut]
    is_active: bool
    contents: dict[str, ContentOut]
    created_at: str
    updated_at: str


class TemplatePage(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


class TemplateListQuery(StrictModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=400)
    active: bool | None = None


def template_out(template: Any) -> dict[str, Any]:
    return {
        "key": template.key,
        "name": template.name,
        "description": template.description,
        "variables": [{"name": v.name, "required": v.required, "default": v.default} for v in template.variables],
        "is_active": template.is_active,
        "contents": {
            channel: {
                "subject_template": c.subject_template,
                "content_template": c.content_template,
                "content_type": c.content_type,
            }
            for channel, c in template.contents.items()
        },
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }
