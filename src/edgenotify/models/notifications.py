"""Notification bodies: sends (single, bulk, scheduled), message references, log items, pages and stats.

Cross-field rules (template *or* inline content, known channels) are checked in :func:`check_send`
rather than by pydantic model validators, so each failure gets its own stable code and names its
field. Times are ISO-8601 and normalised to the stored form (UTC, 4-digit year, milliseconds, Z).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgenotify import errors
from edgenotify.clock import normalize_iso
from edgenotify.errors import DomainError
from edgenotify.http.validation import QueryModel, StrictModel
from edgenotify.models.channels import Channel
from edgenotify.models.common import PATH_PARAMS, ErrorDetail
from edgenotify.notify import idempotency
from edgenotify.notify.channels import names as channel_names
from edgenotify.notify.logs import DEFAULT_LIMIT, MAX_LIMIT
from edgenotify.notify.send import MAX_BATCH, MAX_SCHEDULE_DAYS
from edgenotify.notify.stats import STATUSES

Status = Literal[STATUSES]  # the same as Literal["pending", "success", "failed", "cancelled"]
ChannelName = Channel  # the registered channels (notify/channels)
_TIME = "ISO-8601 date-time; an offset is converted to UTC, no offset means UTC"


def _user_id(description: str = "The recipient user") -> Any:
    return Field(
        min_length=1, max_length=128, pattern=PATH_PARAMS["user_id"].pattern, description=description, examples=["u1"]
    )


def _template_key(description: str = "Template to render") -> Any:
    return Field(
        None, max_length=128, pattern=PATH_PARAMS["template_key"].pattern, description=description, examples=["welcome"]
    )


def _iso(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_iso(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z") from None


class SendFields(StrictModel):
    user_id: str = _user_id()
    template_key: str | None = _template_key("Template to render (else give inline content)")
    variables: dict[str, Any] | None = Field(
        None, description="Template variables; with inline content, fills its {{ placeholders }}", examples=[{"n": 3}]
    )
    subject: str | None = Field(None, max_length=1000, description="Inline subject (not with template_key)")
    content: str | None = Field(
        None, min_length=1, max_length=32_000, description="Inline content", examples=["Your order shipped"]
    )
    channels: list[str] | None = Field(
        None,
        min_length=1,
        max_length=len(channel_names()),
        description="Channels to deliver to (no repeats). Default: every active channel of the user",
    )
    send_at: str | None = Field(
        None,
        description=f"Deliver at this time instead of now ({_TIME}); at most {MAX_SCHEDULE_DAYS} days ahead."
        " The retry cron delivers it within one period (5 minutes); until then it can be cancelled",
        examples=["2026-12-24T09:00:00Z"],
    )

    @field_validator("send_at")
    @classmethod
    def _send_at(cls, value: str | None) -> str | None:
        return _iso(value)


class SendRequest(SendFields):
    """Either ``template_key`` (+ ``variables``) or inline ``content`` (+ optional ``subject``)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "u1", "subject": "Hi", "content": "Your order shipped"}]}
    )


def check_send(body: SendFields, prefix: str = "") -> None:
    """The rules pydantic's field types cannot express, each with its own code and field."""
    if body.template_key is None and body.content is None:
        raise DomainError(errors.MISSING_FIELD, "either template_key or content is required", prefix + "content")
    if body.template_key is not None:
        for name in ("content", "subject"):
            if getattr(body, name) is not None:
                raise DomainError(errors.INVALID_VALUE, f"{name} cannot be combined with template_key", prefix + name)
    for channel in body.channels or []:
        if channel not in channel_names():
            message = f"channel must be one of {', '.join(channel_names())}"
            raise DomainError(errors.UNSUPPORTED_CHANNEL, message, prefix + "channels")
    if body.channels is not None and len(set(body.channels)) != len(body.channels):
        raise DomainError(errors.INVALID_VALUE, "channels must not repeat", prefix + "channels")


class BatchItem(SendFields):
    """One message of a bulk send: a send body plus its own optional idempotency key."""

    idempotency_key: str | None = Field(
        None,
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=idempotency.KEY_PATTERN,
        description="Makes this item idempotent per user, exactly as the Idempotency-Key header of a single send"
        " (the same key and body replay the first answer, another body is a conflict)",
        examples=["order-42"],
    )


class BatchRequest(StrictModel):
    """Up to 100 messages, each validated, planned, written and answered on its own."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"user_id": "u1", "content": "Your order shipped", "idempotency_key": "order-42"},
                        {"user_id": "u2", "template_key": "welcome", "variables": {"name": "Ada"}},
                    ]
                }
            ]
        }
    )
    messages: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH, description="The messages to send")


class MessageRef(BaseModel):
    channel: ChannelName = Field(description="The channel this message goes to")
    message_id: str = Field(description="The message's id (GET /v1/notifications/{message_id})")


class SendResponse(BaseModel):
    messages: list[MessageRef] = Field(description="One message (one notification_logs row) per channel")
    replayed: bool = Field(description="True when an Idempotency-Key replay returned an earlier send's messages")


class BatchItemResult(BaseModel):
    index: int = Field(description="Position of the item in the request's messages")
    status: int = Field(description="What a single send would have answered: 202, 409 or 422 (or 503)")
    messages: list[MessageRef] | None = Field(None, description="On 202: one message per channel")
    replayed: bool | None = Field(None, description="On 202: true when the item's idempotency key replayed")
    error: ErrorDetail | None = Field(None, description="On any other status: why the item was not sent")


class BatchResponse(BaseModel):
    """207 Multi-Status: one result per item, in request order."""

    results: list[BatchItemResult] = Field(description="One result per item, in request order")
    accepted: int = Field(description="Items answered 202")
    rejected: int = Field(description="Items answered otherwise")


class NotificationItem(BaseModel):
    message_id: str = Field(description="The message's id")
    user_id: str = Field(description="The recipient user")
    channel: str = Field(description="The channel it goes to")
    template_key: str | None = Field(description="The template it was rendered from, if any")
    subject: str | None = Field(description="Rendered subject")
    content: str | None = Field(description="Rendered content")
    status: Status = Field(description="pending (not delivered yet), success, failed (for good) or cancelled")
    error: str | None = Field(description="Why the last attempt failed (credentials are masked)")
    retry_count: int = Field(description="Failed attempts so far")
    next_attempt_at: str | None = Field(description="When a pending message is (re)tried next")
    sent_at: str | None = Field(description="When it was delivered")
    request_id: str | None = Field(description="X-Request-Id of the send that created it")
    variables: dict[str, Any] | None = Field(description="The variables it was rendered with")
    send_at: str | None = Field(None, description="The scheduled time, for a scheduled send")
    created_at: str = Field(description="When it was created")


class NotificationPage(BaseModel):
    items: list[NotificationItem] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null on the last")


class _Window(QueryModel):
    since: str | None = Field(None, description=f"Created at or after ({_TIME})", examples=["2026-12-01T09:00:00Z"])
    until: str | None = Field(None, description=f"Created before ({_TIME})", examples=["2026-12-02T00:00:00Z"])

    @field_validator("since", "until")
    @classmethod
    def _times(cls, value: str | None) -> str | None:
        return _iso(value)


class _Page(_Window):
    status: Status | None = Field(None, description="Only messages in this status")
    channel: ChannelName | None = Field(None, description="Only messages to this channel")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")


class NotificationListQuery(_Page):
    user_id: str = _user_id("Whose messages")
    template_key: str | None = _template_key("Only messages rendered from this template")
    keyword: str | None = Field(
        None, min_length=1, max_length=48, description="Substring of subject or content (no control characters)"
    )


class OperatorMessagesQuery(_Page):
    user_id: str | None = Field(
        None, max_length=128, pattern=PATH_PARAMS["user_id"].pattern, description="Only this user's messages"
    )


class StatsQuery(_Window):
    user_id: str = _user_id("Whose totals")


class StatusCounts(BaseModel):
    pending: int = Field(description="Not delivered yet")
    success: int = Field(description="Delivered")
    failed: int = Field(description="Failed for good")
    cancelled: int = Field(description="Cancelled before their scheduled time")
    total: int = Field(description="All of them")


class Counters(BaseModel):
    notification_count: int = Field(description="Messages created for the user, all time")
    success_count: int = Field(description="Messages delivered, all time")
    failed_count: int = Field(description="Permanent failures, all time")
    last_notification_at: str | None = Field(description="When the user's last message was created")


class StatsResponse(BaseModel):
    user_id: str = Field(description="Whose totals")
    since: str | None = Field(description="The window's start as applied (stored form)")
    until: str | None = Field(description="The window's end as applied (stored form)")
    totals: StatusCounts = Field(description="Messages created in the window, per status")
    channels: dict[str, StatusCounts] = Field(description="The same per channel")
    counters: Counters = Field(description="Running counters over the user's whole history")
