"""Template bodies: declared variables, per-channel contents, pages of templates."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgenotify.http.validation import QueryModel, StrictModel
from edgenotify.models.channels import Channel
from edgenotify.notify.render import CONTENT_TYPES

ContentType = Literal["text", "markdown", "json"]
assert set(CONTENT_TYPES) == {"text", "markdown", "json"}

Scalar = str | int | float | bool | None


class VariableIn(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="Placeholder name", examples=["name"])
    required: bool = Field(True, description="A send must give it a value (or the default applies)")
    default: Scalar = Field(None, description="Used when the variable is not supplied")


class ContentIn(StrictModel):
    subject_template: str | None = Field(None, max_length=1000, description="Subject text (plain text)")
    content_template: str = Field(
        min_length=1, max_length=32_000, description="Content text with {{ name }} placeholders"
    )
    content_type: ContentType = Field("text", description="How values are escaped: text, markdown or json")


class TemplatePut(StrictModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Welcome",
                    "variables": [{"name": "name", "required": True}],
                    "contents": {"webhook": {"subject_template": "Hi {{ name }}", "content_template": "Welcome!"}},
                }
            ]
        }
    )
    name: str = Field(min_length=1, max_length=200, description="Human-readable name")
    description: str | None = Field(None, max_length=2000, description="What the template is for")
    variables: list[VariableIn] = Field(default_factory=list, max_length=50, description="Declared variables")
    is_active: bool = Field(True, description="Inactive templates cannot be sent")
    contents: dict[Channel, ContentIn] = Field(min_length=1, description="Per-channel contents")


class VariableOut(BaseModel):
    name: str = Field(description="Placeholder name")
    required: bool = Field(description="Whether a send must give it a value")
    default: Scalar = Field(None, description="Used when the variable is not supplied")


class ContentOut(BaseModel):
    subject_template: str | None = Field(description="Subject text")
    content_template: str = Field(description="Content text")
    content_type: ContentType = Field(description="text, markdown or json")


class TemplateOut(BaseModel):
    key: str = Field(description="The template's key")
    name: str = Field(description="Human-readable name")
    description: str | None = Field(description="What the template is for")
    variables: list[VariableOut] = Field(description="Declared variables")
    is_active: bool = Field(description="Whether it can be sent")
    contents: dict[str, ContentOut] = Field(description="Per-channel contents")
    created_at: str = Field(description="When it was created")
    updated_at: str = Field(description="When it was last replaced")


class TemplatePage(BaseModel):
    items: list[TemplateOut] = Field(description="Ordered by key")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


class TemplateListQuery(QueryModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")
    active: bool | None = Field(None, description="Only active (true) or inactive (false) templates")


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
