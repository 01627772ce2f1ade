"""Notification bodies: the send request, message references, log items, pages and stats.

Cross-field rules (template *or* inline content, known channels, ISO-8601 times) are checked in
:func:`check_send` / the query models rather than by pydantic model validators, so each failure
gets its own stable code and names its field.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from edgenotify.clock import iso, parse_iso
from edgenotify.http.errors import ApiError
from edgenotify.http.validation import StrictModel
from edgenotify.models.channels import Channel
from edgenotify.models.common import PATH_PARAMS
from edgenotify.notify.channels import names as channel_names
from edgenotify.notify.logs import DEFAULT_LIMIT, MAX_LIMIT
from edgenotify.notify.stats import STATUSES

Status = Literal[STATUSES]  # the same as Literal["pending", "success", "failed"]


def _user_id() -> Any:
    return Field(min_length=1, max_length=128, pattern=PATH_PARAMS["user_id"].pattern, description="The recipient user")


def _template_key() -> Any:
    return Field(None, max_length=128, pattern=PATH_PARAMS["template_key"].pattern, description="Template to render")


def _iso(value: str | None) -> str | None:
    """Normalise an ISO-8601 time to the stored form (UTC, milliseconds, Z) so text order is time order."""
    if value is None:
        return None
    try:
        return iso(parse_iso(value))
    except ValueError:
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z") from None


class SendRequest(StrictModel):
    """Either ``template_key`` (+ ``variables``) or inline ``content`` (+ optional ``subject``)."""

    user_id: str = _user_id()
    template_key: str | None = _template_key()
    variables: dict[str, Any] | None = Field(
        None, description="Template variables; with inline content, fills its {{ placeholders }}"
    )
    subject: str | None = Field(None, max_length=1000, description="Inline subject (not with template_key)")
    content: str | None = Field(None, min_length=1, max_length=32_000, description="Inline content")
    channels: list[str] | None = Field(
        None, min_length=1, max_length=len(channel_names()), description="Default: every active channel of the user"
    )


def check_send(body: SendRequest) -> None:
    """The rules pydantic's field types cannot express, each with its own code and field."""
    if body.template_key is None and body.content is None:
        raise ApiError(422, "missing_field", "either template_key or content is required", field="content")
    if body.template_key is not None:
        for name in ("content", "subject"):
            if getattr(body, name) is not None:
                raise ApiError(422, "invalid_value", f"{name} cannot be combined with template_key", field=name)
    for channel in body.channels or []:
        if channel not in channel_names():
            raise ApiError(
                422, "unsupported_channel", f"channel must be one of {', '.join(channel_names())}", field="channels"
            )
    if body.channels is not None and len(set(body.channels)) != len(body.channels):
        raise ApiError(422, "invalid_value", "channels must not repeat", field="channels")


class MessageRef(BaseModel):
    channel: Channel
    message_id: str


class SendResponse(BaseModel):
    messages: list[MessageRef] = Field(description="One message (one notification_logs row) per channel")
    replayed: bool = Field(description="True when an Idempotency-Key replay returned an earlier send's messages")


class NotificationItem(BaseModel):
    message_id: str
    user_id: str
    channel: str
    template_key: str | None
    subject: str | None
    content: str | None
    status: Status
    error: str | None = Field(description="Why the last attempt failed")
    retry_count: int = Field(description="Failed attempts so far")
    next_attempt_at: str | None = Field(description="When a pending message is (re)tried next")
    sent_at: str | None
    request_id: str | None
    variables: dict[str, Any] | None
    created_at: str


class NotificationPage(BaseModel):
    items: list[NotificationItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null on the last")


class ListQuery(StrictModel):
    user_id: str = _user_id()
    status: Status | None = None
    channel: Channel | None = None
    template_key: str | None = _template_key()
    since: str | None = Field(None, description="Created at or after (ISO-8601)")
    until: str | None = Field(None, description="Created before (ISO-8601)")
    keyword: str | None = Field(None, min_length=1, max_length=48, description="Substring of subject or content")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("since", "until")
    @classmethod
    def _times(cls, value: str | None) -> str | None:
        return _iso(value)


class StatsQuery(StrictModel):
    user_id: str = _user_id()
    since: str | None = Field(None, description="Count messages created at or after (ISO-8601)")
    until: str | None = Field(None, description="Count messages created before (ISO-8601)")

    @field_validator("since", "until")
    @classmethod
    def _times(cls, value: str | None) -> str | None:
        return _iso(value)


class StatusCounts(BaseModel):
    pending: int
    success: int
    failed: int
    total: int


class Counters(BaseModel):
    notification_count: int = Field(description="Messages created for the user, all time")
    success_count: int
    failed_count: int = Field(description="Permanent failures, all time")
    last_notification_at: str | None


class StatsResponse(BaseModel):
    user_id: str
    since: str | None
    until: str | None
    totals: StatusCounts
    channels: dict[str, StatusCounts]
    counters: Counters
